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
from hub.store.engine import open_store
from tests.hub.scenario import build, footfall, p, v, write

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
        self.schemas: list[tuple[str, dict[str, Any], bool]] = []

    def __call__(self, topic: str, payload: bytes, retain: bool) -> None:
        (self.schemas if topic.endswith("/schema/metrics") else self.sent).append(
            (topic, json.loads(payload), retain))

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
def config(hub_database: DatabaseConfig) -> HubConfig:
    """The scenario's store on each engine (tests/conftest.py: hub_database)."""
    cfg = HubConfig(
        database=hub_database,
        publish=PublishConfig(delay_s=120, poll_s=0.2),
        stores={"brno-1": StoreConfig(timezone="Europe/Prague", calibration_factor=1.5)},
    )
    open_store(cfg.database).prepare()
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


def test_an_hour_goes_out_once_final_closed_counted_by_every_agent_and_settled(
    config: HubConfig, tmp_path: Path, run: tuple[MetricsPublisher, Recorder, Clock]
) -> None:
    """Local 10:00 has the counts of both gateways: out at its close + delay_s (11:02), not before.
    11:00 has gw-1's count only: it waits for gw-2's until final_wait_s after its close. 00:00 has no
    agent count at all and closed more than final_wait_s ago: out once its data settled."""
    pub, rec, clock = run
    build(config, tmp_path)
    assert pub.wait_idle()
    assert rec.take() == []  # data still coming in
    clock.now += config.publish.settle_s
    assert pub.wait_idle()
    sent = rec.take()
    assert [s for s in sent if s[1].startswith("2026-11-26")] == [("hour", "2026-11-26T00:00:00+01:00", True)]
    assert rec.schemas and rec.schemas[0][0] == "footfall/v1/acme/schema/metrics" and rec.schemas[0][2]
    clock.now = parse_iso("2026-11-26T10:01:59Z")
    assert pub.wait_idle()
    assert rec.take() == []
    clock.now = parse_iso("2026-11-26T10:02:00Z")
    assert pub.wait_idle()
    assert rec.take() == [("hour", "2026-11-26T10:00:00+01:00", True)]
    clock.now = parse_iso("2026-11-26T11:02:00Z")
    assert pub.wait_idle()
    assert rec.take() == []  # gw-2's count of 11:00 is not in
    clock.now = parse_iso("2026-11-26T11:00:00Z") + config.publish.final_wait_s
    assert pub.wait_idle()
    assert rec.take() == [("hour", "2026-11-26T11:00:00+01:00", True)]


def test_the_day_goes_out_once_over_with_its_hours_suppressed(
    config: HubConfig, tmp_path: Path, run: tuple[MetricsPublisher, Recorder, Clock]
) -> None:
    """The next day every touched hour and the day are out. 3 people arrive at 10:00: their visits and
    visitors are withheld at k=5, and so is the Wi-Fi traffic made of them; passers-by (6) and sales are not.
    The day's 6 visitors stay published: hours 00, 10 and 11 hold 1, 3 and 2 arrivals, and 6 fits 1+1+4,
    2+2+2 and more, so none of them is pinned."""
    pub, rec, clock = run
    clock.now = parse_iso("2026-11-27T08:00:00Z")
    build(config, tmp_path)
    settle(pub, clock, config)
    h10 = rec.doc("hour", "2026-11-26T10:00:00+01:00")
    assert (h10["visitors_n"], h10["passersby_n"], h10["visits_n"]) == (None, 6, None)
    assert {"field": "visitors_n", "reason": "below_k"} in h10["withheld"]
    assert {"field": "visits_n", "reason": "below_k"} in h10["withheld"]
    assert {"field": "traffic_in", "reason": "derived"} in h10["withheld"]
    assert (h10["transactions_n"], h10["net_sales_cents"], h10["traffic_in"]) == (2, 3050, None)
    day = rec.doc("day", "2026-11-26T00:00:00+01:00")
    assert (day["visitors_n"], day["passersby_n"], day["k"], day["revision"]) == (6, 20, 5, 0)
    assert day["visits_n"] == 6 and day["withheld"] == []
    assert [rec.doc("hour", f"2026-11-26T{h}:00:00+01:00")["visits_n"] for h in ("00", "11")] == [None, None]
    hours = sorted(s[1][11:16] for s in rec.take() if s[0] == "hour" and s[1].startswith("2026-11-26"))
    assert hours == ["00:00", "10:00", "11:00", "12:00"]


def test_late_data_is_held_unless_it_moves_a_count_by_k_and_then_sent_once_not_retained(
    config: HubConfig, tmp_path: Path, run: tuple[MetricsPublisher, Recorder, Clock]
) -> None:
    """After 10:00 went out, gw-1 resends its count with 1 more passer-by: nothing is sent (that revision
    would time one device). With 6 more passers-by and 6 late visitors the hour is corrected once
    (revision 1), as a normal QoS 1 message (the retained value stays the newest hour); later data is held."""
    pub, rec, clock = run
    clock.now = parse_iso("2026-11-26T16:00:00Z")  # 12:00 is out too (final_wait_s after its close)
    build(config, tmp_path)
    settle(pub, clock, config)
    rec.take()
    write(config, [("gw-1", 2, [p("hour", "2026-11-26T09:00:00Z", 4, 7)])])
    settle(pub, clock, config)
    assert rec.take() == []
    assert pub.counters["held"] >= 1
    late = [v(f"2026-11-26T09:{10 + i}:00Z", 600, key=20 + i) for i in range(6)]
    write(config, [("gw-1", 3, [p("hour", "2026-11-26T09:00:00Z", 10, 12), *late])])
    settle(pub, clock, config)
    fix = rec.doc("hour", "2026-11-26T10:00:00+01:00")
    assert (fix["visitors_n"], fix["passersby_n"], fix["revision"]) == (9, 12, 1)
    assert rec.take() == [("hour", "2026-11-26T10:00:00+01:00", False)]
    write(config, [("gw-1", 4, [p("hour", "2026-11-26T09:00:00Z", 30, 40)])])
    settle(pub, clock, config)
    assert rec.take() == []


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


def test_the_one_correction_stays_spent_across_a_restart(config: HubConfig, tmp_path: Path) -> None:
    """What was sent is kept in the database: after a restart a late change by k or more is the
    correction (revision 1), and after another restart nothing more goes out for that hour."""
    rec, clock = Recorder(), Clock("2026-11-26T16:00:00Z")

    def session(batch: list[tuple[str, int, list[object]]] | None) -> None:
        pub = MetricsPublisher(config, rec, clock)
        pub.start()
        try:
            assert pub.wait_idle()
            if batch is None:
                build(config, tmp_path)
            else:
                write(config, batch)  # type: ignore[arg-type]
            settle(pub, clock, config)
        finally:
            pub.stop()

    session(None)
    assert rec.doc("hour", "2026-11-26T10:00:00+01:00")["revision"] == 0
    rec.take()
    session([("gw-1", 2, [p("hour", "2026-11-26T09:00:00Z", 10, 11)])])
    assert rec.doc("hour", "2026-11-26T10:00:00+01:00")["revision"] == 1
    rec.take()
    session([("gw-1", 3, [p("hour", "2026-11-26T09:00:00Z", 30, 40)])])
    assert rec.take() == []


def test_the_day_waits_for_every_gateways_day_count(
    config: HubConfig, tmp_path: Path, run: tuple[MetricsPublisher, Recorder, Clock]
) -> None:
    """At 00:30 the next day the day is over but gw-1 has not sent its day count (gw-2 has): the day is
    held (its hours, closed for more than final_wait_s, are out); once gw-1's count is in, it goes out."""
    pub, rec, clock = run
    clock.now = parse_iso("2026-11-26T23:30:00Z")
    batches = [(a, s, [r for r in recs if not (a == "gw-1" and getattr(r, "period", "") == "day")])
               for a, s, recs in footfall()]
    write(config, batches)
    settle(pub, clock, config)
    assert not [s for s in rec.take() if s[0] == "day" and s[1].startswith("2026-11-26")]
    write(config, [("gw-1", 5, [p("day", "2026-11-25T23:00:00Z", 8, 20)])])
    settle(pub, clock, config)
    assert ("day", "2026-11-26T00:00:00+01:00", True) in rec.take()


def test_a_door_counter_gateway_is_not_waited_for(
    config: HubConfig, tmp_path: Path, run: tuple[MetricsPublisher, Recorder, Clock]
) -> None:
    """gw-3 sends door counts only, never device counts: the hour goes out at close + delay_s all the
    same, with the door traffic."""
    pub, rec, clock = run
    build(config, tmp_path, with_doors=True)
    settle(pub, clock, config)
    clock.now = parse_iso("2026-11-26T10:02:00Z")
    assert pub.wait_idle()
    assert rec.doc("hour", "2026-11-26T10:00:00+01:00")["traffic_source"] == "door_counters"
    assert ("hour", "2026-11-26T10:00:00+01:00", True) in rec.take()


def test_data_for_a_day_past_the_keep_window_is_not_published(
    config: HubConfig, tmp_path: Path, run: tuple[MetricsPublisher, Recorder, Clock]
) -> None:
    """A gateway back after more than 35 days: its data is stored and reported, but the feed, which no
    longer keeps what it sent for that day, does not publish it (a new release could differ from the
    old one by a single visit)."""
    pub, rec, clock = run
    clock.now = parse_iso("2027-01-05T12:00:00Z")
    build(config, tmp_path)
    settle(pub, clock, config)
    assert rec.take() == []
    assert pub.counters["too_old"] > 0
