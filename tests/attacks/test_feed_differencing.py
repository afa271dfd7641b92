"""Attack (4) of issue 18: differencing over everything the data-team feed published in a replayed week.

A week of one store (two gateways, Europe/Prague) is replayed in arrival order: each visit arrives when
it closes, each gateway's hour and day counts at the period's end + the visit timeout, gw-2 goes offline
on Wednesday afternoon and drains its backlog at 17:00, and the POS export of each day is imported the
next morning. Records go through the hub's real ingest writer into a real SQLite file, and the real
publisher runs on the moving clock, publishing what is final. The attacker keeps every payload and:

- per day, per device count, for every view it can assemble (the hours as they stood after each
  publication, with each revision of the day): takes the day minus the published hours (hours add up
  to the day), with what the reasons say of each withheld cell (below_k: 1 to k-1), and solves for
  each withheld cell: a cell pinned to one value is recovered;
- compares consecutive revisions of each period: a device count moving by 1 to k-1 reveals that few
  devices (the old feed's +1 revisions each timed one visit).

Control: the same attack on the feed as it was before (every change republished, the day withheld only
when its withheld hours summed to less than k) recovers withheld counts and finds +1 revisions, so the
attack is shown to work.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent.wire import Envelope, PeriodCounts, Visit, encode_envelope
from agent.wire.records import iso
from hub.config import DatabaseConfig, HubConfig, PublishConfig, StoreConfig
from hub.imports import importer
from hub.ingest import Counters, Incoming, Writer
from hub.joins.metrics import NoMetricsError
from hub.publish import MetricsPublisher
from hub.publish.cells import DAY, suppress_primary, values, withhold
from hub.publish.payload import DEVICE_FIELDS
from hub.publish.source import store_day
from hub.store import open_db
from hub.store.schema import connect
from hub.store.sql import SqliteDb

PRAGUE = ZoneInfo("Europe/Prague")
DAYS = [date(2026, 11, 23) + timedelta(days=i) for i in range(7)]
K = 5
STEP_S = 900
VISIT_TIMEOUT_S = 900


@dataclass
class Replay:
    """Records of the week, each with the time it reaches the hub, and the POS files by import time."""

    arrivals: list[tuple[float, str, Any]] = field(default_factory=list)  # (time, agent, record)
    pos: list[tuple[float, str]] = field(default_factory=list)  # (import time, csv text)


def _t(day: date, hour: float) -> float:
    return datetime.combine(day, datetime.min.time(), PRAGUE).timestamp() + hour * 3600


def generate(seed: int = 18) -> Replay:
    """Open 08-20; few people in the first and last hours and single devices at night (the small
    cells), more at midday. Friday holds the auditor's case (two hidden hours of k-1 beside a published
    day), which the old rule let through: the control must find it."""
    rng = random.Random(seed)
    out = Replay()
    key = 0
    for day in DAYS:
        hour_people: dict[tuple[str, int], set[int]] = defaultdict(set)
        hour_visits: dict[tuple[str, int], int] = defaultdict(int)
        day_people: dict[str, set[int]] = defaultdict(set)
        day_passers: dict[str, int] = defaultdict(int)
        csv = ["store,timestamp,transaction_id,net_amount"]
        for h in range(8, 20):
            rate = 1.5 if h in (8, 19) else 3.0 if h in (9, 18) else 9.0
            n = _poisson(rng, rate)
            if day == DAYS[4]:  # the auditor's case: two hours of k-1 arrivals, every other hour above k
                n = K - 1 if h in (8, 19) else max(n, K + 1)
            for _ in range(n):
                key += 1
                agent = rng.choice(("gw-1", "gw-2"))
                start = _t(day, h + rng.random())
                dwell = rng.choice((400, 900, 1800, 2700, 5400, 9000))
                end = start + dwell
                out.arrivals.append((_arrival(agent, end + 60, day), agent, Visit(
                    iso(start), iso(end), dwell, 12, -55, "visitor", False, f"{key:032x}", f"w-{day}")))
                hour_visits[(agent, h)] += 1
                for hh in range(h, min(24, int((end - _t(day, 0)) // 3600) + 1)):
                    hour_people[(agent, hh)].add(key)
                day_people[agent].add(key)
                if rng.random() < 0.3:
                    csv.append(f"brno-1,{datetime.fromtimestamp(end - 120, PRAGUE).isoformat()},"
                               f"T{key},{rng.randint(5, 80)}.00")
        for agent in ("gw-1", "gw-2"):
            for h in range(24):
                end = _t(day, h + 1)
                # at night now and then one stray device, each alone in its hour
                night = int(agent == "gw-1" and rng.random() < 0.3)
                passers = _poisson(rng, 4.0) if 8 <= h < 20 else night
                day_passers[agent] += passers
                people = len(hour_people[(agent, h)])
                out.arrivals.append((_arrival(agent, end + VISIT_TIMEOUT_S + 5, day), agent, PeriodCounts(
                    "hour", iso(_t(day, h)), people + passers, people, passers, 0, hour_visits[(agent, h)])))
            people = len(day_people[agent])
            passers = day_passers[agent]  # a passer-by is heard in one hour: the hours add up
            out.arrivals.append((_arrival(agent, _t(day, 24) + VISIT_TIMEOUT_S + 5, day), agent, PeriodCounts(
                "day", iso(_t(day, 0)), people + passers, people, passers, 0, people)))
        out.pos.append((_t(day, 24 + 7), "\n".join(csv) + "\n"))
    out.arrivals.sort(key=lambda a: a[0])
    return out


def _poisson(rng: random.Random, lam: float) -> int:
    n, p, limit = 0, 1.0, pow(2.718281828459045, -lam)
    while True:
        p *= rng.random()
        if p < limit:
            return n
        n += 1


def _arrival(agent: str, t: float, day: date) -> float:
    """gw-2 is offline on Wednesday from 12:00 to 17:00 local: what it sends meanwhile comes at 17:00."""
    down, up = _t(DAYS[2], 12), _t(DAYS[2], 17)
    return up + 30 if agent == "gw-2" and down <= t < up else t


class Recorder:
    """Stands in for MQTT: every payload, with when it was sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def __call__(self, topic: str, payload: bytes, _retain: bool) -> None:
        if not topic.endswith("/schema/metrics"):
            self.sent.append(json.loads(payload))


class OldFeed:
    """The feed before issue 18, for the control: every change of a closed period republished, the day
    withheld only when its withheld hours of a field summed to less than k."""

    def __init__(self, config: HubConfig) -> None:
        self.config, self.sent, self.last = config, [], {}  # type: ignore[var-annotated]

    def look(self, conn: Any, now: float) -> None:
        for day in DAYS:
            if not _t(day, 0) <= now < _t(day, 24 + 36):  # later than that nothing comes for the day
                continue
            try:
                sd = store_day(conn, self.config, "brno-1", day)
            except NoMetricsError:
                continue
            hours = [values(sd, "acme", h, K, now) for h in range(len(sd.hours))]
            for c in hours:
                suppress_primary(c, K, True)
            cell = values(sd, "acme", DAY, K, now)
            suppress_primary(cell, K, True)
            for f in DEVICE_FIELDS:
                hidden = [getattr(r, {"visits_n": "visitor_visits_n", "visitors_n": "visitors",
                                      "passersby_n": "passersby"}[f]) or 0
                          for r, c in zip(sd.hours, hours, strict=True) if c[f] is None and c["withheld"]]
                if hidden and sum(hidden) < K and cell[f] is not None:
                    withhold(cell, f, "complementary", True)
            for h, c in [*enumerate(hours), (DAY, cell)]:
                end = _t(day, 24 if h == DAY else h + 1)
                key = (day, h)
                shown = {f: c[f] for f in DEVICE_FIELDS}
                if end + 120 <= now and self.last.get(key) != shown:
                    self.last[key] = shown
                    self.sent.append(c)


@dataclass
class Findings:
    payloads: int = 0
    periods: int = 0
    withheld: int = 0
    pinned: int = 0
    recovered: int = 0
    small_revisions: int = 0
    plus_one: int = 0


def attack(sent: list[dict[str, Any]], truth: dict[tuple[str, int], dict[str, int]]) -> Findings:
    """Everything the attacker can get from `sent` (see the module docstring); `truth` only scores it."""
    found = Findings(payloads=len(sent))
    by_period: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for doc in sent:
        day = doc["local_start"][:10]
        h = DAY if doc["period"] == "day" else int(doc["local_start"][11:13])
        by_period[(day, h)].append(doc)
    found.periods = len(by_period)
    for docs in by_period.values():
        docs.sort(key=lambda d: (d["revision"], d["published_at"]))
        for a, b in itertools.pairwise(docs):
            for f in DEVICE_FIELDS:
                if a[f] is not None and b[f] is not None and 0 < abs(b[f] - a[f]) < K:
                    found.small_revisions += 1
                    found.plus_one += b[f] - a[f] == 1
    days = sorted({d for d, _ in by_period})
    withheld_cells: set[tuple[str, int, str]] = set()
    recovered: set[tuple[str, int, str]] = set()
    pinned: set[tuple[str, int, str]] = set()
    for day in days:
        for snap in _snapshots({h: docs for (d, h), docs in by_period.items() if d == day}):
            for f in DEVICE_FIELDS:
                for h, value in _solve(snap, f).items():
                    withheld_cells.add((day, h, f))
                    if value is not None:
                        pinned.add((day, h, f))
                        if value == truth[(day, h)][f]:
                            recovered.add((day, h, f))
    found.withheld, found.pinned, found.recovered = len(withheld_cells), len(pinned), len(recovered)
    return found


def _snapshots(periods: dict[int, list[dict[str, Any]]]) -> Iterator[dict[int, dict[str, Any]]]:
    """Every view of a day the attacker can assemble once the day is out (it goes out after its
    hours): the hours as they stood after each publication, each combined with every revision of the
    day (old and new figures mixed, as a reader holding everything might)."""
    hours = {h: docs for h, docs in periods.items() if h != DAY}
    if DAY not in periods:
        return
    first = min(d["published_at"] for d in periods[DAY])
    times = sorted({d["published_at"] for docs in periods.values() for d in docs
                    if d["published_at"] >= first})
    for t in times:
        as_of = {h: [d for d in docs if d["published_at"] <= t] for h, docs in hours.items()}
        view = {h: docs[-1] for h, docs in as_of.items() if docs}
        for day_doc in periods[DAY]:
            yield {**view, DAY: day_doc}


def _solve(snap: dict[int, dict[str, Any]], f: str) -> dict[int, int | None]:
    return solve_with_k(snap, f, K)


def solve_with_k(snap: dict[int, dict[str, Any]], f: str, k: int) -> dict[int, int | None]:
    """Withheld below_k cells of field f in one day's payloads -> the one value consistent with the
    rest (hours + ... = day; below_k cells in [1, k-1], other withheld cells >= 0), or None. (A cell
    withheld only as a complement is not sensitive: it may be pinned, as a day is by all its hours.)"""
    inf = float("inf")
    bounds: dict[int, tuple[float, float]] = {}
    known = 0.0
    for h, doc in snap.items():
        reasons = {w["field"]: w["reason"] for w in doc["withheld"]}
        sign = -1 if h == DAY else 1
        if doc[f] is not None:
            known += sign * doc[f]
        elif f in reasons:
            lo, hi = (1.0, k - 1.0) if reasons[f] == "below_k" else (0.0, inf)
            bounds[h] = (lo, hi) if h != DAY else (-hi, -lo)
    if DAY not in snap or not bounds:
        return {}
    target = -known  # sum of the withheld terms (hours +, day -) is -(hours published - day published)
    out: dict[int, int | None] = {}
    for h, (lo, hi) in bounds.items():
        rest_lo = sum(b[0] for g, b in bounds.items() if g != h)
        rest_hi = sum(b[1] for g, b in bounds.items() if g != h)
        low, high = max(lo, target - rest_hi), min(hi, target - rest_lo)
        if h == DAY:
            low, high = -high, -low
        if _reason(snap[h], f) == "below_k":
            out[h] = int(low) if low == high else None
    return out


def _reason(doc: dict[str, Any], f: str) -> str | None:
    return next((w["reason"] for w in doc["withheld"] if w["field"] == f), None)


@pytest.fixture
def week(tmp_path: Path) -> Iterator[tuple[Findings, Findings, str]]:
    config = HubConfig(
        database=DatabaseConfig(path=str(tmp_path / "hub.db")),
        publish=PublishConfig(k=K, delay_s=120, settle_s=30, poll_s=0.2),
        stores={"brno-1": StoreConfig(timezone="Europe/Prague")},
    )
    open_db(config.database.path).close()
    replay = generate()
    now = [_t(DAYS[0], 0)]
    rec, old = Recorder(), OldFeed(config)
    pub = MetricsPublisher(config, rec, lambda: now[0])
    writer = Writer(config.database.path, Counters(), lambda _m, _a: None, max_wait_ms=0)
    pub.start()
    writer.start()
    conn = SqliteDb(connect(config.database.path))  # the metrics engine takes a Db (hub/store/sql.py)
    seq: dict[str, int] = defaultdict(int)
    i = 0
    try:
        assert pub.wait_idle()
        end = _t(DAYS[-1], 24) + 6 * 3600
        while now[0] < end:
            now[0] += STEP_S
            batch: dict[str, list[Any]] = defaultdict(list)
            while i < len(replay.arrivals) and replay.arrivals[i][0] <= now[0]:
                batch[replay.arrivals[i][1]].append(replay.arrivals[i][2])
                i += 1
            for agent, records in sorted(batch.items()):
                env = Envelope("acme", "brno-1", agent, "e1", seq[agent], iso(now[0]), tuple(records))
                seq[agent] += 1
                writer.submit(Incoming(env.topics.data, encode_envelope(env), time.time()))
            assert writer.wait_idle()
            while replay.pos and replay.pos[0][0] <= now[0]:
                csv = tmp_path / f"pos-{len(replay.pos)}.csv"
                csv.write_text(replay.pos.pop(0)[1])
                db = open_db(config.database.path)
                importer("pos")(db, csv, config)
                db.close()
            assert pub.wait_idle()
            old.look(conn, now[0])
        truth = {}
        for day in DAYS:
            sd = store_day(conn, config, "brno-1", day)
            for h, row in [*enumerate(sd.hours), (DAY, sd.day)]:
                truth[(day.isoformat(), h)] = {
                    "visits_n": row.visitor_visits_n, "visitors_n": row.visitors or 0,
                    "passersby_n": row.passersby or 0}
        yield attack(rec.sent, truth), attack(old.sent, truth), json.dumps(dict(pub.counters), sort_keys=True)
    finally:
        conn.close()
        writer.stop()
        pub.stop()


def test_differencing_the_published_week_recovers_no_withheld_count_and_no_revision_shows_a_visit(
    week: tuple[Findings, Findings, str]
) -> None:
    """Over a replayed week with live arrival order, the feed's payloads give the attacker no withheld
    count (none pinned to one value, first or latest revisions) and no revision pair moving a device
    count by 1 to k-1; the same attack on the old feed recovers withheld counts and finds +1 revisions."""
    product, control, counters = week
    print(f"\nattack 4 (feed differencing, replayed week): product: {product.payloads} payloads for "
          f"{product.periods} periods, {product.withheld} counts withheld below k, {product.pinned} pinned, "
          f"{product.recovered} recovered exactly, {product.small_revisions} revision pairs moving a count "
          f"by 1-{K - 1}; control (old feed): {control.payloads} payloads, {control.withheld} withheld "
          f"below k, {control.recovered} recovered exactly, {control.small_revisions} small revision pairs "
          f"({control.plus_one} of +1); publisher counters {counters}")
    assert product.withheld > 0 and product.periods > 7 * 12  # the attack had something to work on
    assert product.pinned == product.recovered == 0
    assert product.small_revisions == 0
    assert control.recovered > 0
    assert control.plus_one > 0
