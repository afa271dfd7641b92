"""The hub's store on PostgreSQL, for a chain beyond one machine (docs/chain.md): numbered migrations
(`schema.py`, `migrate.py`), monthly partitions (`partitions.py`), the ingest writer (`ingest.py`) and
the leader lease (`lease.py`). Imported only when `database.url` is a postgresql:// URL, so a SQLite hub
never loads psycopg.
"""
