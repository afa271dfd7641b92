"""Axis People Counter (the camera application): polls its `live-sum.json` every `poll_s`.

The reply carries the counts since the camera's midnight: `{"serial": "ACCC8E...", "name": "Door",
"timestamp": "20261126101500", "in": 1204, "out": 1187}`. Only `in` and `out` are read; they are running
totals, so the difference to the previous poll is counted in the minute of the poll (the gateway's clock:
the camera's timestamp is local time without a zone), and the midnight reset counts from zero.

The URL is the one the camera documents for the application, e.g.
`http://CAMERA/local/peoplecounter/.api?live-sum.json`; a `credentials_file` holding `user:password`
(mode 0600) logs in with HTTP digest or basic authentication, whichever the camera asks for.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, ClassVar

from agent.doors import BaseSource, PushError, count_field
from agent.doors.ledger import Totals

log = logging.getLogger(__name__)
TIMEOUT_S = 10.0


class AxisPoller(BaseSource):
    """A thread polling one camera; failures are counted and logged once until the next success."""

    route: ClassVar[str | None] = None

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._opener = urllib.request.build_opener(*self._auth_handlers())
        self._stop = threading.Event()
        self._failing = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"axis-{self.sensor}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _auth_handlers(self) -> list[urllib.request.BaseHandler]:
        if not self.config.credentials_file:
            return []
        user, _, password = Path(self.config.credentials_file).read_text().strip().partition(":")
        mgr = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        mgr.add_password(None, self.config.url, user, password)
        return [urllib.request.HTTPDigestAuthHandler(mgr), urllib.request.HTTPBasicAuthHandler(mgr)]

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(self.config.poll_s)

    def poll_once(self) -> bool:
        """One poll: True when the camera answered with counts."""
        try:
            with self._opener.open(self.config.url, timeout=TIMEOUT_S) as reply:
                body = json.loads(reply.read(65536))
            if not isinstance(body, dict):
                raise PushError("bad_field", "live-sum.json is not a JSON object")
            totals = Totals(self.clock(), count_field(body, "in"), count_field(body, "out"))
        except (OSError, urllib.error.URLError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, PushError) else (
                "bad_json" if isinstance(exc, ValueError) else "unreachable")
            self.ledger.counters[f"door_axis_{reason}"] += 1
            if not self._failing:
                log.warning("door sensor %s: polling failed (%s); retrying every %g s",  # no URL: credentials
                            self.sensor, type(exc).__name__, self.config.poll_s)
            self._failing = True
            return False
        if self._failing:
            log.info("door sensor %s answers again", self.sensor)
        self._failing = False
        self.apply([totals], self.clock())
        return True
