"""The hub's SQLite store: the schema, and opening it ready for concurrent readers (WAL).

One file, one schema (`schema.py`); the row layout of each record type (`rows.py`) is pure Python so
that the writer can build rows before it opens a transaction. PostgreSQL (docs/chain.md) is a second
store behind the same row layout (`postgres/`); `engine.py` picks one by the database URL.
"""

from hub.store.rows import RECORD_TABLES, TableSpec
from hub.store.schema import SCHEMA_VERSION, connect, ensure_schema, open_db

__all__ = ["RECORD_TABLES", "SCHEMA_VERSION", "TableSpec", "connect", "ensure_schema", "open_db"]
