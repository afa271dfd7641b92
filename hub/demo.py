"""The demo: one seeded store-day through the whole path, on this machine, with embedded defaults.

generate the day (capture, POS sales, truth) -> start a local mosquitto on a free port -> start the hub
(SQLite) -> run the agent on the capture until the hub has acknowledged every batch -> import the POS
sales -> print the store's daily report, and how it compares with the generator's truth.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TextIO

from agent.app import AgentApp
from agent.config import AgentConfig, MqttConfig, SourceConfig
from agent.simulate import generate_day
from hub.app import Hub
from hub.config import DatabaseConfig, HubConfig, StoreConfig
from hub.config import MqttConfig as HubMqttConfig
from hub.imports import importer
from hub.joins import daily_report
from hub.localbroker import LocalBroker
from hub.reports import formatter
from hub.store import open_db

log = logging.getLogger("footfall.demo")
ORG, STORE, TZ = "demo", "demo-store", "Europe/Prague"


def run_demo(out_dir: Path | None, day: date, *, seed: int, scale: float, fmt: str, out: TextIO) -> int:
    """Run the whole path; the report goes to `out`, progress to the log. Returns an exit code."""
    with tempfile.TemporaryDirectory(prefix="footfall-demo-") as tmp:
        work = out_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        files = generate_day(work / "data", day, seed=seed, store=STORE, timezone=TZ, scale=scale)
        log.info("generated %s (%.1f s)", files.pcap.name, time.monotonic() - t0)
        broker = LocalBroker(work, persistence=False).start()
        try:
            hub_cfg = HubConfig(
                mqtt=HubMqttConfig(port=broker.port), database=DatabaseConfig(path=str(work / "hub.db")),
                stores={STORE: StoreConfig(timezone=TZ)},
            )
            agent_cfg = replace(
                AgentConfig(org=ORG, store=STORE, agent="gw-1", timezone=TZ, state_dir=str(work / "agent")),
                source=SourceConfig(type="pcap", path=str(files.pcap)), mqtt=MqttConfig(port=broker.port),
            )
            with Hub(hub_cfg) as hub:
                t0 = time.monotonic()
                AgentApp(agent_cfg).run(threading.Event(), drain_timeout_s=60.0)
                hub.wait_idle(10.0)
                log.info("agent replayed the day and the hub committed it (%.1f s)", time.monotonic() - t0)
            _import_and_report(hub_cfg, files.pos_csv, day, fmt, out)
        finally:
            broker.stop()
        if fmt == "table":
            _compare(files.truth_json, hub_cfg, day, out)
        if out_dir is not None:
            log.info("files kept in %s", out_dir)
    return 0


def _import_and_report(cfg: HubConfig, pos_csv: Path, day: date, fmt: str, out: TextIO) -> None:
    db = open_db(cfg.database.path)
    try:
        result = importer("pos")(db, pos_csv, cfg, progress=False)
        log.info("%s", result.summary())
        formatter(fmt)(daily_report(db.conn, cfg, STORE, day), out)
    finally:
        db.close()


def _compare(truth_json: Path, cfg: HubConfig, day: date, out: TextIO) -> None:
    """One line per headline figure: what the hub reports next to what the generator knows."""
    truth = json.loads(truth_json.read_text())["totals"]
    db = open_db(cfg.database.path)
    try:
        got = daily_report(db.conn, cfg, STORE, day).day
    finally:
        db.close()
    print("\nagainst the generator's truth (the demo knows who was a visitor):", file=out)
    for name, ours, true in (("visitors", got.visitors, truth["visitors"]),
                             ("passers-by", got.passersby, truth["passersby"]),
                             ("transactions", got.transactions, truth["transactions"])):
        print(f"  {name:<13} hub {ours!s:>6}   truth {true:>6}", file=out)
