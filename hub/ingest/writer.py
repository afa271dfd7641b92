"""The writer thread: decode, group commits, then the acknowledgements.

A batch's records go in only with its new `batches` row (INSERT OR IGNORE on `(agent, epoch, seq)`),
so a redelivery adds nothing; it is still acknowledged, since the agent may have missed the first ack.
Nothing is acknowledged before the COMMIT that holds it returns (docs/reliability.md).

A message that cannot be stored, whatever the reason (the schema refuses it, SQLite cannot bind one of
its values, a bug in a decoder), is dead-lettered with that reason and the next is stored: only a
database that cannot commit at all (locked, disk full) is retried. Should the thread die anyway, the
process exits non-zero (agent/common/lifeline.py) rather than live on storing nothing.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from agent.wire.records import iso
from hub.ingest.counters import Counters
from hub.ingest.decode import DataBatch, DeadLetter, Decoded, Ignored, StatusUpdate, decode
from hub.ingest.erase import apply_erasures
from hub.store.bulk import insert_rows
from hub.store.rows import RECORD_TABLES
from hub.store.schema import connect

log = logging.getLogger(__name__)

RETRY_DELAY_S = 1.0
# A dead letter keeps at most this much of its payload: enough to see what went wrong, not a way to fill
# the hub's disk with refused bombs. A payload with a MAC-shaped key keeps none (no raw MAC on disk).
DEAD_PAYLOAD_BYTES = 64 << 10
NO_PAYLOAD_REASONS = frozenset({"mac_shaped"})
# A visit tagged with a consenting member's gateway key, stored under the member's key (docs/privacy.md);
# one member visit per stay: a store's second gateway hearing the same phone at the same time adds none.
MEMBER_VISIT_SQL = (
    "INSERT OR IGNORE INTO member_visits (store, member_key, started_epoch_s, ended_epoch_s, dwell_s, agent)"
    " SELECT ?1, m.member_key, ?2, ?3, ?4, ?5 FROM members m WHERE m.gateway_key = ?6"
    " AND m.member_key IS NOT NULL AND NOT EXISTS (SELECT 1 FROM member_visits v WHERE"
    " v.member_key = m.member_key AND v.store = ?1 AND v.started_epoch_s <= ?3 AND v.ended_epoch_s >= ?2)"
)


@dataclass(slots=True)
class Incoming:
    """One received message; `token` lets its receiver acknowledge it later (e.g. MQTT mid and qos)."""

    topic: str
    payload: bytes
    received_at: float
    token: object = None
    retained: bool = False


# after_commit(messages, acks): acks maps (ack topic, epoch) -> committed seqs (new and duplicate).
AfterCommit = Callable[[list[Incoming], dict[tuple[str, str], list[int]]], None]
# on_stored(batches): the batches a commit stored for the first time (never a redelivery): the live view
OnStored = Callable[[list[DataBatch]], None]


class Writer:
    """Owns the ingest connection; `submit` may be called from any thread.

    The store's part is `_connect`, `_write`, `_abort` and the two error classes: SQLite here,
    PostgreSQL in hub/store/postgres/ingest.py, which overrides them; grouping, retries, the one-by-one
    fallback and the acknowledgements are the same for both.
    """

    RETRY_ERRORS: ClassVar[tuple[type[Exception], ...]] = (sqlite3.OperationalError,)  # may pass: retry

    def __init__(
        self,
        db_path: str | Path,
        counters: Counters,
        after_commit: AfterCommit,
        *,
        max_batches: int = 64,
        max_wait_ms: int = 20,
        decoder: Callable[[str, bytes], Decoded] = decode,
        on_stored: OnStored | None = None,
    ) -> None:
        self._on_stored = on_stored
        self._stored: list[DataBatch] = []  # of the last commits, for on_stored
        self._decode = decoder  # the hub's verifies signatures (hub.ingest.decode.Verifier)
        self._db_path = db_path
        self._counters = counters
        self._after_commit = after_commit
        self._max_batches = max_batches
        self._max_wait_s = max_wait_ms / 1000
        self._queue: queue.Queue[Incoming | None] = queue.Queue()  # None: stop
        self._idle = threading.Condition()
        self._outstanding = 0
        self._thread: threading.Thread | None = None
        self._stopping = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hub-writer", daemon=True)
        self._thread.start()

    def submit(self, msg: Incoming) -> None:
        """Queue a message; the writer thread decodes it."""
        with self._idle:
            self._outstanding += 1
        self._queue.put(msg)

    def stop(self, timeout: float = 30.0) -> None:
        """Commit and acknowledge everything submitted so far, then end the thread."""
        self._stopping = True
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once every submitted message is committed and acknowledged; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._outstanding == 0, timeout)

    def _connect(self) -> Any:
        return connect(self._db_path)

    def _abort(self, conn: Any) -> None:
        _rollback(conn)

    def _run(self) -> None:
        conn = self._connect()
        try:
            stop = False
            while not stop:
                group, stop = self._collect()
                if group:
                    self._write_with_retry(conn, group)
        finally:
            conn.close()

    def _collect(self) -> tuple[list[Incoming], bool]:
        first = self._queue.get()
        if first is None:
            return [], True
        group = [first]
        deadline = time.monotonic() + self._max_wait_s
        while len(group) < self._max_batches:
            remaining = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return group, True
            group.append(item)
        return group, False

    def _decode_safely(self, msg: Incoming) -> Decoded:
        try:
            return self._decode(msg.topic, msg.payload)
        except Exception as exc:  # the decoders never raise; if one does, the message is set aside
            return DeadLetter("decode_error", type(exc).__name__)

    def _write_with_retry(self, conn: Any, group: list[Incoming]) -> None:
        decoded = [self._decode_safely(m) for m in group]
        while True:
            try:
                acks = self._write_or_set_aside(conn, group, decoded)
                break
            except self.RETRY_ERRORS as exc:  # locked, disk full, I/O, connection lost: may pass, so retry
                self._abort(conn)
                self._counters.add(write_errors=1)
                if self._stopping:
                    log.error(
                        "commit failed while stopping (%s): %d messages left for redelivery", exc, len(group)
                    )
                    self._done(len(group))
                    return
                log.error("commit failed (%s), retrying in %.0f s", exc, RETRY_DELAY_S)
                time.sleep(RETRY_DELAY_S)
        try:
            self._after_commit(group, acks)
        except Exception:
            log.exception("acknowledging a commit failed; the broker will redeliver, stored once")
        stored, self._stored = self._stored, []
        if self._on_stored is not None and stored:
            try:
                self._on_stored(stored)
            except Exception:
                log.exception("the live view missed a commit's batches")
        self._done(len(group))

    def _write_or_set_aside(
        self, conn: Any, group: list[Incoming], decoded: list[Decoded]
    ) -> dict[tuple[str, str], list[int]]:
        """The group in one commit; when a message cannot be stored, one by one, that one dead-lettered.
        RETRY_ERRORS (the database, not a message: locked, I/O, connection lost) go to the caller's retry."""
        try:
            return self._write(conn, group, decoded)
        except self.RETRY_ERRORS:
            raise
        except Exception as exc:  # a message the schema or the database refuses: never retry it for ever
            self._abort(conn)
            self._counters.add(write_errors=1)
            log.error("commit failed (%s); writing the group one message at a time", type(exc).__name__)
            return self._write_one_by_one(conn, group, decoded)

    def _write_one_by_one(
        self, conn: Any, group: list[Incoming], decoded: list[Decoded]
    ) -> dict[tuple[str, str], list[int]]:
        acks: dict[tuple[str, str], list[int]] = defaultdict(list)
        for msg, dec in zip(group, decoded, strict=True):
            try:
                part = self._write(conn, [msg], [dec])
            except self.RETRY_ERRORS:
                raise  # the database itself failed: the group is retried whole, nothing acked
            except Exception as exc:  # this message cannot be stored (OverflowError, IntegrityError...)
                self._abort(conn)
                part = self._write(conn, [msg], [DeadLetter("store_error", type(exc).__name__)])
            for k, seqs in part.items():
                acks[k].extend(seqs)
        return dict(acks)

    def _done(self, n: int) -> None:
        with self._idle:
            self._outstanding -= n
            self._idle.notify_all()

    def _write(
        self, conn: sqlite3.Connection, group: list[Incoming], decoded: list[Decoded]
    ) -> dict[tuple[str, str], list[int]]:
        acks: dict[tuple[str, str], list[int]] = defaultdict(list)
        seen: dict[tuple[str, str, str], str] = {}  # (org, store, agent): an agent id is unique in its store
        stored = records = dups = statuses = 0
        dead: list[str] = []
        new_rows: dict[str, list[tuple[Any, ...]]] = defaultdict(list)  # table rows of the new batches
        member_visits: list[tuple[str, int, int, int, str, str]] = []
        fresh: list[DataBatch] = []
        cur = conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
            for msg, dec in zip(group, decoded, strict=True):
                received_at = iso(msg.received_at)
                if isinstance(dec, DataBatch):
                    cur.execute(
                        "INSERT OR IGNORE INTO batches (agent, org, store, epoch, seq, sent_at, received_at,"
                        " records_n, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            dec.agent,
                            dec.org,
                            dec.store,
                            dec.epoch,
                            dec.seq,
                            dec.sent_at,
                            received_at,
                            dec.records_n,
                            dec.digest,
                        ),
                    )
                    if cur.rowcount == 1:
                        for rtype, rows in dec.rows.items():
                            new_rows[rtype].extend(rows)
                        member_visits.extend(dec.member_visits)
                        fresh.append(dec)
                        stored += 1
                        records += dec.records_n
                    elif _replayed(cur, dec):  # same (agent, epoch, seq), another body: never acked
                        _dead_letter(cur, received_at, msg, "replay", "another body under a stored seq")
                        dead.append("replay")
                        continue
                    else:
                        dups += 1
                    acks[(dec.ack_topic, dec.epoch)].append(dec.seq)
                    seen[(dec.org, dec.store, dec.agent)] = received_at
                elif isinstance(dec, StatusUpdate):
                    _upsert_status(cur, dec, received_at, msg.retained)
                    statuses += 1
                elif isinstance(dec, DeadLetter):
                    _dead_letter(cur, received_at, msg, dec.reason, dec.detail)
                    dead.append(dec.reason)
                else:
                    assert isinstance(dec, Ignored)
            for rtype, rows in new_rows.items():  # the whole group's rows, few statements: hub.store.bulk
                insert_rows(cur, RECORD_TABLES[rtype], rows)
            apply_erasures(cur, new_rows)  # opt-outs that erase (hub/ingest/erase.py)
            if member_visits:  # a gateway key no member holds (any more) stores nothing
                cur.executemany(MEMBER_VISIT_SQL, member_visits)
            cur.executemany(
                "INSERT INTO agents (agent, org, store, last_seen) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (org, store, agent) DO UPDATE SET last_seen = excluded.last_seen",
                [(a, o, s, t) for (o, s, a), t in seen.items()],
            )
            cur.execute("COMMIT")
            self._stored.extend(fresh)
        finally:
            cur.close()
        self._counters.add(
            received=len(group),
            batches_stored=stored,
            records_stored=records,
            duplicates=dups,
            status_updates=statuses,
            commits=1,
        )
        for reason in dead:
            self._counters.dead_letter(reason)
        return dict(acks)


def _replayed(cur: sqlite3.Cursor, dec: DataBatch) -> bool:
    """A stored batch of this (agent, epoch, seq) with another verified digest: not a redelivery."""
    if dec.digest is None:
        return False
    row = cur.execute(
        "SELECT digest FROM batches WHERE agent = ? AND epoch = ? AND seq = ?",
        (dec.agent, dec.epoch, dec.seq),
    ).fetchone()
    return row is not None and row[0] is not None and bytes(row[0]) != dec.digest


def dead_letter_row(
    received_at: str, msg: Incoming, reason: str, detail: str
) -> tuple[str, str, str, str, bytes]:
    """`(received_at, topic, reason, detail, payload)` of a dead letter, on either engine: the payload
    cut to DEAD_PAYLOAD_BYTES, none at all for NO_PAYLOAD_REASONS."""
    payload = b"" if reason in NO_PAYLOAD_REASONS else msg.payload[:DEAD_PAYLOAD_BYTES]
    if len(payload) < len(msg.payload):
        detail = f"{detail} (payload of {len(msg.payload)} bytes, {len(payload)} kept)"
    return received_at, msg.topic[:300], reason, detail[:500], payload


def _dead_letter(cur: sqlite3.Cursor, received_at: str, msg: Incoming, reason: str, detail: str) -> None:
    cur.execute(
        "INSERT INTO dead_letters (received_at, topic, reason, detail, payload) VALUES (?, ?, ?, ?, ?)",
        dead_letter_row(received_at, msg, reason, detail),
    )


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _upsert_status(cur: sqlite3.Cursor, st: StatusUpdate, received_at: str, retained: bool) -> None:
    """A retained status replayed at the hub's subscribe is not a sign of life: keep last_seen then."""
    cur.execute(
        "INSERT INTO agents (agent, org, store, state, last_seen, backlog_batches, clock_synced,"
        " agent_version, counters, status_at, learned) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (org, store, agent) DO UPDATE SET state = excluded.state,"
        " last_seen = CASE WHEN ? THEN coalesce(agents.last_seen, excluded.last_seen)"
        " ELSE excluded.last_seen END,"
        " backlog_batches = excluded.backlog_batches, clock_synced = excluded.clock_synced,"
        " agent_version = excluded.agent_version, counters = excluded.counters,"
        " status_at = excluded.status_at,"  # a last will carries no calibration: keep the one known
        " learned = CASE WHEN excluded.learned = '{}' THEN agents.learned ELSE excluded.learned END",
        (
            st.agent,
            st.org,
            st.store,
            st.state,
            (st.updated_at or None) if retained else received_at,
            st.backlog_batches,
            int(st.clock_synced),
            st.agent_version,
            st.counters_json,
            st.updated_at,
            st.learned_json,
            int(retained),
        ),
    )
