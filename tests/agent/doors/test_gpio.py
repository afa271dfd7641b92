"""The GPIO pulse counter on gpiozero's mock pins: each pulse is one person, in or out by pin."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from agent.config import DoorSensorConfig
from agent.doors.gpio import GpioPulseCounter
from agent.doors.ledger import DoorLedger
from tests.agent.doors.conftest import T0, Clock


@pytest.fixture
def factory() -> Iterator[Any]:
    pins = MockFactory()
    yield pins
    pins.close()


def _pulse(pin: Any, n: int) -> None:
    for _ in range(n):
        pin.drive_low()  # pull_up: the counter's contact pulls the pin to ground
        pin.drive_high()


def test_pulses_on_two_pins_become_entries_and_exits_per_minute(factory: Any) -> None:
    """A directional counter with an entry and an exit output: 3 entry pulses and 2 exit pulses in one
    minute, 1 entry in the next, give two records on the gateway's clock."""
    ledger, clock = DoorLedger(grace_s=0), Clock(T0 + 5)
    cfg = DoorSensorConfig(id="door-beam", type="gpio", pin_in=17, pin_out=27, bounce_s=0)
    counter = GpioPulseCounter(cfg, ledger, clock, pin_factory=factory)
    counter.start()
    try:
        _pulse(factory.pin(17), 3)
        _pulse(factory.pin(27), 2)
        clock.t = T0 + 65
        _pulse(factory.pin(17), 1)
    finally:
        counter.stop()
    assert [(r.minute_at, r.traffic_in_n, r.traffic_out_n) for r in ledger.flush(T0 + 200)] == [
        ("2026-11-26T10:15:00Z", 3, 2), ("2026-11-26T10:16:00Z", 1, 0)]


def test_a_single_pin_counts_entries_and_a_stopped_counter_counts_nothing(factory: Any) -> None:
    """Without pin_out every pulse is an entry; after stop the pins are released and pulses are ignored."""
    ledger = DoorLedger(grace_s=0)
    counter = GpioPulseCounter(DoorSensorConfig(id="door-beam", type="gpio", pin_in=22, bounce_s=0),
                               ledger, Clock(T0), pin_factory=factory)
    counter.start()
    _pulse(factory.pin(22), 4)
    counter.stop()
    _pulse(factory.pin(22), 2)
    recs = ledger.flush(T0 + 200)
    assert [(r.traffic_in_n, r.traffic_out_n) for r in recs] == [(4, 0)]
    assert counter.pulses == 4
