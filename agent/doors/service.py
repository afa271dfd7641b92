"""The door side of an agent: every configured sensor, the push listener, the ledger and staleness.

It returns records and never touches the outbox: `agent/app.py` starts it after the sink, calls
`flush(now)` every `flush_s` and appends what it returns, and stops it before the sink.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.config import DoorsConfig
from agent.doors import DoorSource, DoorStartError, PushSource, load
from agent.doors.ledger import DoorLedger
from agent.doors.listener import DoorListener
from agent.wire.records import DoorCounts

log = logging.getLogger(__name__)


def read_token(path: Path) -> str:
    """The shared push token; made (random, mode 0600) when the file does not exist yet.

    A token file others can read is refused: anyone on the gateway could push counts.
    """
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32) + "\n")
        log.info("made a door token in %s: configure the counters' pushes with it", path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise DoorStartError(f"{path} is readable by others (mode {mode:o}); run chmod 600 {path}")
    token = path.read_text().strip()
    if len(token) < 16:
        raise DoorStartError(f"{path} holds no token of at least 16 characters; delete it to get a new one")
    return token


class DoorService:
    """Starts and stops the door sources; turns their counts into records; says which sensors are stale."""

    def __init__(self, config: DoorsConfig, state_dir: Path, clock: Callable[[], float] = time.time,
                 **source_options: Any) -> None:
        self.config = config
        self.clock = clock
        self.ledger = DoorLedger(grace_s=config.grace_s)
        self.sources: list[DoorSource] = []
        for sensor in config.sensors:
            cls = load(sensor.type)
            extra = source_options if sensor.type == "gpio" else {}
            self.sources.append(cls(sensor, self.ledger, clock, **extra))
        pushed: list[PushSource] = [s for s in self.sources if s.route is not None]  # type: ignore[misc]
        self.listener: DoorListener | None = None
        if pushed:
            token = read_token(state_dir / config.token_file)
            self.listener = DoorListener(config.listen_host, config.listen_port, token, pushed,
                                         max_body_bytes=config.max_body_bytes, clock=clock)
        self._watched = [s.sensor for s in self.sources if s.config.type != "gpio"]  # type: ignore[attr-defined]
        self._started_at = clock()
        self._stale: set[str] = set()

    def start(self) -> None:
        self._started_at = self.clock()
        started: list[DoorSource] = []
        try:
            for src in self.sources:
                src.start()
                started.append(src)
            if self.listener is not None:
                try:
                    self.listener.start()
                except OSError as exc:
                    raise DoorStartError(f"door listener cannot listen on {self.config.listen_host}:"
                                         f"{self.config.listen_port}: {exc.strerror} (set doors.listen_port "
                                         "or doors.listen_host)") from None
        except BaseException:
            for src in reversed(started):
                src.stop()
            raise

    def stop(self) -> None:
        """Stop taking counts (listener first, then the sources); `close` then reports what is left."""
        if self.listener is not None:
            self.listener.stop()
        for src in reversed(self.sources):
            src.stop()

    def flush(self, now: float) -> list[DoorCounts]:
        """Records of the minutes that closed since the last call; logs sensors going stale or back."""
        self._check_stale(now)
        return self.ledger.flush(now)

    def close(self, now: float) -> list[DoorCounts]:
        """Every minute with counts not reported yet, the current one too (after `stop`)."""
        return self.ledger.flush(now, final=True)

    def stale(self, now: float) -> list[str]:
        """Sensors (not GPIO) that have reported nothing for longer than `stale_s`."""
        seen = dict(self.ledger.last_seen)
        return [s for s in self._watched if now - seen.get(s, self._started_at) > self.config.stale_s]

    def _check_stale(self, now: float) -> None:
        stale = set(self.stale(now))
        for sensor in sorted(stale - self._stale):
            log.warning("door sensor %s has reported nothing for over %g s; check its power, network "
                        "and push settings", sensor, self.config.stale_s)
        for sensor in sorted(self._stale - stale):
            log.info("door sensor %s reports again", sensor)
        self._stale = stale

    def alerts(self) -> list[str]:
        """One line per problem an operator should act on, for the status and the log."""
        now = self.clock()
        seen = self.ledger.last_seen
        return [f"door sensor {s} has not reported for {int(now - seen.get(s, self._started_at))} s"
                f" (stale after {self.config.stale_s:g} s)" for s in self.stale(now)]

    def counters(self) -> dict[str, int]:
        """For the status topic: records made, rejections by reason, resets, stale sensors (1 each)."""
        out = dict(self.ledger.counters)
        if self.listener is not None:
            out.update({f"door_{k}": v for k, v in self.listener.counters.items()})
        out.update({f"door_stale_{s}": 1 for s in self.stale(self.clock())})
        return out

    def export_state(self) -> dict[str, Any]:
        return self.ledger.export_state()

    def import_state(self, state: dict[str, Any]) -> None:
        self.ledger.import_state(state)
