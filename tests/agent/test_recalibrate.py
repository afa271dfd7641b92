"""Door-count recalibration (issue 19): the Wi-Fi factor follows a door counter and shrugs off outages."""

from __future__ import annotations

import random

from agent.common.recalibrate import DayCounts, rolling_factors

CHANGE_START, CHANGE_END = 30, 60  # devices per person halve over this month


def devices_per_person(day: int) -> float:
    if day < CHANGE_START:
        return 2.0
    if day >= CHANGE_END:
        return 1.0
    return 2.0 - (day - CHANGE_START) / (CHANGE_END - CHANGE_START)


def store(days: int = 90, outages: frozenset[int] = frozenset(), zeros: frozenset[int] = frozenset()
          ) -> tuple[list[DayCounts], list[float]]:
    rng = random.Random(19)
    counts, people = [], []
    for day in range(days):
        p = rng.uniform(150, 260) * (0.6 if day % 7 == 6 else 1.0)  # quieter Sundays
        wifi = p * devices_per_person(day) * rng.uniform(0.93, 1.07)
        door: float | None = p * rng.uniform(0.97, 1.03)
        if day in outages:
            door = None
        elif day in zeros:
            door = 0.0 if day % 2 else p * 0.2  # dead, or unplugged at 10:00
        counts.append(DayCounts(day, wifi, door))
        people.append(p)
    return counts, people


def test_factor_tracks_devices_per_person_halving_within_10_percent_a_week_after() -> None:
    """A store whose phones per person halve over a month (an OS update, a new customer mix): a week
    after the change, every day's people estimate (factor x Wi-Fi visitors) is within 10 % of the truth,
    though the counter was down five days and reported nothing or a fraction on four more."""
    counts, people = store(outages=frozenset(range(40, 45)), zeros=frozenset({50, 51, 66, 67}))
    factors = rolling_factors(counts, calibrated=0.5)
    for f, c, p in zip(factors, counts, people, strict=True):
        if f.day >= CHANGE_END + 7:
            assert abs(f.factor * c.wifi_visitors / p - 1) <= 0.10, f
    assert factors[-1].source == "door_counter"


def test_a_long_outage_carries_the_last_fit_and_says_so() -> None:
    """With the counter dead for three weeks, the factor stays the last door fit (source `carried`), it
    does not fall to 0 nor jump back to the hand calibration."""
    counts, _ = store(days=50, outages=frozenset(range(20, 41)))
    factors = rolling_factors(counts, calibrated=0.25)
    before = [f.factor for f in factors[:34] if f.source == "door_counter"][-1]
    assert {f.source for f in factors[34:41]} == {"carried"}
    assert 0.45 < before < 0.55  # two devices per person then: not the stale 0.25
    assert all(f.factor == before for f in factors[34:41])


def test_without_a_counter_the_calibration_is_used() -> None:
    """A store with no door data keeps its hand calibration, labelled as such."""
    counts = [DayCounts(d, 100.0, None) for d in range(10)]
    assert {(f.factor, f.source) for f in rolling_factors(counts, calibrated=0.4)} == {(0.4, "calibration")}
