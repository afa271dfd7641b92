"""A generated chain whose members behave as planned: the truth the lifecycle segments are scored on.

Three stores, two months up to `as_of`. Each member is drawn as one kind, and behaves so:

- active: comes every 1 to 4 days all along; normal: every 6 to 12 days;
- lapsing: came every 3 to 8 days, the last time 21 to 30 days before `as_of`;
- churn_risk: came every 3 to 10 days, the last time 45 to 58 days before `as_of`;
- new: joined 3 to 20 days ago and came every 2 to 6 days since.

One planned visit in ten does not happen. A visit is heard (a member visit) unless the phone stayed
home (10 %); it ends in a purchase under the loyalty id 60 % of the time. Rows go straight into the
hub's tables, as ingest and imports would write them. Seeded: the same seed gives the same chain.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from hub.config import DatabaseConfig
from hub.store.sql import Db, open_database

STORES = ("brno-1", "brno-2", "praha-1")
KINDS = {"active": 0.3, "normal": 0.3, "lapsing": 0.15, "churn_risk": 0.1, "new": 0.15}
GAPS = {"active": (1, 4), "normal": (6, 12), "lapsing": (3, 8), "churn_risk": (3, 10), "new": (2, 6)}
DAYS = 61


def generate(
    database: DatabaseConfig | str | Path, as_of: date, members_n: int, seed: int = 1
) -> dict[str, str]:
    """Write the chain's members, member visits and purchases into the hub database (either engine; a
    path is an SQLite file); member id -> planned segment."""
    rng = random.Random(seed)
    first_day = as_of - timedelta(days=DAYS - 1)
    truth: dict[str, str] = {}
    members, visits, sales = [], [], []
    for i in range(members_n):
        member = f"M{i:05d}"
        kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
        truth[member] = kind
        key = f"{i:032x}"
        joined = as_of - timedelta(days=rng.randint(3, 20)) if kind == "new" else \
            as_of - timedelta(days=rng.randint(200, 900))
        stop = as_of + timedelta(days=1)
        if kind == "lapsing":
            stop = as_of - timedelta(days=rng.randint(21, 30))
        elif kind == "churn_risk":
            stop = as_of - timedelta(days=rng.randint(45, 58))
        members.append((member, rng.choice(["family", "student", "pro"]), rng.choice(["gold", "silver"]),
                        joined.isoformat(), key))
        home = rng.choice(STORES)
        day = max(first_day, joined) + timedelta(days=rng.randint(0, GAPS[kind][1] - 1))
        days = []
        while day <= as_of and day < stop:
            if rng.random() > 0.1:  # one planned visit in ten does not happen (ill, away, busy)
                days.append(day)
            day += timedelta(days=rng.randint(*GAPS[kind]))
        if stop <= as_of:  # the planned last time: the day they stopped
            days = [d for d in days if d < stop] + [stop]
        for day in days:
            at = datetime(day.year, day.month, day.day, rng.randint(8, 18), rng.randint(0, 59), tzinfo=UTC)
            start = int(at.timestamp())
            store = home if rng.random() < 0.8 else rng.choice(STORES)
            if rng.random() > 0.1 or day == stop:  # the planned last time is seen
                visits.append((store, key, start, start + 1200, 1200, "gw-1"))
            if rng.random() < 0.6:
                sales.append((store, f"{member}-{start}", at.strftime("%Y-%m-%dT%H:%M:%SZ"), start + 900,
                              rng.randint(500, 15000), member))
    if not isinstance(database, DatabaseConfig):
        database = DatabaseConfig(path=str(database))
    with open_database(database) as db, db.transaction():
        if members:
            db.executemany("INSERT INTO members (member_id, segment, tier, joined_on, member_key)"
                           " VALUES (?, ?, ?, ?, ?)", members)
        if visits:
            db.executemany("INSERT INTO member_visits VALUES (?, ?, ?, ?, ?, ?)", visits)
        if sales:
            db.executemany("INSERT INTO pos_transactions (store, transaction_id, at_utc, at_epoch_s,"
                           " net_amount_cents, member_id) VALUES (?, ?, ?, ?, ?, ?)", sales)
    return truth


def agreement(db: Db, truth: dict[str, str], as_of: date) -> tuple[float, dict[str, str]]:
    """Share of members whose stored segment on `as_of` is the planned one; and each member's segment."""
    got = {str(m): str(s) for m, s in db.execute(
        "SELECT member_id, segment FROM member_segments WHERE as_of = ?", (as_of.isoformat(),))}
    same = sum(1 for m, s in truth.items() if got.get(m) == s)
    return same / len(truth), got
