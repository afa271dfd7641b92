"""A data-team consumer of the store metrics: each payload as one JSON line, checked against the schema.

    python -m hub.publish.example_consumer --host broker.acme.example --port 8883 --org acme \\
        --ca pki/ca.crt --cert pki/services/data-team.crt --key pki/services/data-team.key \\
        [--store brno-1] [--client-id data-team-1] [--count N]

It subscribes `footfall/v1/{org}/{store or +}/metrics/+` and the retained schema topic
`footfall/v1/{org}/schema/metrics` at QoS 1 with a persistent MQTT 5 session (clean_start false, a
week's session expiry): the broker queues what is published while it is away, corrections included,
and on connect the retained messages give the newest hour and day at once. Each line on stdout is the
payload exactly as published, so it validates against the schema; the topic and the retained flag go
to stderr. Key rows by (store, period, start_at); a higher `revision` replaces a lower one. A null
field listed in `withheld` is suppressed (with the reason); a null field not listed is not known yet.
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
from hub.publish.payload import NAMES, SCHEMA_FILE, SCHEMA_VERSION, schema_topic


def topic_filter(org: str, store: str | None = None) -> str:
    """The filter for one store's or every store's hour and day metrics of a chain."""
    return f"{PREFIX}/{org}/{store or '+'}/metrics/+"


class Checker:
    """Checks payloads against the schema: the one received on the schema topic, else the file.
    Without jsonschema installed (it is a dev dependency) only the version and the field names."""

    def __init__(self) -> None:
        self.schema: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())

    def problem(self, doc: Any) -> str | None:
        """Why a payload is not one this consumer understands (None: fine)."""
        if not isinstance(doc, dict):
            return "not a JSON object"
        if doc.get("schema") != SCHEMA_VERSION:
            return f"schema {doc.get('schema')!r}, this consumer reads {SCHEMA_VERSION}"
        try:
            import jsonschema  # type: ignore[import-untyped]  # noqa: PLC0415 -- optional, no type stubs
        except ImportError:
            missing = [n for n in NAMES if n not in doc]
            return f"missing {missing}" if missing else None
        errors = jsonschema.Draft202012Validator(self.schema).iter_errors(doc)
        error = jsonschema.exceptions.best_match(errors)
        return None if error is None else f"{error.json_path}: {error.message}"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="print the footfall store metrics as JSON lines")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883, help="8883 with TLS")
    ap.add_argument("--org", required=True, help="chain id")
    ap.add_argument("--store", help="one store (default: every store of the chain)")
    ap.add_argument("--client-id", default="data-team-consumer", help="keep it: the broker queues for it")
    ap.add_argument("--ca", help="the chain's CA certificate (TLS)")
    ap.add_argument("--cert", help="the data-team certificate")
    ap.add_argument("--key", help="the data-team key")
    ap.add_argument("--count", type=int, default=0, help="exit after this many payloads (0: never)")
    args = ap.parse_args(argv)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=args.client_id, protocol=mqtt.MQTTv5)
    if args.ca:
        client.tls_set(ca_certs=args.ca, certfile=args.cert, keyfile=args.key)
    checker, seen = Checker(), 0

    def on_connect(c: mqtt.Client, _u: object, _f: object, code: ReasonCode, _p: object) -> None:
        if code.is_failure:
            print(f"the broker refused: {code}", file=sys.stderr)
            c.disconnect()
            return
        c.subscribe([(schema_topic(args.org), SubscribeOptions(qos=1)),
                     (topic_filter(args.org, args.store), SubscribeOptions(qos=1))])

    def on_message(c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        nonlocal seen
        try:
            doc = json.loads(msg.payload)
        except ValueError:
            doc = None
        if msg.topic == schema_topic(args.org):
            if isinstance(doc, dict):
                checker.schema = doc
            return
        problem = checker.problem(doc)
        if problem:
            print(f"skipped {msg.topic}: {problem}", file=sys.stderr)
        else:
            print(json.dumps(doc), flush=True)
            print(f"{msg.topic} retained={bool(msg.retain)}", file=sys.stderr)
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
