"""Each agent's data in `(epoch, seq)` order, whatever the arrival order, and the gaps in it.

An agent numbers its batches 0, 1, 2, ... within an epoch (a new epoch per outbox file), so a seq below
the highest one received for an epoch that is not in `batches` is a gap: a batch in flight (it fills
when the agent resends), or one the agent dropped at its disk cap or lost with a damaged outbox (it
never fills; the agent's status counters say how many it dropped). Epochs are ordered by the first
arrival of any of their batches (the hub's clock: an agent's may be unsynced), then by id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from hub.store.rows import RECORD_TABLES
from hub.store.sql import Db

# An agent is (org, store, agent) everywhere: agent ids are chosen per store (gw-1 in every store).
# {where} is "" or " WHERE store = ?" (a NULL parameter's type is unknown to PostgreSQL: no `? IS NULL`).
GAPS_SQL = """
SELECT org, store, agent, epoch, prev + 1, seq - 1 FROM (
  SELECT org, store, agent, epoch, seq,
         coalesce(lag(seq) OVER (PARTITION BY org, store, agent, epoch ORDER BY seq), -1) AS prev
  FROM batches{where}
) AS b WHERE seq - prev > 1 ORDER BY org, store, agent, epoch, seq
"""
EPOCHS_SQL = """
SELECT org, store, agent, epoch, count(*), min(seq), max(seq), min(received_at) FROM batches{where}
GROUP BY org, store, agent, epoch ORDER BY org, store, agent, min(received_at), epoch
"""
AGENTS_SQL = """
SELECT agent, org, store, state, last_seen, backlog_batches, clock_synced, agent_version, counters
FROM agents{where} ORDER BY store, org, agent
"""
AgentId = tuple[str, str, str]  # (org, store, agent)


@dataclass(frozen=True, slots=True)
class Gap:
    """Seqs `first`..`last` (inclusive) of `epoch` that have not arrived."""

    epoch: str
    first: int
    last: int

    @property
    def missing_n(self) -> int:
        return self.last - self.first + 1


@dataclass(frozen=True, slots=True)
class EpochSummary:
    """One outbox file's batches as received: how many, the seq range, its gaps."""

    epoch: str
    batches: int
    first_seq: int
    last_seq: int
    first_received_at: str
    gaps: tuple[Gap, ...] = ()

    @property
    def missing_n(self) -> int:
        """Seqs from 0 to last_seq that have not arrived."""
        return self.last_seq + 1 - self.batches


@dataclass(frozen=True)
class AgentSummary:
    """What the hub knows of one agent: its last status and its data, epoch by epoch."""

    agent: str
    org: str
    store: str
    state: str  # online, offline (its last will) or unknown (no status received)
    last_seen: str | None
    backlog_batches: int | None
    clock_synced: bool | None
    agent_version: str | None
    counters: dict[str, int] = field(default_factory=dict)
    epochs: tuple[EpochSummary, ...] = ()

    @property
    def batches(self) -> int:
        return sum(e.batches for e in self.epochs)

    @property
    def gaps(self) -> list[Gap]:
        return [g for e in self.epochs for g in e.gaps]

    @property
    def missing_n(self) -> int:
        return sum(e.missing_n for e in self.epochs)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view, every gap range included."""
        return {
            "agent": self.agent, "org": self.org, "store": self.store, "state": self.state,
            "last_seen": self.last_seen, "backlog_batches": self.backlog_batches,
            "clock_synced": self.clock_synced, "agent_version": self.agent_version,
            "batches": self.batches, "missing_n": self.missing_n, "counters": self.counters,
            "epochs": [{"epoch": e.epoch, "batches": e.batches, "first_seq": e.first_seq,
                        "last_seq": e.last_seq, "first_received_at": e.first_received_at,
                        "missing_n": e.missing_n, "gaps": [[g.first, g.last] for g in e.gaps]}
                       for e in self.epochs],
        }


def _store_filter(store: str | None, alias: str = "") -> tuple[str, tuple[str, ...]]:
    """A WHERE on the store, or none: the SQL and its parameters."""
    return ("", ()) if store is None else (f" WHERE {alias}store = ?", (store,))


def agent_summaries(db: Db, store: str | None = None) -> list[AgentSummary]:
    """Every agent the hub has heard from (by status or data), by store then agent: one row per
    (org, store, agent), so gw-1 of one store never hides gw-1 of another."""
    where, params = _store_filter(store)
    gaps: dict[tuple[str, str, str, str], list[Gap]] = {}
    for org, st, agent, epoch, first, last in db.execute(GAPS_SQL.format(where=where), params):
        gaps.setdefault((org, st, agent, epoch), []).append(Gap(epoch, int(first), int(last)))
    epochs: dict[AgentId, list[EpochSummary]] = {}
    for org, st, agent, epoch, n, lo, hi, first_at in db.execute(EPOCHS_SQL.format(where=where), params):
        epochs.setdefault((org, st, agent), []).append(EpochSummary(
            epoch, int(n), int(lo), int(hi), str(first_at), tuple(gaps.get((org, st, agent, epoch), ()))))
    out = []
    rows = db.execute(AGENTS_SQL.format(where=where), params).fetchall()
    for agent, org, st, state, last_seen, backlog, synced, version, counters in rows:
        out.append(AgentSummary(
            agent=agent, org=org, store=st, state=state or "unknown", last_seen=last_seen,
            backlog_batches=None if backlog is None else int(backlog),
            clock_synced=None if synced is None else bool(synced), agent_version=version,
            counters=json.loads(counters) if counters else {}, epochs=tuple(epochs.get((org, st, agent), ())),
        ))
    return out


def _in_order(agent: str, store: str | None, select: str) -> tuple[str, tuple[str, ...]]:
    """`select` (columns of `r`, then ` FROM table r`) of one agent's rows, joined to its epochs' first
    arrivals so that ORDER BY ep.first_at, r.epoch, r.seq gives the agent's order."""
    on_store = "" if store is None else " AND store = ?"
    sql = (f"WITH ep AS (SELECT epoch, min(received_at) AS first_at FROM batches WHERE agent = ?{on_store}"
           f" GROUP BY epoch) SELECT {select} JOIN ep ON ep.epoch = r.epoch"
           f" WHERE r.agent = ?{on_store.replace('store', 'r.store')}")
    params = (agent,) if store is None else (agent, store)
    return sql, params + params


def batches_in_order(db: Db, agent: str, store: str | None = None) -> list[tuple[str, int, str, int]]:
    """`(epoch, seq, received_at, records_n)` of an agent's batches: epochs by first arrival, then seq.
    `store` picks the agent of that store where several stores have one of that id."""
    sql, params = _in_order(agent, store, "r.epoch, r.seq, r.received_at, r.records_n FROM batches r")
    rows = db.execute(f"{sql} ORDER BY ep.first_at, r.epoch, r.seq", params).fetchall()
    return [(str(e), int(s), str(r), int(n)) for e, s, r, n in rows]


def records_in_order(db: Db, agent: str, record_type: str, store: str | None = None) -> list[dict[str, Any]]:
    """An agent's records of one type as rows, in `(epoch, seq, idx)` order (epochs by first arrival)."""
    spec = RECORD_TABLES[record_type]  # a KeyError for an unknown type, never SQL from input
    names = list(spec.columns)
    sql, params = _in_order(agent, store, f"{', '.join(f'r.{n}' for n in names)} FROM {spec.table} r")
    rows = db.execute(f"{sql} ORDER BY ep.first_at, r.epoch, r.seq, r.idx", params).fetchall()
    return [dict(zip(names, row, strict=True)) for row in rows]
