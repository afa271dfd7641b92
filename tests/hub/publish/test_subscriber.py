"""The data team's side, on a real mosquitto: what a subscriber receives validates against the schema."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import jsonschema

from agent.wire import PeriodCounts
from agent.wire.records import iso
from hub.app import Hub
from hub.config import HubConfig
from hub.publish import metrics_schema
from hub.publish.example_consumer import topic_filter
from hub.publish.payload import SCHEMA_FILE, schema_topic
from tests.hub.envelopes import Publisher, envelope, visit

PRAGUE = ZoneInfo("Europe/Prague")


def _day_data() -> tuple[str, list[object]]:
    """Two days ago in Prague (closed, whatever the time of the run): hours 10-12 and the day."""
    day = datetime.now(PRAGUE).date() - timedelta(days=2)
    t0 = datetime.combine(day, time(0), PRAGUE).timestamp()
    recs: list[object] = [
        PeriodCounts("hour", iso(t0 + h * 3600), v + p, v, p, 0, v) for h, v, p in ((10, 8, 30), (11, 2, 40),
                                                                                      (12, 9, 35))
    ]
    recs.append(PeriodCounts("day", iso(t0), 70, 17, 53, 0, 17))
    recs += [visit(h * 100 + i, start=t0 + h * 3600 + 60 * i) for h, v in ((10, 8), (11, 2), (12, 9))
             for i in range(v)]  # the people who came in: visitors are counted from visits
    return day.isoformat(), recs


def test_subscribers_get_schema_valid_metrics_live_and_retained(
    hub_config: HubConfig, publisher: Publisher
) -> None:
    """A subscriber on `footfall/v1/acme/+/metrics/+` (QoS 1) receives every final hour and the day,
    and the JSON Schema (the repo's file) retained on `footfall/v1/acme/schema/metrics`; one that
    connects later gets the newest hour and the day as retained messages. Every payload validates,
    and the hour with 2 visitors is withheld. (The data is
    two days late: it goes out once settled, here after 1 s without more.)"""
    validator = jsonschema.Draft202012Validator(metrics_schema())
    publisher.subscribe(topic_filter("acme"))
    publisher.subscribe(schema_topic("acme"))
    day, recs = _day_data()
    hub_config = replace(hub_config, publish=replace(hub_config.publish, settle_s=1.0))
    with Hub(hub_config) as hub:
        publisher.send(envelope(0, recs))
        assert hub.wait_idle()
        assert hub.wait_published()
        assert publisher.wait_received(5), publisher.received
    schemas = [json.loads(b) for t, b in publisher.received if t == schema_topic("acme")]
    assert schemas == [json.loads(SCHEMA_FILE.read_text())]
    docs = {(t.rsplit("/", 1)[1], json.loads(b)["local_start"][11:16]): json.loads(b)
            for t, b in publisher.received if t != schema_topic("acme")}
    assert sorted(docs) == [("day", "00:00"), ("hour", "10:00"), ("hour", "11:00"), ("hour", "12:00")]
    for doc in docs.values():
        validator.validate(doc)
        assert (doc["org"], doc["store"], doc["local_start"][:10]) == ("acme", "brno-1", day)
    assert docs[("hour", "11:00")]["visitors_n"] is None
    assert {"field": "visitors_n", "reason": "below_k"} in docs[("hour", "11:00")]["withheld"]
    assert docs[("hour", "10:00")]["visitors_n"] == 8
    # visitors are arrivals, so the hours add up to the day (19): 19 - 8 - 9 would pin the withheld
    # hour's 2, so the day's visitors are withheld as its complement
    assert docs[("day", "00:00")]["visitors_n"] is None
    assert {"field": "visitors_n", "reason": "complementary"} in docs[("day", "00:00")]["withheld"]
    assert docs[("day", "00:00")]["passersby_n"] == 53

    late = subprocess.run(
        [sys.executable, "-m", "hub.publish.example_consumer", "--port", str(hub_config.mqtt.port),
         "--org", "acme", "--client-id", "late-reader", "--count", "2"],
        capture_output=True, text=True, timeout=20, check=True,
    )
    lines = [json.loads(line) for line in late.stdout.splitlines()]
    assert {(x["period"], x["local_start"][11:16]) for x in lines} == {("hour", "12:00"), ("day", "00:00")}
    for line in lines:
        validator.validate(line)  # the consumer's output is the payload itself
    assert late.stderr.count("retained=True") == 2
    assert datetime.fromisoformat(lines[0]["published_at"]) <= datetime.now(UTC)
