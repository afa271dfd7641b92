"""The rows of a POS export, checked: two readers of one format side by side, which must agree row for
row and error for error. `rows` reads one row at a time and names the first bad one (file, line,
column); `bulk` reads a chunk a column at a time in C for the usual shape and hands anything else back
to `rows`. They sit in one module so that they stay in step.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterable
from itertools import islice, repeat
from operator import add, sub
from typing import Any
from zoneinfo import ZoneInfo

from agent.wire.topics import ID_RE
from hub.config import HubConfig, zone
from hub.imports.base import NUL_TEXT, ImportFileError
from hub.imports.pos_values import (
    _MINUTE,
    _SECONDS,
    _SECONDS_OF,
    _STAMP_Z,
    _Stamps,
    _usual_cents,
    _utc_minute,
    cents,
)
from hub.locales import LOCALES, locale

AMOUNTS_CACHED = 100_000
# store, transaction_id, at_utc (`YYYY-MM-DDThh:mm:ssZ`), at_epoch_s, cents, member id ('': none), voided
Row = tuple[str, str, str, int, int, str, int]
# A chunk to write: its rows (an iterable: the fast path's rows are made as they are inserted, one tuple
# reused), how many, and how many of them are voids.
Chunk = tuple[Iterable[Row], int, int]


class _Store:
    __slots__ = ("key", "minutes", "store", "tz")

    def __init__(self, store: str, tz: ZoneInfo, minutes: dict[str, int]) -> None:
        self.store, self.tz, self.minutes = store, tz, minutes
        self.key = store + "\x1f"  # + transaction id: the key seen (a str: the GC never walks it)


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
        self.col = col
        self.i_store, self.i_txn = col.get("store"), col["transaction_id"]
        # net, or gross and the tax to subtract (_columns has checked one of them is there)
        self.i_amt, self.i_tax = col.get("net_amount", col.get("gross_amount", 0)), col.get("tax")
        if "net_amount" in col:
            self.i_tax = None
        self.i_ts, self.i_d, self.i_t = col.get("timestamp"), col.get("date", 0), col.get("time", 0)
        self.i_status, self.i_member = col.get("status"), col.get("member_id")
        self.lines = "line_id" in col
        self.voids = {v.lower() for v in pos.void_statuses}
        self.locale_name = pos.locale or ("de" if pos.decimal_comma else "")  # "": the first store's
        self.loc = LOCALES[self.locale_name] if self.locale_name else None
        self.locations = {name.strip().casefold(): store for name, store in pos.locations.items()}
        self.mapped: dict[str, str] = {}  # location names met -> store id, for the summary
        self.max_cents = round(pos.max_amount * 100)
        now = time.time()
        days = pos.time_range_days * 86400
        self.t_range = (now - days, now + 86400) if days else (float("-inf"), float("inf"))
        self.stamps = _Stamps(pos.timestamp_format)
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
            mapped = self.locations.get(store.casefold())
            if mapped is not None:
                self.mapped[store] = store = mapped
            elif not ID_RE.match(store):
                return None
            sc = self.config.store(store)
            if self.loc is None:  # the export's amounts are written as its (first) store writes them
                self.locale_name, self.loc = sc.locale, locale(sc.locale)
            elif sc.locale != self.locale_name and not (
                    self.config.pos.locale or self.config.pos.decimal_comma):
                raise ValueError(f"stores of locales {self.locale_name} and {sc.locale} in one export: say"
                                 " how it writes amounts with hub.yaml pos.locale")
            tz = zone(sc.timezone or "UTC")
            st = self.stores[raw_store] = _Store(store, tz, self.stamps.minutes.setdefault(tz, {}))
        return st

    def amount(self, raw: str) -> int:
        value = self.amounts.get(raw)
        if value is None:
            assert self.loc is not None  # set with the first store
            value = cents(raw.strip(), self.loc, self.locale_name)
            if abs(value) > self.max_cents:
                raise ValueError(f"{raw.strip()!r} is more than pos.max_amount ({self.max_cents // 100:,}):"
                                 " a wrong column, or a typo in the till?")
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

    def cents_of(self, raws: list[str]) -> list[int] | None:
        """A column of amounts in cents, within pos.max_amount; None to check it row by row."""
        assert self.loc is not None  # stores (and so the locale) come first
        values = _usual_cents(raws) if self.loc.decimal == "." else None
        if values is None:
            return self.amounts_of(raws)
        if max(map(abs, values), default=0) > self.max_cents:
            return None
        return values

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
                try:
                    st = self.store(raw_store)
                except ValueError as exc:
                    raise fail("store", str(exc)) from None
                if st is None:
                    raise fail("store", f"{raw_store.strip()!r} is not a store id (lower-case letters, "
                                        "digits, -; map a location name in hub.yaml pos.locations)")
                stamp = f[i_ts] if i_ts is not None else f"{f[i_d].strip()} {f[i_t].strip()}"
                base = st.minutes.get(stamp[:16])
                sec = stamp[17:]
                if (base is not None and len(stamp) == 19 and stamp[16] == ":" and sec.isdigit()
                        and sec < "60"):
                    epoch = base + int(sec)
                else:
                    try:
                        epoch = stamps.slow(stamp, st.tz)
                    except ValueError as exc:
                        form = (f"in pos.timestamp_format {stamps.fmt!r}" if stamps.fmt else
                                "ISO 8601 date and time (e.g. 2026-11-26T14:03:00+01:00)")
                        why = str(exc) if "exist" in str(exc) else f"{stamp.strip()!r} is not an {form}"
                        raise fail("timestamp" if i_ts is not None else "date, time", why) from None
                if not self.t_range[0] <= epoch <= self.t_range[1]:
                    raise fail("timestamp" if i_ts is not None else "date, time",
                               f"{stamps.utc(epoch)} is outside pos.time_range_days"
                               f" ({self.config.pos.time_range_days} days back, 1 ahead): a wrong date"
                               " format?")
                txn = f[i_txn].strip()
                if not txn:
                    raise fail("transaction_id", "must not be empty")
                if "\x00" in txn:
                    raise fail("transaction_id", NUL_TEXT)
                try:
                    value = self.amount(f[i_amt])
                except ValueError as exc:
                    raise fail("net_amount" if self.i_tax is None else "gross_amount", str(exc)) from None
                if self.i_tax is not None:
                    try:
                        value -= self.amount(f[self.i_tax])
                    except ValueError as exc:
                        raise fail("tax", str(exc)) from None
                voided = 0
                if i_status is not None:
                    status = f[i_status]
                    voided = statuses.get(status, -1)
                    if voided < 0:
                        voided = statuses[status] = int(status.strip().lower() in voids)
                member = f[i_member].strip() if i_member is not None else ""
                if "\x00" in member:
                    raise fail("member_id", NUL_TEXT)
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
        if self.stamps.fmt:  # strptime's: row by row
            return None
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
        if min(epochs) < self.t_range[0] or max(epochs) > self.t_range[1]:  # `rows` names the line
            return None
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
        values = self.cents_of(cols[self.i_amt])
        if values is None:
            return None
        if self.i_tax is not None:
            taxes = self.cents_of(cols[self.i_tax])
            if taxes is None:
                return None
            values = list(map(sub, values, taxes))
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
