"""The live view's thread: takes each commit's new batches from the writer, never slows it down.

The writer hands over the batches a commit stored for the first time (hub/ingest/writer.py
`on_stored`); they wait on a queue, so ingest keeps its budget whatever a page or an arrival costs.
Here they update the live figures (hub/live/state.py) and turn member arrivals into events
(hub/members/arrivals.py). Every `SWEEP_S` the members who withdrew consent or opted out are dropped
from the live lists too, and once a day the members' lifecycle segments are computed (for profiles).

With several workers (`ingest.shared_group`) each writer hands over only its own commits: when this
worker serves the live page (`live.http`), the thread also reads every `POLL_S` the presence and door
rows of the last minutes from the database (History.poll), so the page counts every worker's rows, each
once (LiveState keeps the recent rows' batch keys).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.config import HubConfig
from hub.ingest.decode import DataBatch
from hub.live.history import History
from hub.live.state import LiveState
from hub.members import segments
from hub.members.arrivals import ArrivalDesk

log = logging.getLogger(__name__)

SWEEP_S = 5.0
POLL_S = 2.0


def live_state(config: HubConfig) -> LiveState:
    """An empty LiveState with the stores' time zones and calibration factors from the config."""
    return LiveState(lambda s: config.store(s).timezone, lambda s: config.store(s).calibration_factor)


class LiveFeed:
    """Owns the live view's thread, its History and its ArrivalDesk."""

    def __init__(self, config: HubConfig, state: LiveState,
                 publish: Callable[[str, bytes], None] | None,
                 runs_singletons: Callable[[], bool] = lambda: True) -> None:
        """`runs_singletons()`: whether this worker holds the leader lease (hub/leader.py), so that of
        several workers one computes the daily segments."""
        self.config, self.state = config, state
        self._publish = publish
        self._runs_singletons = runs_singletons
        self.segment_runs = 0  # daily segment jobs this process ran
        self.sweeps = 0  # arrival sweeps done (each may run the daily jobs)
        self._queue: queue.Queue[list[DataBatch] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._idle = threading.Condition()
        self._outstanding = 0
        self.latencies_s: list[float] = []  # arrival: first sighting -> event published (bench/live.py)
        self.desk: ArrivalDesk | None = None
        self._extra_lock = threading.Lock()
        self._extra_history: History | None = None
        self._ready = threading.Event()
        self._segmented: date | None = None
        self.polls = bool(config.live.http)  # a page served here shows every worker's rows
        self.polled = 0  # polls done (tests)
        self._poll_failed = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hub-live", daemon=True)
        self._thread.start()
        self._ready.wait(30)

    def on_stored(self, batches: list[DataBatch]) -> None:
        """The writer's hook: queue and return at once."""
        with self._idle:
            self._outstanding += 1
        self._queue.put(batches)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once every handed-over batch is in the live figures (tests, the benchmark)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._outstanding == 0, timeout)

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(30)
            self._thread = None
        with self._extra_lock:
            if self._extra_history is not None:
                self._extra_history.close()
                self._extra_history = None

    def extra(self, store: str, now: float) -> dict[str, Any]:
        """Baselines and sales so far for a snapshot (any thread: one shared History, one at a time)."""
        with self._extra_lock:
            if self._extra_history is None:
                self._extra_history = self._history()
            try:
                return self._extra_history.extra(store, now)
            except Exception:  # the database went away: a new connection at the next call
                self._extra_history.close()
                self._extra_history = None
                raise

    def _history(self) -> History:
        return History(self.config.database, lambda s: self.config.store(s).timezone,
                       lambda s: self.config.store(s).settings.loyalty_window_d)

    def _open_desk(self) -> ArrivalDesk | None:
        """The member arrivals' desk, on the hub's database (either engine)."""
        return ArrivalDesk(self.config.database, self._publish,
                           lambda s: self.config.store(s).settings.visit_timeout_s,
                           self.config.live.arrival_max_age_s)

    def _run(self) -> None:
        try:
            history = self._history()
            self.desk = desk = self._open_desk()
        except Exception:
            log.exception("the live view cannot open the database; it does not run")
            self._ready.set()
            return
        try:
            history.load_today(self.state, time.time())
        except Exception:
            log.exception("the live view could not load today's figures; it starts empty")
        self._ready.set()
        swept = polled = 0.0
        wait_s = POLL_S if self.polls else SWEEP_S
        try:
            while True:
                try:
                    batches = self._queue.get(timeout=wait_s)
                except queue.Empty:
                    batches = []
                if batches is None:
                    return
                try:
                    self._take(batches, history, desk)
                    if self.polls and time.monotonic() - polled >= POLL_S:
                        polled = time.monotonic()
                        history = self._poll(history)
                    if desk is not None and time.monotonic() - swept >= SWEEP_S:
                        swept = time.monotonic()
                        self.state.forget_members(desk.sweep(time.time()))
                        self._daily_segments(desk)
                        self.sweeps += 1
                except Exception:
                    log.exception("the live view skipped a commit's batches")
                finally:
                    if batches:
                        with self._idle:
                            self._outstanding -= 1
                            self._idle.notify_all()
        finally:
            if desk is not None:
                desk.close()
            history.close()

    def _poll(self, history: History) -> History:
        """Read the other workers' recent rows; when the database is out of reach, say so once and try
        again on a new connection at the next poll (the page meanwhile shows this worker's commits)."""
        try:
            history.poll(self.state, time.time(), self.config.stores)
        except Exception as exc:
            if not self._poll_failed:
                log.warning("live: cannot read the other workers' rows (%s); trying again", exc)
            self._poll_failed = True
            history.close()
            try:
                return self._history()
            except Exception:
                return history  # closed: the next poll fails and tries again
        if self._poll_failed:
            log.info("live: reading the other workers' rows again")
        self._poll_failed = False
        self.polled += 1
        return history

    def _take(self, batches: list[DataBatch], history: History, desk: ArrivalDesk | None) -> None:
        now = time.time()
        for b in batches:
            for rtype in ("presence", "door"):
                if rtype in b.rows:
                    self.state.feed(b.store, rtype, b.rows[rtype], now)
            if desk is None:
                continue
            for store, seen, _agent, gateway_key in b.arrivals:
                event = desk.handle(b.org, store, seen, gateway_key, now)
                if event is not None:
                    self.latencies_s.append(time.time() - seen)
                    self.state.arrived(store, event, now)
                self._seen(store, gateway_key, history, desk, now)
            for store, *_times, gateway_key in b.member_visits:
                self._seen(store, gateway_key, history, desk, now)

    def _daily_segments(self, desk: ArrivalDesk) -> None:
        """Once a day (and at start), every member's lifecycle segment (hub/members/segments.py); with
        several workers only the leader's (a new leader runs the day's if its predecessor had not)."""
        today = datetime.now(ZoneInfo(self.config.default_timezone)).date()
        if today == self._segmented or not self._runs_singletons():
            return
        self._segmented = today
        self.segment_runs += 1
        rows = segments.compute(desk.conn, today, self.config.segments, self.config.default_timezone)
        segments.store(desk.conn, rows)
        log.info("lifecycle segments of %d members computed for %s", len(rows), today)

    def _seen(self, store: str, gateway_key: str, history: History, desk: ArrivalDesk, now: float) -> None:
        found = desk.member(gateway_key)
        if found is not None and found[1] not in self.state.known_members(store):
            self.state.member_seen(store, found[1], history.returning(store, found[1], now), now)

