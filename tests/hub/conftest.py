"""Hub fixtures: a config pointing at the test's broker and a database in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
def hub_config(tmp_path: Path, mosquitto: Mosquitto) -> HubConfig:
    """The test broker, a fresh database, a short group-commit wait."""
    return HubConfig(
        mqtt=MqttConfig(port=mosquitto.port, client_id="test-hub", allow_plain_loopback=True),
        trust=TrustConfig(require_signatures=False),  # tests publish unsigned envelopes
        database=DatabaseConfig(path=str(tmp_path / "hub.db")),
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
