"""Helpers for the live view's tests: a hub with its live page, members imported from a CRM file, rows
written straight into either engine."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent.wire.records import Arrival, Presence, iso
from hub.config import HubConfig, LiveConfig, TrustConfig
from hub.imports import importer
from hub.imports.crm import gateway_key
from hub.pki.registry import optout_secret
from hub.store.postgres.partitions import Partitions, months
from hub.store.postgres.schema import PARTITIONED
from hub.store.sql import Db, open_database
from tests.support.mosquitto import free_port

MACS = {"M1": "00:1b:63:a1:b2:c3", "M2": "f4:f5:e8:12:34:56"}


def live_config(base: HubConfig, tmp: Path, http: bool = True) -> HubConfig:
    """The test hub's config with the live page on a free port and a PKI folder (the gateway secret)."""
    (tmp / "pki").mkdir(exist_ok=True)
    return replace(
        base,
        trust=TrustConfig(pki_dir=str(tmp / "pki"), require_signatures=False),
        live=LiveConfig(http=f"127.0.0.1:{free_port()}" if http else ""),
        groups={"south": ["brno-1", "brno-2"]},
    )


def insert(db: Db, table: str, sql: str, rows: Iterable[tuple[Any, ...]], epoch_at: int = -1) -> None:
    """Rows straight into a table, as another process's commit; on PostgreSQL the months' partitions of
    row[epoch_at] (the time column) are made first, as the ingest writer makes them."""
    rows = list(rows)
    if db.engine == "postgresql" and table in PARTITIONED:
        Partitions().ensure(db.raw, {table: months(int(r[epoch_at]) for r in rows)})
    for row in rows:
        db.execute(sql, row)


def import_members(config: HubConfig, tmp: Path, consent: str = "yes", name: str = "crm.csv") -> None:
    """M1 and M2 with their phones, consent as given (the real CRM import)."""
    path = tmp / name
    path.write_text("member_id,segment,tier,join_date,consent,device_mac\n" + "".join(
        f"{m},family,gold,2024-05-01,{consent},{mac}\n" for m, mac in MACS.items()))
    db = open_database(config.database)
    try:
        importer("crm")(db, path, config)
    finally:
        db.close()


def gateway_key_of(config: HubConfig, member: str) -> str:
    """What an agent tags the member's phone with (its gateway key)."""
    mac = bytes.fromhex(MACS[member].replace(":", ""))
    return gateway_key(optout_secret(Path(config.trust.pki_dir)), mac)


def presence(present_n: int, entered_n: int, at: float | None = None) -> Presence:
    return Presence(taken_at=iso(time.time() if at is None else at), present_n=present_n, entered_n=entered_n,
                    new_n=entered_n * 2, recent_s=300)


def arrival(config: HubConfig, member: str, at: float | None = None) -> Arrival:
    return Arrival(seen_at=iso(time.time() if at is None else at), member_key=gateway_key_of(config, member))
