"""A long-lived thread that dies ends its process with a non-zero exit, so that systemd restarts it.

A process whose writer (or capture, door listener, MQTT loop) thread died from an exception used to stay
up, answer systemd's watchdog from its main loop, and store nothing. `Lifeline.install()` sets
`threading.excepthook` for the process: the death is logged on one line (thread, exception type, and
the message, which the code never fills with personal data) and `stop` is set; the daemon's main loop
then stops everything it can and exits with EXIT_THREAD_DIED. Used by the agent's `run` and the hub's
`serve` (the hub may import the agent, never the reverse).
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)

EXIT_THREAD_DIED = 1


class Lifeline:
    """Watches every thread of the process; `died` names the first that died, `stop` is then set."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.died: str | None = None
        self._previous: Any = None

    def install(self) -> Lifeline:
        self._previous = threading.excepthook
        threading.excepthook = self._hook
        return self

    def uninstall(self) -> None:
        if self._previous is not None:
            threading.excepthook = self._previous
            self._previous = None

    def _hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "a thread"
        detail = f"{args.exc_type.__name__}: {str(args.exc_value)[:300]}"
        log.critical("thread %s died (%s)%s; stopping the process (exit %d) for a restart", name, detail,
                     _where(args.exc_traceback), EXIT_THREAD_DIED)
        if self.died is None:
            self.died = f"thread {name} died ({detail})"
        self.stop.set()

    def __enter__(self) -> Lifeline:
        return self.install()

    def __exit__(self, *_exc: object) -> None:
        self.uninstall()


def _where(tb: TracebackType | None) -> str:
    """' at file:line' of the innermost frame: enough to find the bug, without a traceback per death."""
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return f" at {tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else ""
