"""Hub fixtures: a config pointing at the test's broker and a database in tmp_path."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from hub.config import DatabaseConfig, HubConfig, IngestConfig, MetricSettings, MqttConfig, StoreConfig
from tests.hub.envelopes import Publisher
from tests.support.mosquitto import Mosquitto


class _KeepOpen:
    """Stands in for Mosquitto.log during start(): keeps the log file it opens, so it can be closed."""

    def __init__(self, path: Path, kept: list[IO[bytes]]) -> None:
        self._path = path
        self._kept = kept

    def open(self, mode: str) -> IO[bytes]:
        fh: IO[bytes] = self._path.open(mode)  # type: ignore[assignment]
        self._kept.append(fh)
        return fh

    def __getattr__(self, name: str) -> Any:
        return getattr(self._path, name)


class Broker(Mosquitto):
    """The shared test broker, closing its log file when it stops.

    tests/support/mosquitto.py passes `self.log.open("ab")` to Popen and drops it: the unclosed file is
    a ResourceWarning, an error under `filterwarnings = error`. Until that is fixed there, this keeps it.
    """

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self._kept: list[IO[bytes]] = []

    def start(self) -> Broker:
        path = self.log
        self.log = _KeepOpen(path, self._kept)  # type: ignore[assignment]
        try:
            super().start()
        finally:
            self.log = path
        return self

    def stop(self, kill: bool = False) -> None:
        super().stop(kill)
        while self._kept:
            self._kept.pop().close()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A real broker on a free loopback port (overrides the root fixture: see Broker)."""
    broker = Broker(tmp_path).start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def hub_config(tmp_path: Path, mosquitto: Mosquitto) -> HubConfig:
    """The test broker, a fresh database; one decoder process (the production path, cheaper to spawn)."""
    return HubConfig(
        mqtt=MqttConfig(port=mosquitto.port, client_id="test-hub"),
        database=DatabaseConfig(path=str(tmp_path / "hub.db")),
        ingest=dataclasses.replace(IngestConfig(), decode_processes=1, max_wait_ms=10),
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
