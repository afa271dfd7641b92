"""`footfall-hub stores`: configured stores and stores seen in the data, their last data and agents."""

from __future__ import annotations

from dataclasses import dataclass

from agent.wire.records import iso
from hub.config import HubConfig
from hub.store.sql import Db


@dataclass(frozen=True)
class StoreSummary:
    store: str
    configured: bool
    timezone: str
    last_data_at: str | None  # newest footfall record time (UTC), visits, periods or doors
    last_sale_at: str | None
    agents: tuple[str, ...]
    online_agents: int
    groups: tuple[str, ...]


def store_summaries(db: Db, config: HubConfig) -> list[StoreSummary]:
    """Every store of the config or the database, in id order."""
    last: dict[str, int] = {}
    for sql in (
        "SELECT store, max(started_epoch_s) FROM visits GROUP BY store",
        "SELECT store, max(start_epoch_s) FROM periods GROUP BY store",
        "SELECT store, max(minute_epoch_s) FROM doors GROUP BY store",
    ):
        for store, t in db.execute(sql):
            last[store] = max(last.get(store, t), t)
    sales = dict(db.execute("SELECT store, max(at_epoch_s) FROM pos_transactions GROUP BY store"))
    agents: dict[str, list[tuple[str, str]]] = {}
    for agent, store, state in db.execute("SELECT agent, store, state FROM agents ORDER BY agent"):
        agents.setdefault(store, []).append((agent, state))
    out = []
    for store in sorted(set(config.stores) | set(last) | set(sales) | set(agents)):
        mine = agents.get(store, [])
        out.append(StoreSummary(
            store=store,
            configured=store in config.stores,
            timezone=config.store(store).timezone or config.default_timezone,
            last_data_at=iso(last[store]) if store in last else None,
            last_sale_at=iso(sales[store]) if store in sales else None,
            agents=tuple(a for a, _ in mine),
            online_agents=sum(1 for _, state in mine if state == "online"),
            groups=tuple(g for g, members in sorted(config.groups.items()) if store in members),
        ))
    return out
