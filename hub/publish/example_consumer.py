"""A data-team consumer of the store metrics: prints one JSON line per message, checked against the schema.

    python -m hub.publish.example_consumer --host broker.example --org acme [--store brno-1]
        [--client-id data-team-1] [--ca ca.pem --cert data-team.pem --key data-team.key]

It subscribes `footfall/v1/{org}/{store or +}/metrics/+` at QoS 1 with a persistent MQTT 5 session
(clean_start false, a week's session expiry): the broker queues what is published while it is away,
late corrections included, and on connect the retained messages give the newest hour and day at once.
Key rows by (store, period, start_at); a later `published_at` replaces an earlier one.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from agent.wire.topics import PREFIX
from hub.publish.payload import NAMES, SCHEMA_VERSION


def topic_filter(org: str, store: str | None = None) -> str:
    """The filter for one store's or every store's hour and day metrics of a chain."""
    return f"{PREFIX}/{org}/{store or '+'}/metrics/+"


def check(doc: Any) -> str | None:
    """Why a payload is not one this consumer understands (None: fine). Without jsonschema installed
    this is the whole check; with it, validate against `hub.publish.metrics_schema()` too."""
    if not isinstance(doc, dict):
        return "not a JSON object"
    if doc.get("schema") != SCHEMA_VERSION:
        return f"schema {doc.get('schema')!r}, this consumer reads {SCHEMA_VERSION}"
    missing = [n for n in NAMES if n not in doc]
    return f"missing {missing}" if missing else None


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="print the footfall store metrics as JSON lines")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--org", required=True, help="chain id")
    ap.add_argument("--store", help="one store (default: every store of the chain)")
    ap.add_argument("--client-id", default="data-team-consumer", help="keep it: the broker queues for it")
    ap.add_argument("--ca")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--count", type=int, default=0, help="exit after this many messages (0: never)")
    args = ap.parse_args(argv)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=args.client_id, protocol=mqtt.MQTTv5)
    if args.ca:
        client.tls_set(ca_certs=args.ca, certfile=args.cert, keyfile=args.key)
    seen = 0

    def on_connect(c: mqtt.Client, _u: object, _f: object, code: ReasonCode, _p: object) -> None:
        if not code.is_failure:
            c.subscribe(topic_filter(args.org, args.store), options=SubscribeOptions(qos=1))

    def on_message(c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        nonlocal seen
        try:
            doc = json.loads(msg.payload)
        except ValueError:
            doc = None
        problem = check(doc)
        if problem:
            print(f"skipped {msg.topic}: {problem}", file=sys.stderr)
        else:
            print(json.dumps({"topic": msg.topic, "retained": bool(msg.retain), **doc}), flush=True)
        seen += 1
        if args.count and seen >= args.count:
            c.disconnect()

    client.on_connect = on_connect
    client.on_message = on_message
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho leaves it untyped
    props.SessionExpiryInterval = 7 * 86400
    client.connect(args.host, args.port, clean_start=False, properties=props)
    client.loop_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
