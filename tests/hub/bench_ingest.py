"""Hub ingest rate, end to end from MQTT into SQLite (DESIGN section 6: at least 20,000 records/s).

    .venv/bin/python -m tests.hub.bench_ingest [--batches 400] [--records 500] [--decode-processes 2]

Publishes pre-encoded batches of visits from a plain paho client to a fresh mosquitto and times the
hub from the first publish until every batch is committed and acknowledged.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

from agent.wire import encode_envelope
from hub.app import Hub
from hub.config import DatabaseConfig, HubConfig, IngestConfig, MqttConfig
from tests.hub.envelopes import T0, Publisher, envelope, visit
from tests.support.mosquitto import Mosquitto


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=400)
    ap.add_argument("--records", type=int, default=500)
    ap.add_argument("--decode-processes", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp)).start()
        try:
            cfg = HubConfig(
                mqtt=MqttConfig(port=broker.port, client_id="bench-hub"),
                database=DatabaseConfig(path=f"{tmp}/hub.db"),
                ingest=dataclasses.replace(IngestConfig(), decode_processes=args.decode_processes),
            )
            payloads = [
                (env.topics.data, encode_envelope(env))
                for env in (
                    envelope(s, [visit(s * args.records + i, T0 + i) for i in range(args.records)])
                    for s in range(args.batches)
                )
            ]
            pub = Publisher(broker.port)
            with Hub(cfg) as hub:
                t = time.perf_counter()
                for topic, payload in payloads:
                    pub.client.publish(topic, payload, qos=1)
                deadline = time.monotonic() + 300
                while hub.counters["batches_stored"] < args.batches and time.monotonic() < deadline:
                    time.sleep(0.01)
                hub.wait_idle()
                dt = time.perf_counter() - t
                n = hub.counters["records_stored"]
            pub.close()
        finally:
            broker.stop()
    print(f"{n} records in {args.batches} batches: {dt:.2f} s, {n / dt:,.0f} records/s")


if __name__ == "__main__":
    main()
