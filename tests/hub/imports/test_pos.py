"""POS CSV import: validated in full before writing, all or nothing, re-imports add nothing."""

from __future__ import annotations

import csv
import dataclasses
import io
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.config import DatabaseConfig, HubConfig, PosConfig, StoreConfig
from hub.imports import ImportFileError, base, importer, pos
from hub.imports.base import imported_before
from hub.imports.pos import cents, insert_statement
from hub.store.sql import Db, open_database
from tests.hub.support import query

CONFIG = HubConfig(default_timezone="UTC", stores={"brno-1": StoreConfig(timezone="Europe/Prague")})
GOOD = """\
store,timestamp,transaction_id,net_amount
brno-1,2026-11-26T10:15:00+01:00,T1,25.00
brno-1,2026-11-26 10:20:00,T2,10.5
brno-1,2026-11-26T09:30:00Z,T3,-5.00
leeds-2,2026-11-26T10:15:00,T1,7
"""


@pytest.fixture
def db(hub_database: DatabaseConfig) -> Iterator[Db]:
    """The hub's database on each engine (tests/conftest.py)."""
    with open_database(hub_database) as database:
        yield database


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Db]:
    """An SQLite file, for what only SQLite has (its strftime, its indexes, its statement trace)."""
    with open_database(DatabaseConfig(path=str(tmp_path / "hub.db"))) as database:
        yield database


def csv_file(tmp_path: Path, text: str, name: str = "pos.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def rows(db: Db) -> list[tuple[object, ...]]:
    return db.execute(
        "SELECT store, transaction_id, at_utc, at_epoch_s, net_amount_cents FROM pos_transactions"
        " ORDER BY store, transaction_id"
    ).fetchall()


def test_good_file_is_imported_in_utc_cents(db: Db, tmp_path: Path) -> None:
    """Offsets are honoured, naive times are the store's local time, amounts exact cents, refunds negative."""
    result = importer("pos")(db, csv_file(tmp_path, GOOD), CONFIG)
    assert result.summary().split("\n")[0] == "pos.csv: 4 rows imported"
    assert rows(db) == [
        ("brno-1", "T1", "2026-11-26T09:15:00Z", 1795684500, 2500),
        ("brno-1", "T2", "2026-11-26T09:20:00Z", 1795684800, 1050),  # Prague is UTC+1 in November
        ("brno-1", "T3", "2026-11-26T09:30:00Z", 1795685400, -500),
        ("leeds-2", "T1", "2026-11-26T10:15:00Z", 1795688100, 700),  # not configured: default_timezone
    ]


def test_bad_row_names_file_line_and_column_and_writes_nothing(
    db: Db, tmp_path: Path
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
            "pos.csv:2: store: 'Brno 1' is not a store id (lower-case letters, digits, -; map a location name"
            " in hub.yaml pos.locations)",
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
        (  # PostgreSQL cannot store it, so neither engine does
            "brno-1,2026-11-26T10:00:00Z,T\x009,1.00",
            "pos.csv:2: transaction_id: holds a NUL character (0x00), which a text column cannot store: a"
            " damaged export?",
        ),
    ],
)
def test_each_kind_of_bad_row_is_explained(
    db: Db, tmp_path: Path, row: str, message: str
) -> None:
    """The error says which column is wrong and why, in words a shop manager can act on."""
    with pytest.raises(ImportFileError) as err:
        importer("pos")(db, csv_file(tmp_path, f"store,timestamp,transaction_id,net_amount\n{row}\n"), CONFIG)
    assert str(err.value) == message


def test_duplicate_transaction_in_one_file_is_an_error(db: Db, tmp_path: Path) -> None:
    """The same transaction twice in one export is a broken export, not something to guess about."""
    with pytest.raises(ImportFileError) as err:
        importer("pos")(db, csv_file(tmp_path, GOOD + "brno-1,2026-11-26T11:00:00Z,T2,3.00\n"), CONFIG)
    assert (
        str(err.value) == "pos.csv:6: transaction_id: 'T2' appears twice for store 'brno-1' (first on line 3)"
    )


def test_wrong_header_is_an_error(db: Db, tmp_path: Path) -> None:
    """A file from another system is refused at its header, naming the missing field, the names looked
    for and how to map it (changed deliberately: columns are now found by their usual names)."""
    with pytest.raises(ImportFileError) as err:
        importer("pos")(db, csv_file(tmp_path, "shop,when,id,amount\n"), CONFIG)
    assert str(err.value) == (
        "pos.csv:1: no transaction_id column (looked for transaction_id, receipt, ticket, transaction;"
        " or name it in hub.yaml pos.columns.transaction_id; found shop,when,id,amount)"
    )


def test_reimporting_the_same_file_adds_nothing_and_says_so(
    db: Db, tmp_path: Path
) -> None:
    """Running the same import twice (a retried cron job) is harmless and the user is told."""
    path = csv_file(tmp_path, GOOD)
    importer("pos")(db, path, CONFIG)
    again = importer("pos")(db, path, CONFIG)
    assert again.added_n == 0
    assert again.summary().startswith("pos.csv: nothing imported: this file was already imported at 20")
    assert len(rows(db)) == 4


def test_overlapping_export_adds_only_new_transactions(db: Db, tmp_path: Path) -> None:
    """Exports that overlap (Monday-Wednesday, then Tuesday-Thursday) import each transaction once."""
    importer("pos")(db, csv_file(tmp_path, GOOD, "mon.csv"), CONFIG)
    later = [*GOOD.splitlines()[0:2], "brno-1,2026-11-27T10:00:00+01:00,T4,3.00"]
    result = importer("pos")(db, csv_file(tmp_path, "\n".join(later) + "\n", "tue.csv"), CONFIG)
    assert result.summary().split("\n")[0] == "tue.csv: 1 of 2 rows imported (1 already in the database)"
    assert len(rows(db)) == 5
    first_only = importer("pos")(
        db, csv_file(tmp_path, "\n".join(GOOD.splitlines()[0:2]) + "\n", "x.csv"), CONFIG
    )
    assert first_only.summary().split("\n")[0] == (
        "x.csv: nothing imported: its 1 row was already in the database")


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
    db: Db, tmp_path: Path
) -> None:
    """A line-item export (semicolons, date and time columns, vendor names) sums lines per receipt in any
    order; a voided receipt is kept but marked; the loyalty id is the member id."""
    result = importer("pos")(db, csv_file(tmp_path, LINES), CONFIG)
    assert result.summary().split("\n")[0] == "pos.csv: 3 rows imported (1 voided, not counted)"
    assert db.execute(
        "SELECT transaction_id, at_utc, net_amount_cents, member_id, voided FROM pos_transactions"
        " ORDER BY transaction_id"
    ).fetchall() == [
        ("R1", "2026-11-26T09:15:00Z", 1250, "M7", 0),
        ("R2", "2026-11-26T09:20:00Z", 500, None, 1),
        ("R3", "2026-11-26T10:00:00Z", -400, None, 0),
    ]


def test_columns_mapped_in_the_config_and_a_store_for_the_whole_file(
    db: Db, tmp_path: Path
) -> None:
    """An export with its own names is read through hub.yaml's pos.columns; pos.store fills a missing
    store column."""
    from hub.config import PosConfig  # noqa: PLC0415

    config = HubConfig(stores=CONFIG.stores, pos=PosConfig(
        columns={"transaction_id": "Beleg", "timestamp": "Zeit", "net_amount": "Summe"}, store="brno-1"))
    text = "Beleg,Zeit,Summe\nB1,2026-11-26 10:00:00,3.00\n"
    result = importer("pos")(db, csv_file(tmp_path, text), config)
    assert result.summary().split("\n")[0] == "pos.csv: 1 row imported"
    assert rows(db) == [("brno-1", "B1", "2026-11-26T09:00:00Z", 1795683600, 300)]


def test_a_later_export_voids_an_imported_transaction(db: Db, tmp_path: Path) -> None:
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
    db: Db, tmp_path: Path, text: str, message: str
) -> None:
    """Errors of the other export shapes name file, line and column, word for word."""
    with pytest.raises(ImportFileError) as err:
        importer("pos")(db, csv_file(tmp_path, text), CONFIG)
    assert str(err.value) == message
    assert rows(db) == []


ZONES = HubConfig(default_timezone="UTC", stores={
    "brno-1": StoreConfig(timezone="Europe/Prague"), "stjohns-1": StoreConfig(timezone="America/St_Johns")})
ALL_COLUMNS = (
    "SELECT store, transaction_id, at_utc, at_epoch_s, net_amount_cents, member_id, voided"
    " FROM pos_transactions ORDER BY store, transaction_id"
)


def big_export(n: int, seed: int) -> list[list[str]]:
    """Rows of a many-chunk export: zones with hour and half-hour offsets across a DST change, stores
    interleaved, refunds, voids, members blank, padded or missing, ids in no key order."""
    rng = random.Random(seed)
    t = 1_792_000_000  # 2026-10-15: Prague's and St John's clocks go back in between
    out = [["store", "timestamp", "transaction_id", "net_amount", "status", "member_id"]]
    for i in range(n):
        t += rng.randint(0, 900)
        store = ("brno-1", "stjohns-1", "leeds-2")[i % 3]
        day = f"2026-{10 + t // 2_600_000 % 2}-{1 + t // 86_400 % 28:02d}"
        stamp = f"{day} {t // 3600 % 24:02d}:{t // 60 % 60:02d}:{t % 60:02d}"
        value = rng.randint(-5000, 50000)
        shape = i % 3 if i % 7 == 0 else 0  # mostly 2 decimals, some 1, some none
        amount = (f"{value / 100:.2f}", f"{value // 10 / 10:.1f}", str(value // 100))[shape]
        status = ("completed", "VOID", " void ")[i % 3] if i % 97 == 0 else "completed"
        member = ("", f"M{i % 500}", f" M{i % 50} ", "  ")[i % 4]
        out.append([store, stamp, f"T{rng.randint(1, 10**9)}-{i}", amount, status, member])
    return out


def write_csv(path: Path, rows: list[list[str]], quoting: int) -> Path:
    buf = io.StringIO()
    csv.writer(buf, quoting=quoting).writerows(rows)
    path.write_text(buf.getvalue(), newline="")
    return path


@pytest.mark.parametrize("config", [ZONES, HubConfig(default_timezone="Europe/Prague")],
                         ids=["three-zones", "one-zone"])
def test_fast_path_and_row_by_row_check_store_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: HubConfig
) -> None:
    """An unquoted export goes through the column-at-a-time path; the same rows quoted go through
    csv.reader one row at a time: both store identical rows, at_utc exactly as SQLite's strftime writes
    it, a blank member id as NULL (the pinned contract of `_Check.bulk`)."""
    fast: list[object] = []
    bulk = pos._Check.bulk
    monkeypatch.setattr(pos._Check, "bulk",
                        lambda self, cols, n: fast.append(bulk(self, cols, n)) or fast[-1])
    export = big_export(6000, seed=7)
    stored = []
    for name, quoting in (("plain.csv", csv.QUOTE_MINIMAL), ("quoted.csv", csv.QUOTE_ALL)):
        database = open_database(DatabaseConfig(path=str(tmp_path / f"{name}.db")))
        try:
            result = importer("pos")(database, write_csv(tmp_path / name, export, quoting), config)
            assert (result.rows_n, result.added_n) == (6000, 6000)
            assert len(fast) >= 3 and None not in fast  # the plain file: each chunk by the fast path
            assert database.execute(
                "SELECT count(*) FROM pos_transactions"
                " WHERE at_utc IS NOT strftime('%Y-%m-%dT%H:%M:%SZ', at_epoch_s, 'unixepoch')"
                " OR member_id = '' OR member_id != trim(member_id)").fetchone() == (0,)
            stored.append(database.execute(ALL_COLUMNS).fetchall())
        finally:
            database.close()
    assert stored[0] == stored[1]
    assert len({r[5] for r in stored[0]}) > 100 and None in {r[5] for r in stored[0]}
    assert sum(r[6] for r in stored[0]) == sum(1 for i in range(6000) if i % 97 == 0 and i % 3)


def test_offsets_with_seconds_and_far_dates_get_strftime_at_utc(sqlite_db: Db, tmp_path: Path) -> None:
    """A local mean time offset (Prague before 1891: +0:57:44) is not a whole minute, and years below 1000
    are still four digits: at_utc is what SQLite's strftime makes of at_epoch_s."""
    naive = "store,timestamp,transaction_id,net_amount\nbrno-1,1880-06-01 12:00:00,L1,1.00\n"
    aware = "store,timestamp,transaction_id,net_amount\nbrno-1,0999-01-01T00:00:05+01:00,L2,1.00\n"
    any_time = dataclasses.replace(CONFIG, pos=PosConfig(time_range_days=0))  # 0: no range check
    importer("pos")(sqlite_db, csv_file(tmp_path, naive, "naive.csv"), any_time)
    importer("pos")(sqlite_db, csv_file(tmp_path, aware, "aware.csv"), any_time)
    assert sqlite_db.execute(
        "SELECT transaction_id, at_utc, strftime('%Y-%m-%dT%H:%M:%SZ', at_epoch_s, 'unixepoch')"
        " FROM pos_transactions ORDER BY transaction_id").fetchall() == [
        ("L1", "1880-06-01T11:02:16Z", "1880-06-01T11:02:16Z"),
        ("L2", "0998-12-31T23:00:05Z", "0998-12-31T23:00:05Z"),
    ]


def test_only_a_hex_sha_goes_into_the_statement() -> None:
    """The file's SHA-256 is written into the INSERT's text, so nothing but 64 hex digits may be."""
    assert "'" + "ab" * 32 + "'" in insert_statement("ab" * 32)
    with pytest.raises(ValueError, match="not a SHA-256"):
        insert_statement("x'); DROP TABLE pos_transactions; --")


def indexes(db: Db) -> list[tuple[object, ...]]:
    return db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                      " AND tbl_name = 'pos_transactions' ORDER BY name").fetchall()


def test_a_bulk_load_remakes_the_time_index_and_a_failed_one_keeps_it(
    sqlite_db: Db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file twice the size of the table drops the index and makes it again in the same transaction
    (the rows counted as before); a bad row rolls the drop back; a file smaller than that leaves the
    index alone. (SQLite: PostgreSQL loads through COPY.)"""
    db = sqlite_db
    monkeypatch.setattr(pos, "BULK_LINES", 2)
    before = indexes(db)
    assert len(before) == 1
    statements: list[str] = []
    db.raw.set_trace_callback(statements.append)
    bad = GOOD + "brno-1,2026-11-26T12:00:00+01:00,X99,abc\n"
    with pytest.raises(ImportFileError):
        importer("pos")(db, csv_file(tmp_path, bad, "bad.csv"), CONFIG)
    assert sum(s.startswith("DROP INDEX") for s in statements) == 1
    assert indexes(db) == before
    statements.clear()
    result = importer("pos")(db, csv_file(tmp_path, GOOD), CONFIG)
    assert result.summary().split("\n")[0] == "pos.csv: 4 rows imported"
    assert indexes(db) == before
    assert sum(s.startswith("DROP INDEX") for s in statements) == 1
    statements.clear()
    later = "store,timestamp,transaction_id,net_amount\nbrno-1,2026-11-27T10:00:00+01:00,T4,3.00\n"
    assert importer("pos")(db, csv_file(tmp_path, later, "later.csv"), CONFIG).added_n == 1
    assert not any(s.startswith("DROP INDEX") for s in statements)
    assert db.execute("EXPLAIN QUERY PLAN SELECT * FROM pos_transactions WHERE store = 'brno-1'"
                      " AND at_epoch_s > 0").fetchall()[0][3].endswith("(store=? AND at_epoch_s>?)")


@pytest.mark.parametrize("text", [
    "12.50", "-0.07", "007.00", "-0.00", "1.0\x1c", "\x1c1.00", "1.00 ", "+1.00", "1_0.00", ".50", "-.50",
    "1.5", "1.505", "1.2.34", "1-2.00", "--1.00", "1.-5", "\uff11.00", "1,00", "abc", "1.ab", "1e2.00", "-",
])
def test_the_column_parse_of_amounts_agrees_with_cents(text: str) -> None:
    """`_usual_cents` (a whole column at once) gives what `cents` gives, or hands the column back."""
    try:
        want: int | None = cents(text.strip())
    except ValueError:
        want = None
    got = pos._usual_cents([text])
    assert got is None or got == [want]
    assert pos._usual_cents([text, "1.00"]) in (None, [want, 100])
    if text in ("12.50", "-0.07", "007.00", "-0.00"):
        assert got == [want]


def test_a_many_chunk_export_and_its_correction_are_stored_alike_on_either_engine(
    db: Db, hub_database: DatabaseConfig, tmp_path: Path
) -> None:
    """A 6,000-row export (many chunks) and then a corrected copy of it (amounts, voids and members
    changed, rows added) give the same rows and the same summaries on this engine as on SQLite: the
    PostgreSQL load (COPY, then one merge) counts added and changed rows as SQLite's upserts do."""
    export = big_export(6000, seed=11)
    fixed = [export[0], *([*r[:3], "1.00" if i % 5 == 0 else r[3], "void" if i % 7 == 0 else r[4],
                           "M1" if i % 11 == 0 else r[5]] for i, r in enumerate(export[1:]))]
    fixed += [["brno-1", "2026-10-20 10:00:00", f"NEW-{i}", "2.00", "completed", ""] for i in range(50)]
    files = [write_csv(tmp_path / "week.csv", export, csv.QUOTE_MINIMAL),
             write_csv(tmp_path / "week-fixed.csv", fixed, csv.QUOTE_MINIMAL)]
    got, want = [], []
    with open_database(DatabaseConfig(path=str(tmp_path / "reference.db"))) as reference:
        for path in files:
            got.append(importer("pos")(db, path, ZONES).summary().split("\n")[0])
            want.append(importer("pos")(reference, path, ZONES).summary().split("\n")[0])
        assert db.execute(ALL_COLUMNS).fetchall() == reference.execute(ALL_COLUMNS).fetchall()
    assert got == want
    assert want[1].startswith("week-fixed.csv: 50 of 6,050 rows imported (6,000 already in the database)")
    assert "already stored changed by this export" in want[1]


def test_two_imports_of_one_file_that_both_found_it_new_add_it_once(
    hub_database: DatabaseConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two imports of the same file, each on its own connection, both past the "imported before?" check
    before either writes: the second waits for the first (SQLite's write lock, PostgreSQL's advisory
    lock), then finds the file recorded and adds nothing."""
    both_checked = threading.Barrier(2, timeout=30)

    def checked(*args: Any) -> Any:
        found = imported_before(*args)
        both_checked.wait()
        return found

    monkeypatch.setattr(pos, "imported_before", checked)
    path = csv_file(tmp_path, GOOD)
    added: list[int] = []

    def run() -> None:
        with open_database(hub_database) as own:
            added.append(importer("pos")(own, path, CONFIG).added_n)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(added) == [0, 4]
    assert query(hub_database, "SELECT count(*) FROM pos_transactions") == [(4,)]
    assert query(hub_database, "SELECT count(*) FROM imports") == [(1,)]


def test_an_import_that_waits_too_long_for_another_says_the_database_is_busy(
    db: Db, hub_database: DatabaseConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While another import holds the database, an import waits (30 s), then says so in one line and
    writes nothing; once the other is done it goes in."""
    monkeypatch.setattr(base, "BUSY_TIMEOUT_S", 0.2)
    with open_database(hub_database) as other:
        if other.engine == "sqlite":
            other.execute("BEGIN IMMEDIATE")
            why = "database is locked"
        else:
            other.execute("SELECT pg_advisory_lock(?)", (base.IMPORT_LOCK,))
            why = "canceling statement due to lock timeout"
        with pytest.raises(ImportFileError) as err:
            importer("pos")(db, csv_file(tmp_path, GOOD), CONFIG)
        assert str(err.value) == f"pos.csv: the database is busy ({why}); try again"
        other.execute("ROLLBACK" if other.engine == "sqlite" else "SELECT pg_advisory_unlock_all()")
    assert rows(db) == []
    assert importer("pos")(db, csv_file(tmp_path, GOOD), CONFIG).added_n == 4
