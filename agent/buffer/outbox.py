"""The agent's durable outbox: batches wait here, encoded, until the hub acknowledges their commit.

docs/reliability.md: a batch leaves the outbox only on the hub's end-to-end ack, never on a broker's PUBACK,
and a kill -9 loses nothing committed (WAL, `synchronous` FULL by default, one transaction per append).
Disk cap (agent/buffer/cap.py): at the cap an append drops the oldest raw data first, then the oldest of
the rest, and counts it in `meta`, all in its transaction; a dropped seq is a gap the hub never fills.
WAL: autocheckpoints keep it within its share of the cap; a TRUNCATE checkpoint empties it at open, at
close, when the backlog empties and whenever it outgrew journal_size_limit.

Identity: the file holds one random `epoch`, made when the file is created; `seq` is gap-free per epoch,
kept in the meta table so that acking everything never lets a number be reused. `(agent, epoch, seq)`
is what the hub deduplicates on, so a new file (a wiped gateway) must never reuse an old epoch.

States of a batch: `queued` (never confirmed by the broker) -> `sent` (the broker PUBACKed it; resent
if the hub does not ack it within `resend_after_s`) -> deleted (the hub acked it). Each resend of the
same batch waits twice as long as the one before, up to RESEND_BACKOFF_MAX times `resend_after_s`: a hub
that is slow rather than gone (a long drain after an outage) is not sent every batch again and again,
which would double its work just when it is behind (bench/soak.py --rate 100 showed that spiral).

Threads: one connection guarded by one lock. SQLite admits one writer at a time anyway, so a second
connection would only add SQLITE_BUSY retries between our own two threads, twice the page cache on a
64 MB gateway, and a second place to get seq allocation wrong. Every call is short (one statement or one
small transaction) and both callers work in batches, so the lock is never held for long.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any, NamedTuple

import sqlite_utils
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.buffer import cap, sqlitefile
from agent.buffer.cap import DEFAULT_CAP_BYTES, Budget, Candidate
from agent.buffer.erase import erase_batches
from agent.buffer.sqlitefile import OutboxCorruptError, checkpoint, disk_bytes, file_bytes, is_corruption
from agent.wire import Envelope, Record, encode_envelope
from agent.wire.records import iso
from agent.wire.topics import Topics

log = logging.getLogger(__name__)

OUTBOX_SCHEMA = 1
SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")

# Priority per batch, for the disk-cap drop policy (docs/reliability.md): raw data goes first, closed
# visits and counts last. Batches never mix priorities, so dropping raw data never drops a count.
PRIORITY_RAW = 0
PRIORITY_AGGREGATE = 1
# Record types dropped first at the cap: raw data (the debug option's hashed sightings; not on the wire
# yet), and the live view's presence counts, worth little once old (a report counts visits, not them).
RAW_RECORD_TYPES: frozenset[str] = frozenset({"sighting", "presence"})

QUEUED = "queued"
SENT = "sent"
DROP_LOG_EVERY_S = 600.0
RESEND_BACKOFF_DOUBLINGS = 3
RESEND_BACKOFF_MAX = 1 << RESEND_BACKOFF_DOUBLINGS  # the longest wait: 8 x resend_after_s (4 min by default)
# attempts = PUBACKs so far: 1 -> 1 x resend_after_s, 2 -> 2 x, 3 -> 4 x, then 8 x (the shift is capped,
# not its result: 1 << 63 and beyond would be negative or 0 in SQLite, and the batch due at every pass)
_BACKOFF = f"(1 << min(max(attempts - 1, 0), {RESEND_BACKOFF_DOUBLINGS}))"


def priority_of(record: Record, raw_types: Collection[str] = RAW_RECORD_TYPES) -> int:
    """The drop priority of a record: raw data is dropped before aggregates at the disk cap."""
    return PRIORITY_RAW if record.type in raw_types else PRIORITY_AGGREGATE


class DueBatch(NamedTuple):
    """A batch to publish; `attempts` > 0 means the broker had confirmed it before (a resend)."""

    seq: int
    payload: bytes
    attempts: int


@dataclass(frozen=True, slots=True)
class Ids:
    """Who the outbox's envelopes are from."""

    org: str
    store: str
    agent: str


class Outbox:
    """A SQLite file of encoded batches waiting for the hub's ack; safe to share between two threads."""

    def __init__(self, path: Path, org: str, store: str, agent: str, *, synchronous: str = "FULL",
                 max_records_per_batch: int = 500, cap_bytes: int = DEFAULT_CAP_BYTES,
                 quick_check: bool = True, raw_types: Collection[str] = RAW_RECORD_TYPES,
                 signing_key: Ed25519PrivateKey | None = None) -> None:
        """Open or create the file; OutboxCorruptError when it is damaged (agent.buffer.recover's case).

        `raw_types`: record types dropped first at the cap; `cap_bytes` bounds db + WAL + shm;
        `signing_key`: the gateway's Ed25519 key, signing every envelope at append (None: unsigned).
        """
        sync = synchronous.upper()
        if sync not in SYNCHRONOUS_MODES:
            modes = ", ".join(SYNCHRONOUS_MODES)
            raise ValueError(f"synchronous must be one of {modes}, not {synchronous!r}")
        if max_records_per_batch < 1:
            raise ValueError("max_records_per_batch must be at least 1")
        self.path = Path(path)
        self.ids = Ids(org, store, agent)
        self.max_records_per_batch = max_records_per_batch
        self.budget = Budget(cap_bytes)
        self.raw_types = frozenset(raw_types)
        self.signing_key = signing_key
        self._lock = threading.Lock()
        self._last_drop_log = float("-inf")
        self._handed_out: set[int] = set()  # seqs due_batches gave the sink: maybe at the hub already
        sqlitefile.make_private(self.path)
        conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=10.0)
        self._db = sqlite_utils.Database(conn, execute_plugins=False)
        self._closed = False
        try:
            self.epoch = self._open(sync, quick_check)
        except sqlite3.Error as exc:
            conn.close()
            if is_corruption(exc):
                raise OutboxCorruptError(f"{type(exc).__name__}: {exc}") from exc
            raise
        except BaseException:
            conn.close()
            raise

    def _open(self, sync: str, quick_check: bool) -> str:
        db = self._db
        if quick_check:
            sqlitefile.quick_check(db.conn)
        (page_size,) = db.execute("PRAGMA page_size").fetchone()
        self.budget = Budget(self.budget.cap_bytes, int(page_size))
        db.enable_wal()
        db.execute(f"PRAGMA synchronous={sync};")
        db.execute(f"PRAGMA journal_size_limit={self.budget.journal_limit_bytes};")
        db.execute(f"PRAGMA wal_autocheckpoint={self.budget.checkpoint_pages};")
        epoch = self._create_schema()
        checkpoint(db.conn)
        return epoch

    def _create_schema(self) -> str:
        db = self._db
        with db.atomic():
            db.table("meta").create({"key": str, "value": str}, pk="key", if_not_exists=True)
            db.table("batches").create(
                {"seq": int, "priority": int, "state": str, "made_at": float, "sent_at": float,
                 "attempts": int, "records_n": int, "bytes_n": int, "payload": bytes},
                pk="seq", not_null={"priority", "state", "made_at", "attempts", "records_n", "bytes_n",
                                    "payload"},
                defaults={"attempts": 0}, if_not_exists=True,
            )
            db.table("batches").create_index(["priority", "seq"], if_not_exists=True, find_unique_name=True)
            db.table("state").create({"name": str, "value": str}, pk="name", if_not_exists=True)
            db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?), ('epoch', ?), "
                       "('next_seq', '0')", [str(OUTBOX_SCHEMA), secrets.token_hex(8)])
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if meta["schema"] != str(OUTBOX_SCHEMA):
            raise RuntimeError(f"{self.path}: outbox schema {meta['schema']} is not {OUTBOX_SCHEMA}")
        return str(meta["epoch"])

    @contextmanager
    def _locked(self) -> Iterator[sqlite_utils.Database]:
        with self._lock:
            if self._closed:
                raise RuntimeError("the outbox is closed")
            yield self._db

    # -- the pipeline's side ----------------------------------------------------------------------------

    def append(self, records: Sequence[Record], now: float) -> list[int]:
        """Store `records` as batches of at most max_records_per_batch, in one transaction; their seqs.

        Records are grouped by priority (aggregates first) so that a batch never mixes them. At the disk
        cap, older batches (or some of these) are dropped and counted; the seqs of those stored are returned.
        """
        groups: dict[int, list[Record]] = {}
        for rec in records:
            groups.setdefault(priority_of(rec, self.raw_types), []).append(rec)
        if not groups:
            return []
        sent_at = iso(now)
        with self._locked() as db:
            with db.atomic():
                rows, drops = self._append(db, groups, sent_at, now)
            self._checkpoint_if_grown()
        if drops:
            self._log_drops(drops)
        return [int(r["seq"]) for r in rows]

    def _append(self, db: sqlite_utils.Database, groups: dict[int, list[Record]], sent_at: str,
                now: float) -> tuple[list[dict[str, Any]], list[Candidate]]:
        seq = int(db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()[0])
        rows: list[dict[str, Any]] = []
        for priority in sorted(groups, reverse=True):
            recs = groups[priority]
            for i in range(0, len(recs), self.max_records_per_batch):
                chunk = tuple(recs[i:i + self.max_records_per_batch])
                env = Envelope(org=self.ids.org, store=self.ids.store, agent=self.ids.agent,
                               epoch=self.epoch, seq=seq, sent_at=sent_at, records=chunk)
                payload = encode_envelope(env, key=self.signing_key)
                rows.append({"seq": seq, "priority": priority, "state": QUEUED, "made_at": now,
                             "sent_at": None, "attempts": 0, "records_n": len(chunk),
                             "bytes_n": len(payload), "payload": payload})
                seq += 1
        db.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'", [str(seq)])
        return cap.store_within(db.conn, self.budget, rows)

    def _log_drops(self, drops: list[Candidate]) -> None:
        """One warning per DROP_LOG_EVERY_S at most: offline for days at the cap drops at every append."""
        if (mono := time.monotonic()) - self._last_drop_log >= DROP_LOG_EVERY_S:
            self._last_drop_log = mono
            log.warning("outbox at its disk cap (%d bytes): dropped %d batches, oldest raw data first; "
                        "totals so far: %s", self.budget.cap_bytes, len(drops), self.counters())

    # -- the sink's side --------------------------------------------------------------------------------

    def due_batches(self, now: float, limit: int, resend_after_s: float) -> list[DueBatch]:
        """Queued batches, and sent ones unacked for resend_after_s, oldest seq first.

        A `sent_at` later than now + resend_after_s means the clock went back (no RTC, then NTP): such
        a batch is due too, or it would wait until the clock caught up.
        """
        if limit <= 0:
            return []
        with self._locked() as db:
            rows = db.execute(
                "SELECT seq, payload, attempts FROM batches WHERE state = ? "
                f"OR (state = ? AND (sent_at + ? * {_BACKOFF} <= ? OR sent_at > ?)) ORDER BY seq LIMIT ?",
                [QUEUED, SENT, resend_after_s, now, now + resend_after_s, limit],
            ).fetchall()
            self._handed_out.update(int(s) for s, _, _ in rows)
        return [DueBatch(int(s), bytes(p), int(a)) for s, p, a in rows]

    def due(self, now: float, limit: int, resend_after_s: float) -> list[tuple[int, bytes]]:
        """`(seq, payload)` of the batches to publish now (see due_batches)."""
        return [(b.seq, b.payload) for b in self.due_batches(now, limit, resend_after_s)]

    def next_resend_at(self, resend_after_s: float, exclude: Collection[int] = ()) -> float | None:
        """When the oldest sent batch (not in `exclude`, the ones in flight) becomes due again, or None."""
        skip = sorted(int(s) for s in exclude)
        marks = ",".join("?" * len(skip))
        with self._locked() as db:
            (due,) = db.execute(
                f"SELECT min(sent_at + ? * {_BACKOFF}) FROM batches WHERE state = ? AND seq NOT IN ({marks})",
                [resend_after_s, SENT, *skip],
            ).fetchone()
        return None if due is None else float(due)

    def mark_sent(self, seqs: Sequence[int], now: float) -> None:
        """The broker confirmed these batches (PUBACK): wait for the hub before resending them (backoff:
        RESEND_BACKOFF_MAX)."""
        if not seqs:
            return
        with self._locked() as db, db.atomic():
            db.conn.executemany(
                "UPDATE batches SET state = ?, sent_at = ?, attempts = attempts + 1 WHERE seq = ?",
                [(SENT, now, int(s)) for s in seqs],
            )

    def acked(self, epoch: str, seqs: Sequence[int]) -> int:
        """Delete the batches the hub committed; an ack for another epoch deletes nothing. How many went."""
        if epoch != self.epoch or not seqs:
            return 0
        with self._locked() as db:
            with db.atomic():
                before = db.conn.total_changes
                db.conn.executemany("DELETE FROM batches WHERE seq = ?", [(int(s),) for s in set(seqs)])
                self._handed_out.difference_update(int(s) for s in seqs)
                gone = db.conn.total_changes - before
            if gone and db.execute("SELECT 1 FROM batches LIMIT 1").fetchone() is None:
                checkpoint(db.conn)  # everything delivered: the cheapest moment to empty the WAL
            else:
                self._checkpoint_if_grown()
            return gone

    def backlog(self) -> int:
        """Batches not yet acked by the hub (queued or sent)."""
        with self._locked() as db:
            return int(db.execute("SELECT count(*) FROM batches").fetchone()[0])

    def states(self) -> dict[str, int]:
        """Batches per state, for status and tests."""
        with self._locked() as db:
            return {str(s): int(n) for s, n in db.execute(
                "SELECT state, count(*) FROM batches GROUP BY state").fetchall()}

    def erase(self, devices: Collection[tuple[str, str]]) -> int:
        """Remove the visits and flags of these (device key, key window) from every batch the sink has
        not taken yet (agent/buffer/erase.py); how many records went."""
        with self._locked() as db, db.atomic():
            return erase_batches(db.conn, Topics(*astuple(self.ids)), devices, skip=self._handed_out,
                                 state=QUEUED, key=self.signing_key)

    # -- the disk cap and its counters ------------------------------------------------------------------

    def disk_bytes(self) -> int:
        """Bytes on disk of the database, its WAL and its shared-memory index (what the cap bounds)."""
        return disk_bytes(self.path)

    def counters(self) -> dict[str, int]:
        """For the status topic: dropped batches and records by priority, corruptions recovered, bytes."""
        with self._locked() as db:
            found = cap.drop_counters(db.conn)
            row = db.execute("SELECT value FROM meta WHERE key = 'corrupt_recovered'").fetchone()
        out = {f"outbox_{k}": v for k, v in found.items()}
        out["outbox_corrupt_recovered"] = int(row[0]) if row else 0
        out["outbox_bytes"] = self.disk_bytes()
        out["outbox_cap_bytes"] = self.budget.cap_bytes
        return out

    def set_meta(self, key: str, value: str) -> None:
        """Set a meta entry (e.g. corrupt_recovered, written by agent.buffer.recover)."""
        with self._locked() as db, db.atomic():
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", [key, value])

    def checkpoint(self) -> bool:
        """Copy the WAL into the database and truncate it to 0 bytes; False if a reader kept it busy."""
        with self._locked() as db:
            return checkpoint(db.conn)

    def _checkpoint_if_grown(self) -> None:
        if file_bytes(self.path.with_name(self.path.name + "-wal")) > self.budget.journal_limit_bytes:
            checkpoint(self._db.conn)

    # -- pipeline state for restarts --------------------------------------------------------------------

    def save_state(self, name: str, value: dict[str, Any]) -> None:
        """Persist a stage's exported state (JSON) under `name`, replacing the previous one."""
        text = json.dumps(value, separators=(",", ":"))
        with self._locked() as db, db.atomic():
            db.execute("INSERT OR REPLACE INTO state(name, value) VALUES (?, ?)", [name, text])

    def load_state(self, name: str) -> dict[str, Any] | None:
        """The state last saved under `name`, or None."""
        with self._locked() as db:
            row = db.execute("SELECT value FROM state WHERE name = ?", [name]).fetchone()
        if row is None:
            return None
        value = json.loads(row[0])
        if not isinstance(value, dict):
            raise ValueError(f"state {name!r} is not an object")
        return value

    def close(self) -> None:
        """Close the file; later calls raise RuntimeError. Closing twice is harmless."""
        with self._lock:
            if not self._closed:
                self._closed = True
                try:
                    checkpoint(self._db.conn)
                except sqlite3.Error as exc:  # closing must not fail; the WAL is replayed at the next open
                    log.warning("outbox checkpoint at close failed: %s", exc)
                self._db.close()
                log.debug("outbox closed")

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
