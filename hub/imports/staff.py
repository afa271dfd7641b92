"""Staff schedule from CSV: `store,date,hour,labour_hours`, local date and hour (0-23) of the store.

Labour hours per store-hour give the shopper-to-staff ratio (hub.joins.metrics). A later file
replaces the hours it lists (a corrected rota); the same file twice adds nothing.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import date, datetime, time
from pathlib import Path

from agent.wire.topics import ID_RE
from hub.config import HubConfig, zone
from hub.imports.base import ImportFileError, ImportResult, imported_before, read_file, write_all
from hub.imports.header import decode, delimiter, find_columns
from hub.store.sql import Db

USUAL: dict[str, tuple[str, ...]] = {
    "store": ("store", "store_id", "location", "shop"),
    "date": ("date", "day", "business_date"),
    "hour": ("hour", "hour_of_day"),
    "labour_hours": ("labour_hours", "labor_hours", "hours", "staff_hours"),
}

StaffRow = tuple[str, int, str, int, float, str]


def read_staff(name: str, text: str, config: HubConfig, sha: str) -> list[StaffRow]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter(text[: text.find("\n")]))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError(f"{name}: the file is empty (expected the header "
                              "store,date,hour,labour_hours)") from None
    col = find_columns(name, header, USUAL, required=tuple(USUAL))
    out: dict[tuple[str, int], StaffRow] = {}
    try:
        for f in reader:
            if not f:
                continue
            line = reader.line_num

            def bad(column: str, problem: str, line: int = line) -> ImportFileError:
                return ImportFileError(f"{name}:{line}: {column}: {problem}")

            if len(f) != len(header):
                raise ImportFileError(f"{name}:{line}: expected {len(header)} fields ({','.join(header)}),"
                                      f" found {len(f)}")
            store, day, hour, hours = (f[col[c]].strip() for c in USUAL)
            if not ID_RE.match(store):
                raise bad("store", f"{store!r} is not a store id (lower-case letters, digits, -)")
            try:
                local_day = date.fromisoformat(day)
            except ValueError:
                raise bad("date", f"{day!r} is not a date (YYYY-MM-DD)") from None
            if not hour.isdigit() or int(hour) > 23:
                raise bad("hour", f"{hour!r} is not an hour from 0 to 23")
            try:
                labour = float(hours)
            except ValueError:
                labour = math.nan
            if not 0 <= labour <= 10_000:
                raise bad("labour_hours", f"{hours!r} is not a number of hours from 0 to 10,000")
            tz = zone(config.store(store).timezone or "UTC")
            epoch = int(datetime.combine(local_day, time(int(hour)), tz).timestamp())
            out[(store, epoch)] = (store, epoch, local_day.isoformat(), int(hour), labour, sha)
    except csv.Error as exc:
        raise ImportFileError(f"{name}:{reader.line_num}: not valid CSV: {exc}") from None
    return list(out.values())


def import_staff(db: Db, path: Path, config: HubConfig, *, progress: bool = False) -> ImportResult:
    """Check the whole file, then write it in one transaction (all or nothing)."""
    del progress  # a rota is small
    data, sha = read_file(path)
    before = imported_before(db, path, sha)
    if before is not None:
        return before
    rows = read_staff(path.name, decode(path.name, data), config, sha)

    def write(db: Db) -> tuple[int, int]:
        written = db.executemany(
            "INSERT INTO staff_hours (store, hour_epoch_s, local_date, local_hour, labour_hours,"
            " import_file_sha256) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (store, hour_epoch_s) DO UPDATE"
            " SET labour_hours = excluded.labour_hours, import_file_sha256 = excluded.import_file_sha256"
            " WHERE staff_hours.labour_hours != excluded.labour_hours",
            rows,
        ).rowcount  # summed over the rows on both engines: the rows added or changed
        return len(rows), written

    rows_n, added = write_all(db, "staff", path, sha, write)
    return ImportResult(path.name, sha, rows_n, added)
