"""POS exports as shops produce them (tests/data/pos, unedited): Square, Shopify and a Chinese POS, and the
bad input of issue 14: corrections, amounts and times out of range, the hour the clocks skip, GBK, two
imports of one file at once."""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.cli import main
from hub.config import DatabaseConfig, HubConfig, PosConfig, StoreConfig
from hub.imports import ImportFileError, importer
from hub.store.sql import Db, open_database
from tests.hub.support import query

DATA = Path(__file__).resolve().parents[2] / "data" / "pos"
SQUARE = HubConfig(
    stores={s: StoreConfig(timezone="America/Chicago", currency="USD") for s in ("austin-1", "austin-2")},
    pos=PosConfig(timestamp_format="%m/%d/%y %H:%M:%S",
                  locations={"Austin Downtown": "austin-1", "Austin South Congress": "austin-2"}),
)
SHOPIFY = HubConfig(
    stores={s: StoreConfig(timezone="Europe/Prague", currency="EUR", locale="cs")
            for s in ("brno-1", "praha-1")},
    pos=PosConfig(columns={"transaction_id": "Name"}, timestamp_format="%Y-%m-%d %H:%M:%S %z", locale="en",
                  locations={"Brno Flagship": "brno-1", "Praha Centrum": "praha-1"}),
)
CHINA = HubConfig(
    stores={"shanghai-1": StoreConfig(timezone="Asia/Shanghai", currency="CNY", locale="zh")},
    pos=PosConfig(locations={"上海南京东路店": "shanghai-1"}, void_statuses=["已作废", "void"]),
)


@pytest.fixture
def db(hub_database: DatabaseConfig) -> Iterator[Db]:
    """The hub's database on each engine (tests/conftest.py)."""
    with open_database(hub_database) as database:
        yield database


def stored(db: Db) -> list[tuple[object, ...]]:
    return db.execute("SELECT store, transaction_id, at_utc, net_amount_cents, member_id, voided"
                      " FROM pos_transactions ORDER BY at_epoch_s").fetchall()


def test_a_square_export_imports_unedited(db: Db) -> None:
    """Square: `$24.90`, quoted `"$1,512.50"`, `-$5.00`, `11/24/26` + `09:12:44` in the store's zone, location
    names to store ids; net sales from Net Sales, never Total Collected (tax and tip included)."""
    result = importer("pos")(db, DATA / "square-transactions.csv", SQUARE)
    print(f"\n$ footfall-hub import-pos tests/data/pos/square-transactions.csv\n{result.summary()}")
    assert result.summary().split("\n") == [
        "square-transactions.csv: 6 rows imported",
        "  transaction_id <- 'Transaction ID'",
        "  date <- 'Date'",
        "  time <- 'Time'",
        "  store <- 'Location'",
        "  member_id <- 'Customer ID'",
        "  net sales <- 'Net Sales' (also there, not used: 'Gross Sales', 'Tax')",
        "  amounts as the en locale writes them (1,234.50), times as %m/%d/%y %H:%M:%S (the store's local"
        " time unless they carry an offset)",
        "  location 'Austin Downtown' -> store austin-1",
        "  location 'Austin South Congress' -> store austin-2",
    ]
    assert stored(db)[:4] == [
        ("austin-1", "xYzA1bC2dE3fG4hI5jK6", "2026-11-24T15:12:44Z", 2490, "CUST-0091", 0),
        ("austin-1", "Lm7Nn8Oo9Pp0Qq1Rr2Ss", "2026-11-24T16:03:17Z", 150000, None, 0),
        ("austin-1", "Tt3Uu4Vv5Ww6Xx7Yy8Zz", "2026-11-24T17:45:02Z", 800, None, 0),
        ("austin-1", "Aa9Bb8Cc7Dd6Ee5Ff4Gg", "2026-11-24T20:20:39Z", -500, "CUST-0091", 0),
    ]


def test_a_shopify_export_imports_unedited(db: Db) -> None:
    """Shopify: `+0100` times, `#1001` names (pos.columns), a voided order kept and not counted, a refund;
    no net column, so net = Total - Taxes (the prices include VAT)."""
    result = importer("pos")(db, DATA / "shopify-orders.csv", SHOPIFY)
    print(f"\n$ footfall-hub import-pos tests/data/pos/shopify-orders.csv\n{result.summary()}")
    lines = result.summary().split("\n")
    assert lines[0] == "shopify-orders.csv: 5 rows imported (1 voided, not counted)"
    assert "  net sales <- 'Total' - 'Taxes' (gross less tax)" in lines
    assert "  status <- 'Financial Status'" in lines and "  transaction_id <- 'Name'" in lines
    assert stored(db) == [
        ("brno-1", "#1001", "2026-11-24T09:15:03Z", 2058, None, 0),
        ("brno-1", "#1002", "2026-11-24T10:02:44Z", 125000, None, 0),
        ("brno-1", "#1003", "2026-11-24T11:30:00Z", 5000, None, 1),
        ("praha-1", "#1004", "2026-11-24T14:48:09Z", -1000, None, 0),
        ("praha-1", "#1005", "2026-11-24T17:20:31Z", 8000, None, 0),
    ]


def test_a_chinese_export_imports_and_its_gbk_copy_is_refused_by_name(
    db: Db, tmp_path: Path
) -> None:
    """A Chinese POS day: Chinese headers, `¥1,130.00`, net from 不含税金额 (not the tax-inclusive 含税金额),
    已作废 voided. The same file saved as GBK is refused, naming GBK and how to convert it."""
    result = importer("pos")(db, DATA / "china-pos.csv", CHINA)
    assert result.summary().split("\n")[:2] == [
        "china-pos.csv: 5 rows imported (1 voided, not counted)", "  transaction_id <- '流水号'"]
    assert "  net sales <- '不含税金额' (also there, not used: '含税金额', '税额')" in result.summary()
    assert [(r[1], r[3], r[5]) for r in stored(db)] == [
        ("SH20261124000101", 100000, 0), ("SH20261124000102", 5000, 0), ("SH20261124000103", 20000, 1),
        ("SH20261124000104", -3000, 0), ("SH20261124000105", 200000, 0)]
    gbk = tmp_path / "china-gbk.csv"
    gbk.write_bytes((DATA / "china-pos.csv").read_text(encoding="utf-8").encode("gb18030"))
    with pytest.raises(ImportFileError, match=r"^china-gbk\.csv: not UTF-8 text \(byte 0\); it reads as GBK "
                       r"\(Chinese Windows\), which is not imported: save it as UTF-8 \(iconv -f GB18030"):
        importer("pos")(db, gbk, CHINA)


def test_a_total_alone_is_never_taken_as_net_sales(db: Db, tmp_path: Path) -> None:
    """An export with a tax-inclusive Total and no net or tax column is refused at its header, with the
    remedy."""
    path = tmp_path / "pos.csv"
    path.write_text("Transaction ID,Timestamp,Store,Total\nT1,2026-11-24T10:00:00Z,brno-1,12.10\n")
    with pytest.raises(ImportFileError) as err:
        importer("pos")(db, path, HubConfig())
    assert str(err.value) == (
        "pos.csv:1: 'Total' may include tax, so it is not taken as net sales: name the net column (hub.yaml"
        " pos.columns.net_amount) or a tax column to subtract (pos.columns.tax) (found Transaction ID,"
        "Timestamp,Store,Total)")


@pytest.mark.parametrize(("locale", "amount", "cents"), [
    ("de", '"1.234,50 €"', 123450), ("cs", '"1 234,50 Kč"', 123450), ("fr", '"1\u202f234,50"', 123450),
    ("ch", "1'234.50", 123450), ("en", '"£1,234.50"', 123450),
])
def test_amounts_follow_the_store_s_locale(
    db: Db, tmp_path: Path, locale: str, amount: str, cents: int
) -> None:
    """Decimal commas, thousands separators and currency marks as the store's locale writes them."""
    path = tmp_path / "pos.csv"
    path.write_text(f"store,timestamp,transaction_id,net_amount\nbrno-1,2026-11-24T10:00:00Z,T1,{amount}\n")
    config = HubConfig(stores={"brno-1": StoreConfig(locale=locale)})
    importer("pos")(db, path, config)
    assert stored(db)[0][3] == cents


@pytest.mark.parametrize(("row", "message"), [
    ("brno-1,2026-11-24T10:00:00Z,T1,12,50",
     "pos.csv:2: expected 4 fields (store,timestamp,transaction_id,net_amount), found 5"),
    ('brno-1,2026-11-24T10:00:00Z,T1,"12,50"',
     "pos.csv:2: net_amount: '12,50' is not an amount in the en locale (thousands by 3, e.g. 1,234.50)"),
    ("brno-1,2026-11-24T10:00:00Z,T1,2000000.00",
     "pos.csv:2: net_amount: '2000000.00' is more than pos.max_amount (1,000,000): a wrong column, or a typo"
     " in the till?"),
    ("brno-1,2026-03-29 02:30:00,T1,1.00",
     "pos.csv:2: timestamp: '2026-03-29 02:30:00' does not exist in Europe/Prague (the clocks went forward"
     " then)"),
    ("brno-1,2006-11-24T10:00:00Z,T1,1.00",
     "pos.csv:2: timestamp: 2006-11-24T10:00:00Z is outside pos.time_range_days (3650 days back, 1 ahead): a"
     " wrong date format?"),
])
def test_amounts_and_times_out_of_range_fail_by_line(
    db: Db, tmp_path: Path, row: str, message: str
) -> None:
    """An ambiguous amount, one beyond pos.max_amount, a local time the clocks skip and a date outside
    pos.time_range_days are refused with their line; nothing is written."""
    path = tmp_path / "pos.csv"
    path.write_text(f"store,timestamp,transaction_id,net_amount\n{row}\n")
    config = HubConfig(stores={"brno-1": StoreConfig(timezone="Europe/Prague")})
    with pytest.raises(ImportFileError) as err:
        importer("pos")(db, path, config)
    assert str(err.value) == message
    assert stored(db) == []


def test_a_corrected_export_updates_the_rows_and_says_how_many(
    db: Db, tmp_path: Path
) -> None:
    """Corrections (the same transaction ids with a new amount, a void, a new time) replace the stored
    values; the summary says how many changed; unchanged rows are not counted; the newest file imported
    wins."""
    head = "store,timestamp,transaction_id,net_amount,status\n"
    first = tmp_path / "mon.csv"
    first.write_text(head + "brno-1,2026-11-24T10:00:00Z,T1,10.00,ok\n"
                     "brno-1,2026-11-24T11:00:00Z,T2,20.00,ok\nbrno-1,2026-11-24T12:00:00Z,T3,30.00,ok\n")
    importer("pos")(db, first, HubConfig())
    fixed = tmp_path / "mon-corrected.csv"
    fixed.write_text(head + "brno-1,2026-11-24T10:00:00Z,T1,12.00,ok\n"
                     "brno-1,2026-11-24T11:00:00Z,T2,20.00,void\nbrno-1,2026-11-24T12:00:00Z,T3,30.00,ok\n"
                     "brno-1,2026-11-24T13:00:00Z,T4,5.00,ok\n")
    result = importer("pos")(db, fixed, HubConfig())
    assert result.summary().split("\n")[0] == (
        "mon-corrected.csv: 1 of 4 rows imported (3 already in the database) (1 voided, not counted;"
        " 2 already stored changed by this export: amount, time, status or member)")
    assert [(r[1], r[3], r[5]) for r in stored(db)] == [("T1", 1200, 0), ("T2", 2000, 1), ("T3", 3000, 0),
                                                        ("T4", 500, 0)]


def _import(csv_path: str, hub_yaml: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    import contextlib  # noqa: PLC0415
    import io  # noqa: PLC0415

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["import-pos", csv_path, "--config", hub_yaml])
    out.put((code, stdout.getvalue(), stderr.getvalue()))


def test_two_imports_of_one_file_at_once_neither_tracebacks(
    hub_database: DatabaseConfig, tmp_path: Path
) -> None:
    """Two processes import the same 20,000-row file at the same moment: one imports it, the other waits
    for the database and then adds nothing; both exit 0 and say so, no traceback (either engine)."""
    lines = ["store,timestamp,transaction_id,net_amount"]
    lines += [f"brno-1,2026-11-24T{10 + i // 3600 % 8:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z,T{i},1.00"
              for i in range(20_000)]
    (tmp_path / "pos.csv").write_text("\n".join(lines) + "\n")
    where = f"url: '{hub_database.url}'" if hub_database.engine == "postgresql" else "path: hub.db"
    (tmp_path / "hub.yaml").write_text(f"version: 1\ndatabase: {{{where}}}\n")
    open_database(hub_database).close()
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_import, args=(str(tmp_path / "pos.csv"), str(tmp_path / "hub.yaml"), out))
             for _ in range(2)]
    for p in procs:
        p.start()
    got = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    assert all(code == 0 and "Traceback" not in err for code, _, err in got), got
    firsts = sorted(o.split("\n")[0] for _, o, _ in got)
    assert firsts[0] == "pos.csv: 20,000 rows imported", firsts
    assert firsts[1] in ("pos.csv: nothing imported: its 20,000 rows were already in the database",
                         "pos.csv: 20,000 rows imported") or firsts[1].startswith(
                             "pos.csv: nothing imported: this file was already imported at"), firsts
    assert query(hub_database, "SELECT count(*) FROM pos_transactions") == [(20_000,)]
    assert query(hub_database, "SELECT count(*) FROM imports") == [(1,)]


def test_config_rejects_an_unknown_locale() -> None:
    """A store's locale must be one the hub can read and write amounts in."""
    with pytest.raises(ValueError, match="locale 'xx' is not one of en, zh, ja, de, fr, cs, ch"):
        dataclasses.replace(StoreConfig(), locale="xx").check()


def test_an_import_into_a_postgresql_database_behind_the_code_says_what_to_run(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """import-pos against a PostgreSQL database not yet migrated: one line naming the command to run,
    exit 1, nothing imported."""
    from hub.store.postgres.schema import LATEST  # noqa: PLC0415 -- the version the message names

    (tmp_path / "pos.csv").write_text("store,timestamp,transaction_id,net_amount\n"
                                      "brno-1,2026-11-24T10:00:00Z,T1,1.00\n")
    (tmp_path / "hub.yaml").write_text(f"version: 1\ndatabase: {{url: '{pg_url}'}}\n")
    assert main(["import-pos", str(tmp_path / "pos.csv"), "--config", str(tmp_path / "hub.yaml")]) == 1
    assert capsys.readouterr().err == (
        f"footfall-hub: error: the database is at schema version 0, this hub needs {LATEST} (run:"
        " footfall-hub migrate --config hub.yaml); nothing was imported\n")
