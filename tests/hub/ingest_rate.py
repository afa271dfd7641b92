"""The ingest rate measurement shared by bench/hub_ingest.py and the slow floor test in tests/hub/ingest."""

from __future__ import annotations

import time

from agent.wire import encode_envelope
from hub.app import Hub
from hub.config import HubConfig
from tests.hub.envelopes import T0, Publisher, envelope, visit
from tests.hub.support import wait_for


def visit_payloads(batches: int, records: int) -> list[tuple[str, bytes]]:
    """`batches` encoded data payloads of `records` distinct visits each, with their topics."""
    envs = (envelope(s, [visit(s * records + i, T0 + i) for i in range(records)]) for s in range(batches))
    return [(env.topics.data, encode_envelope(env)) for env in envs]


def time_ingest(
    config: HubConfig, publisher: Publisher, payloads: list[tuple[str, bytes]], timeout: float = 300.0
) -> tuple[int, float]:
    """Records stored and seconds taken by a hub on `config`, from the first publish until every payload
    is committed and acknowledged. Publishes at QoS 1 without waiting, as agents with a backlog do."""
    with Hub(config) as hub:
        start = time.perf_counter()
        for topic, payload in payloads:
            publisher.client.publish(topic, payload, qos=1)
        wait_for(lambda: hub.counters["received"] >= len(payloads), timeout)
        hub.wait_idle(timeout)
        return hub.counters["records_stored"], time.perf_counter() - start
