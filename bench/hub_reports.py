#!/usr/bin/env python3
"""Report benchmark (docs/reliability.md, issues 7 and 17): a year of hourly data for 1,000 stores in the
hub's SQLite and for 5,000 stores in PostgreSQL, timed in one run; a store-month report under 100 ms on
both, a whole-chain day under 1 s on SQLite (1,000 stores) and under 2 s on PostgreSQL (5,000 stores).

The rows are generated in SQL into a database with the hub's own schema: per store and open hour
(08:00-19:59 UTC) an hour count, 2 visitor visits and 2 POS transactions, and a day count per store-day.
SQLite: recursive CTEs, one INSERT ... SELECT per table, in (store, time) order. PostgreSQL: the same rows
with generate_series, one INSERT ... SELECT per table and month partition (bench/pg_chain.py), in a
cluster with fsync on (tests/support/postgres.py) kept in --pg-dir. Timed, best of --repeat runs on a
warm cache, against each engine's baseline measured in the same run: bare `SELECT count(*)`s over the
same rows (periods, visits, POS of the store and range), i.e. what reading them costs at the least.
The reports read through `hub.store.sql.Db`, the one connection type of both engines. The chain day is
timed as served (day rollups, after one pass of the leader's rollup job over its 29 days, timed once)
and as computed from the records.

    .venv/bin/python bench/hub_reports.py [--engine both] [--stores 1000] [--pg-stores 5000] [--days 365]
        [--db /tmp/footfall-reports.db] [--pg-dir /tmp/footfall-pg-reports]

Both databases are kept and reused when their size matches (SQLite: a few minutes to make; PostgreSQL,
5,000 stores: about 15 minutes and 30 GB).
"""

from __future__ import annotations

import argparse
import io
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from hub.config import DatabaseConfig, HubConfig
from hub.joins.daily import daily_report
from hub.joins.metrics import store_metrics
from hub.joins.rollup_job import refresh
from hub.publish.source import store_day
from hub.reports.html import write_page
from hub.store import open_db
from hub.store.sql import Db, open_database

FIRST = date(2025, 1, 1)  # UTC stores: local days are UTC days
DAY_S = 86400
OPEN = range(8, 20)


def store_id(i: int) -> str:
    return f"s{i:04d}"


def generate(path: Path, stores: int, days: int) -> None:
    """Write the year with the hub's schema; rows in (store, time) order so the indexes append."""
    path.unlink(missing_ok=True)
    open_db(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-512000")
    t_first = (FIRST - date(1970, 1, 1)).days * DAY_S
    conn.execute("BEGIN")
    conn.execute(f"CREATE TEMP TABLE st AS WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s"
                 f" WHERE i < {stores - 1}) SELECT i, printf('s%04d', i) AS id FROM s")
    conn.execute(f"CREATE TEMP TABLE dy AS WITH RECURSIVE s(d) AS (SELECT 0 UNION ALL SELECT d + 1 FROM s"
                 f" WHERE d < {days - 1}) SELECT d, {t_first} + d * {DAY_S} AS t FROM s")
    conn.execute(f"CREATE TEMP TABLE hr AS WITH RECURSIVE s(h) AS (SELECT {OPEN.start} UNION ALL"
                 f" SELECT h + 1 FROM s WHERE h < {OPEN.stop - 1}) SELECT h FROM s")
    conn.execute("CREATE TEMP TABLE two (k INTEGER)")
    conn.execute("INSERT INTO two VALUES (0), (1)")
    key = "'acme', st.id, 'gw-' || st.id, 'e1', dy.d, 0"
    iso = "strftime('%Y-%m-%dT%H:%M:%SZ', {}, 'unixepoch')"
    conn.execute(
        "INSERT INTO periods (org, store, agent, epoch, seq, idx, period, start_at, seen_n, visitors_n,"
        " passersby_n, bounces_n, visits_n, start_epoch_s)"
        f" SELECT {key}, 'hour', {iso.format('dy.t + hr.h * 3600')}, 40 + (st.i + hr.h) % 20,"
        " 8 + (st.i * 7 + dy.d + hr.h) % 12, 32, 1, 8, dy.t + hr.h * 3600"
        " FROM st, dy, hr ORDER BY st.i, dy.d, hr.h"
    )
    conn.execute(
        "INSERT INTO periods (org, store, agent, epoch, seq, idx, period, start_at, seen_n, visitors_n,"
        " passersby_n, bounces_n, visits_n, start_epoch_s)"
        f" SELECT {key}, 'day', {iso.format('dy.t')}, 500, 120, 380, 12, 120, dy.t FROM st, dy"
        " ORDER BY st.i, dy.d"
    )
    start = "dy.t + hr.h * 3600 + two.k * 1500"
    dwell = "(300 + (st.i * 13 + dy.d * 7 + hr.h * 3 + two.k * 1711) % 7200)"
    conn.execute(
        "INSERT INTO visits (org, store, agent, epoch, seq, idx, started_at, ended_at, dwell_s, sightings_n,"
        " rssi_max_dbm, kind, randomized, device_key, key_window, started_epoch_s, ended_epoch_s)"
        f" SELECT {key}, {iso.format(start)}, {iso.format(f'{start} + {dwell}')}, {dwell}, 12, -55,"
        f" 'visitor', 0, printf('%016x%016x', st.i, (dy.d * 24 + hr.h) * 2 + two.k), 'w' || dy.d,"
        f" {start}, {start} + {dwell} FROM st, dy, hr, two ORDER BY st.i, dy.d, hr.h, two.k"
    )
    at = "dy.t + hr.h * 3600 + 600 + two.k * 1200"
    conn.execute(
        "INSERT INTO pos_transactions (store, transaction_id, at_utc, at_epoch_s, net_amount_cents,"
        " import_file_sha256) SELECT st.id, printf('%03d-%02d-%d', dy.d, hr.h, two.k),"
        f" {iso.format(at)}, {at}, 500 + (st.i + dy.d + hr.h * 7) % 4000, 'bench'"
        " FROM st, dy, hr, two ORDER BY st.i, dy.d, hr.h, two.k"
    )
    conn.execute("INSERT INTO batches (agent, org, store, epoch, seq, sent_at, received_at, records_n)"
                 " SELECT 'gw-' || id, 'acme', id, 'e1', 0, '', '', 0 FROM st")
    conn.execute("CREATE TABLE bench_meta (stores INTEGER, days INTEGER)")
    conn.execute("INSERT INTO bench_meta VALUES (?, ?)", (stores, days))
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def matches(path: Path, stores: int, days: int) -> bool:
    if not path.exists():
        return False
    try:
        with sqlite3.connect(path) as conn:
            return conn.execute("SELECT stores, days FROM bench_meta").fetchone() == (stores, days)
    except sqlite3.Error:
        return False


def best_ms(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(best, median) wall time of `fn` in ms, after one warm-up run."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return min(times), statistics.median(times)


def counts(db: Db, stores: list[str], t0: int, t1: int) -> int:
    """The baseline: count the rows a report of `stores` over [t0, t1) reads, nothing else."""
    n = 0
    for s in stores:
        for table, col, only in (("periods", "start_epoch_s", " AND period IN ('hour', 'day')"),
                                 ("visits", "started_epoch_s", ""), ("pos_transactions", "at_epoch_s", "")):
            sql = f"SELECT count(*) FROM {table} WHERE store = ?{only} AND {col} >= ? AND {col} < ?"
            n += db.execute(sql, (s, t0, t1)).fetchone()[0]
    return n


def counts_by_store(db: Db, stores: list[str], t0: int, t1: int) -> int:
    """The same rows for every store at once: one `count(*) ... WHERE store IN (...) GROUP BY store` per
    table (what a reader of the whole chain pays at the least when it does not ask store by store; the
    store list lets both engines use their (store, time) indexes)."""
    n = 0
    marks = ",".join("?" * len(stores))
    for table, col, only in (("periods", "start_epoch_s", " AND period IN ('hour', 'day')"),
                             ("visits", "started_epoch_s", ""), ("pos_transactions", "at_epoch_s", "")):
        sql = (f"SELECT store, count(*) FROM {table} WHERE store IN ({marks}){only} AND {col} >= ?"
               f" AND {col} < ? GROUP BY store")
        n += sum(c for _, c in db.execute(sql, (*stores, t0, t1)).fetchall())
    return n


@dataclass
class Timing:
    """One timed line: what, its best and median, the baseline of its section, its budget (None: none)."""

    section: str
    name: str
    best_ms: float | None  # None: it failed (the message says why)
    median_ms: float
    base_ms: float
    budget_ms: float | None
    failed: str = ""

    def line(self) -> str:
        if self.best_ms is None:
            return f"  {self.name:<50} failed: {self.failed}"
        verdict = ("(no budget)" if self.budget_ms is None
                   else "met" if self.best_ms < self.budget_ms else "MISSED")
        return (f"  {self.name:<50} {self.best_ms:8.1f} ms (median {self.median_ms:.1f})"
                f"  x{self.best_ms / self.base_ms:5.1f} baseline  {verdict}")


def measure(db: Db, config: HubConfig, stores_n: int, days: int, *, repeat: int,
            chain_budget_ms: float) -> list[Timing]:
    """Time the reports of one engine's chain, printing each line as it comes; a report that fails
    (an engine it does not run on yet) is a line saying so, not the end of the run."""
    rows = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # fixed table names
            for t in ("periods", "visits", "pos_transactions")}
    print("rows: " + ", ".join(f"{t} {n:,}" for t, n in rows.items()))
    all_stores = [store_id(i) for i in range(stores_n)]
    store = store_id(stores_n // 2)
    m_first = FIRST + timedelta(days=min(days, 365) - 31)  # the last month of the data
    m_last = m_first + timedelta(days=30)
    day = m_last
    epoch = lambda d: (d - date(1970, 1, 1)).days * DAY_S  # noqa: E731 -- a one-line helper
    out: list[Timing] = []

    def run(section: str, name: str, fn: Callable[[], object], base: float, *, budget: float | None,
            r: int) -> None:
        try:
            best, med = best_ms(fn, r)
            out.append(Timing(section, name, best, med, base, budget))
        except Exception as exc:  # reported in the table; the other reports still run
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:100]
            out.append(Timing(section, name, None, 0.0, base, budget, f"{type(exc).__name__}: {first}"))
        print(out[-1].line(), flush=True)

    month = f"store-month: store {store}, {m_first} to {m_last} (budget 100 ms)"
    print(f"\n{month}")
    base, _ = best_ms(lambda: counts(db, [store], epoch(m_first), epoch(m_last) + DAY_S), repeat)
    out.append(Timing("store-month", "baseline SELECT count(*) of its periods, visits, POS", base, base, base,
                      None))
    print(f"  {out[-1].name:<50} {base:8.1f} ms")
    for name, fn, budget in (
        ("store_metrics, day grain (the month's table)", lambda: store_metrics(
            db, config, [store], m_first, m_last, "day"), 100.0),
        ("store_metrics, month grain", lambda: store_metrics(
            db, config, [store], m_first, m_last, "month"), 100.0),
        ("HTML page (hour and day grain)", lambda: write_page(
            db, config, [store], m_first, m_last, out=io.StringIO()), None),
    ):
        run("store-month", name, fn, base, budget=budget, r=repeat)

    r = max(1, repeat // 2)
    print(f"\nwhole-chain day: {stores_n:,} stores, {day} (budget {chain_budget_ms / 1000:g} s)")
    base, _ = best_ms(lambda: counts(db, all_stores, epoch(day), epoch(day) + DAY_S), r)
    out.append(Timing("chain day", "baseline SELECT count(*) of every store's rows", base, base, base, None))
    print(f"  {out[-1].name:<50} {base:8.1f} ms")
    run("chain day", "(one count(*) ... GROUP BY store a table instead)", lambda: counts_by_store(
        db, all_stores, epoch(day), epoch(day) + DAY_S), base, budget=None, r=r)
    # the leader's rollup job keeps the closed days' rows (hub/joins/rollup_job.py): its first pass over
    # the day and the 4 weeks it compares with, timed once (a later pass recomputes only what changed)
    t = time.perf_counter()
    done = refresh(db, config, days=29, now=epoch(day) + DAY_S + 12 * 3600, stores=all_stores)
    print(f"  {'rollup pass, 29 days (' + format(done.computed_n, ',') + ' store-days computed)':<50}"
          f" {(time.perf_counter() - t) * 1000:8.1f} ms  (once; the leader's job, not a report)")
    for name, fn, budget in (
        ("store_metrics(all stores, day grain)", lambda: store_metrics(
            db, config, all_stores, day, day, "day"), chain_budget_ms),
        ("the same from the records (rollups=False)", lambda: store_metrics(
            db, config, all_stores, day, day, "day", rollups=False), None),
        ("hub.joins.daily.daily_report per store (hours+day)", lambda: [
            daily_report(db, config, s, day) for s in all_stores], None),
        ("publisher store-day (hour + day grain) per store", lambda: [
            store_day(db, config, s, day) for s in all_stores], None),  # once an hour
    ):
        run("chain day", name, fn, base, budget=budget, r=r)
    return out


def side_by_side(results: dict[str, list[Timing]]) -> None:
    """Each engine's figures in a column, with its own baseline ratio (figures from one run)."""
    names = list(results)
    print("\nside by side (ms, x its own engine's baseline)")
    print(f"  {'':<64}" + "".join(f" {n:>20}" for n in names))
    for i, t in enumerate(results[names[0]]):
        cells = []
        for n in names:
            u = results[n][i]
            cells.append("failed" if u.best_ms is None else f"{u.best_ms:,.1f} x{u.best_ms / u.base_ms:.1f}")
        print(f"  {t.section + ': ' + t.name:<64.64}" + "".join(f" {c:>20}" for c in cells))


def sqlite_chain(args: argparse.Namespace) -> list[Timing]:
    path = Path(args.db)
    if not matches(path, args.stores, args.days):
        t = time.perf_counter()
        generate(path, args.stores, args.days)
        print(f"generated {args.stores} stores x {args.days} days in {time.perf_counter() - t:.0f} s: {path}"
              f" ({path.stat().st_size / 1e9:.2f} GB)")
    print(f"\n== SQLite, {args.stores:,} stores x {args.days} days: {path}")
    config = HubConfig(database=DatabaseConfig(path=str(path)), default_timezone="UTC")
    with open_database(config.database) as db:
        return measure(db, config, args.stores, args.days, repeat=args.repeat, chain_budget_ms=1000.0)


def postgres_chain(args: argparse.Namespace) -> list[Timing]:
    from pg_chain import KeptPostgres, database_bytes, prepare  # noqa: PLC0415 -- psycopg only when asked

    cluster = KeptPostgres(Path(args.pg_dir)).start()
    try:
        url = prepare(cluster, args.pg_stores, args.days)
        print(f"\n== PostgreSQL, {args.pg_stores:,} stores x {args.days} days: {args.pg_dir}"
              f" ({database_bytes(url) / 1e9:.1f} GB, fsync on)")
        config = HubConfig(database=DatabaseConfig(url=url), default_timezone="UTC")
        with open_database(config.database) as db:
            return measure(db, config, args.pg_stores, args.days, repeat=args.repeat,
                           chain_budget_ms=2000.0)
    finally:
        cluster.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1] if __doc__ else None)
    ap.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--stores", type=int, default=1000, help="stores of the SQLite chain")
    ap.add_argument("--pg-stores", type=int, default=5000, help="stores of the PostgreSQL chain")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--db", default="/tmp/footfall-reports.db", help="the SQLite file (kept)")
    ap.add_argument("--pg-dir", default="/tmp/footfall-pg-reports", help="the PostgreSQL cluster (kept)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    results: dict[str, list[Timing]] = {}
    if args.engine in ("sqlite", "both"):
        results[f"SQLite {args.stores:,}"] = sqlite_chain(args)
    if args.engine in ("postgresql", "both"):
        results[f"PostgreSQL {args.pg_stores:,}"] = postgres_chain(args)
    if len(results) > 1:
        side_by_side(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
