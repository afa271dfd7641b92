"""POS rows of any shape (issue 14): an import either stores the file or refuses it naming the file and
line, never another exception; the database is untouched by a refused file, and a good file right after
is stored. Amounts are read the same by the column path and the row path, in every locale."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.config import DatabaseConfig, HubConfig, StoreConfig
from hub.imports import ImportFileError, importer
from hub.imports.pos_values import cents
from hub.locales import LOCALES
from hub.store.sql import open_database

CONFIG = HubConfig(stores={"brno-1": StoreConfig(timezone="Europe/Prague")})
AMOUNT_CHARS = "0123456789.,-+ ()$€¥£'\u00a0\u202fKčCNYUSD"
FIELD = st.one_of(
    st.text(alphabet=AMOUNT_CHARS, max_size=14),
    st.text(max_size=12),
    st.sampled_from(["", "brno-1", "Brno 1", "2026-11-24T10:00:00Z", "2026-03-29 02:30:00",
                     "9999-12-31T23:59:59Z", "1.00", "-$5.00", '"1,512.50"', "1e308", "NaN", "void", "\x00"]),
)
GOOD = "store,timestamp,transaction_id,net_amount\nbrno-1,2026-11-24T10:00:00Z,G1,1.00\n"


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(FIELD, FIELD, FIELD, FIELD), min_size=1, max_size=4))
def test_any_rows_are_stored_or_refused_by_line_and_a_good_file_follows(
    hub_database: DatabaseConfig, rows: list[tuple[str, ...]]
) -> None:
    """Random fields in each column: stored, or ImportFileError naming `pos.csv:N`; nothing else (either
    engine: one database for every example, emptied before each)."""
    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(hub_database)
        try:
            db.execute("DELETE FROM pos_transactions")
            db.execute("DELETE FROM imports")
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow(["store", "timestamp", "transaction_id", "net_amount"])
            writer.writerows(rows)
            path = Path(tmp) / "pos.csv"
            path.write_text(text.getvalue())
            try:
                importer("pos")(db, path, CONFIG)
            except ImportFileError as exc:
                assert str(exc).startswith("pos.csv"), exc
                assert db.execute("SELECT count(*) FROM pos_transactions").fetchone() == (0,)
            good = Path(tmp) / "good.csv"
            good.write_text(GOOD)
            importer("pos")(db, good, CONFIG)
            stored = db.execute("SELECT count(*) FROM pos_transactions WHERE transaction_id='G1'").fetchone()
            assert stored == (1,)
        finally:
            db.close()


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=AMOUNT_CHARS, max_size=16), locale=st.sampled_from(sorted(LOCALES)))
def test_an_amount_is_cents_or_a_value_error(text: str, locale: str) -> None:
    """Whatever the text and the locale, `cents` gives an integer within the text's digits, or a
    ValueError."""
    try:
        value = cents(text, LOCALES[locale], locale)
    except ValueError:
        return
    assert isinstance(value, int)
    assert abs(value) < 10 ** (sum(c.isdigit() for c in text) + 2)


@given(cents_value=st.integers(min_value=-10**11, max_value=10**11), locale=st.sampled_from(sorted(LOCALES)),
       currency=st.sampled_from(["", "EUR", "USD", "CZK", "CNY", "GBP"]))
def test_an_amount_as_a_report_writes_it_reads_back_the_same(
    cents_value: int, locale: str, currency: str
) -> None:
    """hub.locales.money (reports) and cents (imports) agree: what a store's report shows imports back."""
    from hub.locales import money  # noqa: PLC0415

    loc = LOCALES[locale]
    assert cents(money(cents_value, loc, currency), loc, locale) == cents_value
