"""POS exports from CSV: one row per transaction, or one per line item (folded by transaction id).

Columns are found by their usual names (`transaction_id`/`receipt`/`ticket`, `timestamp`/`datetime` or
`date` + `time`, `net_amount`/`net`/`net_sales`, `store`/`store_id`/`location`, `status`,
`member_id`/`customer_id`/`loyalty_id`, in English or Chinese) or as mapped in hub.yaml `pos.columns`.
Net sales are the net column; without one, gross minus tax (`gross`/`total` and `tax`/`vat`); a
`Total` alone may include tax and is refused, never taken as net. The summary says which column fed
which field. A store column may hold location names, mapped to store ids by `pos.locations`. A file
with a line column (`line_id`, `sku`, `item`, ...) is a line-item export: its rows are summed per
(store, transaction). Amounts and times: pos_values.py. A status in `pos.void_statuses` marks a voided
transaction: kept and never counted. The same file twice is recognised by its SHA-256; a transaction
already stored takes a corrected export's amount, time, status or member (the summary says how many
changed). The whole file is checked before anything is written; the first bad row is named by file,
line and column, amounts beyond `pos.max_amount` and times outside `pos.time_range_days` included.
Speed: bench/pos_import.py.
The rows' two readers are pos_check.py, amounts and times pos_values.py.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from itertools import repeat
from pathlib import Path

from hub.config import HubConfig
from hub.imports.base import (
    ImportFileError,
    ImportResult,
    Progress,
    imported_before,
    read_file,
    write_all,
)
from hub.imports.header import decode, delimiter, find_columns
from hub.imports.pos_check import Chunk, Row, _Check
from hub.imports.pos_values import (
    INSERT_LOADED,
    LOAD_TABLE,
    UPDATE_LOADED,
    _usual_cents,
    cents,
    insert_statement,
)
from hub.locales import LOCALES
from hub.store.sql import Db

__all__ = ["USUAL", "_Check", "_usual_cents", "cents", "import_pos", "insert_statement"]

USUAL: dict[str, tuple[str, ...]] = {
    "transaction_id": ("transaction_id", "receipt", "ticket", "transaction", "txn_id", "txn", "receipt_id",
                       "receipt_no", "receipt_number", "ticket_id", "ticket_no", "order_id", "流水号",
                       "交易单号", "单号"),
    "timestamp": ("timestamp", "datetime", "date_time", "transaction_time", "created_at", "sold_at",
                  "销售时间", "交易时间"),
    "date": ("date", "business_date", "transaction_date"),
    "time": ("time", "transaction_time_of_day"),
    "net_amount": ("net_amount", "net", "net_sales", "net_total", "line_total", "subtotal_net",
                   "amount_excl_tax", "不含税金额", "净额", "净销售额"),
    "gross_amount": ("gross_amount", "gross", "gross_sales", "total", "total_amount", "amount",
                     "amount_incl_tax", "total_collected", "含税金额", "合计", "总额", "实收金额"),
    "tax": ("tax", "taxes", "tax_amount", "vat", "sales_tax", "total_tax", "税额", "税金"),
    "store": ("store", "store_id", "location", "location_id", "shop", "site", "branch", "门店", "店铺"),
    "status": ("status", "transaction_status", "state", "financial_status", "状态"),
    "member_id": ("member_id", "member", "customer_id", "loyalty_id", "loyalty_card", "card_id", "会员号",
                  "会员卡号"),
    "line_id": ("line_id", "line", "line_no", "item", "item_id", "sku", "product_id", "quantity", "qty"),
}

PROGRESS_ABOVE_BYTES = 20_000_000
CHUNK_ROWS = 20_000  # rows checked one at a time per chunk written
CHUNK_CHARS = 100_000  # text split at once, then checked a column at a time (small: stays in cache)
HEADER_CHARS = 65_536  # the header is read from the start of the text only: a StringIO copies its text
BULK_LINES = 50_000  # a file this long may drop and remake the table's indexes (`_indexes_dropped`)


def _chunks(path: Path, config: HubConfig, text: str, bar: Progress, seen: list[_Check]) -> Iterator[Chunk]:
    """Validated rows in chunks (all of them at the end for a line-item file); ImportFileError at the
    first bad row."""
    name = path.name
    head = text[:HEADER_CHARS]
    buf = io.StringIO(head, newline="")
    reader = csv.reader(buf, delimiter=delimiter(text[: text.find("\n")]))
    try:
        header = next(reader)
        if buf.tell() == len(head) < len(text):  # a header that long may go on: read it from all the text
            buf = io.StringIO(text, newline="")
            reader = csv.reader(buf, reader.dialect)
            header = next(reader)
    except StopIteration:
        raise ImportFileError(f"{name}: the file is empty (expected a header such as "
                              "store,timestamp,transaction_id,net_amount)") from None
    pos = config.pos
    need = ("transaction_id",) + (() if pos.store else ("store",))
    col = find_columns(name, header, USUAL, required=need, mapped=pos.columns, config_key="pos.columns")
    if "timestamp" not in col and not ("date" in col and "time" in col):
        raise ImportFileError(f"{name}:1: no timestamp column, nor date and time columns (looked for "
                              f"timestamp, datetime; or name it in hub.yaml pos.columns.timestamp; found "
                              f"{','.join(header)})")
    if "net_amount" not in col:
        gross = header[col["gross_amount"]].strip() if "gross_amount" in col else None
        if gross is None or "tax" not in col:
            why = (f"{gross!r} may include tax, so it is not taken as net sales: name the net column "
                   "(hub.yaml pos.columns.net_amount) or a tax column to subtract (pos.columns.tax)"
                   if gross else "no net_amount column (looked for net_amount, net, net_sales, net_total;"
                   " or a gross and a tax column; or name it in hub.yaml pos.columns.net_amount")
            raise ImportFileError(f"{name}:1: {why}; found {','.join(header)})" if not gross else
                                  f"{name}:1: {why} (found {','.join(header)})")
    check = _Check(name, header, col, config=config, text=text)
    seen.append(check)
    delim, width, end = reader.dialect.delimiter, check.width, len(text)
    at, line0 = buf.tell(), reader.line_num
    whole: io.StringIO | None = None  # all the text, for csv.reader: made once, when first needed
    if check.lines:  # folded by transaction: every row before any is written
        whole = io.StringIO(text, newline="")
        whole.seek(at)
        check.rows(csv.reader(whole, reader.dialect), None, line0, [])
        yield _counted(list(check.folded.values()))
        return
    while at < end:
        stop = text.find("\n", min(at + CHUNK_CHARS, end - 1))
        stop = end if stop < 0 else stop
        part = text[at:stop]
        plain = part.replace("\r\n", "\n") if "\r" in part else part  # a line may end in CR LF
        if plain.endswith("\r"):
            plain = plain[:-1]
        chunk: Chunk | None = None
        if ('"' not in plain and "\r" not in plain and "\x00" not in plain
                and len(plain) <= csv.field_size_limit()):
            # No quoting: csv.reader would split each line at the delimiter, so split them all at once.
            lines = plain.split("\n")
            n = len(lines)
            if set(map(str.count, lines, repeat(delim))) == {width - 1}:  # no blank or short line
                fields = plain.replace("\n", delim).split(delim)
                chunk = check.bulk([fields[i::width] for i in range(width)], n)
            if chunk is None:  # the same lines again, one row at a time: the same rows, or the bad one named
                out: list[Row] = []
                check.rows(csv.reader(io.StringIO(part, newline=""), reader.dialect), None, line0, out)
                chunk = _counted(out)
            at, line0 = stop + 1, line0 + n
        else:  # quoted fields (a record may span lines): csv.reader, one row at a time
            if whole is None:
                whole = io.StringIO(text, newline="")
            whole.seek(at)
            rows = csv.reader(whole, reader.dialect)
            out = []
            check.rows(rows, CHUNK_ROWS, line0, out)
            chunk = _counted(out)
            at, line0 = whole.tell() if out or rows.line_num else end, line0 + rows.line_num
        bar.update(at)
        yield chunk


def _counted(rows: list[Row]) -> Chunk:
    """A chunk of rows checked one at a time, with its counts."""
    return rows, len(rows), sum(r[6] for r in rows)


def _indexes_dropped(db: Db, lines: int) -> list[str]:
    """Drop the indexes of pos_transactions (its time index) before a bulk load and return the
    statements that make them again after it, when the file has at least BULK_LINES lines and twice as
    many as the table has rows (a first import, a backfill); else drop nothing and return [].

    Why: one CREATE INDEX over every row costs less than inserting each new row into the index as it
    comes once the new rows are the most of them (measured on 1,000,000 rows: about 0.65 us a row to
    build, 1 us or more a row to insert). Done in the import's transaction: a failed import rolls the
    drop back with everything else, and other connections see the table with its index throughout.
    SQLite only: PostgreSQL loads through COPY (`_write_postgres`)."""
    if lines < BULK_LINES:
        return []
    ((stored,),) = db.execute(  # counted up to the limit only: a big table is not scanned
        "SELECT count(*) FROM (SELECT 1 FROM pos_transactions LIMIT ?)", (lines // 2,)).fetchall()
    if stored >= lines // 2:
        return []
    indexes = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                         " AND tbl_name = 'pos_transactions' AND sql IS NOT NULL").fetchall()
    for name, _ in indexes:
        db.execute('DROP INDEX "{}"'.format(name.replace('"', '""')))
    return [sql for _, sql in indexes]


def import_pos(db: Db, path: Path, config: HubConfig, *, progress: bool = False) -> ImportResult:
    """Check rows and insert them chunk by chunk inside one transaction; a bad row rolls it all back,
    so nothing is written. On SQLite a big file into a table with few rows loads without the time index,
    made again before the commit (`_indexes_dropped`); on PostgreSQL the rows go through COPY
    (`_write_postgres`). (A parser thread beside the inserts was slower here: both hold the GIL.)"""
    data, sha = read_file(path)
    before = imported_before(db, path, sha)
    if before is not None:
        return before
    text = decode(path.name, data)
    bar = Progress(f"importing {path.name}", len(text), progress and len(data) > PROGRESS_ABOVE_BYTES)
    voided, changed, seen = [0], [0], list[_Check]()

    def counted() -> Iterator[Chunk]:
        for chunk in _chunks(path, config, text, bar, seen):
            voided[0] += chunk[2]
            yield chunk

    def write(db: Db) -> tuple[int, int]:
        writer = _write_postgres if db.engine == "postgresql" else _write_sqlite
        rows_n, added, changed[0] = writer(db, sha, text, counted())
        return rows_n, added

    try:
        rows_n, added = write_all(db, "pos", path, sha, write)
    finally:
        bar.close()
    notes = [f"{voided[0]:,} voided, not counted"] if voided[0] else []
    if changed[0]:
        notes.append(f"{changed[0]:,} already stored changed by this export: amount, time, status or member")
    details = _sources(seen[0]) if seen else ()
    return ImportResult(path.name, sha, rows_n, added, note="; ".join(notes), details=details)


def _write_sqlite(db: Db, sha: str, text: str, chunks: Iterator[Chunk]) -> tuple[int, int, int]:
    """(rows, rows added, rows changed): each chunk by executemany, the added ones counted by the table's
    rows before and after (an upsert's rowcount holds both the added and the changed)."""
    rows_n, written, insert = 0, 0, insert_statement(sha)
    ((before,),) = db.execute("SELECT count(*) FROM pos_transactions").fetchall()
    remake = _indexes_dropped(db, text.count("\n"))
    for chunk, n, _ in chunks:
        written += db.raw.executemany(insert, chunk).rowcount  # raw: a chunk may be an iterator
        rows_n += n
    for sql in remake:
        db.execute(sql)
    ((after,),) = db.execute("SELECT count(*) FROM pos_transactions").fetchall()
    return rows_n, after - before, written - (after - before)


def _write_postgres(db: Db, sha: str, text: str, chunks: Iterator[Chunk]) -> tuple[int, int, int]:
    """(rows, rows added, rows changed): every chunk COPYed into a temporary table, then the stored rows
    updated and the new ones inserted, one statement each (pos_values.py says why not ON CONFLICT).
    Why COPY: the cheapest way in (pipelined executemany of the same rows was slower)."""
    del text
    rows_n = 0
    db.execute(LOAD_TABLE)
    with db.raw.cursor().copy("COPY pos_load FROM STDIN") as copy:
        for chunk, n, _ in chunks:
            for row in chunk:
                copy.write_row(row)
            rows_n += n
    db.execute("ANALYZE pos_load")  # its size, for the joins' plan
    changed = db.execute(UPDATE_LOADED, (sha,)).rowcount
    added = db.execute(INSERT_LOADED, (sha,)).rowcount
    return rows_n, added, changed


def _sources(check: _Check) -> tuple[str, ...]:
    """Which column fed which field, how amounts and times were read, which names became which store."""
    header, col = check.header, check.col

    def named(field: str) -> str:
        return repr(header[col[field]].strip())

    out = []
    for field in ("transaction_id", "timestamp", "date", "time", "store", "status", "member_id", "line_id"):
        if field in col:
            out.append(f"{field} <- {named(field)}")
    if "net_amount" in col:
        unused = ", ".join(named(f) for f in ("gross_amount", "tax") if f in col)
        also = f" (also there, not used: {unused})" if unused else ""
        out.append(f"net sales <- {named('net_amount')}{also}")
    else:
        out.append(f"net sales <- {named('gross_amount')} - {named('tax')} (gross less tax)")
    name = check.locale_name or "en"
    out.append(f"amounts as the {name} locale writes them ({_example(name)}), times as "
               f"{check.stamps.fmt or 'ISO 8601'} (the store's local time unless they carry an offset)")
    out += [f"location {name!r} -> store {store}" for name, store in sorted(check.mapped.items())]
    return tuple(out)


def _example(name: str) -> str:
    loc = LOCALES[name]
    return f"1{loc.group}234{loc.decimal}50"
