#!/usr/bin/env python3
"""What a 20,000-store chain costs on PostgreSQL (issue 17): rows per day, disk per year, ingest workers.

Three measurements, each printed with where it comes from:

1. Rows per store-day per table: the demo's store-day (agent.simulate.generate_day, the day and seed
   `footfall-hub demo` runs) through the agent's frame path in half-second batches, as live capture
   feeds it (the demo's replay hands over 4,096 frames at a time and so sends far fewer presence
   counts than a gateway does), its POS sales, and the MQTT batches the records would travel in (the
   agent's coalescing and the outbox's cut: `outbox_batches`). Not the synthetic shape of
   bench/hub_reports.py (13 periods, 24 visits, 24 POS a store-day, no minutes or presence), which is
   printed beside it.
2. Bytes per row on PostgreSQL: those rows for --sample-stores stores, interleaved across stores in time
   order as the ingest writes them, COPYed into a migrated database of a throwaway cluster;
   pg_total_relation_size (heap, indexes, TOAST; month partitions summed) / rows.
3. The ingest rates of 2 PostgreSQL workers, bench/chain_ingest.py: records/s on 500-visit messages and
   messages/s on 1-visit ones (defaults: the figures in docs/chain.md), or measured now with
   --measure-ingest (its run on messages of the day's mean size; `both`: also 400 x 500 visits. Run it on
   an idle machine). The workers needed are the larger count of the two limits.

    .venv/bin/python bench/chain_cost.py [--stores 20000] [--sample-stores 100] [--measure-ingest]
        [--catch-up-h 1]
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg

from agent.buffer.outbox import priority_of
from agent.config import AgentConfig
from agent.pipeline import Pipeline
from agent.privacy.keychain import KeyChain
from agent.simulate import generate_day
from agent.sources.capture_file import CaptureFile
from agent.wire.records import check_record, record_to_dict
from hub.store.postgres.ingest import _copy_rows
from hub.store.postgres.partitions import Partitions, months
from hub.store.postgres.schema import PARTITIONED
from hub.store.rows import RECORD_TABLES
from tests.support.postgres import LocalPostgres

DAY = date(2026, 11, 26)  # the demo's default day and seed (hub/cli.py)
TZ = "Europe/Prague"
INGEST_X2 = 29_001  # records/s, PostgreSQL x2, 500-visit messages: bench/chain_ingest.py in docs/chain.md
MSGS_X2 = 2_311  # messages/s, PostgreSQL x2, 1-visit messages: --measure-ingest messages (docs/chain.md)
SYNTHETIC = {"periods": 13, "visits": 24, "pos_transactions": 24, "batches": 0}  # bench/hub_reports.py
BATCH_KEY = ("acme", "gw-1")
# What a chain could keep for less than a year: the exactly-once keys outlive the agents' resends (an
# outbox keeps 7 days) and the live view's presence counts are worth little once old.
SHORT_KEEP = {"batches": 14, "presence": 30}


@dataclass
class StoreDay:
    """One store-day as the hub would store it: each table's rows, and when each record was sent."""

    records: list[tuple[float, Any]] = field(default_factory=list)  # (emitted at, wire record)
    pos: list[tuple[str, str, int, int]] = field(default_factory=list)  # (id, at_utc, at_epoch_s, cents)
    batches: list[tuple[float, int]] = field(default_factory=list)  # (sent at, records_n)

    def rows(self) -> Counter[str]:
        n = Counter(RECORD_TABLES[type(r).type].table for _, r in self.records)
        n["pos_transactions"] = len(self.pos)
        n["batches"] = len(self.batches)
        return n

    def peak_hour_records(self) -> int:
        return max(Counter(int(t // 3600) for t, _ in self.records).values(), default=0)


def replay(work: Path, scale: float) -> StoreDay:
    """The demo's store-day through the frame path, half a second of frames at a time (agent/app.py:
    a live source yields every half second)."""
    files = generate_day(work, DAY, seed=1, store="demo-store", timezone=TZ, scale=scale)
    cfg = AgentConfig(org="acme", store="demo-store", agent="gw-1", timezone=TZ)
    capture = CaptureFile(files.pcap)
    frames = list(capture)
    capture.close()
    pipeline = Pipeline(cfg, KeyChain.ephemeral(frames[0][0], 1, TZ), capture.linktype)
    day = StoreDay()
    chunk: list[tuple[float, bytes]] = []
    for frame in frames:
        if chunk and int(frame[0] * 2) != int(chunk[0][0] * 2):
            day.records.extend((chunk[-1][0], r) for r in pipeline.feed(chunk).records)
            chunk = []
        chunk.append(frame)
    day.records.extend((chunk[-1][0], r) for r in pipeline.feed(chunk).records)
    day.records.extend((frames[-1][0], r) for r in pipeline.close().records)
    with files.pos_csv.open(newline="") as fh:
        for sale in csv.DictReader(fh):
            at = datetime.fromisoformat(sale["timestamp"]).astimezone(UTC)
            day.pos.append((sale["transaction_id"], f"{at:%Y-%m-%dT%H:%M:%SZ}", int(at.timestamp()),
                            round(float(sale["net_amount"]) * 100)))
    day.batches = outbox_batches(day.records, cfg.outbox.coalesce_s, cfg.outbox.max_records_per_batch)
    return day


def outbox_batches(records: list[tuple[float, Any]], coalesce_s: float, most: int) -> list[tuple[float, int]]:
    """(sent at, records_n) of the MQTT batches records emitted at these times travel in: the agent
    appends what waited `coalesce_s` (or `most` records) at once, and the outbox cuts each append into
    one batch per drop priority, `most` records at most (agent/app.py _store, agent/buffer/outbox.py)."""
    out: list[tuple[float, int]] = []
    pending: list[Any] = []
    first = 0.0

    def append() -> None:
        by_priority = Counter(priority_of(r) for r in pending)
        out.extend((first + coalesce_s, min(most, n - i)) for n in by_priority.values()
                   for i in range(0, n, most))

    for t, rec in sorted(records, key=lambda tr: tr[0]):
        if pending and (t - first >= coalesce_s or len(pending) >= most):
            append()
            pending = []
        if not pending:
            first = t
        pending.append(rec)
    if pending:
        append()
    return out


def bytes_per_row(day: StoreDay, stores: int) -> dict[str, tuple[int, int]]:
    """table -> (rows, bytes) of `stores` copies of the day in a migrated database, COPYed in time order
    across stores (the order the ingest writes them, which is what the (store, time) indexes see)."""
    cluster = LocalPostgres().start()
    try:
        url = cluster.create_database(migrated=True)
        with psycopg.connect(url, autocommit=True) as conn:
            by_type: dict[str, list[tuple[Any, ...]]] = {}
            batches: list[tuple[Any, ...]] = []
            epochs: dict[str, set[int]] = {}
            order = sorted(range(len(day.records)), key=lambda i: day.records[i][0])
            for i in order:
                emitted, rec = day.records[i]
                checked = check_record(record_to_dict(rec))
                spec = RECORD_TABLES[checked[0]]
                for s in range(stores):
                    key = (BATCH_KEY[0], f"s{s:05d}", BATCH_KEY[1], f"{s:016x}", int(emitted))
                    by_type.setdefault(checked[0], []).append(spec.row(key, i, checked))
                if spec.table in PARTITIONED and checked[2]:
                    epochs.setdefault(spec.table, set()).add(checked[2][0])
            for seq, (sent, n) in enumerate(day.batches):
                stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sent))
                batches.extend((BATCH_KEY[1], BATCH_KEY[0], f"s{s:05d}", f"{s:016x}", seq, stamp, stamp, n,
                                bytes(32)) for s in range(stores))
            Partitions().ensure(conn, {t: months(v) for t, v in epochs.items()})
            with conn.cursor() as cur:
                for rtype, rows in by_type.items():
                    _copy_rows(cur, RECORD_TABLES[rtype], rows)
                with cur.copy("COPY batches (agent, org, store, epoch, seq, sent_at, received_at, records_n,"
                              " digest) FROM STDIN") as copy:
                    for row in batches:
                        copy.write_row(row)
                with cur.copy("COPY pos_transactions (store, transaction_id, at_utc, at_epoch_s,"
                              " net_amount_cents, import_file_sha256) FROM STDIN") as copy:
                    for s in range(stores):  # an import is a store's file at once: store order
                        for sale in day.pos:
                            copy.write_row((f"s{s:05d}", *sale, "0" * 64))
            conn.execute("VACUUM ANALYZE")
            from pg_chain import table_sizes  # noqa: PLC0415 -- bench/ on the path, see main

            tables = [RECORD_TABLES[t].table for t in by_type]
            return table_sizes(conn, [*tables, "batches", "pos_transactions"])
    finally:
        cluster.remove()


def measure_ingest(batches: int, records: int) -> float:
    """Records/s of 2 PostgreSQL workers on `batches` messages of `records` visits: bench/chain_ingest.py's
    run (real serve processes, mosquitto, fsync on)."""
    from chain_ingest import run  # noqa: PLC0415 -- loads paho and the broker helpers only when asked

    from hub.config import DatabaseConfig  # noqa: PLC0415 -- as above
    from hub.store.engine import open_store  # noqa: PLC0415 -- as above
    from tests.hub.ingest_rate import visit_payloads  # noqa: PLC0415 -- as above

    payloads = visit_payloads(batches, records)
    pg = LocalPostgres(fsync=True).start()
    try:
        url = pg.create_database()
        open_store(DatabaseConfig(url=url)).migrate()
        with tempfile.TemporaryDirectory() as tmp:
            return run(Path(tmp) / "pg-2", f"database: {{url: '{url}'}}", 2, payloads, records)
    finally:
        pg.remove()


def workers(day: StoreDay, rows: Counter[str], n: int, args: argparse.Namespace) -> None:
    """Workers for the records/s and the messages/s of the chain: the larger count of the two limits."""
    rate2, msgs2 = args.ingest_rate, args.message_rate
    source = "bench/chain_ingest.py's run as recorded in docs/chain.md: 500-visit and 1-visit messages"
    if args.measure_ingest:
        per_msg = max(1, round(sum(k for _, k in day.batches) / max(len(day.batches), 1)))
        msgs2 = measure_ingest(args.messages, per_msg) / per_msg
        source = (f"bench/chain_ingest.py's run, now: {args.messages:,} messages of {per_msg} visit(s)"
                  f" (the day's mean); records/s: {source}")
        if args.measure_ingest == "both":
            rate2 = measure_ingest(400, 500)
            source = f"bench/chain_ingest.py's run, now: 400 x 500 visits, {args.messages:,} x {per_msg}"
    records_day = sum(rows[s.table] for s in RECORD_TABLES.values()) * n
    batches_day = len(day.batches) * n
    hour = lambda t: int(t // 3600)  # noqa: E731 -- a one-line helper
    peak_r = max(Counter(hour(t) for t, _ in day.records).values(), default=0) * n / 3600
    peak_b = max(Counter(hour(t) for t, _ in day.batches).values(), default=0) * n / 3600
    h = args.catch_up_h
    print(f"\ningest, 2 PostgreSQL workers ({source}): {rate2:,.0f} records/s, {msgs2:,.0f} messages/s;"
          " a worker: half of each (2 workers shared 2 busy cores: conservative per core)")
    per_batch = sum(k for _, k in day.batches) / max(len(day.batches), 1)
    at_60 = len(outbox_batches(day.records, 60, 500))
    print(f"  messages: {len(day.batches):,} a store-day, {per_batch:.1f} records each (outbox.coalesce_s 5;"
          f" with 60 s: {at_60:,})")
    print(f"  {'':<50} {'records/s':>10} {'messages/s':>11}  workers")
    for name, r, b in (("a day's average", records_day / 86400, batches_day / 86400),
                       ("the busiest hour (all stores in one time zone)", peak_r, peak_b),
                       (f"busiest hour + a day of backlog drained in {h:g} h",
                        peak_r + records_day / (h * 3600), peak_b + batches_day / (h * 3600))):
        need = max(math.ceil(r / (rate2 / 2)), math.ceil(b / (msgs2 / 2)))
        print(f"  {name:<50} {r:>10,.0f} {b:>11,.0f}  {need:>7}")
    print("  (records are what agents send, POS imports are not ingest; a backlog is resent in the batches"
          " the outbox stored, so it drains at the messages/s of small messages)")


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--stores", type=int, default=20_000, help="stores of the chain to cost")
    ap.add_argument("--sample-stores", type=int, default=100, help="copies of the day for bytes per row")
    ap.add_argument("--scale", type=float, default=1.0, help="people of the demo day (demo --scale)")
    ap.add_argument("--ingest-rate", type=float, default=INGEST_X2,
                    help=f"records/s of 2 PostgreSQL workers (default {INGEST_X2:,}: docs/chain.md)")
    ap.add_argument("--message-rate", type=float, default=MSGS_X2,
                    help=f"messages/s of 2 PostgreSQL workers on small messages (default {MSGS_X2:,})")
    ap.add_argument("--measure-ingest", nargs="?", const="both", choices=["messages", "both"],
                    help="measure the 2-worker rates now (bench/chain_ingest.py's run; an idle machine):"
                         " messages/s of the day's small messages, and (both) records/s of 500-visit ones")
    ap.add_argument("--messages", type=int, default=4000, help="small messages of --measure-ingest")
    ap.add_argument("--catch-up-h", type=float, default=1.0,
                    help="hours in which a day of backlog must drain on top of the live flow")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))

    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        day = replay(Path(tmp), args.scale)
    rows = day.rows()
    print(f"rows per store-day: the demo day {DAY} (seed 1, scale {args.scale}) through the agent's frame"
          f" path in 0.5 s batches, {time.perf_counter() - t:.0f} s")
    t = time.perf_counter()
    sizes = bytes_per_row(day, args.sample_stores)
    print(f"bytes per row: those rows x {args.sample_stores} stores COPYed into a migrated PostgreSQL"
          f" database, pg_total_relation_size / rows, {time.perf_counter() - t:.0f} s\n")

    n = args.stores
    print(f"{'table':<18} {'rows/store-day':>14} {'(synthetic)':>11} {'bytes/row':>9} {'rows/day':>13}"
          f" {'GB/year':>8}")
    total_rows = total_gb = 0.0
    for table in sorted(rows, key=lambda t: -rows[t]):
        per_row = sizes[table][1] / max(sizes[table][0], 1)
        gb_year = rows[table] * n * per_row * 365 / 1e9
        total_rows += rows[table] * n
        total_gb += gb_year
        synthetic = SYNTHETIC.get(table)
        print(f"{table:<18} {rows[table]:>14,} {'' if synthetic is None else f'{synthetic:,}':>11}"
              f" {per_row:>9.0f} {rows[table] * n:>13,} {gb_year:>8.0f}")
    print(f"{'total':<18} {sum(rows.values()):>14,} {'':>11} {'':>9} {total_rows:>13,.0f} {total_gb:>8.0f}")
    gb = {t: rows[t] * n * sizes[t][1] / max(sizes[t][0], 1) * 365 / 1e9 for t in rows}
    top = sorted(gb, key=lambda t: -gb[t])[:3]
    print(f"  {n:,} stores x 365 days: {total_gb / 1e3:.1f} TB a year of tables and indexes (no WAL archive,"
          f" replica or backup); most of it: {', '.join(top)}")
    kept = total_gb - sum(gb.get(t, 0) * (1 - d / 365) for t, d in SHORT_KEEP.items())
    short = ", ".join(f"{t} {d} days" for t, d in SHORT_KEEP.items())
    print(f"  kept shorter ({short}): {kept / 1e3:.1f} TB;"
          " footfall-hub retention keeps whole months of every table alike, a shorter keep per table is not"
          " built")

    workers(day, rows, n, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
