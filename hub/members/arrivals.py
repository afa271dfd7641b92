"""Member arrival events: `footfall/v1/{org}/{store}/members/arrived`, QoS 1, not retained.

An agent sends an `arrival` record at the first sighting at visitor RSSI of a visit by a device the hub
listed as a consenting member's (agent/pipeline/presence.py). Here, after the commit that stored it:

- the member is looked up by the gateway key now, so a withdrawn consent or an opt-out (both clear the
  member's keys, hub/imports/crm.py and hub/optout.py) stops the event at once, whatever the agents
  still hold; an unknown key (not a member, never a randomized MAC: agents never tag those) is counted;
- one event per visit: an arrival of the same member at the same store within the visit timeout of
  the last one is the same visit (another gateway, a restarted agent) and is counted as a repeat;
- an arrival older than `max_age_s` (a backlog drained after an outage) is kept, never announced.

`member_arrivals` holds who arrived when (for the live page's list and the dedupe); rows of members
who no longer consent are deleted on every sweep, and rows older than two days always. SQLite makes it
on first use; PostgreSQL has it from migration 3 (hub/store/postgres/schema.py).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.wire.records import iso
from agent.wire.topics import arrivals_topic
from hub.config import DatabaseConfig
from hub.members.profile import profile
from hub.store.sql import Db, open_database

log = logging.getLogger(__name__)

SCHEMA = 1
KEEP_S = 2 * 86400
CONSENTING = (
    "SELECT m.member_id, m.member_key FROM members m WHERE m.gateway_key = ? AND m.member_key IS NOT NULL"
    " AND NOT EXISTS (SELECT 1 FROM optouts o WHERE o.member_key = m.member_key)"
)


def ensure_table(db: Db) -> None:
    """The table on SQLite (made on first use); nothing on PostgreSQL, whose migrations made it."""
    if db.engine != "sqlite":
        return
    db.execute(
        "CREATE TABLE IF NOT EXISTS member_arrivals (store TEXT NOT NULL, member_key TEXT NOT NULL,"
        " seen_epoch_s INTEGER NOT NULL, member_id TEXT NOT NULL, announced INTEGER NOT NULL,"
        " PRIMARY KEY (store, member_key, seen_epoch_s)) WITHOUT ROWID"
    )


class ArrivalDesk:
    """Turns committed arrival records into events; one instance per thread (it owns a connection, made
    in the thread that creates the desk and usable from the ingest thread's callbacks). `database` is
    the hub's DatabaseConfig, or an SQLite file's path."""

    def __init__(self, database: DatabaseConfig | str | Path, publish: Callable[[str, bytes], None] | None,
                 visit_timeout_of: Callable[[str], int], max_age_s: float = 300.0) -> None:
        if not isinstance(database, DatabaseConfig):
            database = DatabaseConfig(path=str(database))
        self.db = open_database(database, check_same_thread=False)
        ensure_table(self.db)
        self._publish = publish
        self._timeout_of = visit_timeout_of
        self.max_age_s = max_age_s
        self.counters: Counter[str] = Counter()

    @property
    def conn(self) -> Db:
        """The desk's connection (the name hub/live/feed.py reads)."""
        return self.db

    def close(self) -> None:
        self.db.close()

    def member(self, gateway_key: str) -> tuple[str, str] | None:
        """(member id, member key) of a consenting, not opted-out member's gateway key, else None."""
        row = self.db.execute(CONSENTING, (gateway_key,)).fetchone()
        return (str(row[0]), str(row[1])) if row else None

    def handle(self, org: str, store: str, seen_epoch_s: int, gateway_key: str,
               now: float) -> dict[str, Any] | None:
        """The event published for one arrival record, or None (not a member, a repeat, too old)."""
        found = self.member(gateway_key)
        if found is None:
            self.counters["not_member"] += 1
            return None
        member_id, member_key = found
        timeout = self._timeout_of(store)
        with self.db.transaction():
            cur = self.db.execute(
                "INSERT INTO member_arrivals (store, member_key, seen_epoch_s, member_id, announced)"
                " SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM member_arrivals WHERE store = ?"
                " AND member_key = ? AND seen_epoch_s BETWEEN ? AND ?) ON CONFLICT DO NOTHING",
                (store, member_key, seen_epoch_s, member_id, int(now - seen_epoch_s <= self.max_age_s),
                 store, member_key, seen_epoch_s - timeout, seen_epoch_s + timeout))
        if cur.rowcount != 1:
            self.counters["repeat"] += 1
            return None
        if now - seen_epoch_s > self.max_age_s:
            self.counters["too_old"] += 1
            return None
        event = {"schema": SCHEMA, "org": org, "store": store, "seen_at": iso(seen_epoch_s),
                 **profile(self.db, store, member_id, member_key), "sent_at": iso(now)}
        if self._publish is not None:
            self._publish(arrivals_topic(org, store), json.dumps(event, separators=(",", ":")).encode())
        self.counters["announced"] += 1
        return {**event, "_member_key": member_key}

    def sweep(self, now: float) -> set[str]:
        """Delete arrivals of members who no longer consent, and old ones; the consenting member keys."""
        with self.db.transaction():
            self.db.execute(
                "DELETE FROM member_arrivals WHERE seen_epoch_s < ? OR member_key NOT IN (SELECT member_key"
                " FROM members WHERE member_key IS NOT NULL AND member_key NOT IN (SELECT member_key FROM"
                " optouts WHERE member_key IS NOT NULL))", (now - KEEP_S,))
        return {str(k) for (k,) in self.db.execute(
            "SELECT member_key FROM members WHERE member_key IS NOT NULL AND member_key NOT IN"
            " (SELECT member_key FROM optouts WHERE member_key IS NOT NULL)")}
