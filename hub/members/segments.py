"""Lifecycle segments of members, daily: RFM and visit frequency, then active / normal / lapsing /
churn risk / new.

A member's activity days are the local days (the chain's default time zone) with a member visit at any
store or a purchase under her loyalty id at the till (voided sales never count). On the day `as_of`:

- recency: days since the last activity day; frequency: activity days in the last 90 days; monetary:
  net spend in the last 90 days; visit days: days with a member visit in the last 90 days; the R, F
  and M scores are quintiles (5 best) among the members with activity;
- `new`: joined (CRM join date, else the first activity) less than `new_days` ago;
- `churn_risk`: recency >= churn_days, or no activity at all; `lapsing`: recency >= lapsing_days;
- `active`: activity days in the last 28 days >= active_days_n; `normal`: everyone else.
- the RFM scores are written beside the segment (CSV, `member_segments`) for the CRM team's own cuts.

The defaults follow the chain's own rhythm (settings left at 0): from each member's median gap between
activity days, the chain's 75th percentile gap G (members with 3 activity days or more); lapsing after
2 x G (at least 7 days), churn risk after 4 x G (at least lapsing + 7); active from the natural
break of the activity days in the last 28 days among members active in those days (Otsu's split,
`natural_break`), so the share of active members is found, not fixed. A chain of weekly shoppers and a
chain of monthly ones each get thresholds that fit them.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import defaultdict
from dataclasses import astuple, dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hub.config import SegmentConfig
from hub.store.sql import Db
from hub.suppress import protect_named

SEGMENTS = ("active", "normal", "lapsing", "churn_risk", "new")
RECENT_D, LONG_D = 28, 90


@dataclass(frozen=True)
class MemberSegment:
    """One member's figures and segment on one day (a row of `member_segments`)."""

    as_of: str
    member_id: str
    segment: str
    recency_d: int | None
    active_days_28d: int
    frequency_90d: int
    visit_days_90d: int
    purchases_90d: int
    spend_90d: float
    r_score: int
    f_score: int
    m_score: int


@dataclass(frozen=True)
class Thresholds:
    new_days: int
    lapsing_days: int
    churn_days: int
    active_days_n: int


@dataclass
class _Activity:
    visits: set[date]
    purchases: dict[date, int]  # day -> net cents
    purchases_n: dict[date, int]


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    return ordered[low] + (ordered[min(low + 1, len(ordered) - 1)] - ordered[low]) * (pos - low)


def load_activity(db: Db, tz: ZoneInfo, until: date) -> dict[str, _Activity]:
    """Every member's visit and purchase days up to `until` (included), local days of `tz`."""
    acts: dict[str, _Activity] = defaultdict(lambda: _Activity(set(), defaultdict(int), defaultdict(int)))

    def day(epoch: int) -> date:
        return datetime.fromtimestamp(epoch, tz).date()

    for member, started in db.execute(
            "SELECT m.member_id, v.started_epoch_s FROM member_visits v JOIN members m"
            " ON m.member_key = v.member_key"):
        d = day(int(started))
        if d <= until:
            acts[str(member)].visits.add(d)
    for member, at, cents in db.execute(
            "SELECT member_id, at_epoch_s, net_amount_cents FROM pos_transactions WHERE member_id IS NOT NULL"
            " AND member_id != '' AND voided = 0"):
        d = day(int(at))
        if d <= until:
            acts[str(member)].purchases[d] += int(cents)
            acts[str(member)].purchases_n[d] += 1
    return acts


def thresholds(acts: dict[str, _Activity], as_of: date, cfg: SegmentConfig) -> Thresholds:
    """The settings, with each 0 replaced by the chain's own default (module docstring)."""
    gaps = []
    for a in acts.values():
        days = sorted(a.visits | set(a.purchases))
        if len(days) >= 3:
            gaps.append(statistics.median((b - x).days for x, b in itertools.pairwise(days)))
    g = _quantile(gaps, 0.75) if gaps else 7.0
    lapsing = cfg.lapsing_days or max(7, math.ceil(2 * g))
    churn = cfg.churn_days or max(lapsing + 7, math.ceil(4 * g))
    recent = [n for a in acts.values() if (n := _days_in(a, as_of, RECENT_D)) > 0]
    active = cfg.active_days_n or max(2, natural_break(recent))
    return Thresholds(cfg.new_days, lapsing, churn, active)


def natural_break(values: list[int]) -> int:
    """The threshold t that best splits `values` into < t and >= t (Otsu: the largest variance between
    the two groups): the chain's frequent visitors apart from the others, whatever their share."""
    best, best_t = -1.0, 2
    n = len(values)
    for t in range(1, max(values, default=0) + 1):
        low = [v for v in values if v < t]
        high = [v for v in values if v >= t]
        if not low or not high:
            continue
        between = len(low) * len(high) / (n * n) * (statistics.fmean(high) - statistics.fmean(low)) ** 2
        if between > best:
            best, best_t = between, t
    return best_t


def _days_in(a: _Activity, as_of: date, n: int) -> int:
    since = as_of - timedelta(days=n - 1)
    return sum(1 for d in a.visits | set(a.purchases) if since <= d <= as_of)


def _scores(values: dict[str, float], higher_is_better: bool) -> dict[str, int]:
    """Quintile scores 1..5 (5 best) of the members in `values`."""
    ordered = sorted(values, key=lambda m: values[m] if higher_is_better else -values[m])
    n = len(ordered)
    return {m: 1 + (i * 5) // n for i, m in enumerate(ordered)} if n else {}


def compute(db: Db, as_of: date, cfg: SegmentConfig, timezone: str) -> list[MemberSegment]:
    """Every CRM member's segment on `as_of` (no write)."""
    tz = ZoneInfo(timezone)
    acts = load_activity(db, tz, as_of)
    th = thresholds(acts, as_of, cfg)
    since = as_of - timedelta(days=LONG_D - 1)
    figures: dict[str, tuple[int | None, int, int, int, int, int]] = {}
    joined: dict[str, date | None] = {}
    for member, joined_on in db.execute("SELECT member_id, joined_on FROM members ORDER BY member_id"):
        a = acts.get(str(member), _Activity(set(), {}, {}))
        days = a.visits | set(a.purchases)
        last = max(days, default=None)
        figures[str(member)] = (
            (as_of - last).days if last else None,
            _days_in(a, as_of, RECENT_D),
            sum(1 for d in days if d >= since),
            sum(1 for d in a.visits if d >= since),
            sum(n for d, n in a.purchases_n.items() if d >= since),
            sum(c for d, c in a.purchases.items() if d >= since),
        )
        try:
            joined[str(member)] = date.fromisoformat(str(joined_on)) if joined_on else min(days, default=None)
        except ValueError:
            joined[str(member)] = min(days, default=None)
    seen = {m: f for m, f in figures.items() if f[0] is not None}
    r = _scores({m: float(f[0] or 0) for m, f in seen.items()}, higher_is_better=False)
    fq = _scores({m: float(f[2]) for m, f in seen.items()}, higher_is_better=True)
    mo = _scores({m: float(f[5]) for m, f in seen.items()}, higher_is_better=True)
    out = []
    for member, (recency, days28, freq, visit_days, purchases, cents) in figures.items():
        first = joined[member]
        out.append(MemberSegment(
            as_of.isoformat(), member, _segment(recency, days28, first, as_of, th), recency, days28, freq,
            visit_days, purchases, round(cents / 100, 2), r.get(member, 0), fq.get(member, 0),
            mo.get(member, 0)))
    return out


def _segment(recency: int | None, days28: int, first: date | None, as_of: date, th: Thresholds) -> str:
    if first is not None and (as_of - first).days < th.new_days:
        return "new"
    if recency is None or recency >= th.churn_days:
        return "churn_risk"
    if recency >= th.lapsing_days:
        return "lapsing"
    return "active" if days28 >= th.active_days_n else "normal"


def store(db: Db, rows: list[MemberSegment]) -> None:
    """Keep a day's segments in `member_segments` (the day's rows replaced), for profiles and history.
    SQLite makes the table on first use; PostgreSQL has it from migration 3 (hub/store/postgres/schema.py)."""
    if db.engine == "sqlite":
        db.execute(
            "CREATE TABLE IF NOT EXISTS member_segments (as_of TEXT NOT NULL, member_id TEXT NOT NULL,"
            " segment TEXT NOT NULL, recency_d INTEGER, active_days_28d INTEGER, frequency_90d INTEGER,"
            " visit_days_90d INTEGER, purchases_90d INTEGER, spend_90d REAL, r_score INTEGER,"
            " f_score INTEGER, m_score INTEGER,"
            " PRIMARY KEY (as_of, member_id)) WITHOUT ROWID")
    with db.transaction():
        for day in {r.as_of for r in rows}:
            db.execute("DELETE FROM member_segments WHERE as_of = ?", (day,))
        db.executemany("INSERT INTO member_segments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         [astuple(r) for r in rows])


def store_counts(db: Db, as_of: date, cfg: SegmentConfig, timezone: str,
                 stores: list[str]) -> dict[str, dict[str, int]]:
    """Per store, its members by segment on `as_of`: the members with a member visit at the store in
    the LONG_D days to `as_of` (local days of `timezone`), each in her segment of `compute`. A member
    who shops at two stores counts at both, so stores do not add up to the chain (`members`)."""
    counts = {s: dict.fromkeys(SEGMENTS, 0) for s in stores}
    if not stores or db.execute("SELECT 1 FROM member_visits LIMIT 1").fetchone() is None:
        return counts
    tz = ZoneInfo(timezone)
    since = datetime.combine(as_of - timedelta(days=LONG_D - 1), datetime.min.time(), tz).timestamp()
    until = datetime.combine(as_of + timedelta(days=1), datetime.min.time(), tz).timestamp()
    segment = {r.member_id: r.segment for r in compute(db, as_of, cfg, timezone)}
    marks = ",".join("?" * len(stores))
    for store, member in db.execute(
            "SELECT DISTINCT v.store, m.member_id FROM member_visits v JOIN members m ON m.member_key ="
            f" v.member_key WHERE v.store IN ({marks}) AND v.started_epoch_s >= ? AND v.started_epoch_s < ?",
            (*stores, int(since), int(until))):
        if str(member) in segment:
            counts[str(store)][segment[str(member)]] += 1
    return counts


def suppress(counts: dict[str, int], k: int) -> dict[str, int | None]:
    """Counts with cells of 1..k-1 withheld (None) and their complements, by the feed's rule
    (`hub.suppress`: no withheld count can be solved from the total and the published ones)."""
    hidden = protect_named(counts, k) if k > 1 else {}
    return {c: (None if c in hidden else n) for c, n in counts.items()}
