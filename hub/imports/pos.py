"""POS exports from CSV: one row per transaction, or one per line item (folded by transaction id).

Columns are found by their usual names (`transaction_id`/`receipt`/`ticket`, `timestamp`/`datetime` or
`date` + `time`, `net_amount`/`net`/`total`/`amount`, `store`/`store_id`/`location`, `status`,
`member_id`/`customer_id`/`loyalty_id`) or as mapped in hub.yaml `pos.columns`. A file with a line
column (`line_id`, `sku`, `item`, ...) is a line-item export: its rows are summed per (store,
transaction). A timestamp with an offset is honoured; a naive one is the store's local time. An amount
is a decimal with at most two places (negative: a refund), stored as integer cents. A status in
`pos.void_statuses` marks a voided transaction: kept (a later export may void an imported one) and
never counted. The same file twice is recognised by its SHA-256; a transaction already stored is not
added again. The whole file is checked before anything is written; the first bad row is named by
file, line and column. Speed: bench/pos_import.py.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from agent.wire.topics import ID_RE
from hub.config import HubConfig, zone
from hub.imports.base import (
    ImportFileError,
    ImportResult,
    Progress,
    imported_before,
    read_file,
    write_all,
)
from hub.imports.header import decode, delimiter, find_columns

USUAL: dict[str, tuple[str, ...]] = {
    "transaction_id": ("transaction_id", "receipt", "ticket", "transaction", "txn_id", "txn", "receipt_id",
                       "receipt_no", "receipt_number", "ticket_id", "ticket_no", "order_id"),
    "timestamp": ("timestamp", "datetime", "date_time", "transaction_time", "created_at", "sold_at"),
    "date": ("date", "business_date", "transaction_date"),
    "time": ("time", "transaction_time_of_day"),
    "net_amount": ("net_amount", "net", "net_sales", "net_total", "total", "amount", "line_total"),
    "store": ("store", "store_id", "location", "location_id", "shop", "site", "branch"),
    "status": ("status", "transaction_status", "state"),
    "member_id": ("member_id", "member", "customer_id", "loyalty_id", "loyalty_card", "card_id"),
    "line_id": ("line_id", "line", "line_no", "item", "item_id", "sku", "product_id", "quantity", "qty"),
}
AMOUNT_RE = re.compile(r"^([+-]?)(\d+)(?:\.(\d{1,2}))?$")
PROGRESS_ABOVE_BYTES = 20_000_000
CHUNK_ROWS = 20_000
INSERT = (
    "INSERT INTO pos_transactions (store, transaction_id, at_utc, at_epoch_s, net_amount_cents,"
    " import_file_sha256, member_id, voided)"
    " VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', ?, 'unixepoch'), ?, ?, ?, ?, ?)"
    " ON CONFLICT (store, transaction_id) DO UPDATE SET voided = 1 WHERE excluded.voided = 1 AND voided = 0"
)

# store, transaction_id, at (epoch: becomes at_utc), at_epoch_s, cents, file sha, member id, voided
Row = tuple[str, str, int, int, int, str, str | None, int]


def cents(text: str) -> int:
    """'-12.5' -> -1250; ValueError with the reason when it is not an amount of at most two decimals."""
    m = AMOUNT_RE.match(text)
    if m is None:
        try:
            Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{text!r} is not a decimal amount") from None
        raise ValueError(f"{text!r} is not a decimal amount with at most 2 decimal places")
    sign, whole, frac = m.groups()
    value = int(whole) * 100 + int((frac or "0").ljust(2, "0"))
    return -value if sign == "-" else value


class _Stamps:
    """Timestamps to epoch seconds, fast: a naive `YYYY-MM-DD hh:mm:ss` resolves its minute once."""

    def __init__(self) -> None:
        self.minutes: dict[ZoneInfo, dict[str, int]] = {}

    def slow(self, stamp: str, tz: ZoneInfo) -> int:
        """ValueError when `stamp` is not an ISO 8601 date and time."""
        stamp = stamp.strip()
        if len(stamp) < 16 or stamp[10] not in "T ":
            raise ValueError
        at = datetime.fromisoformat(stamp)
        if at.tzinfo is not None:
            return int(at.timestamp())
        epoch = int(at.replace(tzinfo=tz).timestamp())
        if len(stamp) == 19 and at.microsecond == 0:
            self.minutes.setdefault(tz, {})[stamp[:16]] = epoch - at.second
        return epoch


class _Store:
    __slots__ = ("minutes", "store", "tz")

    def __init__(self, store: str, tz: ZoneInfo, minutes: dict[str, int]) -> None:
        self.store, self.tz, self.minutes = store, tz, minutes


def _chunks(path: Path, config: HubConfig, text: str, sha: str, bar: Progress) -> Iterator[list[Row]]:
    """Validated rows in chunks (all of them at the end for a line-item file); ImportFileError at the
    first bad row. Rows carry the epoch twice: the INSERT formats the first as at_utc."""
    name = path.name
    buf = io.StringIO(text, newline="")
    reader = csv.reader(buf, delimiter=delimiter(text[: text.find("\n")]))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError(f"{name}: the file is empty (expected a header such as "
                              "store,timestamp,transaction_id,net_amount)") from None
    pos = config.pos
    need = ("transaction_id", "net_amount") + (() if pos.store else ("store",))
    col = find_columns(name, header, USUAL, required=need, mapped=pos.columns, config_key="pos.columns")
    if "timestamp" not in col and not ("date" in col and "time" in col):
        raise ImportFileError(f"{name}:1: no timestamp column, nor date and time columns (looked for "
                              f"timestamp, datetime; or name it in hub.yaml pos.columns.timestamp; found "
                              f"{','.join(header)})")
    width = len(header)
    i_store, i_txn, i_amt = col.get("store"), col["transaction_id"], col["net_amount"]
    i_ts, i_d, i_t = col.get("timestamp"), col.get("date", 0), col.get("time", 0)
    i_status, i_member = col.get("status"), col.get("member_id")
    lines = "line_id" in col
    voids = {v.lower() for v in pos.void_statuses}
    comma = pos.decimal_comma
    stamps = _Stamps()
    stores: dict[str, _Store] = {}
    amounts: dict[str, int] = {}
    statuses: dict[str, int] = {}
    seen: set[tuple[str, str]] = set()
    folded: dict[tuple[str, str], Row] = {}
    chunk: list[Row] = []

    def fail(column: str | None, problem: str) -> ImportFileError:
        where = f"{name}:{reader.line_num}: {column}: " if column else f"{name}:{reader.line_num}: "
        return ImportFileError(where + problem)

    try:
        for f in reader:
            if len(f) != width:
                if not f:
                    continue
                raise fail(None, f"expected {width} fields ({','.join(header)}), found {len(f)}")
            raw_store = f[i_store] if i_store is not None else pos.store
            st = stores.get(raw_store)
            if st is None:
                store = raw_store.strip()
                if not ID_RE.match(store):
                    raise fail("store", f"{store!r} is not a store id (lower-case letters, digits, -)")
                tz = zone(config.store(store).timezone or "UTC")
                st = stores[raw_store] = _Store(store, tz, stamps.minutes.setdefault(tz, {}))
            stamp = f[i_ts] if i_ts is not None else f"{f[i_d].strip()} {f[i_t].strip()}"
            base = st.minutes.get(stamp[:16])
            sec = stamp[17:]
            if base is not None and len(stamp) == 19 and stamp[16] == ":" and sec.isdigit() and sec < "60":
                epoch = base + int(sec)
            else:
                try:
                    epoch = stamps.slow(stamp, st.tz)
                except ValueError:
                    raise fail("timestamp" if i_ts is not None else "date, time",
                               f"{stamp.strip()!r} is not an ISO 8601 date and time "
                               "(e.g. 2026-11-26T14:03:00+01:00)") from None
            txn = f[i_txn].strip()
            if not txn:
                raise fail("transaction_id", "must not be empty")
            raw = f[i_amt]
            value = amounts.get(raw)
            if value is None:
                amount = raw.strip()
                try:
                    value = cents(amount.replace(",", ".") if comma else amount)
                except ValueError as exc:
                    raise fail("net_amount", str(exc)) from None
                if len(amounts) < 100_000:  # prices repeat: most amounts are parsed once
                    amounts[raw] = value
            voided = 0
            if i_status is not None:
                status = f[i_status]
                voided = statuses.get(status, -1)
                if voided < 0:
                    voided = statuses[status] = int(status.strip().lower() in voids)
            member = (f[i_member].strip() or None) if i_member is not None else None
            key = (st.store, txn)
            if lines:
                had = folded.get(key)
                folded[key] = (
                    (st.store, txn, epoch, epoch, value, sha, member, voided) if had is None
                    else (*had[:4], had[4] + value, sha, had[6] or member, had[7] | voided))
                continue
            if key in seen:
                first = _first_line(text, reader.dialect, key, (i_store, i_txn), pos.store)
                raise fail("transaction_id", f"{txn!r} appears twice for store {st.store!r} "
                                             f"(first on line {first})")
            seen.add(key)
            chunk.append((st.store, txn, epoch, epoch, value, sha, member, voided))
            if len(chunk) >= CHUNK_ROWS:
                bar.update(buf.tell())
                yield chunk
                chunk = []
    except csv.Error as exc:
        raise ImportFileError(f"{name}:{reader.line_num}: not valid CSV: {exc}") from None
    yield chunk if not lines else list(folded.values())


def _first_line(text: str, dialect: Any, key: tuple[str, str], columns: tuple[int | None, int],
                default_store: str) -> int:
    """The line where `key` first appears (only for the error message: a second pass is fine)."""
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    i_store, i_txn = columns
    for f in reader:
        store = f[i_store].strip() if i_store is not None and len(f) > i_store else default_store
        if len(f) > i_txn and (store, f[i_txn].strip()) == key:
            return reader.line_num
    return 0


def import_pos(
    db: sqlite_utils.Database, path: Path, config: HubConfig, *, progress: bool = False
) -> ImportResult:
    """Check rows and insert them chunk by chunk inside one transaction; a bad row rolls it all back,
    so nothing is written. (A parser thread beside the inserts was slower here: both hold the GIL.)"""
    data, sha = read_file(path)
    before = imported_before(db, path, sha)
    if before is not None:
        return before
    text = decode(path.name, data)
    bar = Progress(f"importing {path.name}", len(text), progress and len(data) > PROGRESS_ABOVE_BYTES)
    voided = [0]

    def write(conn: sqlite3.Connection) -> tuple[int, int]:
        changes, rows_n = conn.total_changes, 0
        for chunk in _chunks(path, config, text, sha, bar):
            conn.executemany(INSERT, chunk)
            rows_n += len(chunk)
            voided[0] += sum(r[7] for r in chunk)
        return rows_n, conn.total_changes - changes

    try:
        rows_n, added = write_all(db, "pos", path, sha, write)
    finally:
        bar.close()
    notes = [f"{voided[0]:,} voided, not counted"] if voided[0] else []
    return ImportResult(path.name, sha, rows_n, added, note="; ".join(notes))
