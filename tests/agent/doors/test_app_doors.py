"""End to end: door counts pushed to a running agent reach the hub as door records and its report."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from agent.app import AgentApp
from agent.config import AgentConfig, DoorsConfig, DoorSensorConfig, MqttConfig, SourceConfig
from agent.wire.records import iso
from hub.app import Hub
from hub.config import DatabaseConfig, HubConfig, TrustConfig
from hub.config import MqttConfig as HubMqttConfig
from hub.joins.daily import daily_report
from hub.store.sql import SqliteDb
from tests.agent.doors.conftest import post
from tests.support.frames import write_pcap
from tests.support.mosquitto import Mosquitto

DEV_TRUST = TrustConfig(require_signatures=False)  # development: unsigned, plain loopback MQTT


def _wait(check: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _listening(app: AgentApp) -> bool:
    return app.doors is not None and app.doors.listener is not None and app.doors.listener._server is not None


def test_pushed_door_counts_reach_the_hub_and_become_the_reports_traffic_in(tmp_path: Path,
                                                                            mosquitto: Mosquitto) -> None:
    """A Xovis and a generic counter push to the agent's listener; their minutes travel the outbox and MQTT
    into the hub, whose daily report then takes traffic in from the door counters, not from Wi-Fi."""
    empty = tmp_path / "empty.pcap"
    write_pcap(empty, [])
    doors = DoorsConfig(sensors=[DoorSensorConfig(id="door-main", type="xovis"),
                                 DoorSensorConfig(id="door-back", type="generic")],
                        listen_port=0, grace_s=0, flush_s=0.1)
    agent_cfg = replace(AgentConfig(store="brno-1", state_dir=str(tmp_path / "agent")),
                        source=SourceConfig(type="pcap", path=str(empty)),
                        mqtt=MqttConfig(port=mosquitto.port, allow_plain_loopback=True, signing_key_file=""),
                        doors=doors)
    hub_cfg = HubConfig(mqtt=HubMqttConfig(port=mosquitto.port, allow_plain_loopback=True), trust=DEV_TRUST,
                        database=DatabaseConfig(path=str(tmp_path / "hub.db")))
    minute = int(time.time() // 60) * 60 - 300  # closed five minutes ago: flushed at once
    app, stop = AgentApp(agent_cfg), threading.Event()
    with Hub(hub_cfg) as hub:
        runner = threading.Thread(target=app.run, args=(stop,))
        runner.start()
        try:
            _wait(lambda: _listening(app))
            assert app.doors is not None and app.doors.listener is not None
            port, token = app.doors.listener.port, (tmp_path / "agent" / "door-token").read_text().strip()
            xovis = {"logics_data": {"logics": [{"id": 1, "name": "Entrance", "records": [
                {"from": iso(minute), "to": iso(minute + 60),
                 "counts": [{"name": "fw", "value": 4}, {"name": "bw", "value": 1}]}]}]}}
            assert post(port, "/xovis/door-main", xovis, token)[0] == 200
            for t, n_in, n_out in [(minute, 10, 10), (minute + 30, 13, 12)]:
                body = {"sensor": "door-back", "time": iso(t), "in": n_in, "out": n_out}
                assert post(port, "/generic", body, token)[0] == 200
            assert app.status().counters["door_accepted_generic"] == 2

            def stored() -> bool:
                with sqlite3.connect(tmp_path / "hub.db") as db:
                    return int(db.execute("SELECT count(*) FROM doors").fetchone()[0]) >= 2
            _wait(stored)
        finally:
            stop.set()
            runner.join(30)
        assert not runner.is_alive()
        assert hub.wait_idle(10)
    with sqlite3.connect(tmp_path / "hub.db") as db:
        rows = db.execute("SELECT sensor, minute_epoch_s, traffic_in_n, traffic_out_n FROM doors"
                          " ORDER BY sensor").fetchall()
        assert sorted(set(rows)) == [("door-back", minute, 3, 2), ("door-main", minute, 4, 1)]
        report = daily_report(SqliteDb(db), hub_cfg, "brno-1", datetime.fromtimestamp(minute, UTC).date())
    assert report.traffic_source == "door_counters"
    assert sum(h.traffic_in or 0 for h in report.hours) == 7
