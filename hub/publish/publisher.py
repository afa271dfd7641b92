"""The metrics publisher: a thread that republishes store-hours and store-days once closed.

Woken by the writer after each commit (`wake`), at every quarter hour (hours close), and every
`poll_s` (POS imports come from another process), it looks for rows past its watermarks
(`changes.scan`), marks the local hours and days they fall in as dirty, and publishes each dirty cell
whose period closed at least `delay_s` ago: the whole store-day is computed once (`hub.joins`), small
cells suppressed (`cells`), and the dirty hours and, once the day closed, the day are sent.

Late data settles first: a closed cell goes out once no new data has touched it for `settle_s` (or
after SETTLE_MAX_FACTOR x settle_s of steady touching). While agents drain a backlog every commit is late
data for closed hours: recomputing the store-day after each one took 62 % of the hub process in
bench/soak.py, starving the writer, and would send the data team a stream of half-drained corrections.
An hour that closes on time is untouched by then (its data came before the close), so `delay_s` alone
decides when it goes out.

Retained: each topic keeps the newest period published on it, so a new subscriber gets the latest
hour and day at once. A late correction of an older period goes out as a normal (not retained) QoS 1
message: a subscriber with a persistent session receives it, and the retained value stays the newest.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from agent.wire.topics import metrics_topic
from hub.config import HubConfig, zone
from hub.joins.daily import daily_report
from hub.joins.metrics import NoMetricsError
from hub.publish.cells import StoreDay, store_day_cells
from hub.publish.changes import SLOT_S, Cell, Touch, Touched, load_state, save_state, scan
from hub.publish.payload import encode
from hub.store.schema import connect

log = logging.getLogger(__name__)

DAY = -1  # the hour index of a day cell
SETTLE_MAX_FACTOR = 10  # a cell touched without pause is sent after at most this many settle_s
MIN_PASS_S = 1.0  # commits wake the publisher at most this often (a drain commits tens of times a second)
Send = Callable[[str, bytes, bool], None]  # topic, payload, retain


def store_day(conn: Any, config: HubConfig, store: str, day: date) -> StoreDay:
    """The store-day the payloads are made of: the metrics engine's store-day (hub.joins.daily), the same
    rows every report prints (NoMetricsError: nothing stored). No comparisons: the feed has none."""
    r = daily_report(conn, config, store, day, compare=False)
    return StoreDay(store, r.timezone, r.traffic_source, r.hours, r.day)


def _midnight(day: date, tz_name: str) -> int:
    return int(datetime.combine(day, dtime(0), zone(tz_name)).timestamp())


class MetricsPublisher:
    """Start after the writer, `wake` after each commit, stop before the MQTT connection closes."""

    def __init__(self, config: HubConfig, send: Send, clock: Callable[[], float] = time.time) -> None:
        self._config = config
        self._send = send
        self._clock = clock
        self._wake = threading.Event()
        self._urgent = threading.Event()  # wait_idle or stop: skip the MIN_PASS_S pause
        self._stopping = False
        self._started = self._passes = 0
        self._done = threading.Condition()
        self._thread: threading.Thread | None = None
        self._held_until = 0.0  # when the first held cell settles; 0: none held
        self.counters: dict[str, int] = defaultdict(int)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hub-metrics", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """New data was committed: look for it now."""
        self._wake.set()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wake the thread and wait until a whole pass begun after this call has ended."""
        with self._done:
            target = self._started + 1
        self._urgent.set()
        self._wake.set()
        with self._done:
            return self._done.wait_for(lambda: self._passes >= target, timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """One last pass (what has closed is published), then end the thread."""
        self._stopping = True
        self._urgent.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        log.info("metrics publisher stopped: %s", dict(self.counters))

    def _run(self) -> None:
        conn = connect(self._config.database.path)
        # Marks and dirty cells are saved together, so a power cut that loses the last save loses
        # nothing: the older marks find the same rows again. No fsync per pass, then.
        conn.execute("PRAGMA synchronous=NORMAL")
        try:
            marks, dirty = load_state(conn)
            saved = (dict(marks), dict(dirty))
            while True:
                self._wake.clear()
                with self._done:
                    self._started += 1
                stopping = self._stopping
                try:
                    touches, marks = scan(conn, marks)
                    self._touch(dirty, self._cells(touches))
                    dirty = self._publish_closed(conn, dirty, marks)
                    if (marks, dirty) != saved:
                        save_state(conn, marks, dirty)
                        saved = (dict(marks), dict(dirty))
                except Exception:
                    self.counters["errors"] += 1
                    log.exception("publishing metrics failed; retrying at the next wake-up")
                with self._done:
                    self._passes += 1
                    self._done.notify_all()
                if stopping:
                    return
                began = time.monotonic()
                self._wake.wait(self._sleep_s())
                if not self._urgent.is_set():  # a commit woke us: let more commits gather first
                    self._urgent.wait(began + MIN_PASS_S - time.monotonic())
                self._urgent.clear()
        finally:
            conn.close()

    def _sleep_s(self) -> float:
        now = self._clock()
        next_slot = now - now % SLOT_S + SLOT_S + self._config.publish.delay_s % SLOT_S
        wake = min(next_slot, self._held_until) if self._held_until else next_slot
        return max(0.05, min(self._config.publish.poll_s, wake - now))

    def _touch(self, dirty: dict[Cell, Touched], cells: set[Cell]) -> None:
        """Mark `cells` dirty, touched now (kept with the cells, so a restart settles them the same)."""
        now = self._clock()
        for cell in cells:
            first, _ = dirty.get(cell, (now, now))
            dirty[cell] = (first, now)

    def _settles_at(self, touched: Touched) -> float:
        """When a closed dirty cell may go out: settle_s after its last touch, at most SETTLE_MAX_FACTOR
        settle_s after its first."""
        first, last = touched
        settle = self._config.publish.settle_s
        return min(last + settle, first + SETTLE_MAX_FACTOR * settle)

    def _cells(self, touches: list[Touch]) -> set[Cell]:
        out: set[Cell] = set()
        for t in touches:
            tz_name = self._config.store(t.store).timezone or self._config.default_timezone
            day = datetime.fromtimestamp(t.first, zone(tz_name)).date()
            last_day = datetime.fromtimestamp(t.last, zone(tz_name)).date()
            while day <= last_day:
                t0 = _midnight(day, tz_name)
                t1 = _midnight(day + timedelta(days=1), tz_name)
                first, last = max(t.first, t0), min(t.last, t1 - 1)
                hours = range((first - t0) // 3600, (last - t0) // 3600 + 1)
                if not t.day_only:
                    out.update((t.org, t.store, day, h) for h in hours)
                out.add((t.org, t.store, day, DAY))
                day += timedelta(days=1)
        return out

    def _publish_closed(
        self, conn: Any, dirty: dict[Cell, Touched], newest: dict[str, int]
    ) -> dict[Cell, Touched]:
        """Publish the dirty cells whose period has closed and whose data settled; return the others."""
        clock = self._clock()
        now = clock - self._config.publish.delay_s
        by_day: dict[tuple[str, str, date], set[int]] = defaultdict(set)
        left: dict[Cell, Touched] = {}
        self._held_until = 0.0
        settling = 0
        for cell, touched in dirty.items():
            org, store, day, h = cell
            tz_name = self._config.store(store).timezone or self._config.default_timezone
            t0 = _midnight(day, tz_name)
            end = _midnight(day + timedelta(days=1), tz_name) if h == DAY else t0 + (h + 1) * 3600
            settles = self._settles_at(touched)
            if end <= now and settles <= clock:
                by_day[(org, store, day)].add(h)
            else:
                left[cell] = touched
                if end <= now:  # closed, still settling
                    self._held_until = min(self._held_until or settles, settles)
                    settling += 1
        self.counters["settling"] = settling  # closed cells waiting for their data to settle, now
        for (org, store, day), wanted in sorted(by_day.items()):
            try:
                sd = store_day(conn, self._config, store, day)
            except NoMetricsError:
                continue
            hours, day_cell = store_day_cells(sd, org, self._config.publish.k, self._clock())
            out = [hours[h] for h in sorted(wanted) if 0 <= h < len(hours)]
            if DAY in wanted:
                out.append(day_cell)
            for doc in out:
                self._emit(doc, newest)
        return left

    def _emit(self, cell: dict[str, Any], newest: dict[str, int]) -> None:
        topic = metrics_topic(cell["org"], cell["store"], cell["period"])
        start = int(datetime.fromisoformat(cell["start_at"]).timestamp())
        retain = start >= newest.get(topic, 0)
        if retain:
            newest[topic] = start
        self._send(topic, encode(cell), retain)
        self.counters["published"] += 1
        self.counters["suppressed_cells"] += bool(cell["suppressed"])
