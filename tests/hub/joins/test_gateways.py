"""A store with two gateways counts each person once: the figures of one gateway, whatever the second hears.

A generated store-day is replayed by the real agent (pipeline, outbox, MQTT) through a real mosquitto
into the real hub: once by one gateway alone, once by two gateways of the same store sharing the
store's key chain (as enrolment gives them), the second hearing the same air until it is unplugged at
15:00 local. Visits of one device key from both gateways merge in the hub.

The second gateway starts with the first: a randomized phone's key is derived from the first MAC its
gateway grouped (agent/pipeline/group.py), so a gateway switched on later may key it differently; linking
such fragments is the agent's grouping's job, not the hub's merge.
"""

from __future__ import annotations

import shutil
import struct
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent.app import AgentApp
from agent.config import AgentConfig, MqttConfig, SourceConfig
from agent.simulate import generate_day
from agent.sources.capture_file import CaptureFile
from hub.app import Hub
from hub.config import DatabaseConfig, HubConfig, StoreConfig, TrustConfig
from hub.config import MqttConfig as HubMqttConfig
from hub.joins import daily_report
from hub.store.sql import open_database
from tests.support.mosquitto import Mosquitto

DAY = date(2026, 11, 26)
STORE, TZ = "demo-store", "Europe/Prague"
FIGURES = ("visitors", "passersby", "traffic_in", "visitor_visits_n", "median_dwell_s", "engaged_5_20_min_n",
           "engaged_20_60_min_n", "engaged_1_6_h_n", "engaged_6_h_plus_n", "occupancy", "capture_rate")


def _overlap(capture: Path, out: Path, until_hour: int = 15) -> Path:
    """The frames heard before local `until_hour`: a second gateway that hears the same people and is
    unplugged in the afternoon (its open visits end then, parts of the first gateway's)."""
    header = capture.read_bytes()[:24]
    assert struct.unpack("<I", header[:4]) == (0xA1B2C3D4,)  # little-endian classic pcap (agent.simulate)
    t_hi = datetime.combine(DAY, time(until_hour), ZoneInfo(TZ)).timestamp()
    with out.open("wb") as fh:
        fh.write(header)
        for ts, frame in CaptureFile(capture):
            if ts < t_hi:
                sec = int(ts)
                fh.write(struct.pack("<IIII", sec, round((ts - sec) * 1e6), len(frame), len(frame)) + frame)
    return out


def _run(  # noqa: PLR0917 -- a private helper of one test
    tmp: Path, name: str, port: int, captures: dict[str, Path], chain: Path | None, database: DatabaseConfig
) -> dict[str, Any]:
    """Replay each gateway's capture into a fresh hub (an empty `database`); the day's figures."""
    work = tmp / name
    hub_cfg = HubConfig(mqtt=HubMqttConfig(port=port, allow_plain_loopback=True, client_id=f"hub-{name}"),
                        trust=TrustConfig(require_signatures=False),
                        database=database,
                        stores={STORE: StoreConfig(timezone=TZ)})
    work.mkdir()
    with Hub(hub_cfg) as hub:
        for agent, capture in captures.items():
            state = work / agent
            state.mkdir()
            if chain is not None:  # the store's key chain, as every gateway of the store gets it at enrolment
                shutil.copy(chain, state / "keychain.json")
            base = AgentConfig(org="demo", store=STORE, agent=agent, timezone=TZ, state_dir=str(state))
            cfg = replace(base, source=SourceConfig(type="pcap", path=str(capture)),
                          mqtt=MqttConfig(port=port, allow_plain_loopback=True, signing_key_file="",
                                          client_id=f"{name}-{agent}"))
            AgentApp(cfg).run(threading.Event(), drain_timeout_s=60.0)
            assert hub.wait_idle(20.0)
            if chain is None:
                chain = state / "keychain.json"
    with open_database(hub_cfg.database) as db:
        report = daily_report(db, hub_cfg, STORE, DAY)
    figures: dict[str, Any] = {f: getattr(report.day, f) for f in FIGURES}
    figures["hours_traffic_in"] = [h.traffic_in for h in report.hours]
    figures["hours_occupancy"] = [h.occupancy for h in report.hours]
    figures["agents"] = report.agents
    return figures


@pytest.fixture
def second_database(hub_database: DatabaseConfig, request: pytest.FixtureRequest,
                    tmp_path: Path) -> Iterator[DatabaseConfig]:
    """Another empty database on hub_database's engine (each replay fills a fresh hub's)."""
    if hub_database.engine == "sqlite":
        yield DatabaseConfig(path=str(tmp_path / "second.db"))
        return
    cluster = request.getfixturevalue("postgres_cluster")
    url = cluster.create_database(migrated=True)
    try:
        yield DatabaseConfig(path=str(tmp_path / "second.db"), url=url)
    finally:
        cluster.drop_database(url)


def test_two_gateways_hearing_the_same_people_give_the_single_gateway_figures(
    tmp_path: Path, mosquitto: Mosquitto, hub_database: DatabaseConfig, second_database: DatabaseConfig
) -> None:
    """Replayed through gw-1 alone, then through gw-1 and gw-2 (which hears the same phones until 15:00):
    visitors, traffic by hour, dwell, engagement, occupancy and passers-by are
    the same; summing the gateways' counts would have counted the overlap twice."""
    files = generate_day(tmp_path / "data", DAY, seed=4, store=STORE, timezone=TZ, scale=0.3)
    second = _overlap(files.pcap, tmp_path / "gw-2.pcap")
    alone = _run(tmp_path, "alone", mosquitto.port, {"gw-1": files.pcap}, None, hub_database)
    chain = tmp_path / "alone" / "gw-1" / "keychain.json"
    both = _run(tmp_path, "both", mosquitto.port, {"gw-1": files.pcap, "gw-2": second}, chain,
                second_database)
    assert alone.pop("agents") == ("gw-1",) and both.pop("agents") == ("gw-1", "gw-2")
    assert alone["visitors"], "the day has visitors"
    print(f"\none gateway:  {alone}\ntwo gateways: {both}")
    assert both == alone
    assert sum(x or 0 for x in both["hours_traffic_in"]) == pytest.approx(both["traffic_in"])


def test_visits_of_one_key_merge_across_gateways_within_the_visit_timeout() -> None:
    """gw-1 10:00-10:20 and gw-2 10:15-10:40 (overlap), then gw-2 again after a 10-minute gap: one stay of
    10:00-11:00; a gap longer than the timeout is a second stay (its dwell as sent); another key stays
    apart."""
    from hub.joins.visits import merge_visits  # noqa: PLC0415

    k, other = ("a" * 32, "w"), ("b" * 32, "w")
    rows = [(900, 2400, 1500, k), (0, 1200, 1200, k), (3000, 3600, 600, k), (3600 + 901 + 600, 6000, 899, k),
            (100, 500, 400, other)]
    got = sorted(merge_visits(rows, timeout_s=900))
    assert got == [(0, 3600, 3600, k), (100, 500, 400, other), (5101, 6000, 899, k)]
