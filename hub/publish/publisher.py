"""The metrics publisher: a thread that publishes store-hours and store-days once final.

Woken by the writer after each commit (`wake`), at every quarter hour (hours close), and every
`poll_s` (POS imports, and on PostgreSQL the other workers' commits, come from other processes), it
looks for what changed (`changes.scan`: rows past watermarks on SQLite, the triggers' marks on
PostgreSQL) and marks the local hours and days they fall in as dirty. A dirty cell goes out once
final (`final`: closed, the agents' count records in or `final_wait_s` passed, data settled); the
store-day is computed once through `source.store_day`, and `release` decides per period against what
was already sent (`revisions`: the first release, at most one correction by k or more, sales updates).

Settling: while agents drain a backlog every commit is late data for closed hours: recomputing the
store-day after each one took 62 % of the hub process in bench/soak.py, starving the writer, and would
send the data team a stream of half-drained figures. A cell goes out once no new data has touched it
for `settle_s` (or after SETTLE_MAX_FACTOR x settle_s of steady touching).

Retained: each topic keeps the newest period published on it, so a new subscriber gets the latest
hour and day at once. A late correction of an older period goes out as a normal (not retained) QoS 1
message: a subscriber with a persistent session receives it, and the retained value stays the newest.
The JSON Schema goes out retained on `payload.schema_topic(org)` before an org's first payload.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from agent.wire.topics import metrics_topic
from hub.config import HubConfig, zone
from hub.joins.metrics import NoMetricsError
from hub.members.segments import store_counts
from hub.publish import feed, revisions
from hub.publish.cells import DAY
from hub.publish.changes import SLOT_S, Cell, State, Touch, Touched, load_state, save_state, scan
from hub.publish.final import expected_agents, records_in
from hub.publish.noise import system_rng
from hub.publish.payload import encode, schema_payload, schema_topic
from hub.publish.release import release
from hub.publish.source import store_day
from hub.store.sql import Db, open_database

log = logging.getLogger(__name__)

SETTLE_MAX_FACTOR = 10  # a cell touched without pause is sent after at most this many settle_s
MIN_PASS_S = 1.0  # commits wake the publisher at most this often (a drain commits tens of times a second)
Send = Callable[[str, bytes, bool], None]  # topic, payload, retain


def _midnight(day: date, tz_name: str) -> int:
    return int(datetime.combine(day, dtime(0), zone(tz_name)).timestamp())


class MetricsPublisher:
    """Start after the writer, `wake` after each commit, stop before the MQTT connection closes."""

    def __init__(
        self,
        config: HubConfig,
        send: Send,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._config = config
        self._rng = rng or system_rng()  # noise (publish.noise); tests pass a seeded one
        self._schema_sent: set[str] = set()
        self._pruned_at = 0.0
        self._expected: dict[tuple[str, int], set[str]] = {}  # agents expected per store-day, this pass
        self._send = send
        self._clock = clock
        self._wake = threading.Event()
        self._urgent = threading.Event()  # wait_idle or stop: skip the MIN_PASS_S pause
        self._stopping = False
        self._started = self._passes = 0
        self._done = threading.Condition()
        self._thread: threading.Thread | None = None
        self._ready: tuple[Db, State] | None = None  # the database and state start() loaded
        self._held_until = 0.0  # when the first held cell settles; 0: none held
        self.counters: dict[str, int] = defaultdict(int)

    def start(self) -> None:
        """Load the saved state before returning: on a first start the watermarks are the tables' ends
        now, so a batch the hub commits after start() is always past them (loaded later, in the thread,
        a commit in between would fall behind the marks and never be published). A database out of
        reach now is tried again by the thread."""
        try:
            self._ready = self._open()
        except Exception as exc:
            log.warning("metrics publisher: the database is out of reach at start (%s); retrying", exc)
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
        """One last pass (what is final goes out; the rest waits in publish_dirty for the next start)."""
        self._stopping = True
        self._urgent.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        log.info("metrics publisher stopped: %s", dict(self.counters))

    def _open(self) -> tuple[Db, State]:
        db = open_database(self._config.database, check_same_thread=False)  # opened by start(), used here
        if db.engine == "sqlite":
            # Marks and dirty cells are saved together, so a power cut that loses the last save loses
            # nothing: the older marks find the same rows again. No fsync per pass, then.
            db.execute("PRAGMA synchronous=NORMAL")
        try:
            return db, load_state(db)
        except BaseException:
            db.close()
            raise

    def _run(self) -> None:
        db: Db | None = None
        state = State({}, {})
        saved: tuple[dict[str, int], dict[Cell, Touched]] | None = None
        if self._ready is not None:  # what start() loaded
            (db, state), self._ready = self._ready, None
            saved = (dict(state.marks), dict(state.dirty))
        try:
            while True:
                self._wake.clear()
                with self._done:
                    self._started += 1
                stopping = self._stopping
                try:
                    if db is None:  # at start, and after a lost server (a pass fails meanwhile)
                        db, loaded = self._open()
                        if saved is None:  # the first open: what the last run left
                            state = loaded
                            saved = (dict(state.marks), dict(state.dirty))
                    self._touch(state.dirty, self._cells(scan(db, state)))
                    state.dirty = self._publish_closed(db, state.dirty, state.marks)
                    if (state.marks, state.dirty) != saved or state.consumed:
                        save_state(db, state)
                        saved = (dict(state.marks), dict(state.dirty))
                except Exception:
                    self.counters["errors"] += 1
                    log.exception("publishing metrics failed; retrying at the next wake-up")
                    if db is not None and db.engine == "postgresql":  # the connection may be gone
                        db.close()
                        db = None
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
            if db is not None:
                db.close()

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
        """The local hours and days `touches` change, except days past revisions.KEEP_D: final for good."""
        out: set[Cell] = set()
        oldest = self._clock() - revisions.KEEP_D * 86400
        for t in touches:
            if t.last < oldest:
                self.counters["too_old"] += 1
                continue
            tz_name = self._config.store(t.store).timezone or self._config.default_timezone
            day = datetime.fromtimestamp(max(t.first, int(oldest)), zone(tz_name)).date()
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

    def _final(self, db: Db, cell: Cell, touched: Touched, clock: float) -> tuple[bool, float]:
        """Whether a dirty cell is final now (`hub.publish.final`), else when to look again (0: on data)."""
        _, store, day, h = cell
        tz_name = self._config.store(store).timezone or self._config.default_timezone
        t0, t1 = _midnight(day, tz_name), _midnight(day + timedelta(days=1), tz_name)
        start, end = (t0, t1) if h == DAY else (t0 + h * 3600, t0 + (h + 1) * 3600)
        cfg = self._config.publish
        if end > clock - cfg.delay_s:
            return False, 0.0  # still open: the quarter-hour wake-up looks again
        settles = self._settles_at(touched)
        if settles > clock:
            return False, settles
        if end + cfg.final_wait_s <= clock:
            return True, 0.0
        if (store, t0) not in self._expected:  # once per store-day and pass
            self._expected[(store, t0)] = expected_agents(db, store, t0, t1)
        if records_in(db, store, "day" if h == DAY else "hour", start, self._expected[(store, t0)]):
            return True, 0.0
        return False, end + cfg.final_wait_s

    def _publish_closed(
        self, db: Db, dirty: dict[Cell, Touched], newest: dict[str, int]
    ) -> dict[Cell, Touched]:
        """Publish the dirty cells that are final; return the others."""
        clock = self._clock()
        if clock - self._pruned_at > 3600:  # what was sent of days past KEEP_D is not needed any more
            revisions.prune(db, datetime.fromtimestamp(clock - (revisions.KEEP_D + 1) * 86400, UTC).date())
            self._pruned_at = clock
        self._expected = {}
        by_day: dict[tuple[str, str, date], set[int]] = defaultdict(set)
        left: dict[Cell, Touched] = {}
        self._held_until = 0.0
        waiting = 0
        for cell, touched in dirty.items():
            final, again = self._final(db, cell, touched, clock)
            if final:
                by_day[cell[:3]].add(cell[3])
            else:
                left[cell] = touched
                if again:  # closed, settling or waiting for an agent's counts
                    self._held_until = min(self._held_until or again, again)
                    waiting += 1
        for key, wanted in list(by_day.items()):
            if DAY in wanted and any(c[:3] == key for c in left):
                wanted.discard(DAY)  # the day goes out after every hour of it
                left[(*key, DAY)] = dirty[(*key, DAY)]
        self.counters["settling"] = waiting  # closed cells waiting for their data, now
        members: dict[date, dict[str, dict[str, int]]] = {}  # day -> store -> members by segment
        for (org, store, day), wanted in sorted(by_day.items()):
            if day not in members:  # for the days going out (hour payloads carry no segments)
                stores = sorted({s for (_, s, d), w in by_day.items() if d == day and DAY in w})
                members[day] = store_counts(db, day, self._config.segments,
                                            self._config.default_timezone, stores)
            try:
                sd = store_day(db, self._config, store, day, members[day].get(store, {}))
            except NoMetricsError:
                continue
            sent = revisions.load(db, org, store, day)
            cfg = self._config.publish
            docs, tally = release(sd, org, sorted(wanted), sent, cfg, self._clock(), self._rng)
            for doc in docs:
                self._emit(doc, newest)
            with db.transaction(immediate=True):  # what was sent, and the feed's table (the views)
                revisions.save(db, org, store, day, sent)
                feed.record(db, docs)
            for name, n in tally.items():
                self.counters[name] += n
        return left

    def _emit(self, cell: dict[str, Any], newest: dict[str, int]) -> None:
        if cell["org"] not in self._schema_sent:  # retained: once per org and process is enough
            self._send(schema_topic(cell["org"]), schema_payload(), True)
            self._schema_sent.add(cell["org"])
        topic = metrics_topic(cell["org"], cell["store"], cell["period"])
        start = int(datetime.fromisoformat(cell["start_at"]).timestamp())
        retain = start >= newest.get(topic, 0)
        if retain:
            newest[topic] = start
        self._send(topic, encode(cell), retain)
        self.counters["published"] += 1
        self.counters["withholding_cells"] += bool(cell["withheld"])
