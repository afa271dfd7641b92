"""The generated chain of bench/hub_reports.py on PostgreSQL (issue 17): a kept cluster, the same rows.

The cluster lives in a folder that survives the run (`KeptPostgres`, tests/support/postgres.py's
LocalPostgres with fsync on, in a folder of our choosing): a year of 5,000 stores takes long to make,
so a database whose `bench_meta` matches the size asked for is reused, as the SQLite file is.

The rows are those of hub_reports.generate, written with generate_series: per store and open hour
(08:00-19:59 UTC) an hour period, 2 visitor visits and 2 POS transactions, and a day period per
store-day. Periods and visits go in one INSERT ... SELECT per table and month partition (made first by
hub/store/postgres/partitions.py), in (store, time) order so each partition's index appends; POS
transactions (one table, not partitioned) go in chunks of stores in (store, time) order for the same
reason. ANALYZE at the end, as a hub's autovacuum would have done long before a year is stored.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg

from hub.store.postgres.migrate import apply
from hub.store.postgres.partitions import Partitions, month_start, next_month
from tests.support.postgres import SERVICE_USER, LocalPostgres

FIRST = date(2025, 1, 1)  # UTC stores: local days are UTC days (as hub_reports.FIRST)
DAY_S = 86400
OPEN = range(8, 20)
DATABASE = "footfall_bench"
POS_CHUNK = 250  # stores per POS INSERT: about 2 M rows for a year
# What the record tables hold, for the sizes: table -> (rows of one store-day in this shape)
SHAPE = {"periods": len(OPEN) + 1, "visits": 2 * len(OPEN), "pos_transactions": 2 * len(OPEN)}


class KeptPostgres(LocalPostgres):
    """LocalPostgres with fsync on, in `folder`, kept after `stop()` (the generated year survives)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(fsync=True)
        shutil.rmtree(self.dir, ignore_errors=True)  # the temporary folder LocalPostgres made
        folder.mkdir(parents=True, exist_ok=True)
        if os.getuid() == 0:
            pw = pwd.getpwnam(SERVICE_USER)
            os.chown(folder, pw.pw_uid, pw.pw_gid)
        self.dir = folder
        self.data = folder / "data"
        self.log = folder / "postgres.log"

    def start(self) -> KeptPostgres:
        with contextlib.suppress(RuntimeError):  # a killed run leaves its server up: stop it first
            self.stop()
        fresh = not self.data.exists()
        super().start()
        if fresh:  # a year of inserts: fewer checkpoints; a hub-sized cache for the reads
            with psycopg.connect(self.url(), autocommit=True) as conn:
                conn.execute("ALTER SYSTEM SET max_wal_size = '4GB'")
                conn.execute("ALTER SYSTEM SET shared_buffers = '512MB'")
            super().restart()
        return self


def store_sql(i: str) -> str:
    """hub_reports.store_id in SQL: 's0042' (printf('%04d'): wider numbers keep every digit)."""
    return f"'s' || CASE WHEN {i} < 10000 THEN lpad({i}::text, 4, '0') ELSE {i}::text END"


def iso(epoch: str) -> str:
    return f"to_char(to_timestamp({epoch}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"


def month_days(days: int) -> list[tuple[datetime, int, int]]:
    """(month start, first day index, last day index + 1) of the days [0, days) from FIRST."""
    out: list[tuple[datetime, int, int]] = []
    d = 0
    while d < days:
        start = month_start(int(datetime.combine(FIRST + timedelta(days=d), datetime.min.time(), UTC)
                                .timestamp()))
        end_day = (next_month(start).date() - FIRST).days
        out.append((start, d, min(end_day, days)))
        d = min(end_day, days)
    return out


def generate(url: str, stores: int, days: int, log: Callable[[str], None] = print) -> None:
    """Fill a migrated, empty database with the chain; `log` gets one line per step with its time."""
    t_first = (FIRST - date(1970, 1, 1)).days * DAY_S
    key = "'acme', q.id, 'gw-' || q.id, 'e1', q.d, 0"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET work_mem = '256MB'")
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("SET synchronous_commit = off")  # a generator: the last commit is waited for below
        months = month_days(days)
        Partitions().ensure(conn, {t: {m for m, _, _ in months} for t in ("periods", "visits")})
        for start, d0, d1 in months:
            t = time.perf_counter()
            # the ints sorted first (narrow rows), the text made in that order
            grid = (f"SELECT i, {store_sql('i')} AS id, d, {t_first} + d * {DAY_S} AS t{{cols}}"
                    f" FROM generate_series(0, {stores - 1}) i, generate_series({d0}, {d1 - 1}) d{{more}}"
                    " ORDER BY i, d{order}")
            hours = grid.format(cols=", h", more=f", generate_series({OPEN.start}, {OPEN.stop - 1}) h",
                                order=", h")
            conn.execute((
                "INSERT INTO periods (org, store, agent, epoch, seq, idx, period, start_at, seen_n,"
                " visitors_n, passersby_n, bounces_n, visits_n, start_epoch_s)"
                f" SELECT {key}, 'hour', {iso('q.t + q.h * 3600')}, 40 + (q.i + q.h) % 20,"
                " 8 + (q.i * 7 + q.d + q.h) % 12, 32, 1, 8, q.t + q.h * 3600"
                f" FROM ({hours}) q").encode())
            conn.execute((
                "INSERT INTO periods (org, store, agent, epoch, seq, idx, period, start_at, seen_n,"
                " visitors_n, passersby_n, bounces_n, visits_n, start_epoch_s)"
                f" SELECT {key}, 'day', {iso('q.t')}, 500, 120, 380, 12, 120, q.t"
                f" FROM ({grid.format(cols='', more='', order='')}) q").encode())
            two = grid.format(cols=", h, k", more=f", generate_series({OPEN.start}, {OPEN.stop - 1}) h,"
                              " generate_series(0, 1) k", order=", h, k")
            begin = "q.t + q.h * 3600 + q.k * 1500"
            dwell = "(300 + (q.i * 13 + q.d * 7 + q.h * 3 + q.k * 1711) % 7200)"
            conn.execute((
                "INSERT INTO visits (org, store, agent, epoch, seq, idx, started_at, ended_at, dwell_s,"
                " sightings_n, rssi_max_dbm, kind, randomized, device_key, key_window, started_epoch_s,"
                f" ended_epoch_s) SELECT {key}, {iso(begin)}, {iso(f'{begin} + {dwell}')}, {dwell}, 12, -55,"
                " 'visitor', 0, lpad(to_hex(q.i), 16, '0') || lpad(to_hex((q.d * 24 + q.h) * 2 + q.k), 16,"
                f" '0'), 'w' || q.d, {begin}, {begin} + {dwell} FROM ({two}) q").encode())
            log(f"  {start:%Y-%m}: periods and visits in {time.perf_counter() - t:.0f} s")
        for s0 in range(0, stores, POS_CHUNK):
            t = time.perf_counter()
            s1 = min(s0 + POS_CHUNK, stores)
            grid = (f"SELECT i, {store_sql('i')} AS id, d, {t_first} + d * {DAY_S} AS t, h, k"
                    f" FROM generate_series({s0}, {s1 - 1}) i, generate_series(0, {days - 1}) d,"
                    f" generate_series({OPEN.start}, {OPEN.stop - 1}) h, generate_series(0, 1) k"
                    " ORDER BY i, d, h, k")
            at = "q.t + q.h * 3600 + 600 + q.k * 1200"
            conn.execute((
                "INSERT INTO pos_transactions (store, transaction_id, at_utc, at_epoch_s, net_amount_cents,"
                " import_file_sha256) SELECT q.id, lpad(q.d::text, 3, '0') || '-' || lpad(q.h::text, 2, '0')"
                f" || '-' || q.k, {iso(at)}, {at}, 500 + (q.i + q.d + q.h * 7) % 4000, 'bench'"
                f" FROM ({grid}) q").encode())
            log(f"  POS of stores {s0}-{s1 - 1}: {time.perf_counter() - t:.0f} s")
        conn.execute((
            "INSERT INTO batches (agent, org, store, epoch, seq, sent_at, received_at, records_n)"
            f" SELECT 'gw-' || id, 'acme', id, 'e1', 0, '', '', 0 FROM (SELECT {store_sql('i')} AS id"
            f" FROM generate_series(0, {stores - 1}) i) q").encode())
        t = time.perf_counter()
        conn.execute("SET synchronous_commit = on")
        conn.execute("CREATE TABLE bench_meta (stores bigint, days bigint)")
        conn.execute("INSERT INTO bench_meta VALUES (%s, %s)", (stores, days))
        conn.execute("ANALYZE")
        conn.execute("CHECKPOINT")
        log(f"  ANALYZE and CHECKPOINT: {time.perf_counter() - t:.0f} s")


def matches(cluster: LocalPostgres, stores: int, days: int) -> bool:
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            return False
    try:
        with psycopg.connect(cluster.url(DATABASE), autocommit=True) as conn:
            return conn.execute("SELECT stores, days FROM bench_meta").fetchone() == (stores, days)
    except psycopg.Error:
        return False


def prepare(cluster: LocalPostgres, stores: int, days: int, log: Callable[[str], None] = print) -> str:
    """The URL of a database holding the chain of this size: reused when it matches, else made anew."""
    url = cluster.url(DATABASE)
    if matches(cluster, stores, days):
        apply(url)  # migrations newer than the data (they never touch the generated rows' columns)
        return url
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    apply(url)
    t = time.perf_counter()
    log(f"generating {stores} stores x {days} days on PostgreSQL ...")
    generate(url, stores, days, log)
    log(f"generated {stores} stores x {days} days in {time.perf_counter() - t:.0f} s:"
        f" {database_bytes(url) / 1e9:.2f} GB")
    return url


def database_bytes(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def table_sizes(conn: Any, tables: list[str]) -> dict[str, tuple[int, int]]:
    """table -> (rows, bytes with indexes and TOAST), partitions summed (pg_partition_tree)."""
    out: dict[str, tuple[int, int]] = {}
    for table in tables:  # names from the code
        n = conn.execute(f"SELECT count(*) FROM {table}".encode()).fetchone()[0]
        size = conn.execute("SELECT coalesce(sum(pg_total_relation_size(relid)), 0) FROM"
                            " pg_partition_tree(%s::regclass)", (table,)).fetchone()[0]
        if not size:  # not partitioned: the tree is empty
            size = conn.execute("SELECT pg_total_relation_size(%s::regclass)", (table,)).fetchone()[0]
        out[table] = (int(n), int(size))
    return out
