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
from collections.abc import Iterable, Iterator
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
HEADER_CHARS = 65_536  # the header is read from the start of the text only: a StringIO copies its text
BULK_LINES = 50_000  # a file this long may drop and remake the table's indexes (`_indexes_dropped`)
SHA_RE = re.compile(r"[0-9a-f]{64}")
# The inserts are most of an import's time (bench/pos_import.py), and binding is a good part of each, so
# a row binds as little as it can: at_utc comes formatted (`_Stamps.utc`, each minute once: SQLite's
# strftime per row cost more than all the Python), the file's SHA-256 is written into the statement
# (`insert_statement`), and a missing member id is '' (a None goes through the sqlite3 module's adapter
# lookup, row after row). Tried and dropped, no clear gain or slower (bench/pos_import.py, many runs):
# rows sorted by key per chunk or all at once, a TEMP staging table then one INSERT ... SELECT ... ORDER
# BY, multi-row VALUES, a larger cache_size (an export's ids arrive in a few runs per store, so few pages
# are hot at a time), bigger chunks (above csv.field_size_limit() they would leave the fast path).
INSERT = (
    "INSERT INTO pos_transactions (store, transaction_id, at_utc, at_epoch_s, net_amount_cents,"
    " import_file_sha256, member_id, voided)"
    " VALUES (?, ?, ?, ?, ?, '{sha}', NULLIF(?, ''), ?)"
    " ON CONFLICT (store, transaction_id) DO UPDATE SET voided = 1 WHERE excluded.voided = 1 AND voided = 0"
)

# store, transaction_id, at_utc (`YYYY-MM-DDThh:mm:ssZ`), at_epoch_s, cents, member id ('': none), voided
Row = tuple[str, str, str, int, int, str, int]
# A chunk to write: its rows (an iterable: the fast path's rows are made as they are inserted, one tuple
# reused), how many, and how many of them are voids.
Chunk = tuple[Iterable[Row], int, int]


def insert_statement(sha: str) -> str:
    """The INSERT of one file's rows, its SHA-256 in the statement (only hex digits: checked)."""
    if not SHA_RE.fullmatch(sha):
        raise ValueError(f"{sha!r} is not a SHA-256 in hex")
    return INSERT.format(sha=sha)


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


def _utc_minute(epoch: int) -> str:
    """`YYYY-MM-DDThh:mm` (UTC) of a whole minute since 1970, as SQLite's strftime writes it (a 4-digit
    year, even 0000: integer arithmetic, so no datetime range or platform %Y to differ)."""
    days, secs = divmod(epoch, 86400)
    # days since 1970-01-01 to a civil date (Howard Hinnant's days_from_civil, inverted)
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day, month = doy - (153 * mp + 2) // 5 + 1, mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (month <= 2)
    return f"{year:04d}-{month:02d}-{day:02d}T{secs // 3600:02d}:{secs // 60 % 60:02d}"


class _Stamps:
    """Timestamps to epoch seconds, fast: a naive `YYYY-MM-DD hh:mm:ss` resolves its minute once; and
    epoch seconds to at_utc text, each UTC minute formatted once."""

    def __init__(self) -> None:
        self.minutes: dict[ZoneInfo, dict[str, int]] = {}
        self.utc_minutes: dict[int, str] = {}  # epoch of a whole minute -> `YYYY-MM-DDThh:mm`

    def utc(self, epoch: int) -> str:
        """`YYYY-MM-DDThh:mm:ssZ` of `epoch`, as strftime('%Y-%m-%dT%H:%M:%SZ', epoch, 'unixepoch')."""
        sec = epoch % 60
        minute = self.utc_minutes.get(epoch - sec)
        if minute is None:
            minute = self.utc_minutes[epoch - sec] = _utc_minute(epoch - sec)
        return minute + _SECONDS_Z[sec]

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
_SECONDS_Z = [f":{s:02d}Z" for s in range(60)]  # at_utc's end, by second
_STAMP_Z = {f":{s:02d}": f":{s:02d}Z" for s in range(60)}  # a naive stamp's end -> at_utc's end
_MINUTE, _SECONDS_OF = itemgetter(slice(0, 16)), itemgetter(slice(16, None))
_DIGITS, _AMOUNT_CHARS = frozenset("0123456789"), frozenset("0123456789.-\n")
_BEFORE_CENTS, _BEFORE_POINT = itemgetter(-3), itemgetter(-4)


def _usual_cents(raws: list[str]) -> list[int] | None:
    """The cents of amounts that all have the usual shape `-?digits.dd`, in a few passes in C (no
    lookup in a cache that misses once SQLite's pages have pushed it out of the CPU's caches); None when
    any has another shape (then `cents`, cached). The same values as `cents`: only digits, points and
    minus signs, a point before the last two characters and a digit before it, one point each, and
    int() of the rest, which without spaces, underscores or plus signs takes exactly `-?digits`."""
    try:
        if set(map(_BEFORE_CENTS, raws)) != {"."} or not _DIGITS.issuperset(map(_BEFORE_POINT, raws)):
            return None
    except IndexError:  # shorter than `0.00`
        return None
    joined = "\n".join(raws)
    if joined.count(".") != len(raws) or not _AMOUNT_CHARS.issuperset(joined):
        return None
    try:
        return list(map(int, joined.replace(".", "").split("\n")))
    except ValueError:  # a sign after a digit, a letter, ...
        return None


class _Check:
    """One file's columns and what its rows have taught so far (stores, minutes, amounts, keys seen).

    Two ways to check rows that give the same rows: `rows`, one row at a time, which names the first
    bad row; and `bulk`, a column at a time in C (map, zip, set), for the usual shape of a chunk. `bulk`
    returns None for anything it does not handle (a bad row, a quoted or aware timestamp, ...) before it
    changes what `rows` relies on, and the chunk is then checked by `rows`."""

    def __init__(self, name: str, header: list[str], col: dict[str, int], *, config: HubConfig,
                 text: str) -> None:
        pos = config.pos
        self.name, self.header, self.width, self.config, self.text = name, header, len(header), config, text
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

    def amounts_of(self, raws: list[str]) -> list[int] | None:
        """The cents of a column of amounts by `amount` (each distinct one parsed once, cached); None
        when one is not an amount."""
        amounts = self.amounts
        if set(raws).issubset(amounts):  # prices repeat: mostly found
            return list(map(amounts.__getitem__, raws))
        new = set(raws).difference(amounts)
        if len(amounts) + len(new) > AMOUNTS_CACHED:
            amounts = {raw: amounts[raw] for raw in set(raws).intersection(amounts)}
        try:
            for raw in new:
                amounts[raw] = self.amount(raw)
        except ValueError:
            return None
        return list(map(amounts.__getitem__, raws))

    def rows(self, reader: Any, limit: int | None, line0: int, out: list[Row]) -> None:
        """Check rows from `reader` (at most `limit`) into `out` (or `folded`), one at a time;
        ImportFileError at the first bad row (its line: `line0` + the reader's line number)."""
        name, width, header = self.name, self.width, self.header
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
                member = f[i_member].strip() if i_member is not None else ""
                key = (st.store, txn)
                if lines:
                    had = folded.get(key)
                    folded[key] = (
                        (st.store, txn, stamps.utc(epoch), epoch, value, member, voided) if had is None
                        else (*had[:4], had[4] + value, had[5] or member, had[6] | voided))
                    continue
                seen_key = st.key + txn
                if seen_key in seen:
                    first = _first_line(self.text, reader.dialect, key, (i_store, i_txn), self.default_store)
                    raise fail("transaction_id", f"{txn!r} appears twice for store {st.store!r} "
                                                 f"(first on line {first})")
                seen.add(seen_key)
                out.append((st.store, txn, stamps.utc(epoch), epoch, value, member, voided))
        except csv.Error as exc:
            raise ImportFileError(f"{name}:{line0 + reader.line_num}: not valid CSV: {exc}") from None

    def bulk(self, cols: list[list[str]], n: int) -> Chunk | None:
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
            bases = list(map(cache.__getitem__, minutes))
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
        # at_utc: the UTC minute of each local minute + the stamp's seconds (so a whole minute's offset)
        utc_minutes = self.stamps.utc_minutes
        for base in set(bases).difference(utc_minutes):
            if base % 60:  # an offset with seconds (a zone's local mean time, before 1900): `rows`
                return None
            utc_minutes[base] = _utc_minute(base)
        at_utc = list(map(add, map(utc_minutes.__getitem__, bases), map(_STAMP_Z.__getitem__, secs)))
        # transaction ids, amounts, statuses, members
        txns = list(map(str.strip, cols[self.i_txn]))
        if not all(txns):
            return None
        raw_amounts = cols[self.i_amt]
        values = _usual_cents(raw_amounts)
        if values is None:
            values = self.amounts_of(raw_amounts)
            if values is None:
                return None
        if self.i_status is not None:
            statuses, voids = self.statuses, self.voids
            for status in set(cols[self.i_status]).difference(statuses):
                statuses[status] = int(status.strip().lower() in voids)
            voided: Any = list(map(statuses.__getitem__, cols[self.i_status]))
            voids_n = sum(voided)
        else:
            voided, voids_n = repeat(0), 0
        members: Any = map(str.strip, cols[self.i_member]) if self.i_member is not None else repeat("")
        # keys: none twice in the chunk, none seen in an earlier one
        keys_seen = set(map(add, prefixes, txns))
        if len(keys_seen) != n or not self.seen.isdisjoint(keys_seen):
            return None
        self.seen |= keys_seen
        # a lazy zip: executemany drops each row before asking for the next, so zip reuses one tuple
        # (not strict: members and voided may be repeat()s; the lists are n long)
        return zip(names, txns, at_utc, epochs, values, members, voided, strict=False), n, voids_n


def _chunks(path: Path, config: HubConfig, text: str, bar: Progress) -> Iterator[Chunk]:
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
    need = ("transaction_id", "net_amount") + (() if pos.store else ("store",))
    col = find_columns(name, header, USUAL, required=need, mapped=pos.columns, config_key="pos.columns")
    if "timestamp" not in col and not ("date" in col and "time" in col):
        raise ImportFileError(f"{name}:1: no timestamp column, nor date and time columns (looked for "
                              f"timestamp, datetime; or name it in hub.yaml pos.columns.timestamp; found "
                              f"{','.join(header)})")
    check = _Check(name, header, col, config=config, text=text)
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


def _indexes_dropped(conn: sqlite3.Connection, lines: int) -> list[str]:
    """Drop the indexes of pos_transactions (its time index) before a bulk load and return the
    statements that make them again after it, when the file has at least BULK_LINES lines and twice as
    many as the table has rows (a first import, a backfill); else drop nothing and return [].

    Why: one CREATE INDEX over every row costs less than inserting each new row into the index as it
    comes once the new rows are the most of them (measured on 1,000,000 rows: about 0.65 us a row to
    build, 1 us or more a row to insert). Done in the import's transaction: a failed import rolls the
    drop back with everything else, and other connections see the table with its index throughout."""
    if lines < BULK_LINES:
        return []
    ((stored,),) = conn.execute(  # counted up to the limit only: a big table is not scanned
        "SELECT count(*) FROM (SELECT 1 FROM pos_transactions LIMIT ?)", (lines // 2,)).fetchall()
    if stored >= lines // 2:
        return []
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                           " AND tbl_name = 'pos_transactions' AND sql IS NOT NULL").fetchall()
    for name, _ in indexes:
        conn.execute('DROP INDEX "{}"'.format(name.replace('"', '""')))
    return [sql for _, sql in indexes]


def import_pos(
    db: sqlite_utils.Database, path: Path, config: HubConfig, *, progress: bool = False
) -> ImportResult:
    """Check rows and insert them chunk by chunk inside one transaction; a bad row rolls it all back,
    so nothing is written. A big file into a table with few rows loads without the time index, made
    again before the commit (`_indexes_dropped`). (A parser thread beside the inserts was slower here:
    both hold the GIL.)"""
    data, sha = read_file(path)
    before = imported_before(db, path, sha)
    if before is not None:
        return before
    text = decode(path.name, data)
    bar = Progress(f"importing {path.name}", len(text), progress and len(data) > PROGRESS_ABOVE_BYTES)
    voided = [0]

    def write(conn: sqlite3.Connection) -> tuple[int, int]:
        changes, rows_n, insert = conn.total_changes, 0, insert_statement(sha)
        remake = _indexes_dropped(conn, text.count("\n"))
        for chunk, n, voids_n in _chunks(path, config, text, bar):
            conn.executemany(insert, chunk)
            rows_n += n
            voided[0] += voids_n
        for sql in remake:
            conn.execute(sql)
        return rows_n, conn.total_changes - changes

    try:
        rows_n, added = write_all(db, "pos", path, sha, write)
    finally:
        bar.close()
    notes = [f"{voided[0]:,} voided, not counted"] if voided[0] else []
    return ImportResult(path.name, sha, rows_n, added, note="; ".join(notes))
