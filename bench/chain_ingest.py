#!/usr/bin/env python3
"""Chain ingest benchmark (issue 17): records/s end to end with 1, 2 (and 4) `footfall-hub serve` workers
on PostgreSQL, next to one worker on SQLite, in one run on the same payloads.

Each configuration gets a fresh mosquitto and a fresh database; its workers are real processes sharing
the data topic (`ingest.shared_group`), so that two workers can use two cores. A plain paho client
publishes pre-encoded batches of visits at QoS 1 without waiting (agents with a backlog); the time runs
from the first publish until the hub has acknowledged every batch (the agents' acks, after the commit).
PostgreSQL runs a throwaway cluster with fsync on, as a hub would (tests/support/postgres.py).

    .venv/bin/python bench/chain_ingest.py [--batches 400] [--records 500] [--workers 1 2 4]
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.wire import Ack, Topics
from hub.config import DatabaseConfig
from hub.store.engine import open_store
from tests.hub.envelopes import Publisher
from tests.hub.ingest_rate import visit_payloads
from tests.support.mosquitto import Mosquitto
from tests.support.postgres import LocalPostgres

HUB = Path(sys.executable).with_name("footfall-hub")
BUDGET = 20_000  # records/s with 2 workers on PostgreSQL (issue 17)


def start_worker(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as err:
        proc = subprocess.Popen([str(HUB), "serve", "--config", str(config)], stdout=subprocess.DEVNULL,
                                stderr=err)
    deadline = time.monotonic() + 30
    while "hub started" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"worker did not start: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    return proc


def run(workdir: Path, database: str, workers: int, payloads: list[tuple[str, bytes]], records: int) -> float:
    """Records/s of `workers` serve processes on `database` (a yaml line), MQTT in, acks back."""
    workdir.mkdir()
    broker = Mosquitto(workdir).start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        config = workdir / "hub.yaml"
        config.write_text(f"version: 1\nmqtt: {{port: {broker.port}, client_id: bench, "
                          f"allow_plain_loopback: true}}\n{database}\ningest: {{shared_group: bench}}\n"
                          "trust: {require_signatures: false}\npublish: {enabled: false}\n")
        procs = [start_worker(config, workdir / f"worker-{i}.log") for i in range(workers)]
        acked: set[int] = set()
        done = threading.Event()
        pub = Publisher(broker.port, client_id="bench-agent")

        def on_ack(_c: object, _u: object, msg: object) -> None:
            acked.update(Ack.decode(msg.payload).seqs)  # type: ignore[attr-defined]
            if len(acked) == len(payloads):
                done.set()

        pub.subscribe(Topics("acme", "brno-1", "gw-1").ack)
        pub.client.on_message = on_ack
        start = time.perf_counter()
        for topic, payload in payloads:
            pub.client.publish(topic, payload, qos=1)
        if not done.wait(600):
            raise RuntimeError(f"only {len(acked)} of {len(payloads)} batches acknowledged")
        seconds = time.perf_counter() - start
        pub.close()
        return len(payloads) * records / seconds
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(60)
        broker.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--batches", type=int, default=400, help="data messages to publish")
    ap.add_argument("--records", type=int, default=500, help="visits per message")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="PostgreSQL worker counts")
    args = ap.parse_args()
    payloads = visit_payloads(args.batches, args.records)
    total = args.batches * args.records
    pg = LocalPostgres(fsync=True).start()
    rates: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rates["sqlite x1"] = run(Path(tmp) / "sqlite", "database: {path: hub.db}", 1, payloads,
                                     args.records)
            for n in args.workers:
                url = pg.create_database()
                open_store(DatabaseConfig(url=url)).migrate()
                rates[f"postgresql x{n}"] = run(Path(tmp) / f"pg-{n}", f"database: {{url: '{url}'}}", n,
                                                payloads, args.records)
    finally:
        pg.remove()
    base = rates["sqlite x1"]
    print(f"{args.batches} batches x {args.records} visits = {total:,} records, one run, MQTT -> hub -> acks")
    for name, rate in rates.items():
        print(f"  {name:<15} {rate:>9,.0f} records/s   {rate / base:.2f}x sqlite x1")
    if "postgresql x1" in rates and "postgresql x2" in rates:
        two = rates["postgresql x2"]
        print(f"  postgresql x2 / x1 = {two / rates['postgresql x1']:.2f}; budget {BUDGET:,} records/s with "
              f"2 workers: {'met' if two >= BUDGET else 'MISSED'}, {two / BUDGET:.1f}x")


if __name__ == "__main__":
    main()
