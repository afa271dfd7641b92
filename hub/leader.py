"""One worker of several runs the hub's singletons (the metrics publisher; later the segment jobs).

Several `footfall-hub serve` processes may share the agents' data (`ingest.shared_group`), but a thing
that publishes "final" figures must run once: two publishers would send each figure twice and race on
the publish state. So each worker polls a lease; the one that holds it runs the singletons.

A lease is the store's: every worker of a SQLite hub runs beside its one file, so a file lock (flock)
beside that file; PostgreSQL workers on several machines use a session advisory lock instead. Both are
released by the kernel or the database when their holder dies (kill -9 included): no expiry to tune,
and no lease outlives its process.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

POLL_S = 2.0


class Lease(Protocol):
    """A lock that at most one worker holds."""

    def acquire(self) -> bool:
        """Take the lease if it is free (never waits); True if this worker holds it now."""
        ...

    def held(self) -> bool:
        """True while the lease is still this worker's (a database lease ends with its session)."""
        ...

    def release(self) -> None:
        """Give the lease up (a no-op when not held)."""
        ...


class FileLease:
    """An exclusive flock on `path`; the kernel drops it when the process ends, however it ends."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # for people: which process leads
        self._fd = fd
        return True

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class Elector:
    """Polls `lease` on its own thread; runs `on_elected` once it is won and `on_deposed` once it is lost
    or at `stop`. A failing `on_elected` (say the broker refused the publisher) gives the lease back, so
    that another worker, or this one at its next poll, tries again."""

    def __init__(self, lease: Lease, on_elected: Callable[[], None], on_deposed: Callable[[], None],
                 poll_s: float = POLL_S) -> None:
        self._lease = lease
        self._on_elected = on_elected
        self._on_deposed = on_deposed
        self._poll_s = poll_s
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one transition at a time: the poll thread, stop
        self._thread: threading.Thread | None = None
        self.leader = False

    def start(self) -> Elector:
        """Try once now (a sole worker starts its singletons before `start` returns), then keep polling."""
        self._poll()
        self._thread = threading.Thread(target=self._run, name="hub-elector", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop polling; if leading, run `on_deposed`, then release the lease."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            if self.leader:
                self._depose()
            self._lease.release()

    def _run(self) -> None:
        while not self._stop.wait(self._poll_s):
            self._poll()

    def _poll(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            if self.leader:
                if not self._lease.held():
                    log.warning("lost the leader lease: stopping the singletons")
                    self._depose()
                    self._lease.release()
                return
            if not self._lease.acquire():
                return
            try:
                self._on_elected()
            except Exception as exc:  # the next poll (here or in another worker) tries again
                log.error("elected, but the singletons did not start (%s); giving the lease back", exc)
                self._lease.release()
                return
            self.leader = True
            log.info("elected leader: this worker runs the singletons")

    def _depose(self) -> None:
        self.leader = False
        try:
            self._on_deposed()
        except Exception:
            log.exception("stopping the singletons failed")
