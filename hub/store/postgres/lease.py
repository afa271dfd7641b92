"""The leader lease on PostgreSQL: a session advisory lock (hub/leader.py's Lease).

The lock lives as long as the session that took it: a leader killed with kill -9 loses its connection
and the server drops the lock at once; a leader cut off from the database finds its session gone at its
next poll (`held`) and stops its singletons, while the server frees the lock once TCP keepalives give up
on it. Between those two moments, for up to a poll (2 s), two workers may both run the publisher; the
publisher's figures are idempotent per cell (retained last value), so that costs a repeat, not a wrong
figure.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import psycopg

from hub.store.postgres.ingest import CONNECT_OPTIONS

log = logging.getLogger(__name__)

LEADER_LOCK = 0x466F6F744C656164  # "FootLead"


class AdvisoryLease:
    """`pg_try_advisory_lock` on a connection of its own, held while that session lives."""

    def __init__(self, url: str, key: int = LEADER_LOCK) -> None:
        self.url = url
        self.key = key
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None

    def acquire(self) -> bool:
        if self._conn is not None:
            return self.held()
        try:
            conn = psycopg.connect(self.url, autocommit=True, **CONNECT_OPTIONS)
        except psycopg.OperationalError as exc:
            log.warning("leader lease: cannot reach the database (%s)", exc)
            return False
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        if not row or not row[0]:
            conn.close()
            return False
        self._conn = conn
        return True

    def held(self) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.execute("SELECT 1")
        except psycopg.Error:
            self._drop()
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):  # the session is gone, and its lock with it
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
