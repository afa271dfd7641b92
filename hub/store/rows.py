"""Row layout of the record tables, built from the wire's record classes (the wire exists once).

A record table holds the batch key and the record's index in its batch, the record's fields as sent,
and for every `*_at` time an `*_epoch_s` integer for indexed range queries. Pure Python, no SQLite:
the writer uses it to turn an envelope into rows.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from agent.wire import RECORD_TYPES
from agent.wire.records import Checked

KEY_COLUMNS = ("org", "store", "agent", "epoch", "seq", "idx")

# Record type -> table. Explicit so that renaming a record type never silently renames a table.
TABLE_NAMES: dict[str, str] = {
    "visit": "visits",
    "minute": "minutes",
    "period": "periods",
    "door": "doors",
    "device_flag": "device_flags",
    "erase": "erasures",
    "presence": "presence",
    "arrival": "arrivals",
}

# Index per table for store + time queries (the report's access path).
TIME_INDEX: dict[str, tuple[str, ...]] = {
    "visits": ("store", "started_epoch_s"),
    "minutes": ("store", "minute_epoch_s"),
    "periods": ("store", "period", "start_epoch_s"),
    "doors": ("store", "minute_epoch_s"),
    "device_flags": ("store", "device_key"),
    "erasures": ("store", "device_key"),
    "presence": ("store", "taken_epoch_s"),
    "arrivals": ("store", "seen_epoch_s"),
}

# Wire fields the record tables do not keep: a member's gateway key goes to member_visits, translated to
# the member key (hub/ingest/writer.py), never into the visits table. Each is a record type's last field.
NOT_STORED: dict[str, tuple[str, ...]] = {"visit": ("member_key",), "arrival": ("member_key",)}

_SQL_TYPES = {"str": str, "int": int, "float": float, "bool": int, "str | None": str}


def _time_column(field_name: str) -> str:
    return field_name[: -len("_at")] + "_epoch_s"


@dataclass(frozen=True)
class TableSpec:
    """How one record type is stored."""

    record_type: str
    table: str
    fields: tuple[str, ...]
    time_fields: tuple[str, ...]
    columns: dict[str, type]
    wire_fields_n: int  # fields on the wire: the stored ones, then NOT_STORED

    @property
    def insert_sql(self) -> str:
        names = ", ".join(self.columns)
        marks = ", ".join("?" * len(self.columns))
        return f"INSERT INTO {self.table} ({names}) VALUES ({marks})"

    def row(self, key: tuple[str, str, str, str, int], idx: int, rec: Checked) -> tuple[Any, ...]:
        """One row of a checked record (agent.wire.records.check_record): batch key, index, fields in
        declaration order, then the epoch seconds of each time field (the wire computed them)."""
        values = rec[1] if len(self.fields) == self.wire_fields_n else rec[1][: len(self.fields)]
        return (*key, idx, *values, *rec[2])


def _spec(record_type: str, cls: type[Any]) -> TableSpec:
    wire = dataclasses.fields(cls)
    skip = NOT_STORED.get(record_type, ())
    fields = wire[: len(wire) - len(skip)]
    assert tuple(f.name for f in wire[len(fields):]) == skip, "NOT_STORED fields must be the last ones"
    columns: dict[str, type] = {"org": str, "store": str, "agent": str, "epoch": str, "seq": int, "idx": int}
    columns.update({f.name: _SQL_TYPES[str(f.type)] for f in fields})
    time_fields = tuple(f.name for f in fields if f.name.endswith("_at"))
    columns.update({_time_column(f): int for f in time_fields})
    return TableSpec(
        record_type, TABLE_NAMES[record_type], tuple(f.name for f in fields), time_fields, columns, len(wire)
    )


RECORD_TABLES: dict[str, TableSpec] = {t: _spec(t, cls) for t, cls in RECORD_TYPES.items()}
