#!/usr/bin/env python3
"""Hub ingest benchmark (docs/reliability.md: at least 20,000 records/s), end to end from MQTT into SQLite.

A plain paho client publishes pre-encoded batches of visits to a fresh mosquitto; the hub is timed from
the first publish until every batch is committed and acknowledged. Measured in the same run against two
one-core baselines on the same payloads, so that the ratios hold from one machine to another:

- decode: `agent.wire.decode_envelope` alone (the wire codec, no rows, no database);
- insert: plain sqlite3 `executemany` of the same rows, already built, into a fresh hub database (same
  schema, WAL, synchronous=FULL), one commit per `ingest.max_batches_per_commit` batches;
- the same insert (a quarter of the rows) beside a thread that runs Python in 1 ms bursts half the
  time, with `executemany` and with the hub's multi-row statements (hub.store.bulk): why the writer does
  not use `executemany`.

    .venv/bin/python bench/hub_ingest.py [--batches 400] [--records 500]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.wire import decode_envelope
from hub.config import DatabaseConfig, HubConfig, IngestConfig, MqttConfig, TrustConfig
from hub.ingest.decode import DataBatch, decode
from hub.store import RECORD_TABLES, connect, open_db
from hub.store.bulk import insert_rows
from tests.hub.envelopes import Publisher
from tests.hub.ingest_rate import time_ingest, visit_payloads
from tests.support.mosquitto import Mosquitto

BUDGET = 20_000  # records/s, docs/reliability.md


def decode_rate(payloads: list[tuple[str, bytes]]) -> float:
    """Records/s of `decode_envelope` over `payloads`, one core."""
    start = time.perf_counter()
    n = sum(len(decode_envelope(topic, payload).records) for topic, payload in payloads)
    return n / (time.perf_counter() - start)


class BusyThread(threading.Thread):
    """A thread that runs Python half the time in 1 ms bursts, as paho reading a backlog does beside the
    writer: between bursts it sleeps (paho waits in select), so the GIL changes hands often."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stopped = False

    def run(self) -> None:
        while not self.stopped:
            until = time.perf_counter() + 0.001
            while time.perf_counter() < until:
                pass
            time.sleep(0.001)


def insert_rate(payloads: list[tuple[str, bytes]], db_path: Path, per_commit: int, *, bulk: bool = False,
                busy: bool = False) -> float:
    """Records/s of inserting the payloads' rows, built beforehand, with plain sqlite3 `executemany`
    (or `bulk`: the hub's multi-row statements, hub.store.bulk), one core; `busy`: beside a BusyThread."""
    open_db(db_path).close()
    batches = [decode(topic, payload) for topic, payload in payloads]
    assert all(isinstance(b, DataBatch) for b in batches)
    conn = connect(db_path)
    n = 0
    spinner = BusyThread()
    if busy:
        spinner.start()
    start = time.perf_counter()
    for i in range(0, len(batches), per_commit):
        conn.execute("BEGIN IMMEDIATE")
        for b in batches[i : i + per_commit]:
            assert isinstance(b, DataBatch)
            conn.execute(
                "INSERT INTO batches (agent, org, store, epoch, seq, sent_at, received_at, records_n)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (b.agent, b.org, b.store, b.epoch, b.seq, b.sent_at, b.sent_at, b.records_n),
            )
            for rtype, rows in b.rows.items():
                if bulk:
                    insert_rows(conn.cursor(), RECORD_TABLES[rtype], rows)
                else:
                    conn.executemany(RECORD_TABLES[rtype].insert_sql, rows)
            n += b.records_n
        conn.execute("COMMIT")
    seconds = time.perf_counter() - start
    spinner.stopped = True
    conn.close()
    return n / seconds


def hub_rate(payloads: list[tuple[str, bytes]], workdir: Path) -> tuple[int, float]:
    """Records stored and records/s of the hub, MQTT in, SQLite out, acks back."""
    broker = Mosquitto(workdir).start()
    try:
        cfg = HubConfig(
            mqtt=MqttConfig(port=broker.port, client_id="bench-hub", allow_plain_loopback=True),
            database=DatabaseConfig(path=str(workdir / "hub.db")),
            trust=TrustConfig(require_signatures=False),  # unsigned: bench/signatures.py times verification
        )
        pub = Publisher(broker.port)
        try:
            n, seconds = time_ingest(cfg, pub, payloads)
        finally:
            pub.close()
    finally:
        broker.stop()
    return n, n / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--batches", type=int, default=400, help="data messages to publish")
    ap.add_argument("--records", type=int, default=500, help="visits per message")
    args = ap.parse_args()

    payloads = visit_payloads(args.batches, args.records)
    total = args.batches * args.records
    with tempfile.TemporaryDirectory() as tmp:
        decoded = decode_rate(payloads)
        per_commit = IngestConfig().max_batches_per_commit
        insert = insert_rate(payloads, Path(tmp) / "insert.db", per_commit)
        some = payloads[: max(1, len(payloads) // 4)]  # a quarter of the rows: executemany is slow here
        busy_many = insert_rate(some, Path(tmp) / "busy-many.db", per_commit, busy=True)
        busy_bulk = insert_rate(some, Path(tmp) / "busy-bulk.db", per_commit, bulk=True, busy=True)
        n, hub = hub_rate(payloads, Path(tmp))
    if n != total:
        sys.exit(f"hub_ingest: only {n} of {total} records were stored")
    print(f"{args.batches} batches x {args.records} visits = {total:,} records, one run")
    print(f"  baseline decode_envelope alone, one core   {decoded:>9,.0f} records/s")
    print(f"  baseline sqlite3 insert of the same rows    {insert:>9,.0f} records/s")
    print(f"  beside a bursty Python thread: executemany {busy_many:>9,.0f} records/s")
    print(f"  beside a bursty Python thread: hub's bulk  {busy_bulk:>9,.0f} records/s  "
          f"({busy_bulk / busy_many:.1f}x: sqlite3 gives up the GIL once per statement step)")
    print(f"  hub, MQTT -> decode -> SQLite -> acks       {hub:>9,.0f} records/s")
    print(f"  hub / decode = {hub / decoded:.2f}   hub / insert = {hub / insert:.2f}")
    verdict = "met" if hub >= BUDGET else "MISSED"
    print(f"  budget {BUDGET:,} records/s (docs/reliability.md): {verdict}, {hub / BUDGET:.1f}x")


if __name__ == "__main__":
    main()
