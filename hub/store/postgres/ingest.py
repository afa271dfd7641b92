"""The ingest writer on PostgreSQL: the same groups, retries and acknowledgements as on SQLite
(hub/ingest/writer.py), with PostgreSQL's statements.

Exactly-once is the `batches` primary key: `INSERT ... ON CONFLICT DO NOTHING` decides, inside the
group's transaction, which batches are new, and only their records go in, by COPY (one per table and
group). Several workers may write at once: a batch two of them race for is inserted by the first commit;
the second waits on the key, sees the conflict and stores nothing. A connection that breaks (the server
restarted, the network went) is dropped and opened again at the retry: a COMMIT whose outcome was lost
is harmless, since the retry finds its batches stored and acknowledges them as duplicates.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg

from agent.wire.records import iso
from hub.ingest.decode import DataBatch, DeadLetter, Decoded, Ignored, StatusUpdate
from hub.ingest.erase import apply_erasures
from hub.ingest.writer import Incoming, Writer
from hub.store.postgres.partitions import Partitions, months
from hub.store.postgres.schema import PARTITIONED
from hub.store.rows import RECORD_TABLES, TableSpec

log = logging.getLogger(__name__)

Conn = psycopg.Connection[tuple[Any, ...]]

# A worker cut off from the database notices within about a minute instead of hanging: keepalives on an
# idle connection, tcp_user_timeout (ms) on one whose query or COMMIT is unanswered.
CONNECT_OPTIONS: dict[str, Any] = {
    "connect_timeout": 10, "keepalives": 1, "keepalives_idle": 15, "keepalives_interval": 5,
    "keepalives_count": 4, "tcp_user_timeout": 60_000,
}

# The group's batch rows in one statement (one round trip, not one per batch): RETURNING names the new ones.
INSERT_BATCHES = (
    "INSERT INTO batches (agent, org, store, epoch, seq, sent_at, received_at, records_n, digest)"
    " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[], %s::text[],"
    " %s::text[], %s::bigint[], %s::bytea[]) ON CONFLICT DO NOTHING RETURNING agent, epoch, seq"
)
STORED_DIGESTS = (
    "SELECT b.agent, b.epoch, b.seq, b.digest FROM batches b JOIN unnest(%s::text[], %s::text[],"
    " %s::bigint[]) AS k(agent, epoch, seq) USING (agent, epoch, seq)"
)
MEMBER_VISIT = (  # as hub/ingest/writer.py's MEMBER_VISIT_SQL: one member visit per stay
    "INSERT INTO member_visits (store, member_key, started_epoch_s, ended_epoch_s, dwell_s, agent)"
    " SELECT %(store)s, m.member_key, %(start)s, %(end)s, %(dwell)s, %(agent)s FROM members m"
    " WHERE m.gateway_key = %(gateway_key)s AND m.member_key IS NOT NULL AND NOT EXISTS (SELECT 1"
    " FROM member_visits v WHERE v.member_key = m.member_key AND v.store = %(store)s"
    " AND v.started_epoch_s <= %(end)s AND v.ended_epoch_s >= %(start)s) ON CONFLICT DO NOTHING"
)
UPSERT_SEEN = (
    "INSERT INTO agents (agent, org, store, last_seen) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (org, store, agent) DO UPDATE SET last_seen = excluded.last_seen"
)
UPSERT_STATUS = (  # a retained status replayed at subscribe is no sign of life: keep last_seen then
    "INSERT INTO agents (agent, org, store, state, last_seen, backlog_batches, clock_synced,"
    " agent_version, counters, status_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (org, store, agent) DO UPDATE SET state = excluded.state,"
    " last_seen = CASE WHEN %s THEN coalesce(agents.last_seen, excluded.last_seen)"
    " ELSE excluded.last_seen END, backlog_batches = excluded.backlog_batches,"
    " clock_synced = excluded.clock_synced, agent_version = excluded.agent_version,"
    " counters = excluded.counters, status_at = excluded.status_at"
)
DEAD_LETTER = ("INSERT INTO dead_letters (received_at, topic, reason, detail, payload)"
               " VALUES (%s, %s, %s, %s, %s)")


class PgSession:
    """The writer's connection, opened again after it broke."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.partitions = Partitions()
        self._conn: Conn | None = None

    def conn(self) -> Conn:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(self.url, autocommit=True, **CONNECT_OPTIONS)
        return self._conn

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def abort(self) -> None:
        """After a failed write: a broken connection is dropped (the retry reconnects)."""
        conn = self._conn
        if conn is not None and (conn.closed or conn.broken):
            self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _copy_rows(cur: psycopg.Cursor[tuple[Any, ...]], spec: TableSpec, rows: list[tuple[Any, ...]]) -> None:
    """COPY `rows` into the table; booleans of the wire go in as the 0/1 integers SQLite stores."""
    flags = [i for i, v in enumerate(rows[0]) if type(v) is bool]
    with cur.copy(f"COPY {spec.table} ({', '.join(spec.columns)}) FROM STDIN".encode()) as copy:
        for row in rows:
            if flags:
                fixed = list(row)
                for i in flags:
                    fixed[i] = int(fixed[i])
                copy.write_row(fixed)
            else:
                copy.write_row(row)


def _months_needed(decoded: list[Decoded]) -> dict[str, set[datetime]]:
    needed: dict[str, set[datetime]] = defaultdict(set)
    for dec in decoded:
        if isinstance(dec, DataBatch):
            for rtype, rows in dec.rows.items():
                spec = RECORD_TABLES[rtype]
                column = PARTITIONED.get(spec.table)
                if column is not None and rows:
                    at = list(spec.columns).index(column)
                    needed[spec.table] |= months(int(r[at]) for r in rows)
    return needed


class PgWriter(Writer):
    """`Writer` on PostgreSQL: `db_path` is the database URL.

    `on_outage(True)` once OUTAGE_AFTER attempts in a row found no connection (the database is down or
    out of reach), `on_outage(False)` at the next commit: a worker of several then leaves the shared
    group meanwhile, so that the broker deals new batches to the others (hub/app.py).
    """

    RETRY_ERRORS = (psycopg.OperationalError,)  # connection lost, server restarting, serialization
    OUTAGE_AFTER = 3

    def __init__(self, *args: Any, on_outage: Callable[[bool], None] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_outage = on_outage
        self._failed = 0
        self._out = False

    def _connect(self) -> PgSession:
        return PgSession(str(self._db_path))

    def _abort(self, conn: Any) -> None:
        session: PgSession = conn
        session.abort()
        if session.connected:
            return  # a statement refused, not an outage
        self._failed += 1
        if self._failed >= self.OUTAGE_AFTER and not self._out:
            self._out = True
            self._outage(True)

    def _outage(self, out: bool) -> None:
        if self._on_outage is not None:
            try:
                self._on_outage(out)
            except Exception:
                log.exception("reporting the database %s failed", "outage" if out else "recovery")

    def _committed(self) -> None:
        self._failed = 0
        if self._out:
            self._out = False
            self._outage(False)

    def _write(
        self, conn: Any, group: list[Incoming], decoded: list[Decoded]
    ) -> dict[tuple[str, str], list[int]]:
        session: PgSession = conn
        c = session.conn()
        session.partitions.ensure(c, _months_needed(decoded))
        acks: dict[tuple[str, str], list[int]] = defaultdict(list)
        seen: dict[str, tuple[str, str, str]] = {}
        stored = records = dups = statuses = 0
        dead: list[str] = []
        new_rows: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        member_visits: list[dict[str, Any]] = []
        fresh: list[DataBatch] = []  # stored for the first time: on_stored after the commit (the live view)
        with c.transaction(), c.cursor() as cur:
            new, stored_digest = _insert_batches(cur, group, decoded)
            for msg, dec in zip(group, decoded, strict=True):
                received_at = iso(msg.received_at)
                if isinstance(dec, DataBatch):
                    key = (dec.agent, dec.epoch, dec.seq)
                    if key in new:
                        new.discard(key)  # a second copy in this group: a duplicate, or a replay
                        stored_digest[key] = dec.digest
                        for rtype, rows in dec.rows.items():
                            new_rows[rtype].extend(rows)
                        member_visits.extend(
                            {"store": v[0], "start": v[1], "end": v[2], "dwell": v[3], "agent": v[4],
                             "gateway_key": v[5]} for v in dec.member_visits)
                        stored += 1
                        records += dec.records_n
                        fresh.append(dec)
                    elif _replayed(dec, stored_digest.get(key)):  # another body under a stored seq
                        cur.execute(DEAD_LETTER, (received_at, msg.topic[:300], "replay",
                                                  "another body under a stored seq", msg.payload))
                        dead.append("replay")
                        continue
                    else:
                        dups += 1
                    acks[(dec.ack_topic, dec.epoch)].append(dec.seq)
                    seen[dec.agent] = (dec.org, dec.store, received_at)
                elif isinstance(dec, StatusUpdate):
                    ret = msg.retained
                    cur.execute(UPSERT_STATUS, (
                        dec.agent, dec.org, dec.store, dec.state,
                        (dec.updated_at or None) if ret else received_at, dec.backlog_batches,
                        int(dec.clock_synced), dec.agent_version, dec.counters_json, dec.updated_at, ret))
                    statuses += 1
                elif isinstance(dec, DeadLetter):
                    cur.execute(DEAD_LETTER,
                                (received_at, msg.topic[:300], dec.reason, dec.detail, msg.payload))
                    dead.append(dec.reason)
                else:
                    assert isinstance(dec, Ignored)
            for rtype, rows in new_rows.items():
                if rows:
                    _copy_rows(cur, RECORD_TABLES[rtype], rows)
            apply_erasures(cur, new_rows, mark="%s")  # opt-outs that erase, as on SQLite
            if member_visits:
                cur.executemany(MEMBER_VISIT, member_visits)
            if seen:
                cur.executemany(UPSERT_SEEN, [(a, o, s, t) for a, (o, s, t) in seen.items()])
        self._stored.extend(fresh)
        self._counters.add(received=len(group), batches_stored=stored, records_stored=records,
                           duplicates=dups, status_updates=statuses, commits=1)
        for reason in dead:
            self._counters.dead_letter(reason)
        self._committed()
        return dict(acks)


BatchKey = tuple[str, str, int]


def _insert_batches(
    cur: psycopg.Cursor[tuple[Any, ...]], group: list[Incoming], decoded: list[Decoded]
) -> tuple[set[BatchKey], dict[BatchKey, bytes | None]]:
    """Insert the group's batch rows (the first copy of each key); (the new keys, the stored digests of
    the others that carry a digest, for replay detection)."""
    first: dict[BatchKey, tuple[Any, ...]] = {}
    for msg, dec in zip(group, decoded, strict=True):
        if isinstance(dec, DataBatch):
            first.setdefault((dec.agent, dec.epoch, dec.seq), (
                dec.agent, dec.org, dec.store, dec.epoch, dec.seq, dec.sent_at, iso(msg.received_at),
                dec.records_n, dec.digest))
    if not first:
        return set(), {}
    columns = [list(col) for col in zip(*first.values(), strict=True)]
    new = {(str(a), str(e), int(q)) for a, e, q in cur.execute(INSERT_BATCHES, columns).fetchall()}
    old = [k for k in first if k not in new and first[k][8] is not None]
    digests: dict[BatchKey, bytes | None] = {}
    if old:
        keys = [list(col) for col in zip(*old, strict=True)]
        for a, e, q, d in cur.execute(STORED_DIGESTS, keys).fetchall():
            digests[(str(a), str(e), int(q))] = bytes(d) if d is not None else None
    return new, digests


def _replayed(dec: DataBatch, stored: bytes | None) -> bool:
    """A stored batch of this (agent, epoch, seq) with another verified digest: not a redelivery."""
    return dec.digest is not None and stored is not None and stored != dec.digest
