"""The ledger: counts become one record per sensor and UTC minute, whatever shape the sensor reports in."""

from __future__ import annotations

from agent.doors.ledger import Delta, DoorLedger, Interval, Totals
from agent.wire.records import DoorCounts
from tests.agent.doors.conftest import T0


def _rows(recs: list[DoorCounts]) -> list[tuple[str, str, int, int]]:
    return [(r.sensor, r.minute_at, r.traffic_in_n, r.traffic_out_n) for r in recs]


def test_running_totals_become_per_minute_differences_and_a_reset_counts_from_zero() -> None:
    """A counter's totals are turned into people per minute; when the counter restarts (midnight, reboot)
    its new total is what it counted since, never a negative count."""
    led = DoorLedger(grace_s=0)
    led.record("d", [Totals(T0, 100, 90)], T0)  # baseline: counted nothing yet
    led.record("d", [Totals(T0 + 30, 104, 91)], T0 + 30)
    led.record("d", [Totals(T0 + 70, 110, 95)], T0 + 70)
    led.record("d", [Totals(T0 + 80, 3, 2)], T0 + 80)  # reset: 3 in and 2 out since
    assert _rows(led.flush(T0 + 200)) == [("d", "2026-11-26T10:15:00Z", 4, 1),
                                          ("d", "2026-11-26T10:16:00Z", 9, 6)]
    assert led.counters["door_resets"] == 1


def test_a_repeated_interval_counts_once_and_a_corrected_one_replaces_it() -> None:
    """A sensor that retries a push does not double the count; one that re-sends an interval with other
    values (a correction) replaces the old values."""
    led = DoorLedger(grace_s=0)
    for _ in range(3):
        led.record("d", [Interval("Entrance", T0, T0 + 60, 5, 2)], T0 + 60)
    assert _rows(led.flush(T0 + 120)) == [("d", "2026-11-26T10:15:00Z", 5, 2)]
    led.record("d", [Interval("Entrance", T0, T0 + 60, 6, 2)], T0 + 130)
    assert _rows(led.flush(T0 + 140)) == [("d", "2026-11-26T10:15:00Z", 6, 2)]
    assert led.counters["door_duplicates"] == 2
    assert led.counters["door_corrections"] == 1


def test_a_minute_waits_for_its_grace_and_late_counts_re_report_its_full_total() -> None:
    """A minute is reported only after the grace for late pushes; counts arriving after that report the
    minute again with its whole total (the hub keeps the last record per minute, so nothing adds twice)."""
    led = DoorLedger(grace_s=90)
    led.record("d", [Delta(T0 + 10, 1, 0), Delta(T0 + 20, 1, 0)], T0 + 20)
    assert led.flush(T0 + 149) == []
    assert _rows(led.flush(T0 + 150)) == [("d", "2026-11-26T10:15:00Z", 2, 0)]
    assert led.flush(T0 + 160) == []  # nothing changed: nothing re-sent
    led.record("d", [Delta(T0 + 50, 0, 1)], T0 + 300)
    assert _rows(led.flush(T0 + 300)) == [("d", "2026-11-26T10:15:00Z", 2, 1)]


def test_state_survives_a_restart_so_a_total_read_again_is_not_counted_twice() -> None:
    """After a restart the last totals are known: the next reading counts only what is new."""
    led = DoorLedger(grace_s=0)
    led.record("d", [Totals(T0, 100, 90)], T0)
    led.record("d", [Totals(T0 + 5, 101, 90)], T0 + 5)
    again = DoorLedger(grace_s=0)
    again.import_state(led.export_state())
    again.record("d", [Totals(T0 + 10, 103, 90)], T0 + 10)
    assert _rows(again.flush(T0 + 100)) == [("d", "2026-11-26T10:15:00Z", 3, 0)]


def test_counts_older_than_the_retention_are_dropped_and_counted() -> None:
    """A sensor sending days-old history cannot rewrite minutes the agent no longer holds."""
    led = DoorLedger(grace_s=0, retain_s=3600)
    led.record("d", [Delta(T0 - 7200, 4, 4)], T0)
    assert led.flush(T0) == []
    assert led.counters["door_too_late"] == 1
