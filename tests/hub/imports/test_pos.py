"""POS CSV import: validated in full before writing, all or nothing, re-imports add nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils

from hub.config import HubConfig, StoreConfig
from hub.imports import ImportFileError, importer
from hub.imports.pos import cents
from hub.store import open_db

CONFIG = HubConfig(default_timezone="UTC", stores={"brno-1": StoreConfig(timezone="Europe/Prague")})
GOOD = """\
store,timestamp,transaction_id,net_amount
brno-1,2026-11-26T10:15:00+01:00,T1,25.00
brno-1,2026-11-26 10:20:00,T2,10.5
brno-1,2026-11-26T09:30:00Z,T3,-5.00
leeds-2,2026-11-26T10:15:00,T1,7
"""


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite_utils.Database]:
    database = open_db(tmp_path / "hub.db")
    try:
        yield database
    finally:
        database.close()


def csv_file(tmp_path: Path, text: str, name: str = "pos.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def rows(db: sqlite_utils.Database) -> list[tuple[object, ...]]:
    return db.execute(
        "SELECT store, transaction_id, at_utc, at_epoch_s, net_amount_cents FROM pos_transactions"
        " ORDER BY store, transaction_id"
    ).fetchall()


def test_good_file_is_imported_in_utc_cents(db: sqlite_utils.Database, tmp_path: Path) -> None:
    """Offsets are honoured, naive times are the store's local time, amounts exact cents, refunds negative."""
    result = importer("pos")(db, csv_file(tmp_path, GOOD), CONFIG)
    assert result.summary() == "pos.csv: 4 rows imported"
    assert rows(db) == [
        ("brno-1", "T1", "2026-11-26T09:15:00Z", 1795684500, 2500),
        ("brno-1", "T2", "2026-11-26T09:20:00Z", 1795684800, 1050),  # Prague is UTC+1 in November
        ("brno-1", "T3", "2026-11-26T09:30:00Z", 1795685400, -500),
        ("leeds-2", "T1", "2026-11-26T10:15:00Z", 1795688100, 700),  # not configured: default_timezone
    ]


def test_bad_row_names_file_line_and_column_and_writes_nothing(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    """One bad row anywhere stops the import before anything is written, and says exactly where."""
    text = (
        GOOD
        + "".join(f"brno-1,2026-11-26T11:{i:02d}:00+01:00,X{i},1.00\n" for i in range(11))
        + "brno-1,2026-11-26T12:00:00+01:00,X99,abc\n"
    )
    with pytest.raises(ImportFileError) as err:
        importer("pos")(db, csv_file(tmp_path, text), CONFIG)
    assert str(err.value) == "pos.csv:17: net_amount: 'abc' is not a decimal amount"
    assert rows(db) == []
    assert db.execute("SELECT count(*) FROM imports").fetchone() == (0,)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "brno-1,yesterday,T9,1.00",
            "pos.csv:2: timestamp: 'yesterday' is not an ISO 8601 date and time "
            "(e.g. 2026-11-26T14:03:00+01:00)",
        ),
        (
            "Brno 1,2026-11-26T10:00:00Z,T9,1.00",
            "pos.csv:2: store: 'Brno 1' is not a store id (lower-case letters, digits, -)",
        ),
        ("brno-1,2026-11-26T10:00:00Z,,1.00", "pos.csv:2: transaction_id: must not be empty"),
        (
            "brno-1,2026-11-26T10:00:00Z,T9,1.005",
            "pos.csv:2: net_amount: '1.005' is not a decimal amount with at most 2 decimal places",
        ),
        (
            "brno-1,2026-11-26T10:00:00Z,T9",
            "pos.csv:2: expected 4 fields (store,timestamp,transaction_id,net_amount), found 3",
        ),
    ],
)
def test_each_kind_of_bad_row_is_explained(
    db: sqlite_utils.Database, tmp_path: Path, row: str, message: str
) -> None:
    """The error says which column is wrong and why, in words a shop manager can act on."""
    with pytest.raises(ImportFileError) as err:
        importer("pos")(db, csv_file(tmp_path, f"store,timestamp,transaction_id,net_amount\n{row}\n"), CONFIG)
    assert str(err.value) == message


def test_duplicate_transaction_in_one_file_is_an_error(db: sqlite_utils.Database, tmp_path: Path) -> None:
    """The same transaction twice in one export is a broken export, not something to guess about."""
    with pytest.raises(ImportFileError) as err:
        importer("pos")(db, csv_file(tmp_path, GOOD + "brno-1,2026-11-26T11:00:00Z,T2,3.00\n"), CONFIG)
    assert (
        str(err.value) == "pos.csv:6: transaction_id: 'T2' appears twice for store 'brno-1' (first on line 3)"
    )


def test_wrong_header_is_an_error(db: sqlite_utils.Database, tmp_path: Path) -> None:
    """A file from another system is refused at its header, naming the missing field, the names looked
    for and how to map it (changed deliberately: columns are now found by their usual names)."""
    with pytest.raises(ImportFileError) as err:
        importer("pos")(db, csv_file(tmp_path, "shop,when,id,amount\n"), CONFIG)
    assert str(err.value) == (
        "pos.csv:1: no transaction_id column (looked for transaction_id, receipt, ticket, transaction;"
        " or name it in hub.yaml pos.columns.transaction_id; found shop,when,id,amount)"
    )


def test_reimporting_the_same_file_adds_nothing_and_says_so(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    """Running the same import twice (a retried cron job) is harmless and the user is told."""
    path = csv_file(tmp_path, GOOD)
    importer("pos")(db, path, CONFIG)
    again = importer("pos")(db, path, CONFIG)
    assert again.added_n == 0
    assert again.summary().startswith("pos.csv: nothing imported: this file was already imported at 20")
    assert len(rows(db)) == 4


def test_overlapping_export_adds_only_new_transactions(db: sqlite_utils.Database, tmp_path: Path) -> None:
    """Exports that overlap (Monday-Wednesday, then Tuesday-Thursday) import each transaction once."""
    importer("pos")(db, csv_file(tmp_path, GOOD, "mon.csv"), CONFIG)
    later = [*GOOD.splitlines()[0:2], "brno-1,2026-11-27T10:00:00+01:00,T4,3.00"]
    result = importer("pos")(db, csv_file(tmp_path, "\n".join(later) + "\n", "tue.csv"), CONFIG)
    assert result.summary() == "tue.csv: 1 of 2 rows imported (1 already in the database)"
    assert len(rows(db)) == 5
    first_only = importer("pos")(
        db, csv_file(tmp_path, "\n".join(GOOD.splitlines()[0:2]) + "\n", "x.csv"), CONFIG
    )
    assert first_only.summary() == "x.csv: nothing imported: its 1 row was already in the database"


@pytest.mark.parametrize(
    ("text", "value"), [("0", 0), ("12.5", 1250), ("-0.07", -7), ("+3.10", 310), ("1000000.99", 100000099)]
)
def test_amounts_are_exact_cents(text: str, value: int) -> None:
    """Money is never a float: sums of thousands of rows stay exact."""
    assert cents(text) == value


LINES = """\
Receipt No;Date;Time;Store ID;Line Total;Status;Loyalty ID;SKU
R1;2026-11-26;10:15:00;brno-1;10.00;completed;M7;A
R2;2026-11-26;10:20:00;brno-1;5.00;VOID;;A
R1;2026-11-26;10:15:00;brno-1;2.50;completed;M7;B
R3;2026-11-26;11:00:00;brno-1;-4.00;completed;;C
"""


def test_line_items_fold_into_transactions_with_voids_and_members(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    """A line-item export (semicolons, date and time columns, vendor names) sums lines per receipt in any
    order; a voided receipt is kept but marked; the loyalty id is the member id."""
    result = importer("pos")(db, csv_file(tmp_path, LINES), CONFIG)
    assert result.summary() == "pos.csv: 3 rows imported (1 voided, not counted)"
    assert db.execute(
        "SELECT transaction_id, at_utc, net_amount_cents, member_id, voided FROM pos_transactions"
        " ORDER BY transaction_id"
    ).fetchall() == [
        ("R1", "2026-11-26T09:15:00Z", 1250, "M7", 0),
        ("R2", "2026-11-26T09:20:00Z", 500, None, 1),
        ("R3", "2026-11-26T10:00:00Z", -400, None, 0),
    ]


def test_columns_mapped_in_the_config_and_a_store_for_the_whole_file(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    """An export with its own names is read through hub.yaml's pos.columns; pos.store fills a missing
    store column."""
    from hub.config import PosConfig  # noqa: PLC0415

    config = HubConfig(stores=CONFIG.stores, pos=PosConfig(
        columns={"transaction_id": "Beleg", "timestamp": "Zeit", "net_amount": "Summe"}, store="brno-1"))
    text = "Beleg,Zeit,Summe\nB1,2026-11-26 10:00:00,3.00\n"
    assert importer("pos")(db, csv_file(tmp_path, text), config).summary() == "pos.csv: 1 row imported"
    assert rows(db) == [("brno-1", "B1", "2026-11-26T09:00:00Z", 1795683600, 300)]


def test_a_later_export_voids_an_imported_transaction(db: sqlite_utils.Database, tmp_path: Path) -> None:
    """A void that arrives in a later export marks the stored transaction voided."""
    importer("pos")(db, csv_file(tmp_path, GOOD, "a.csv"), CONFIG)
    later = (
        "store,timestamp,transaction_id,net_amount,status\n"
        "brno-1,2026-11-26T10:15:00+01:00,T1,25.00,void\n"
    )
    importer("pos")(db, csv_file(tmp_path, later, "b.csv"), CONFIG)
    assert db.execute("SELECT voided FROM pos_transactions WHERE transaction_id = 'T1' AND store = 'brno-1'"
                      ).fetchone() == (1,)


@pytest.mark.parametrize(("text", "message"), [
    ("Receipt No,Date,Time,Store ID,Line Total,SKU\nR1,26.11.2026,10:00:00,brno-1,1.00,A\n",
     "pos.csv:2: date, time: '26.11.2026 10:00:00' is not an ISO 8601 date and time"
     " (e.g. 2026-11-26T14:03:00+01:00)"),
    ("ticket,location,amount\nT1,brno-1,1.00\n",
     "pos.csv:1: no timestamp column, nor date and time columns (looked for timestamp, datetime; or name"
     " it in hub.yaml pos.columns.timestamp; found ticket,location,amount)"),
    ("store,timestamp,transaction_id,net_amount\nbrno-1,2026-11-26 10:61:00,T1,1.00\n",
     "pos.csv:2: timestamp: '2026-11-26 10:61:00' is not an ISO 8601 date and time"
     " (e.g. 2026-11-26T14:03:00+01:00)"),
])
def test_new_shapes_explain_their_bad_rows(
    db: sqlite_utils.Database, tmp_path: Path, text: str, message: str
) -> None:
    """Errors of the other export shapes name file, line and column, word for word."""
    with pytest.raises(ImportFileError) as err:
        importer("pos")(db, csv_file(tmp_path, text), CONFIG)
    assert str(err.value) == message
    assert rows(db) == []
