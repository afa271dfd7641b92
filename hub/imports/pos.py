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

Longer than the house limit on purpose: the fast path for plain chunks and the row-by-row check it
falls back to read one format and must agree row for row and error for error, so they sit together.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal, InvalidOperation
from itertools import islice, repeat
from operator import add, itemgetter
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
CHUNK_ROWS = 20_000  # rows checked one at a time per chunk written
AMOUNTS_CACHED = 100_000
CHUNK_CHARS = 100_000  # text split at once, then checked a column at a time (small: stays in cache)
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
    __slots__ = ("key", "minutes", "store", "tz")

    def __init__(self, store: str, tz: ZoneInfo, minutes: dict[str, int]) -> None:
        self.store, self.tz, self.minutes = store, tz, minutes
        self.key = store + "\x1f"  # + transaction id: the key seen (a str: the GC never walks it)


_SECONDS = {f":{s:02d}": s for s in range(60)}  # a stamp's end: in here, it is 19 characters long
_MINUTE, _SECONDS_OF = itemgetter(slice(0, 16)), itemgetter(slice(16, None))


class _Check:
    """One file's columns and what its rows have taught so far (stores, minutes, amounts, keys seen).

    Two ways to check rows that give the same rows: `rows`, one row at a time, which names the first
    bad row; and `bulk`, a column at a time in C (map, zip, set), for the usual shape of a chunk. `bulk`
    returns None for anything it does not handle (a bad row, a quoted or aware timestamp, ...) before it
    changes what `rows` relies on, and the chunk is then checked by `rows`."""

    def __init__(self, name: str, header: list[str], col: dict[str, int], *, config: HubConfig, sha: str,
                 text: str) -> None:
        pos = config.pos
        self.name, self.header, self.width, self.config, self.sha, self.text = (
            name, header, len(header), config, sha, text)
        self.default_store = pos.store
        self.i_store, self.i_txn, self.i_amt = col.get("store"), col["transaction_id"], col["net_amount"]
        self.i_ts, self.i_d, self.i_t = col.get("timestamp"), col.get("date", 0), col.get("time", 0)
        self.i_status, self.i_member = col.get("status"), col.get("member_id")
        self.lines = "line_id" in col
        self.voids = {v.lower() for v in pos.void_statuses}
        self.comma = pos.decimal_comma
        self.stamps = _Stamps()
        self.stores: dict[str, _Store] = {}
        self.amounts: dict[str, int] = {}
        self.statuses: dict[str, int] = {}
        self.seen: set[str] = set()  # store + "\x1f" + transaction id (a store id has no "\x1f")
        self.folded: dict[tuple[str, str], Row] = {}

    def store(self, raw_store: str) -> _Store | None:
        """The store of a raw store field (cached); None when it is not a store id."""
        st = self.stores.get(raw_store)
        if st is None:
            store = raw_store.strip()
            if not ID_RE.match(store):
                return None
            tz = zone(self.config.store(store).timezone or "UTC")
            st = self.stores[raw_store] = _Store(store, tz, self.stamps.minutes.setdefault(tz, {}))
        return st

    def amount(self, raw: str) -> int:
        value = self.amounts.get(raw)
        if value is None:
            amount = raw.strip()
            value = cents(amount.replace(",", ".") if self.comma else amount)
            if len(self.amounts) < AMOUNTS_CACHED:  # prices repeat: most amounts are parsed once
                self.amounts[raw] = value
        return value

    def rows(self, reader: Any, limit: int | None, line0: int, out: list[Row]) -> None:
        """Check rows from `reader` (at most `limit`) into `out` (or `folded`), one at a time;
        ImportFileError at the first bad row (its line: `line0` + the reader's line number)."""
        name, width, header, sha = self.name, self.width, self.header, self.sha
        i_store, i_txn, i_amt = self.i_store, self.i_txn, self.i_amt
        i_ts, i_d, i_t, i_status, i_member = self.i_ts, self.i_d, self.i_t, self.i_status, self.i_member
        lines, voids, stamps, statuses, seen, folded = (
            self.lines, self.voids, self.stamps, self.statuses, self.seen, self.folded)

        def fail(column: str | None, problem: str) -> ImportFileError:
            line = line0 + reader.line_num
            where = f"{name}:{line}: {column}: " if column else f"{name}:{line}: "
            return ImportFileError(where + problem)

        try:
            for f in reader if limit is None else islice(reader, limit):
                if len(f) != width:
                    if not f:
                        continue
                    raise fail(None, f"expected {width} fields ({','.join(header)}), found {len(f)}")
                raw_store = f[i_store] if i_store is not None else self.default_store
                st = self.store(raw_store)
                if st is None:
                    raise fail("store", f"{raw_store.strip()!r} is not a store id (lower-case letters, "
                                        "digits, -)")
                stamp = f[i_ts] if i_ts is not None else f"{f[i_d].strip()} {f[i_t].strip()}"
                base = st.minutes.get(stamp[:16])
                sec = stamp[17:]
                if (base is not None and len(stamp) == 19 and stamp[16] == ":" and sec.isdigit()
                        and sec < "60"):
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
                try:
                    value = self.amount(f[i_amt])
                except ValueError as exc:
                    raise fail("net_amount", str(exc)) from None
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
                seen_key = st.key + txn
                if seen_key in seen:
                    first = _first_line(self.text, reader.dialect, key, (i_store, i_txn), self.default_store)
                    raise fail("transaction_id", f"{txn!r} appears twice for store {st.store!r} "
                                                 f"(first on line {first})")
                seen.add(seen_key)
                out.append((st.store, txn, epoch, epoch, value, sha, member, voided))
        except csv.Error as exc:
            raise ImportFileError(f"{name}:{line0 + reader.line_num}: not valid CSV: {exc}") from None

    def bulk(self, cols: list[list[str]], n: int) -> list[Row] | None:
        """The rows of a chunk of a transaction file given as its `n`-long columns, checked a column at
        a time; None when `rows` must check them (anything unusual, every bad row). Only caches that
        `rows` fills the same way are changed before the last check passes."""
        # stores: each distinct raw field once
        if self.i_store is not None:
            raw_stores = cols[self.i_store]
            try:
                found = {raw: self.store(raw) for raw in set(raw_stores)}
            except ValueError:  # an unknown time zone: raised by `rows` at its first row
                return None
            stores = {raw: st for raw, st in found.items() if st is not None}
            if len(stores) != len(found):  # not a store id
                return None
            names = list(map({raw: st.store for raw, st in stores.items()}.__getitem__, raw_stores))
            prefixes = list(map({raw: st.key for raw, st in stores.items()}.__getitem__, raw_stores))
        else:
            try:
                st = self.store(self.default_store)
            except ValueError:
                return None
            if st is None:
                return None
            stores, raw_stores, names, prefixes = {self.default_store: st}, None, [st.store] * n, [st.key] * n
        # timestamps: `YYYY-MM-DD hh:mm:ss`, naive, each minute resolved once (as `rows` does)
        if self.i_ts is not None:
            stamps = cols[self.i_ts]
        else:
            stamps = [f"{d.strip()} {t.strip()}" for d, t in zip(cols[self.i_d], cols[self.i_t], strict=True)]
        secs = list(map(_SECONDS_OF, stamps))
        if not _SECONDS.keys() >= set(secs):  # each `YYYY-MM-DD?hh:mm` + `:ss`
            return None
        minutes = list(map(_MINUTE, stamps))
        zones = {st.tz for st in stores.values()}
        if len(zones) == 1:
            tz = zones.pop()
            cache = self.stamps.minutes.setdefault(tz, {})
            new = set(minutes).difference(cache)
            if new:
                firsts = dict(zip(reversed(minutes), reversed(stamps), strict=True))
                for minute in new:
                    try:
                        self.stamps.slow(firsts[minute], tz)
                    except ValueError:
                        return None
                    if minute not in cache:
                        return None
            bases: Any = map(cache.__getitem__, minutes)
        else:
            assert raw_stores is not None
            tzs = list(map({raw: st.tz for raw, st in stores.items()}.__getitem__, raw_stores))
            keys = list(zip(tzs, minutes, strict=True))
            caches = {tz: self.stamps.minutes.setdefault(tz, {}) for tz in zones}
            new = {k for k in set(keys) if k[1] not in caches[k[0]]}
            if new:
                firsts = dict(zip(reversed(keys), reversed(stamps), strict=True))
                for tz, minute in new:
                    try:
                        self.stamps.slow(firsts[tz, minute], tz)
                    except ValueError:
                        return None
                    if minute not in caches[tz]:
                        return None
            bases = [caches[tz][minute] for tz, minute in keys]
        epochs = list(map(add, bases, map(_SECONDS.__getitem__, secs)))
        # transaction ids, amounts, statuses, members
        txns = list(map(str.strip, cols[self.i_txn]))
        if "" in txns:
            return None
        raw_amounts, amounts = cols[self.i_amt], self.amounts
        values = list(map(amounts.get, raw_amounts))  # prices repeat: mostly found
        if None in values:
            new = set(raw_amounts).difference(amounts)
            if len(amounts) + len(new) > AMOUNTS_CACHED:
                amounts = {raw: amounts[raw] for raw in set(raw_amounts).intersection(amounts)}
            try:
                for raw in new:
                    amounts[raw] = self.amount(raw)
            except ValueError:
                return None
            values = list(map(amounts.__getitem__, raw_amounts))
        if self.i_status is not None:
            statuses, voids = self.statuses, self.voids
            for status in set(cols[self.i_status]).difference(statuses):
                statuses[status] = int(status.strip().lower() in voids)
            voided: Any = map(statuses.__getitem__, cols[self.i_status])
        else:
            voided = repeat(0)
        members: Any = (
            [m or None for m in map(str.strip, cols[self.i_member])] if self.i_member is not None
            else repeat(None))
        # keys: none twice in the chunk, none seen in an earlier one
        keys_seen = set(map(add, prefixes, txns))
        if len(keys_seen) != n or not self.seen.isdisjoint(keys_seen):
            return None
        self.seen |= keys_seen
        return list(zip(names, txns, epochs, epochs, values, repeat(self.sha), members, voided))


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
    check = _Check(name, header, col, config=config, sha=sha, text=text)
    if check.lines:  # folded by transaction: every row before any is written
        check.rows(reader, None, 0, [])
        yield list(check.folded.values())
        return
    delim, width, end = reader.dialect.delimiter, check.width, len(text)
    at, line0 = buf.tell(), reader.line_num
    while at < end:
        stop = text.find("\n", min(at + CHUNK_CHARS, end - 1))
        stop = end if stop < 0 else stop
        part = text[at:stop]
        plain = part.replace("\r\n", "\n") if "\r" in part else part  # a line may end in CR LF
        if plain.endswith("\r"):
            plain = plain[:-1]
        chunk = None
        if ('"' not in plain and "\r" not in plain and "\x00" not in plain
                and len(plain) <= csv.field_size_limit()):
            # No quoting: csv.reader would split each line at the delimiter, so split them all at once.
            lines = plain.split("\n")
            n = len(lines)
            if set(map(str.count, lines, repeat(delim))) == {width - 1}:  # no blank or short line
                fields = plain.replace("\n", delim).split(delim)
                chunk = check.bulk([fields[i::width] for i in range(width)], n)
            if chunk is None:  # the same lines again, one row at a time: the same rows, or the bad one named
                chunk = []
                check.rows(csv.reader(io.StringIO(part, newline=""), reader.dialect), None, line0, chunk)
            at, line0 = stop + 1, line0 + n
        else:  # quoted fields (a record may span lines): csv.reader, one row at a time
            again = io.StringIO(text, newline="")
            again.seek(at)
            rows = csv.reader(again, reader.dialect)
            chunk = []
            check.rows(rows, CHUNK_ROWS, line0, chunk)
            at, line0 = again.tell() if chunk or rows.line_num else end, line0 + rows.line_num
        bar.update(at)
        yield chunk


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
