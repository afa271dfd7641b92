"""The hub's store on each engine for the tests: ENGINES (FOOTFALL_TEST_ENGINES, default both) and one
database on the engine a parametrized fixture names (tests/conftest.py's hub_database per test; the
module-scoped chains of tests/hub/chain.py once per engine)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hub.config import DatabaseConfig
from tests.support.postgres import LocalPostgres

ENGINES = tuple(os.environ.get("FOOTFALL_TEST_ENGINES", "sqlite,postgresql").split(","))


@contextmanager
def engine_database(request: pytest.FixtureRequest, tmp: Path) -> Iterator[DatabaseConfig]:
    """A database on the engine `request.param` names: a SQLite file in `tmp`, or a migrated database of
    the session's PostgreSQL cluster, dropped after."""
    if request.param == "sqlite":
        yield DatabaseConfig(path=str(tmp / "hub.db"))
        return
    cluster: LocalPostgres = request.getfixturevalue("postgres_cluster")
    url = cluster.create_database(migrated=True)
    try:
        yield DatabaseConfig(path=str(tmp / "hub.db"), url=url)
    finally:
        cluster.drop_database(url)
