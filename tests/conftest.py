"""Fixtures: a real mosquitto per test that needs one, real files in tmp_path."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.config import DatabaseConfig
from tests.support.engines import ENGINES, engine_database
from tests.support.mosquitto import Mosquitto
from tests.support.postgres import LocalPostgres

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
BRNO = Path(os.environ.get("FOOTFALL_BRNO_LAB") or SHARED / "datasets" / "brno-lab")
# two small real days that ship with the repository (their source and licence: tests/data/brno-lab/)
CAPTURES = Path(__file__).resolve().parent / "data" / "brno-lab"


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A real broker on a free loopback port, stopped after the test."""
    broker = Mosquitto(tmp_path).start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def captures() -> Path:
    """Two small real days in the repository (tests/data/brno-lab): a clone tests itself."""
    return CAPTURES


@pytest.fixture
def brno() -> Path:
    """The whole brno-lab dataset (about 70 MB, not in the repository); the few tests that need a busy
    day or many days are skipped, saying where it should be, when it is absent."""
    if not BRNO.is_dir():
        pytest.skip(f"the whole brno-lab dataset is not at {BRNO} (put ../shared beside the clone, or set "
                    "FOOTFALL_BRNO_LAB); the small days in tests/data/brno-lab cover the rest")
    return BRNO


@pytest.fixture
def broker(chain: Any) -> Iterator[Any]:
    """mosquitto on broker-config's output (TLS, client certificates, the ACL) for the module's `chain`
    (tests/hub/pki/support.py's Chain), stopped after the test."""
    from tests.hub.pki.support import TlsBroker  # noqa: PLC0415 -- only the tests with a chain load it

    b = TlsBroker(chain)
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[LocalPostgres]:
    """One throwaway PostgreSQL for the session (initdb costs seconds); each test gets its own database."""
    cluster = LocalPostgres().start()
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(params=ENGINES)
def hub_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DatabaseConfig]:
    """The hub's store, once on SQLite (a file in tmp_path) and once on PostgreSQL (a migrated database of
    the session's cluster, dropped after): the hub's tests that take it run on both engines.
    FOOTFALL_TEST_ENGINES=sqlite runs one engine only (quick local runs; CI runs both)."""
    with engine_database(request, tmp_path) as database:
        yield database


@pytest.fixture
def pg_url(postgres_cluster: LocalPostgres) -> Iterator[str]:
    """The URL of a new, empty database on the test PostgreSQL, dropped after the test."""
    url = postgres_cluster.create_database()
    try:
        yield url
    finally:
        postgres_cluster.drop_database(url)
