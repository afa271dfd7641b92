"""Door counters: people counted in and out at the store's doors, as per-minute `door` records.

`REGISTRY` maps a sensor `type` (agent.yaml `doors.sensors[].type`) to an import string, so gpiozero is
imported only when a GPIO sensor is configured. Push kinds (`route` set) receive bodies from the HTTP
listener (`agent/doors/listener.py`); the others run their own input (a poller thread, GPIO callbacks).
All of them only record into the `DoorLedger`; `DoorService` turns that into records, `agent/app.py`
puts them on the outbox.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from agent.doors.ledger import Delta, DoorLedger, Interval, Observation, Totals
from agent.wire.ranges import TOTAL_MAX

if TYPE_CHECKING:  # agent.config imports this registry: a runtime import would be circular
    from agent.config import DoorSensorConfig

REGISTRY: dict[str, str] = {
    "xovis": "agent.doors.xovis:XovisSource",  # pushed: POST /xovis/SENSOR (firmware 5 JSON or legacy fw/bw)
    "generic": "agent.doors.generic:GenericSource",  # pushed: POST /generic {"sensor","time","in","out"}
    "axis": "agent.doors.axis:AxisPoller",  # polled: live-sum.json of the Axis people counter
    "gpio": "agent.doors.gpio:GpioPulseCounter",  # pulses on a GPIO pin (gpiozero)
}

EARLIEST_S = 1577836800.0  # 2020-01-01: a sensor time before this is a clock that was never set
AHEAD_S = 300.0            # a pushed time more than this after the gateway's clock is refused (bad_time)


class DoorStartError(RuntimeError):
    """Door counting cannot start (token file, listener port, GPIO); the message says the fix."""


class PushError(ValueError):
    """A pushed body that cannot be counted: `reason` is the counter name, the message one line."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class DoorSource(Protocol):
    """One configured door sensor. `route` is the listener path of a push kind, None for the others."""

    route: ClassVar[str | None]
    sensor: str

    def start(self) -> None: ...
    def stop(self) -> None: ...


class PushSource(DoorSource, Protocol):
    """A pushed kind: turns a decoded JSON body into observations (PushError when it cannot)."""

    @staticmethod
    def parse(body: Any, path_sensor: str | None) -> tuple[str, list[Observation]]: ...

    def apply(self, observations: list[Observation], now: float) -> None: ...


def load(kind: str) -> type[Any]:
    """The source class registered under `kind` (imported only now)."""
    module, _, name = REGISTRY[kind].partition(":")
    cls: type[Any] = getattr(importlib.import_module(module), name)
    return cls


def count_field(obj: dict[str, Any], name: str, where: str = "") -> int:
    """A count or running total from 0 to ranges.TOTAL_MAX (digits in a string accepted: legacy
    XML-to-JSON pushes); `out_of_range` above it (10^30 is a type-correct integer no door counts)."""
    label = f"{where}{name}"
    if name not in obj:
        raise PushError("missing_field", f"missing field '{label}'")
    value = obj[name]
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if type(value) is not int or value < 0:
        raise PushError("bad_field", f"field '{label}' is not a non-negative integer")
    if value > TOTAL_MAX:
        raise PushError("out_of_range", f"field '{label}' is larger than {TOTAL_MAX}")
    return value


def time_field(obj: dict[str, Any], name: str, where: str = "") -> float:
    """A time: RFC 3339 text (`Z` or an offset) or epoch seconds (milliseconds when over 1e11)."""
    label = f"{where}{name}"
    if name not in obj:
        raise PushError("missing_field", f"missing field '{label}'")
    value = obj[name]
    if type(value) in (int, float):
        if not math.isfinite(value):
            raise PushError("bad_field", f"field '{label}' is not a time")
        ts = float(value) / (1000.0 if value > 1e11 else 1.0)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
            ts = parsed.timestamp()  # year 1 with an offset overflows
        except (ValueError, OverflowError):
            raise PushError("bad_field", f"field '{label}' is not an RFC 3339 time") from None
        if parsed.tzinfo is None:
            raise PushError("bad_field", f"field '{label}' has no time zone (add Z or an offset)")
    else:
        raise PushError("bad_field", f"field '{label}' is not a time")
    if ts < EARLIEST_S:
        raise PushError("bad_time", f"field '{label}' is before 2020: the sensor's clock is not set")
    return ts


def check_times(observations: list[Observation], now: float) -> None:
    """PushError `bad_time` when an observation is more than AHEAD_S after the gateway's clock `now`: a
    sensor whose clock runs ahead would otherwise file counts under a minute that has not come."""
    for obs in observations:
        at = obs.end if isinstance(obs, Interval) else obs.at
        if at > now + AHEAD_S:
            raise PushError("bad_time", f"a count is stamped more than {AHEAD_S:g} s after the gateway's "
                                        "clock: set the sensor's clock (NTP)")


class BaseSource:
    """What every kind shares: its sensor id, the ledger it records into, swapping in and out."""

    route: ClassVar[str | None] = None

    def __init__(self, config: DoorSensorConfig, ledger: DoorLedger,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.sensor = config.id
        self.ledger = ledger
        self.clock = clock

    def start(self) -> None:
        """Pushed kinds have nothing to start: the listener brings their bodies."""

    def stop(self) -> None:
        """Nothing to stop either."""

    def apply(self, observations: list[Observation], now: float) -> None:
        """Record `observations` (in and out swapped for a sensor mounted the other way round)."""
        if self.config.swap:
            observations = [_swapped(o) for o in observations]
        self.ledger.record(self.sensor, observations, now)


def _swapped(obs: Observation) -> Observation:
    if isinstance(obs, Totals):
        return Totals(obs.at, obs.out_total, obs.in_total, obs.channel)
    if isinstance(obs, Interval):
        return Interval(obs.line, obs.start, obs.end, obs.out_n, obs.in_n)
    return Delta(obs.at, obs.out_n, obs.in_n)
