"""When the data team gets what: closed hours once closed, the day once over, late data again.

The publisher runs on the scenario's store-day (tests/hub/scenario.py: brno-1, Europe/Prague, local
10:00 is 09:00Z) with a clock the test moves and a recorder instead of MQTT.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.wire.records import parse_iso
from hub.config import DatabaseConfig, HubConfig, PublishConfig, StoreConfig
from hub.publish import MetricsPublisher
from hub.store import open_db
from tests.hub.scenario import build, v, write

TOPIC = "footfall/v1/acme/brno-1/metrics/"


class Clock:
    """A clock the test sets."""

    def __init__(self, at: str) -> None:
        self.now = parse_iso(at)

    def __call__(self) -> float:
        return self.now


class Recorder:
    """Stands in for the MQTT client: keeps (topic, payload, retain)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], bool]] = []

    def __call__(self, topic: str, payload: bytes, retain: bool) -> None:
        self.sent.append((topic, json.loads(payload), retain))

    def take(self) -> list[tuple[str, str, bool]]:
        """(topic tail, local_start, retain) of what was sent since the last take."""
        out = [(t.removeprefix(TOPIC), d["local_start"], r) for t, d, r in self.sent]
        self.sent.clear()
        return out

    def doc(self, period: str, local_start: str) -> dict[str, Any]:
        return next(d for t, d, _ in self.sent if t.endswith(period) and d["local_start"] == local_start)


def settle(pub: MetricsPublisher, clock: Clock, config: HubConfig) -> None:
    """Let the publisher see what was just written, then let settle_s pass and let it look again."""
    assert pub.wait_idle()
    clock.now += config.publish.settle_s
    assert pub.wait_idle()


@pytest.fixture
def config(tmp_path: Path) -> HubConfig:
    cfg = HubConfig(
        database=DatabaseConfig(path=str(tmp_path / "hub.db")),
        publish=PublishConfig(delay_s=120, poll_s=0.2),
        stores={"brno-1": StoreConfig(timezone="Europe/Prague", calibration_factor=1.5)},
    )
    open_db(cfg.database.path).close()
    return cfg


@pytest.fixture
def run(config: HubConfig) -> Iterator[tuple[MetricsPublisher, Recorder, Clock]]:
    """A started publisher (marks taken on the empty database), its recorder and its clock."""
    rec, clock = Recorder(), Clock("2026-11-26T09:30:00Z")
    pub = MetricsPublisher(config, rec, clock)
    pub.start()
    assert pub.wait_idle()
    try:
        yield pub, rec, clock
    finally:
        pub.stop()


def test_closed_hours_go_out_open_ones_wait_for_their_close_plus_delay(
    config: HubConfig, tmp_path: Path, run: tuple[MetricsPublisher, Recorder, Clock]
) -> None:
    """At local 10:30 the data of 00:00, written just now, is out once settled (settle_s) and 10:00 is
    not; at 11:02 (closed + 120 s) it is."""
    pub, rec, clock = run
    build(config, tmp_path)
    assert pub.wait_idle()
    assert rec.take() == []  # closed hours, but their data is still coming in
    clock.now += config.publish.settle_s
    assert pub.wait_idle()
    sent = rec.take()
    assert ("hour", "2026-11-26T00:00:00+01:00", True) in sent
    assert not [s for s in sent if s[1].startswith("2026-11-26T1")]
    assert not [s for s in sent if s[0] == "day" and s[1].startswith("2026-11-26")]
    clock.now = parse_iso("2026-11-26T10:01:59Z")
    assert pub.wait_idle()
    assert rec.take() == []
    clock.now = parse_iso("2026-11-26T10:02:00Z")
    assert pub.wait_idle()
    assert rec.take() == [("hour", "2026-11-26T10:00:00+01:00", True)]


def test_the_day_goes_out_once_over_with_its_hours_suppressed(
    config: HubConfig, tmp_path: Path, run: tuple[MetricsPublisher, Recorder, Clock]
) -> None:
    """The next day every touched hour and the day are out; 3 people in an hour (visits and visitors, and the
    Wi-Fi traffic made of them) are withheld at k=5, the passers-by (6) and the sales are not."""
    pub, rec, clock = run
    clock.now = parse_iso("2026-11-27T08:00:00Z")
    build(config, tmp_path)
    settle(pub, clock, config)
    h10 = rec.doc("hour", "2026-11-26T10:00:00+01:00")
    assert (h10["visitors_n"], h10["passersby_n"], h10["visits_n"]) == (None, 6, None)
    assert {"visits_n", "visitors_n", "traffic_in"} <= set(h10["suppressed"])
    assert (h10["transactions_n"], h10["net_sales_cents"], h10["traffic_in"]) == (2, 3050, None)
    day = rec.doc("day", "2026-11-26T00:00:00+01:00")
    assert (day["visitors_n"], day["passersby_n"], day["visits_n"], day["k"]) == (6, 20, 6, 5)
    hours = sorted(s[1][11:16] for s in rec.take() if s[0] == "hour" and s[1].startswith("2026-11-26"))
    assert hours == ["00:00", "10:00", "11:00", "12:00"]


def test_late_data_republishes_the_hour_without_replacing_the_newest_retained(
    config: HubConfig, tmp_path: Path, run: tuple[MetricsPublisher, Recorder, Clock]
) -> None:
    """Late visits for 10:00 arriving after 12:00 was out are sent again (QoS 1, not retained),
    so a new subscriber's retained message stays the newest hour. Late data settles first: the hour
    goes out once settle_s passed without more, so a backlog streaming in is sent once, not per commit."""
    pub, rec, clock = run
    clock.now = parse_iso("2026-11-26T13:00:00Z")
    build(config, tmp_path)
    settle(pub, clock, config)
    rec.take()
    write(config, [("gw-1", 2, [v("2026-11-26T09:10:00Z", 600, key=20)])])
    assert pub.wait_idle()
    assert rec.take() == []
    clock.now += config.publish.settle_s - 1
    write(config, [("gw-1", 3, [v("2026-11-26T09:12:00Z", 600, key=21)])])  # more of the same backlog
    assert pub.wait_idle()
    clock.now += config.publish.settle_s - 1
    assert pub.wait_idle()
    assert rec.take() == []  # touched again 29 s ago: still settling
    clock.now += 1
    assert pub.wait_idle()
    assert rec.sent[0][1]["visitors_n"] == 5  # 3 + the 2 late ones, sent once with both batches in
    assert rec.take() == [("hour", "2026-11-26T10:00:00+01:00", False)]


def test_a_restart_publishes_what_was_pending_and_repeats_nothing(config: HubConfig, tmp_path: Path) -> None:
    """An hour still open at stop is published after the restart, once it closes; the rest is not redone."""
    rec, clock = Recorder(), Clock("2026-11-26T09:30:00Z")
    first = MetricsPublisher(config, rec, clock)
    first.start()
    assert first.wait_idle()
    build(config, tmp_path)
    settle(first, clock, config)
    first.stop()
    assert rec.take()
    clock.now = parse_iso("2026-11-26T10:05:00Z")
    second = MetricsPublisher(config, rec, clock)
    second.start()
    try:
        assert second.wait_idle()
        assert rec.take() == [("hour", "2026-11-26T10:00:00+01:00", True)]
        assert second.wait_idle()
        assert rec.take() == []
    finally:
        second.stop()


def test_late_data_still_settling_at_a_restart_settles_after_it(config: HubConfig, tmp_path: Path) -> None:
    """A hub restarted while late data was settling neither sends it at once nor forgets it: the cells
    keep their touch times across the restart and go out settle_s after the last data."""
    rec, clock = Recorder(), Clock("2026-11-27T08:00:00Z")
    first = MetricsPublisher(config, rec, clock)
    first.start()
    assert first.wait_idle()
    build(config, tmp_path)  # yesterday's data, all late
    assert first.wait_idle()
    first.stop()
    assert rec.take() == []
    clock.now += config.publish.settle_s - 1
    second = MetricsPublisher(config, rec, clock)
    second.start()
    try:
        assert second.wait_idle()
        assert rec.take() == []
        clock.now += 1
        assert second.wait_idle()
        assert ("day", "2026-11-26T00:00:00+01:00", True) in rec.take()
    finally:
        second.stop()
