"""A pulse counter on GPIO pins (a beam or mat counter's relay output): one pulse, one person.

`pin_in` counts entries; `pin_out`, when set, counts exits (a directional counter with two outputs).
With `pull_up` (the default) the counter's contact pulls the pin to ground; `bounce_s` merges a contact's
bounces into one pulse. Each pulse is counted in the minute it happened, on the gateway's clock.

gpiozero is imported only here, and only when a GPIO sensor is configured (`pip install footfall[gpio]`;
on a Raspberry Pi it drives the pins through lgpio). A pulse counter has no heartbeat, so a quiet door
is not a stale sensor: GPIO sensors raise no staleness alert.
"""

from __future__ import annotations

from typing import Any, ClassVar

from agent.doors import BaseSource, DoorStartError
from agent.doors.ledger import Delta


class GpioPulseCounter(BaseSource):
    """Counts pulses through gpiozero's DigitalInputDevice; `pin_factory` is for tests (MockFactory)."""

    route: ClassVar[str | None] = None

    def __init__(self, *args: Any, pin_factory: Any = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.pin_factory = pin_factory
        self.pulses = 0
        self._devices: list[Any] = []

    def start(self) -> None:
        try:
            # lazy: only GPIO setups need it; gpiozero ships no type hints
            from gpiozero import DigitalInputDevice  # type: ignore[import-untyped]  # noqa: PLC0415
            from gpiozero.exc import BadPinFactory  # type: ignore[import-untyped]  # noqa: PLC0415
        except ImportError:
            raise DoorStartError(f"door sensor {self.sensor}: type gpio needs gpiozero "
                               "(pip install 'footfall[gpio]')") from None
        pins = [(self.config.pin_in, 1, 0)]
        if self.config.pin_out >= 0:
            pins.append((self.config.pin_out, 0, 1))
        try:
            for pin, in_n, out_n in pins:
                dev = DigitalInputDevice(pin, pull_up=self.config.pull_up, pin_factory=self.pin_factory,
                                         bounce_time=self.config.bounce_s or None)
                dev.when_activated = self._pulse_handler(in_n, out_n)
                self._devices.append(dev)
        except BadPinFactory:
            self.stop()
            raise DoorStartError(f"door sensor {self.sensor}: no GPIO pins on this machine "
                               "(on a Raspberry Pi: apt install python3-lgpio)") from None

    def _pulse_handler(self, in_n: int, out_n: int) -> Any:
        def pulse() -> None:
            self.pulses += 1
            now = self.clock()
            self.apply([Delta(now, in_n, out_n)], now)
        return pulse

    def stop(self) -> None:
        for dev in self._devices:
            dev.close()
        self._devices.clear()
