"""An agent process for the fault tests: the real outbox and MQTT sink, fed numbered records.

It opens the outbox as the agent does (`open_outbox`: a damaged file is set aside), starts the sink,
appends records `start, start+1, ...` of `--run` in appends of `--per-append`, and prints one JSON line
per event on stdout, flushed, so that a parent that kills it with SIGKILL knows what was committed:

    {"ev": "ready", "epoch": ..., "counters": {...}}      outbox open, sink started
    {"ev": "committed", "first": a, "last": b, "seqs": [...], "disk": bytes, "payload": bytes}
    {"ev": "appended", "records": n, "batches": n, "payload": bytes}   the last append is done
    {"ev": "drained", "ok": true|false, "backlog": n}
    {"ev": "summary", "epoch": ..., "sink": {...}, "outbox": {...}, "backlog": n}   clean exit only

"committed" is printed only after `Outbox.append` returned, i.e. after its COMMIT: a record in it is one
the hub must get. A kill may land anywhere, including between the COMMIT and the line; such records
may arrive although never reported, which the tests allow.

    python -m tests.faults.agent_proc --outbox DIR/outbox.db --port 1883 --run 3 --start 120 --count 500
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from agent.buffer.outbox import Outbox
from agent.buffer.recover import open_outbox
from agent.sinks.mqtt import MqttSink
from agent.wire import Envelope, Status, Topics, encode_envelope
from agent.wire.records import iso
from tests.faults.records import record


def emit(**event: Any) -> None:
    sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="agent_proc")
    p.add_argument("--outbox", type=Path, required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--agent", default="gw-1")
    p.add_argument("--run", type=int, default=0, help="run number, part of every record's key")
    p.add_argument("--start", type=int, default=0, help="number of the first record")
    p.add_argument("--count", type=int, default=0, help="records to append (0: deliver the backlog only)")
    p.add_argument("--until-bytes", type=int, default=0, help="append until this many payload bytes")
    p.add_argument("--stop-file", type=Path, help="stop appending once this file exists")
    p.add_argument("--per-append", type=int, default=10)
    p.add_argument("--interval-s", type=float, default=0.0, help="pause between appends")
    p.add_argument("--max-records-per-batch", type=int, default=500)
    p.add_argument("--cap-bytes", type=int, default=256 << 20)
    p.add_argument("--synchronous", default="FULL")
    p.add_argument("--resend-after-s", type=float, default=2.0)
    p.add_argument("--reconnect-min-s", type=float, default=1.0)
    p.add_argument("--reconnect-max-s", type=float, default=60.0)
    p.add_argument("--keepalive-s", type=int, default=30)
    p.add_argument("--no-sink", action="store_true", help="outbox only: an agent that never got online")
    p.add_argument("--drain-s", type=float, default=0.0, help="then wait this long for the hub's acks")
    p.add_argument("--wait-term", action="store_true", help="then stay up until SIGTERM")
    return p.parse_args(argv)


def payload_bytes(box: Outbox, records: list[Any]) -> int:
    """Bytes of the payloads an append of `records` makes (the outbox's own chunking and encoding)."""
    n = 0
    for i in range(0, len(records), box.max_records_per_batch):
        env = Envelope(org=box.ids.org, store=box.ids.store, agent=box.ids.agent, epoch=box.epoch, seq=0,
                       sent_at=iso(0), records=tuple(records[i:i + box.max_records_per_batch]))
        n += len(encode_envelope(env))
    return n


def append_all(args: argparse.Namespace, box: Outbox, sink: MqttSink | None, stop: threading.Event) -> None:
    n, records_n, batches_n, written = args.start, 0, 0, 0
    while not stop.is_set():
        if args.until_bytes:
            if written >= args.until_bytes:
                break
        elif records_n >= args.count:
            break
        if args.stop_file is not None and args.stop_file.exists():
            break
        size = args.per_append if args.until_bytes else min(args.per_append, args.count - records_n)
        recs = [record(args.run, i) for i in range(n, n + size)]
        payload = payload_bytes(box, recs) if args.until_bytes else 0
        seqs = box.append(recs, time.time())
        emit(ev="committed", first=n, last=n + size - 1, seqs=seqs, disk=box.disk_bytes(), payload=payload)
        n += size
        records_n += size
        batches_n += -(-size // box.max_records_per_batch)
        written += payload
        if sink is not None:
            sink.kick()
        if args.interval_s:
            stop.wait(args.interval_s)
    emit(ev="appended", records=records_n, batches=batches_n, payload=written)


def main(argv: list[str]) -> int:
    args = parse(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    topics = Topics("acme", "brno-1", args.agent)
    box = open_outbox(args.outbox, topics.org, topics.store, topics.agent, synchronous=args.synchronous,
                      max_records_per_batch=args.max_records_per_batch, cap_bytes=args.cap_bytes)
    sink = None
    if not args.no_sink:
        sink = MqttSink(box, topics, "127.0.0.1", args.port, f"footfall-agent-{args.agent}",
                        resend_after_s=args.resend_after_s, keepalive_s=args.keepalive_s,
                        reconnect_min_s=args.reconnect_min_s,  # type: ignore[arg-type]  # paho takes floats
                        reconnect_max_s=args.reconnect_max_s,  # type: ignore[arg-type]
                        status=lambda: Status("online", "fault-test", box.backlog(), True, box.counters()))
        sink.start()
    emit(ev="ready", epoch=box.epoch, counters=box.counters())
    append_all(args, box, sink, stop)
    if sink is not None and args.drain_s:
        deadline = time.monotonic() + args.drain_s
        while not stop.is_set() and not sink.wait_drained(0.2) and time.monotonic() < deadline:
            pass
        emit(ev="drained", ok=box.backlog() == 0, backlog=box.backlog())
    if args.wait_term:
        stop.wait()
    counters = dict(sink.counters) if sink is not None else {}
    if sink is not None:
        sink.stop()
    emit(ev="summary", epoch=box.epoch, sink=counters, outbox=box.counters(), backlog=box.backlog())
    box.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
