#!/usr/bin/env python3
"""Report benchmark (docs/reliability.md and issue 7): a year of hourly data for 1,000 stores in the hub's
SQLite; a store-month report under 100 ms and a whole-chain day under 1 s.

The rows are generated in SQL (recursive CTEs, one INSERT ... SELECT per table, in (store, time)
order) into a database with the hub's own schema: per store and open hour (08:00-19:59 UTC) an hour
count, 2 visitor visits and 2 POS transactions, and a day count per store-day. Timed, best of --repeat
runs on a warm cache, against a baseline measured in the same run: bare `SELECT count(*)`s over the
same rows (periods, visits, POS of the store and range), i.e. what reading them costs at the least.

    .venv/bin/python bench/hub_reports.py [--stores 1000] [--days 365] [--db /tmp/footfall-reports.db]

The database is kept and reused when its size matches (generating a year takes a few minutes).
"""

from __future__ import annotations

import argparse
import io
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.config import DatabaseConfig, HubConfig
from hub.joins.daily import daily_report
from hub.joins.metrics import store_metrics
from hub.publish.source import store_day
from hub.reports.html import write_page
from hub.store import open_db

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


def counts(conn: sqlite3.Connection, stores: list[str], t0: int, t1: int) -> int:
    """The baseline: count the rows a report of `stores` over [t0, t1) reads, nothing else."""
    n = 0
    for s in stores:
        for table, col, only in (("periods", "start_epoch_s", " AND period IN ('hour', 'day')"),
                                 ("visits", "started_epoch_s", ""), ("pos_transactions", "at_epoch_s", "")):
            sql = f"SELECT count(*) FROM {table} WHERE store = ?{only} AND {col} >= ? AND {col} < ?"
            n += conn.execute(sql, (s, t0, t1)).fetchone()[0]
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--stores", type=int, default=1000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--db", default="/tmp/footfall-reports.db")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    path = Path(args.db)
    if not matches(path, args.stores, args.days):
        t = time.perf_counter()
        generate(path, args.stores, args.days)
        print(f"generated {args.stores} stores x {args.days} days in {time.perf_counter() - t:.0f} s: {path}"
              f" ({path.stat().st_size / 1e9:.2f} GB)")
    config = HubConfig(database=DatabaseConfig(path=str(path)), default_timezone="UTC")
    db = open_db(path)
    conn = db.conn
    rows = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # fixed table names
            for t in ("periods", "visits", "pos_transactions")}
    print("rows: " + ", ".join(f"{t} {n:,}" for t, n in rows.items()))
    all_stores = [store_id(i) for i in range(args.stores)]
    store = store_id(args.stores // 2)
    m_first = FIRST + timedelta(days=min(args.days, 365) - 31)  # the last month of the data
    m_last = m_first + timedelta(days=30)
    day = m_last
    epoch = lambda d: (d - date(1970, 1, 1)).days * DAY_S  # noqa: E731 -- a one-line helper
    r = args.repeat

    print(f"\nstore-month: store {store}, {m_first} to {m_last} (budget 100 ms)")
    base, _ = best_ms(lambda: counts(conn, [store], epoch(m_first), epoch(m_last) + DAY_S), r)
    print(f"  baseline SELECT count(*) of its periods, visits, POS   {base:8.1f} ms")
    for name, fn in (
        ("store_metrics, day grain (the month's table)", lambda: store_metrics(
            conn, config, [store], m_first, m_last, "day")),
        ("store_metrics, month grain", lambda: store_metrics(
            conn, config, [store], m_first, m_last, "month")),
        ("HTML page (hour and day grain)", lambda: write_page(
            conn, config, [store], m_first, m_last, out=io.StringIO())),
    ):
        best, med = best_ms(fn, r)
        verdict = f"{'met' if best < 100 else 'MISSED'}" if "HTML" not in name else "(no budget)"
        print(f"  {name:<50} {best:8.1f} ms (median {med:.1f})  x{best / base:5.1f} baseline  {verdict}")

    print(f"\nwhole-chain day: {args.stores} stores, {day} (budget 1 s)")
    base, _ = best_ms(lambda: counts(conn, all_stores, epoch(day), epoch(day) + DAY_S), max(1, r // 2))
    print(f"  baseline SELECT count(*) of every store's rows         {base:8.1f} ms")
    for name, fn in (
        ("store_metrics(all stores, day grain)", lambda: store_metrics(
            conn, config, all_stores, day, day, "day")),
        ("hub.joins.daily.daily_report per store", lambda: [
            daily_report(conn, config, s, day) for s in all_stores]),
        ("publisher store-day (hour + day grain) per store", lambda: [store_day(conn, config, s, day)
                                                                      for s in all_stores]),
    ):
        best, med = best_ms(fn, max(1, r // 2))
        verdict = ("(once an hour, no budget)" if name.startswith("publisher")
                   else "met" if best < 1000 else "MISSED")
        print(f"  {name:<50} {best:8.1f} ms (median {med:.1f})  x{best / base:5.1f} baseline  {verdict}")
    db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
