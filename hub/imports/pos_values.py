"""The values of a POS export: amounts as the shop's till writes them, times, and how rows are written.

Amounts: `-12.50`, `$1,512.50`, `-$5.00`, `(5.00)`, `1.234,50 €`, `¥1,234.00`, `1 234,50 Kč`, read per
the export's locale (hub.locales: the decimal mark and the thousands separator), currency symbols and
codes dropped, at most two decimal places, stored as integer cents; a separator that does not group by
three (`12,50` in an `en` export) is refused, never guessed. Times: ISO 8601, or `pos.timestamp_format`
(strptime: `%m/%d/%y %H:%M:%S`); a naive time is the store's local time, and one that does not exist
there (the hour the clocks skip) is refused.

Kept apart from pos.py (the file's rows) so that each stays within the house's module size.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from zoneinfo import ZoneInfo

from hub.locales import CURRENCY_MARKS, LOCALES, NBSP, NNBSP, Locale

EN = LOCALES["en"]
AMOUNT_RE = re.compile(r"^([+-]?)(\d+)(?:\.(\d{1,2}))?$", re.ASCII)
_SPACES = (" ", NBSP, NNBSP)
SHA_RE = re.compile(r"[0-9a-f]{64}")
# The inserts are most of an import's time (bench/pos_import.py), and binding is a good part of each, so
# a row binds as little as it can: at_utc comes formatted (`_Stamps.utc`, each minute once: SQLite's
# strftime per row cost more than all the Python), the file's SHA-256 is written into the statement
# (`insert_statement`), and a missing member id is '' (a None goes through the sqlite3 module's adapter
# lookup, row after row). Tried and dropped, no clear gain or slower (bench/pos_import.py, many runs):
# rows sorted by key per chunk or all at once, a TEMP staging table then one INSERT ... SELECT ... ORDER
# BY, multi-row VALUES, a larger cache_size (an export's ids arrive in a few runs per store, so few pages
# are hot at a time), bigger chunks (above csv.field_size_limit() they would leave the fast path).
# A transaction already stored takes the export's values when any differ (a corrected export: the newest
# file imported wins); one whose values are the same is not touched (and not counted as changed).
INSERT = (
    "INSERT INTO pos_transactions (store, transaction_id, at_utc, at_epoch_s, net_amount_cents,"
    " import_file_sha256, member_id, voided)"
    " VALUES (?, ?, ?, ?, ?, '{sha}', NULLIF(?, ''), ?)"
    " ON CONFLICT (store, transaction_id) DO UPDATE SET at_utc = excluded.at_utc,"
    " at_epoch_s = excluded.at_epoch_s, net_amount_cents = excluded.net_amount_cents,"
    " member_id = excluded.member_id, voided = excluded.voided,"
    " import_file_sha256 = excluded.import_file_sha256"
    " WHERE (at_epoch_s, net_amount_cents, coalesce(member_id, ''), voided) IS NOT"
    " (excluded.at_epoch_s, excluded.net_amount_cents, coalesce(excluded.member_id, ''), excluded.voided)"
)

# PostgreSQL: the rows are COPYed into LOAD_TABLE (dropped at commit), then two set statements: the stored
# transactions whose values differ take the export's (the rule above), and the new ones go in. No ON
# CONFLICT: its per-row speculative insert halved the rate (/tmp measurements, 100,000 rows: about 28,000
# rows/s against 45,000-64,000), and none is needed: imports run one at a time (hub/imports/base.py, an
# advisory lock) and nothing else writes pos_transactions (a stray duplicate would fail the import whole).
LOAD_TABLE = (
    "CREATE TEMPORARY TABLE pos_load (store text, transaction_id text, at_utc text, at_epoch_s bigint,"
    " net_amount_cents bigint, member_id text, voided bigint) ON COMMIT DROP"
)
UPDATE_LOADED = (
    "UPDATE pos_transactions t SET at_utc = l.at_utc, at_epoch_s = l.at_epoch_s,"
    " net_amount_cents = l.net_amount_cents, member_id = NULLIF(l.member_id, ''), voided = l.voided,"
    " import_file_sha256 = ? FROM pos_load l WHERE t.store = l.store AND t.transaction_id = l.transaction_id"
    " AND (t.at_epoch_s, t.net_amount_cents, coalesce(t.member_id, ''), t.voided) IS DISTINCT FROM"
    " (l.at_epoch_s, l.net_amount_cents, coalesce(l.member_id, ''), l.voided)"
)
INSERT_LOADED = (
    "INSERT INTO pos_transactions (store, transaction_id, at_utc, at_epoch_s, net_amount_cents,"
    " import_file_sha256, member_id, voided)"
    " SELECT l.store, l.transaction_id, l.at_utc, l.at_epoch_s, l.net_amount_cents, ?,"
    " NULLIF(l.member_id, ''), l.voided FROM pos_load l WHERE NOT EXISTS (SELECT 1 FROM pos_transactions t"
    " WHERE t.store = l.store AND t.transaction_id = l.transaction_id)"
)


def insert_statement(sha: str) -> str:
    """The INSERT of one file's rows, its SHA-256 in the statement (only hex digits: checked)."""
    if not SHA_RE.fullmatch(sha):
        raise ValueError(f"{sha!r} is not a SHA-256 in hex")
    return INSERT.format(sha=sha)


def _plain(text: str) -> int:
    m = AMOUNT_RE.match(text)
    if m is None:
        raise ValueError
    sign, whole, frac = m.groups()
    value = int(whole) * 100 + int((frac or "0").ljust(2, "0"))
    return -value if sign == "-" else value


def cents(text: str, loc: Locale = EN, locale_name: str = "en") -> int:
    """'-12.5' -> -1250, '$1,512.50' -> 151250, '(5.00)' -> -500, '1.234,50 €' (de) -> 123450;
    ValueError with the reason when it is not an amount of at most two decimals in the locale."""
    if loc.decimal == ".":
        try:
            return _plain(text)  # the usual shape, first
        except ValueError:
            pass
    s = text.strip()
    negative = len(s) > 1 and s[0] == "(" and s[-1] == ")"
    if negative:
        s = s[1:-1].strip()
    sign = ""
    for _ in range(3):  # a sign and a currency mark, in either order, on either side
        for at in (0, -1):
            if s and s[at] in ("+", "-") and (at == 0 or len(s) > 1):
                if sign or negative:
                    raise ValueError(f"{text!r} is not a decimal amount")
                sign, s = s[at], (s[1:] if at == 0 else s[:-1]).strip()
        mark = next((m for m in CURRENCY_MARKS if s.startswith(m) or s.endswith(m)), None)
        if mark is not None:
            s = (s[len(mark):] if s.startswith(mark) else s[: -len(mark)]).strip()
    whole, point, frac = s.rpartition(loc.decimal) if loc.decimal in s else (s, "", "")
    groups = [whole]
    for sep in {loc.group, *(_SPACES if loc.group in _SPACES else ())}:
        groups = [g for part in groups for g in part.split(sep)]
    if len(groups) > 1 and not (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])):
        raise ValueError(f"{text!r} is not an amount in the {locale_name} locale (thousands by 3, e.g."
                         f" {_example(loc)})")
    number = "".join(groups) + ("." + frac if point else "")
    try:
        value = _plain(number)
    except ValueError:
        try:
            Decimal(number)
        except InvalidOperation:
            raise ValueError(f"{text!r} is not a decimal amount") from None
        raise ValueError(f"{text!r} is not a decimal amount with at most 2 decimal places") from None
    if number[:1] in ("+", "-") and (sign or negative):
        raise ValueError(f"{text!r} is not a decimal amount")
    return -value if sign == "-" or negative else value


def _example(loc: Locale) -> str:
    return f"1{loc.group}234{loc.decimal}50"


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


_SECONDS = {f":{s:02d}": s for s in range(60)}  # a stamp's end: in here, it is 19 characters long
_SECONDS_Z = [f":{s:02d}Z" for s in range(60)]  # at_utc's end, by second
_STAMP_Z = {f":{s:02d}": f":{s:02d}Z" for s in range(60)}  # a naive stamp's end -> at_utc's end
_MINUTE, _SECONDS_OF = itemgetter(slice(0, 16)), itemgetter(slice(16, None))


class _Stamps:
    """Timestamps to epoch seconds, fast: a naive `YYYY-MM-DD hh:mm:ss` resolves its minute once; and
    epoch seconds to at_utc text, each UTC minute formatted once. With `fmt` (pos.timestamp_format),
    stamps are read by strptime, each distinct one once."""

    def __init__(self, fmt: str = "") -> None:
        self.fmt = fmt
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
        """ValueError when `stamp` is not a date and time (ISO 8601, or `fmt`); ValueError with the
        reason when a naive one does not exist in `tz` (the hour the clocks skip in spring)."""
        stamp = stamp.strip()
        if self.fmt:
            at = datetime.strptime(stamp, self.fmt)
        else:
            if len(stamp) < 16 or stamp[10] not in "T ":
                raise ValueError
            at = datetime.fromisoformat(stamp)
        if at.tzinfo is not None:
            return int(at.timestamp())
        local = at.replace(tzinfo=tz)
        epoch = int(local.timestamp())
        if datetime.fromtimestamp(epoch, tz).replace(tzinfo=None) != at.replace(microsecond=0):
            raise ValueError(f"{stamp!r} does not exist in {tz.key} (the clocks went forward then)")
        if not self.fmt and len(stamp) == 19 and at.microsecond == 0:
            self.minutes.setdefault(tz, {})[stamp[:16]] = epoch - at.second
        return epoch


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
