"""Hub fixtures: a config pointing at the test's broker and a database on each engine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.config import (
    DatabaseConfig,
    HubConfig,
    IngestConfig,
    MetricSettings,
    MqttConfig,
    StoreConfig,
    TrustConfig,
)
from tests.hub.envelopes import Publisher
from tests.support.mosquitto import Mosquitto


@pytest.fixture
def hub_config(hub_database: DatabaseConfig, mosquitto: Mosquitto) -> HubConfig:
    """The test broker, a fresh database on each engine (tests/conftest.py), a short group-commit wait."""
    return HubConfig(
        mqtt=MqttConfig(port=mosquitto.port, client_id="test-hub", allow_plain_loopback=True),
        trust=TrustConfig(require_signatures=False),  # tests publish unsigned envelopes
        database=hub_database,
        ingest=IngestConfig(max_wait_ms=10),
        default_timezone="Europe/Prague",
        stores={
            "brno-1": StoreConfig(timezone="Europe/Prague", calibration_factor=1.5, settings=MetricSettings())
        },
    )


@pytest.fixture
def publisher(mosquitto: Mosquitto) -> Iterator[Publisher]:
    """A plain paho client standing in for an agent."""
    pub = Publisher(mosquitto.port)
    try:
        yield pub
    finally:
        pub.close()
