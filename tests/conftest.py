"""Fixtures: a real mosquitto per test that needs one, real files in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.mosquitto import Mosquitto
from tests.support.postgres import LocalPostgres

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
BRNO = SHARED / "datasets" / "brno-lab"


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A real broker on a free loopback port, stopped after the test."""
    broker = Mosquitto(tmp_path).start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def brno() -> Path:
    """The brno-lab real captures (skip nothing: the dataset sits beside the repo, as in CI)."""
    assert BRNO.is_dir(), f"{BRNO} is missing: the shared datasets must sit beside the checkout"
    return BRNO


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[LocalPostgres]:
    """One throwaway PostgreSQL for the session (initdb costs seconds); each test gets its own database."""
    cluster = LocalPostgres().start()
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def pg_url(postgres_cluster: LocalPostgres) -> Iterator[str]:
    """The URL of a new, empty database on the test PostgreSQL, dropped after the test."""
    url = postgres_cluster.create_database()
    try:
        yield url
    finally:
        postgres_cluster.drop_database(url)
