"""Staff schedule import: labour hours per local store-hour, corrected by later files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.config import DatabaseConfig, HubConfig, StoreConfig
from hub.imports import ImportFileError, importer
from hub.store.sql import Db, open_database

CONFIG = HubConfig(stores={"brno-1": StoreConfig(timezone="Europe/Prague")})
ROTA = "store,date,hour,labour_hours\nbrno-1,2026-11-26,10,3\nbrno-1,2026-11-26,11,2.5\n"


@pytest.fixture
def db(hub_database: DatabaseConfig) -> Iterator[Db]:
    """The hub's database on each engine (tests/conftest.py)."""
    with open_database(hub_database) as database:
        yield database


def rota(tmp_path: Path, text: str, name: str = "rota.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_local_hours_are_stored_in_utc_and_corrections_replace(
    db: Db, tmp_path: Path
) -> None:
    """Local 10:00 in Prague is 09:00Z; a later file changes only the hours it corrects; the same file
    twice adds nothing."""
    assert importer("staff")(db, rota(tmp_path, ROTA), CONFIG).summary() == "rota.csv: 2 rows imported"
    assert (
        importer("staff")(db, rota(tmp_path, ROTA), CONFIG)
        .summary()
        .startswith("rota.csv: nothing imported: this file was already imported")
    )
    fixed = ROTA.replace("11,2.5", "11,4")
    assert importer("staff")(db, rota(tmp_path, fixed, "fixed.csv"), CONFIG).summary() == (
        "fixed.csv: 1 of 2 rows imported (1 already in the database)"
    )
    assert db.execute(
        "SELECT hour_epoch_s, local_hour, labour_hours FROM staff_hours ORDER BY 1"
    ).fetchall() == [(1795683600, 10, 3.0), (1795687200, 11, 4.0)]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("brno-1,2026-11-26,24,3", "rota.csv:2: hour: '24' is not an hour from 0 to 23"),
        ("brno-1,26/11/2026,10,3", "rota.csv:2: date: '26/11/2026' is not a date (YYYY-MM-DD)"),
        ("brno-1,2026-11-26,10,-1",
         "rota.csv:2: labour_hours: '-1' is not a number of hours from 0 to 10,000"),
        ("brno-1,2026-11-26,10,1e9",
         "rota.csv:2: labour_hours: '1e9' is not a number of hours from 0 to 10,000"),
        (
            "Brno,2026-11-26,10,3",
            "rota.csv:2: store: 'Brno' is not a store id (lower-case letters, digits, -)",
        ),
    ],
)
def test_bad_rows_are_explained(db: Db, tmp_path: Path, row: str, message: str) -> None:
    """Errors name file, line and column, word for word; nothing is written."""
    with pytest.raises(ImportFileError) as err:
        importer("staff")(db, rota(tmp_path, f"store,date,hour,labour_hours\n{row}\n"), CONFIG)
    assert str(err.value) == message
    assert db.execute("SELECT count(*) FROM staff_hours").fetchone() == (0,)
