"""When a period's figures are final, with what the hub knows.

An agent sends an hour's (or day's) device counts once every visit overlapping it has closed or reached
visitor level: at the period's end + its visit timeout (agent/pipeline/aggregate.py). So a closed period
of a store is final when

1. it closed at least `publish.delay_s` ago,
2. every agent expected for the store has sent its count record for the period (expected: the agents
   that sent an hour count for the store on this local day or the one before; a door-only gateway sends
   none and is not waited for), or, failing that, `publish.final_wait_s` has passed since it closed (a
   gateway offline for hours: what it sends later is a correction only if it moves a figure by k or
   more), and
3. its data has settled: no new row has touched it for `publish.settle_s` (at most ten times that
   after the first touch), so a draining backlog is taken whole.

A day is final on the same terms with the agents' day records, once none of its hours is still waiting.
"""

from __future__ import annotations

from hub.store.sql import Db


def expected_agents(db: Db, store: str, day_t0: int, day_t1: int) -> set[str]:
    """Agents that sent an hour count for `store` on this local day or the one before."""
    return {str(a) for (a,) in db.execute(
        "SELECT DISTINCT agent FROM periods WHERE store = ? AND period = 'hour'"
        " AND start_epoch_s >= ? AND start_epoch_s < ?", (store, day_t0 - 86400, day_t1))}


def reported(db: Db, store: str, period: str, start: int) -> set[str]:
    """Agents whose count record of `period` starting at `start` is in."""
    return {str(a) for (a,) in db.execute(
        "SELECT DISTINCT agent FROM periods WHERE store = ? AND period = ? AND start_epoch_s = ?",
        (store, period, start))}


def records_in(db: Db, store: str, period: str, start: int, expected: set[str]) -> bool:
    """True once every expected agent's record of the period is in."""
    return not expected or expected <= reported(db, store, period, start)
