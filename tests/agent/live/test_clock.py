"""A gateway without a set clock (no RTC on a Pi) never files data under 1970: frames wait for NTP and are
re-stamped, or go marked unsynchronised, or are counted and dropped; the status topic says which."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from agent import app as app_module
from agent.app import AgentApp
from agent.clock import ClockGate, SyncCheck, kernel_synced
from agent.config import AgentConfig, MqttConfig, SourceConfig
from agent.wire.envelope import Status, _loads
from tests.support.frames import probe_request
from tests.support.mosquitto import Mosquitto

T2026 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC).timestamp()


class FakeClock:
    """A wall clock an NTP daemon can step, a monotonic clock that only moves forward, a kernel flag."""

    def __init__(self, wall: float, kernel_synced: bool | None = False) -> None:
        self.wall, self.mono, self.kernel = wall, 1000.0, kernel_synced

    def advance(self, s: float) -> None:
        self.wall += s
        self.mono += s

    def check(self) -> SyncCheck:
        return SyncCheck(lambda: self.kernel, now=lambda: self.wall, monotonic=lambda: self.mono, every_s=0)


def _frames(clock: FakeClock, n: int, mac_byte: int = 1) -> list[tuple[float, bytes]]:
    mac = f"02:5e:10:00:00:{mac_byte:02x}"
    return [(clock.wall + i * 0.1, probe_request(mac=mac, seq=i)) for i in range(n)]


def test_the_clock_counts_as_set_only_with_ntp_and_a_plausible_year() -> None:
    """Unsynchronised means: the kernel says NTP has not synchronised, or the year is before 2024 whatever
    the kernel says; once synchronised it stays so (an uplink outage does not hold data back)."""
    assert not FakeClock(100.0, kernel_synced=True).check().synced()
    assert not FakeClock(T2026, kernel_synced=False).check().synced()
    assert FakeClock(T2026, kernel_synced=None).check().synced()  # a kernel that cannot say: the year decides
    clock = FakeClock(T2026, kernel_synced=True)
    check = clock.check()
    assert check.synced()
    clock.kernel = False
    assert check.synced()
    assert kernel_synced() in (True, False, None)  # the real adjtimex answers without raising


def test_the_check_is_cheap_between_probes() -> None:
    """The kernel is asked at most once per `every_s`, however often the status is published."""
    calls: list[int] = []
    check = SyncCheck(lambda: calls.append(1) or False, now=lambda: T2026, monotonic=lambda: 5.0, every_s=30)
    assert [check.synced() for _ in range(100)] == [False] * 100
    assert len(calls) == 1


def test_frames_heard_before_ntp_are_held_then_restamped_with_the_true_time() -> None:
    """A Pi boots at 1970; frames heard then wait, and when NTP steps the clock they come out at the
    true time they were heard (by the monotonic clock), marked synchronised."""
    clock = FakeClock(100.0)
    gate = ClockGate(clock.check())
    early = _frames(clock, 5)
    assert gate.feed(early) == ([], False)
    clock.advance(30)
    clock.wall = T2026 + 30  # NTP steps the clock: 30 s after those frames it is 10:00:30
    clock.kernel = True
    out, synced = gate.feed([])
    assert synced
    assert [round(ts - T2026, 1) for ts, _ in out] == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert [f for _, f in out] == [f for _, f in early]
    assert gate.counters == {"clock_held": 5, "clock_restamped": 5}


def test_a_full_hold_drops_1970_frames_with_a_count_and_sends_plausible_ones_marked() -> None:
    """When the hold is full, the oldest frames go on: counted and dropped if stamped before 2020,
    passed on marked unsynchronised if their time is plausible (fake-hwclock's last shutdown time)."""
    clock = FakeClock(100.0)
    gate = ClockGate(clock.check(), hold_frames=3)
    assert gate.feed(_frames(clock, 5)) == ([], False)
    assert gate.counters == {"clock_held": 5, "clock_unset_dropped": 2}
    assert gate.held == 3

    plausible = FakeClock(T2026)
    gate = ClockGate(plausible.check(), hold_frames=3)
    out, synced = gate.feed(_frames(plausible, 5))
    assert not synced and len(out) == 2 and all(ts >= T2026 for ts, _ in out)
    assert gate.counters == {"clock_held": 5, "clock_unsynced_sent": 2}


class _StubLive:
    """A live source (the app treats it as one) that plays batches and runs a hook between them."""

    linktype = 127

    def __init__(self, plan: list[tuple[list[tuple[float, bytes]], Any]]) -> None:
        self.plan, self.counters, self.problem = plan, {"frames": 0}, None

    def batches(self, stop: threading.Event) -> Iterator[list[tuple[float, bytes]]]:
        for frames, after in self.plan:
            self.counters["frames"] += len(frames)
            yield frames
            after()


RunResult = tuple[list[Any], list[Status], AgentApp]


def _run_app(tmp_path: Path, port: int, clock: FakeClock, plan: list[Any], *,
             monkeypatch: pytest.MonkeyPatch, hold_frames: int = 50_000) -> RunResult:
    cfg = AgentConfig(state_dir=str(tmp_path / "state"), source=SourceConfig(type="live", interface="mon0"),
                      mqtt=MqttConfig(port=port, allow_plain_loopback=True, signing_key_file=""))
    app = AgentApp(cfg, clock=clock.check())
    statuses: list[Status] = []
    stub = _StubLive([(frames, lambda hook=hook: (statuses.append(app.status()), hook()))
                      for frames, hook in plan])
    monkeypatch.setattr(app, "_source", lambda: stub)
    monkeypatch.setattr(app_module, "ClockGate", partial(ClockGate, hold_frames=hold_frames))
    assert app.run(threading.Event(), drain_timeout_s=0.5) == 0
    with sqlite3.connect(tmp_path / "state" / "outbox.db") as db:
        payloads = [row[0] for row in db.execute("SELECT payload FROM batches ORDER BY seq")]
    records = [r for p in payloads for r in _loads(p)["records"]]
    return records, statuses, app


def test_the_agent_files_pre_ntp_frames_at_their_true_time_and_says_so_on_status(
        tmp_path: Path, mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end through the app: frames heard at "1970" before NTP reach the outbox at 2026 times, no
    record is dated before 2020, minute counts are marked synchronised, and the status topic said
    clock_synced false until NTP, true after."""
    clock = FakeClock(100.0)

    def ntp_steps() -> None:
        clock.advance(5)
        clock.wall, clock.kernel = T2026 + 5, True

    plan = [(_frames(clock, 10), ntp_steps), ([], lambda: None)]
    plan.append((_frames(FakeClock(T2026 + 5), 10, mac_byte=2), lambda: None))
    records, statuses, _ = _run_app(tmp_path, mosquitto.port, clock, plan, monkeypatch=monkeypatch)
    minutes = [r for r in records if r["type"] == "minute"]
    assert [s.clock_synced for s in statuses] == [False, True, True]
    assert minutes and all(m["minute_at"] >= "2026-11-26T10:00:00Z" for m in minutes)
    assert sum(m["probe_requests_n"] for m in minutes) == 20
    assert all(m["clock_synced"] for m in minutes)
    assert all(v >= "2020" for r in records for k, v in r.items() if k.endswith("_at"))
    assert statuses[-1].counters["clock_restamped"] == 10
    assert statuses[0].counters["clock_held"] == 10


def test_an_agent_that_never_syncs_sends_plausible_data_marked_unsynchronised(
        tmp_path: Path, mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a plausible but unsynchronised clock (fake-hwclock, no NTP), data beyond the hold goes out
    with clock_synced false on its minute counts, and the status says the clock is not synchronised."""
    clock = FakeClock(T2026)
    plan = [(_frames(clock, 5), lambda: clock.advance(90)), (_frames(clock, 5), lambda: None)]
    records, statuses, app = _run_app(tmp_path, mosquitto.port, clock, plan, monkeypatch=monkeypatch,
                                      hold_frames=2)
    minutes = [r for r in records if r["type"] == "minute"]
    assert [s.clock_synced for s in statuses] == [False, False]
    assert minutes and not any(m["clock_synced"] for m in minutes)
    assert sum(m["probe_requests_n"] for m in minutes) == 10
    assert app.clock.synced() is False


def test_a_clock_stuck_in_2106_without_ntp_never_moves_the_ratchet_the_next_synced_run_counts(
        tmp_path: Path, mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch) -> None:
    """A gateway whose unsynchronised clock says 2106 (a bad RTC) used to write a key chain anchored in
    2106: after NTP, every frame of every later run was key_expired. Now, without NTP, no key chain is
    written (its keys live in memory only, its 2106 records are never sent), and the next run, with a
    synchronised clock, counts every frame."""
    stuck = FakeClock(4_294_000_000.0)
    plan = [(_frames(stuck, 5), lambda: stuck.advance(90)), (_frames(stuck, 5), lambda: None)]
    records, _, app = _run_app(tmp_path, mosquitto.port, stuck, plan, monkeypatch=monkeypatch, hold_frames=2)
    assert not (tmp_path / "state" / "keychain.json").exists()
    assert records == []  # 2106 is beyond the wire's range: refused by the agent itself, never sent
    assert app.refused.get("record_refused_out_of_range", 0) > 0
    synced = FakeClock(T2026, kernel_synced=True)
    plan = [(_frames(synced, 10, mac_byte=3), lambda: None)]
    records, _, _ = _run_app(tmp_path, mosquitto.port, synced, plan, monkeypatch=monkeypatch)
    minutes = [r for r in records if r["type"] == "minute"]
    assert sum(m["probe_requests_n"] for m in minutes) == 10
    assert all(m["minute_at"].startswith("2026-11-26") for m in minutes)
