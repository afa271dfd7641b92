"""Tables and indexes of the hub database, created idempotently with sqlite-utils.

`batches` is the exactly-once key: a batch's records are inserted only in the transaction that
inserts its `(agent, epoch, seq)` row, so a redelivered batch adds nothing (docs/reliability.md).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import sqlite_utils

from hub.joins.rollup_tables import TRIGGERS_NOW, sqlite_schema
from hub.store.rows import RECORD_TABLES, TIME_INDEX

SCHEMA_VERSION = 1
WAL_TRIES = 40  # about 40 s in all


def connect(path: str | Path, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """A connection in autocommit mode (explicit BEGIN/COMMIT), WAL, full fsync on commit.

    synchronous=FULL because the hub acknowledges after its commit and the agent then deletes the
    batch: a commit lost to a power cut would be data lost for ever.
    """
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=check_same_thread, timeout=30)
    for attempt in range(WAL_TRIES):  # a new file's switch to WAL answers "locked" at once, without the
        try:                           # busy timeout, while another process switches it too: try again
            conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == WAL_TRIES - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def open_db(path: str | Path) -> sqlite_utils.Database:
    """The database at `path` with its schema in place (created when missing). The schema is made in one
    IMMEDIATE transaction: two commands opening a new database at once wait for each other (busy
    timeout) instead of one failing with "database is locked"."""
    db = sqlite_utils.Database(connect(path))
    db.execute("BEGIN IMMEDIATE")
    try:
        ensure_schema(db)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return db


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create every table and index that is missing; never alters existing data."""
    # WITHOUT ROWID: the primary key is the only lookup, so one B-tree instead of two (faster inserts).
    db.execute(
        "CREATE TABLE IF NOT EXISTS batches (agent TEXT NOT NULL, org TEXT NOT NULL, store TEXT NOT NULL,"
        " epoch TEXT NOT NULL, seq INTEGER NOT NULL, sent_at TEXT, received_at TEXT, records_n INTEGER,"
        " PRIMARY KEY (agent, epoch, seq)) WITHOUT ROWID"
    )
    db.table("batches").create_index(["store", "received_at"], if_not_exists=True, find_unique_name=True)
    if "digest" not in {c.name for c in db.table("batches").columns}:  # SHA-256 of the signed bytes: replays
        db.execute("ALTER TABLE batches ADD COLUMN digest BLOB")
    for spec in RECORD_TABLES.values():
        db.table(spec.table).create(
            spec.columns, not_null=("org", "store", "agent", "epoch", "seq", "idx"), if_not_exists=True
        )
        db.table(spec.table).create_index(TIME_INDEX[spec.table], if_not_exists=True, find_unique_name=True)
        have = {c.name for c in db.table(spec.table).columns}
        for name, typ in spec.columns.items():  # a wire field added later (e.g. visit.person_key): a column
            if name not in have:
                sql_type = {int: "INTEGER", float: "REAL"}.get(typ, "TEXT")
                db.execute(f"ALTER TABLE {spec.table} ADD COLUMN {name} {sql_type}")
    db.table("dead_letters").create(
        {"id": int, "received_at": str, "topic": str, "reason": str, "detail": str, "payload": bytes},
        pk="id",
        if_not_exists=True,
    )
    db.table("dead_letters").create_index(["reason"], if_not_exists=True, find_unique_name=True)
    db.table("agents").create(
        {
            "agent": str,
            "org": str,
            "store": str,
            "state": str,
            "last_seen": str,
            "backlog_batches": int,
            "clock_synced": int,
            "agent_version": str,
            "counters": str,
            "status_at": str,
        },
        pk=("org", "store", "agent"),
        if_not_exists=True,
    )
    if "learned" not in {c.name for c in db.table("agents").columns}:  # the status' calibration (issue 19)
        db.execute("ALTER TABLE agents ADD COLUMN learned TEXT")
    if db.table("agents").pks == ["agent"]:  # before v2 an agent id alone was the key: gw-1 of one store
        db.table("agents").transform(pk=("org", "store", "agent"))  # replaced gw-1 of another
    db.execute(
        "CREATE TABLE IF NOT EXISTS pos_transactions (store TEXT NOT NULL, transaction_id TEXT NOT NULL,"
        " at_utc TEXT NOT NULL, at_epoch_s INTEGER NOT NULL, net_amount_cents INTEGER NOT NULL,"
        " import_file_sha256 TEXT, PRIMARY KEY (store, transaction_id)) WITHOUT ROWID"
    )
    db.table("pos_transactions").create_index(
        ["store", "at_epoch_s"], if_not_exists=True, find_unique_name=True
    )
    _ensure_business_tables(db)
    db.table("imports").create(
        {"sha256": str, "kind": str, "name": str, "rows_n": int, "added_n": int, "at": str},
        pk="sha256",
        if_not_exists=True,
    )
    now = {str(n): str(q) for n, q in db.execute(TRIGGERS_NOW).fetchall()}
    for ddl in sqlite_schema(now):  # day rollups and the triggers marking the changes that make them stale
        db.execute(ddl)
    db.conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def _ensure_business_tables(db: sqlite_utils.Database) -> None:
    """POS columns added after v1, CRM members, staff hours, and member visits (hub.imports, hub.joins)."""
    pos_columns = {c.name for c in db.table("pos_transactions").columns}
    if "member_id" not in pos_columns:  # loyalty card given at the till: member conversion
        db.execute("ALTER TABLE pos_transactions ADD COLUMN member_id TEXT")
    if "voided" not in pos_columns:  # kept (a later export may void it), never counted
        db.execute("ALTER TABLE pos_transactions ADD COLUMN voided INTEGER NOT NULL DEFAULT 0")
    # member_key: HMAC-SHA256(member secret, MAC)[:16] as hex, only while the member consents; never a MAC.
    # gateway_key: the same device under the gateway secret (what agents match and tag visits with)
    db.execute(
        "CREATE TABLE IF NOT EXISTS members (member_id TEXT PRIMARY KEY, segment TEXT, tier TEXT,"
        " joined_on TEXT, member_key TEXT UNIQUE, import_file_sha256 TEXT, updated_at TEXT, gateway_key TEXT)"
    )
    if "gateway_key" not in {c.name for c in db.table("members").columns}:
        db.execute("ALTER TABLE members ADD COLUMN gateway_key TEXT")
    db.table("members").create_index(["gateway_key"], if_not_exists=True, find_unique_name=True)
    db.execute(
        "CREATE TABLE IF NOT EXISTS staff_hours (store TEXT NOT NULL, hour_epoch_s INTEGER NOT NULL,"
        " local_date TEXT NOT NULL, local_hour INTEGER NOT NULL, labour_hours REAL NOT NULL,"
        " import_file_sha256 TEXT, PRIMARY KEY (store, hour_epoch_s)) WITHOUT ROWID"
    )
    # Visits of consenting members, keyed by member key: the writer adds one for each visit an agent tagged
    # with a member's gateway key (the visits table never keeps that key).
    db.execute(
        "CREATE TABLE IF NOT EXISTS member_visits (store TEXT NOT NULL, member_key TEXT NOT NULL,"
        " started_epoch_s INTEGER NOT NULL, ended_epoch_s INTEGER NOT NULL, dwell_s INTEGER NOT NULL,"
        " agent TEXT, PRIMARY KEY (store, started_epoch_s, member_key)) WITHOUT ROWID"
    )
    db.table("member_visits").create_index(["member_key"], if_not_exists=True, find_unique_name=True)
    # opt-outs (hub/optout.py): keyed hashes of the device only, never its MAC
    db.execute(
        "CREATE TABLE IF NOT EXISTS optouts (optout_key TEXT PRIMARY KEY, member_key TEXT UNIQUE,"
        " added_at TEXT NOT NULL)"
    )
