"""The rollup job: keeps `day_rollups` (hub/joins/rollups.py) fresh for the closed days of a horizon.

One pass: take the changes the writers marked (rollup_changes) and drop the rollups they touch, in one
transaction; then compute the store-days missing in the last `days` closed days, store by store group
and day, with the metrics engine itself. Run by the leader every `INTERVAL_S` (`RollupKeeper`, started by
hub.app) and by `footfall-hub rollup` (a backfill, or a hub that does not serve).

Why it is safe with writers committing meanwhile: a change committed before the pass takes the changes
is consumed with the rollups it touches, and the rows computed after it see its data; one committed
later stays in rollup_changes, so readers take the rows it touches as stale, and the next pass drops
them. SQLite computes and stores each chunk inside one write transaction (no writer in between);
PostgreSQL runs one pass at a time chain-wide (an advisory lock), since a pass that consumed changes
must not race one still storing rows computed before them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from hub.config import HubConfig, zone
from hub.joins.rollups import day_end, encode, fresh_rows, signature, timezone_of
from hub.store.sql import Db, open_database

log = logging.getLogger(__name__)

HORIZON_D = 35  # closed days kept: a day and its 4 weeks back, and a month's day table
INTERVAL_S = 60.0
CHUNK = 200  # stores computed per transaction (SQLite: the write lock is held that long, ~0.3 s)
ROLLUP_LOCK = 0x466F6F74526F6C6C  # "FootRoll": one pass at a time on PostgreSQL


@dataclass
class Pass:
    """What one pass did."""

    changes_n: int = 0
    dropped_n: int = 0
    computed_n: int = 0
    skipped: bool = False  # another pass held the lock (PostgreSQL)


def consume(db: Db) -> tuple[int, int]:
    """Drop the rollups the marked changes touch and the changes read, in one transaction:
    (changes, rollups dropped)."""
    with db.transaction(immediate=True):
        if db.engine == "postgresql":
            rows = db.execute("SELECT id, store, first_epoch_s, window_day FROM rollup_changes").fetchall()
        else:
            rows = [(None, *r) for r in db.execute(
                "SELECT store, first_epoch_s, window_day FROM rollup_changes").fetchall()]
        if not rows:
            return 0, 0
        earliest: dict[str, tuple[int, str]] = {}
        for _, store, first, day in rows:
            got = earliest.get(store)
            earliest[store] = (min(got[0], first), min(got[1], day)) if got else (int(first), str(day))
        dropped = 0
        for store, (first, day) in earliest.items():
            dropped += db.execute("DELETE FROM day_rollups WHERE store = ? AND (end_epoch_s > ? OR day >= ?)",
                                  (store, first, day)).rowcount
        if db.engine == "postgresql":
            db.execute("DELETE FROM rollup_changes WHERE id = ANY(?)", ([int(r[0]) for r in rows],))
        else:
            db.execute("DELETE FROM rollup_changes")
    return len(rows), dropped


def known_stores(db: Db, config: HubConfig) -> list[str]:
    """The configured stores and every store an agent reported from."""
    seen = [str(s) for (s,) in db.execute("SELECT DISTINCT store FROM agents")]
    return list(dict.fromkeys([*config.stores, *sorted(seen)]))


def refresh(db: Db, config: HubConfig, *, days: int = HORIZON_D, now: float | None = None,
            stores: list[str] | None = None) -> Pass:
    """One pass over the last `days` closed local days of `stores` (default: every known store). `db`
    from open_database: on SQLite, opening made the tables and triggers (hub/store/schema.py)."""
    done = Pass()
    if db.engine == "postgresql" and not db.execute(
            "SELECT pg_try_advisory_lock(?)", (ROLLUP_LOCK,)).fetchone()[0]:
        done.skipped = True
        return done
    try:
        done.changes_n, done.dropped_n = consume(db)
        done.computed_n = _fill(db, config, days, time.time() if now is None else now,
                                known_stores(db, config) if stores is None else stores)
    finally:
        if db.engine == "postgresql":
            db.execute("SELECT pg_advisory_unlock(?)", (ROLLUP_LOCK,))
    return done


def _fill(db: Db, config: HubConfig, days: int, now: float, stores: list[str]) -> int:
    """Compute the missing or stale rollups of the closed days; the number stored."""
    from hub.joins.metric_rows import stores_rows  # noqa: PLC0415 -- the engine reads rollups too

    by_zone: dict[str, list[str]] = defaultdict(list)
    for s in stores:
        by_zone[timezone_of(config, config.store(s))].append(s)
    computed = 0
    for tz_name, members in by_zone.items():
        tz = zone(tz_name)
        today = datetime.fromtimestamp(now, tz).date()
        span = [today - timedelta(days=i) for i in range(days, 0, -1)]
        sigs = {s: signature(config, s) for s in members}
        have = _fresh(db, members, span)
        for day in span:
            todo = [s for s in members if have.get((s, day.isoformat())) != sigs[s]]
            for i in range(0, len(todo), CHUNK):
                chunk = todo[i : i + CHUNK]
                with db.transaction(immediate=True):  # SQLite: no writer between reading and storing
                    report = stores_rows(db, config, chunk, day, day, ("day",), compare=False,
                                         rollups=False)
                    rows = []
                    for store in chunk:
                        found, by_grain, settings = report[store]
                        rows.append((store, day.isoformat(), day_end(day, tz), sigs[store], found,
                                     json.dumps(list(settings.agents)), encode(by_grain["day"][0]), now))
                    db.executemany(
                        "INSERT INTO day_rollups (store, day, end_epoch_s, signature, found, agents, row,"
                        " computed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (store, day) DO UPDATE"
                        " SET end_epoch_s = excluded.end_epoch_s, signature = excluded.signature,"
                        " found = excluded.found, agents = excluded.agents, row = excluded.row,"
                        " computed_at = excluded.computed_at", rows)
                computed += len(rows)
    return computed


def _fresh(db: Db, stores: list[str], span: list[date]) -> dict[tuple[str, str], str]:
    """(store, day) -> signature of the fresh rollups (their rows are not read)."""
    return {k: v[0] for k, v in fresh_rows(db, stores, span, values=False).items()}


class RollupKeeper:
    """The leader's job thread: a pass at start and every `interval_s`; a failed pass is logged and
    retried at the next."""

    def __init__(self, config: HubConfig, interval_s: float = INTERVAL_S) -> None:
        self.config = config
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> RollupKeeper:
        self._thread = threading.Thread(target=self._run, name="rollups", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        db: Db | None = None
        while not self._stop.is_set():
            try:
                if db is None:
                    db = open_database(self.config.database)
                done = refresh(db, self.config)
                if done.computed_n or done.dropped_n:
                    log.info("rollups: %d changes, %d day rollups stale, %d computed", done.changes_n,
                             done.dropped_n, done.computed_n)
            except Exception as exc:
                log.warning("rollups: pass failed (%s); next in %.0f s", exc, self.interval_s)
                if db is not None:
                    db.close()
                db = None
            self._stop.wait(self.interval_s)
        if db is not None:
            db.close()
