"""The documented range of every number, and the exact shape of every key and word, on the wire.

A type check lets `"in": 10**30` through; SQLite cannot bind an integer of 2^63 or more, so one such
record used to kill the hub's writer. Every field of every record (and of the door payloads, which
share the counts' bounds) therefore has its range here, once: `check_record` and the door parsers
refuse what falls outside by name, and `envelope_schema()` publishes the same bounds. The bounds are
generous (a far larger store still fits) and far below 2^53, so any JSON tool holds them exactly.

Times: from 2020-01-01 (a clock before that was never set) to `AHEAD_S` after the receiver's clock.
"""

from __future__ import annotations

import re
import time
from typing import Any

EARLIEST_S = 1577836800  # 2020-01-01T00:00:00Z: a wire time before this is a clock that was never set
AHEAD_S = 86400          # a wire time more than a day ahead of the receiver's clock is refused
MAX_SEQ = 2**53 - 1      # the largest integer every JSON reader holds exactly

# field name -> (minimum, maximum), both included
NUMBERS: dict[str, tuple[int, int]] = {
    "dwell_s": (0, 31 * 86400),              # the longest key window: a visit never spans two
    "sightings_n": (1, 100_000_000),
    "rssi_max_dbm": (-128, 127),             # radiotap's signal field is one signed byte
    "probe_requests_n": (0, 100_000_000),
    "seen_n": (0, 10_000_000),
    "visitors_n": (0, 10_000_000),
    "passersby_n": (0, 10_000_000),
    "bounces_n": (0, 10_000_000),
    "visits_n": (0, 10_000_000),
    "traffic_in_n": (0, 1_000_000),          # people through one door in one minute: far above any door
    "traffic_out_n": (0, 1_000_000),
    "hours_present_h": (0, 25),              # one local day (25 h on the autumn DST day)
    "days_present_n": (0, 366),
    "person_dwell_s": (0, 31 * 86400),       # a person's stay over linked fragments: within one window
    "present_n": (0, 10_000_000),            # the live view's counts (presence records)
    "entered_n": (0, 10_000_000),
    "new_n": (0, 10_000_000),
    "recent_s": (0, 86400),
}
HEX32 = r"[0-9a-f]{32}"
ID = r"[a-z0-9-]{1,64}"
# field name -> the exact shape of its text (None allowed where the type says so)
PATTERNS: dict[str, str] = {"device_key": HEX32, "member_key": HEX32, "person_key": HEX32, "key_window": ID,
                            "sensor": ID}
# the same shapes as (characters, shortest, longest): str.strip tests them at a fifth of a regex's cost
SHAPES: dict[str, tuple[str, int, int]] = {
    HEX32: ("0123456789abcdef", 32, 32), ID: ("abcdefghijklmnopqrstuvwxyz0123456789-", 1, 64)}
CHOICES: dict[str, tuple[str, ...]] = {"kind": ("visitor", "bounce"), "period": ("hour", "day"),
                                       "flag": ("static",)}
# a door counter's running total (generic push, Axis): a year of a very busy door
TOTAL_MAX = 1_000_000_000

_MAC = re.compile(r"(?:[0-9a-fA-F]{2}[:-]?){5}[0-9a-fA-F]{2}")
_COMPILED = {name: re.compile(p) for name, p in PATTERNS.items()}


class RangeError(ValueError):
    """A value of the right type outside its documented range or shape; `reason` is the counter name."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_number(label: str, name: str, value: int | float) -> None:
    """RangeError (`out_of_range`) when `value` is outside the range of field `name`."""
    lo, hi = NUMBERS[name]
    if not lo <= value <= hi:
        raise RangeError("out_of_range", f"{label}: out of range [{lo}, {hi}]")


def check_text(label: str, name: str, value: str) -> None:
    """RangeError when `value` is not of the exact shape of field `name` (`mac_shaped` for a MAC)."""
    choices = CHOICES.get(name)
    if choices is not None and value not in choices:
        raise RangeError("bad_shape", f"{label}: is not one of {', '.join(choices)}")
    pattern = _COMPILED.get(name)
    if pattern is not None and not pattern.fullmatch(value):
        if _MAC.fullmatch(value):
            raise RangeError("mac_shaped", f"{label}: looks like a MAC address (a raw MAC never leaves "
                                           "the gateway)")
        raise RangeError("bad_shape", f"{label}: does not match {PATTERNS[name]}")


def check_time(label: str, epoch: float, now: float | None = None) -> None:
    """RangeError (`out_of_range`) when a wire time is before 2020 or over AHEAD_S after `now`."""
    latest = (time.time() if now is None else now) + AHEAD_S
    if not EARLIEST_S <= epoch <= latest:
        raise RangeError("out_of_range", f"{label}: time outside 2020-01-01 .. one day after the "
                                         "receiver's clock")


def schema_bounds(name: str) -> dict[str, Any]:
    """The JSON Schema keywords saying the same as the checks above, for field `name`."""
    if name in NUMBERS:
        lo, hi = NUMBERS[name]
        return {"minimum": lo, "maximum": hi}
    if name in CHOICES:
        return {"enum": list(CHOICES[name])}
    if name in PATTERNS:
        return {"pattern": f"^{PATTERNS[name]}$"}
    return {}


def table() -> str:
    """The README's table of ranges, built from the ones above (a test keeps the README in step)."""
    lines = ["| field | accepted |", "|---|---|"]
    lines += [f"| `{name}` | {lo} to {hi} |" for name, (lo, hi) in NUMBERS.items()]
    lines += [f"| `{name}` | {', '.join(words)} |" for name, words in CHOICES.items()]
    for pattern in dict.fromkeys(PATTERNS.values()):
        names = ", ".join(f"`{n}`" for n, p in PATTERNS.items() if p == pattern)
        lines.append(f"| {names} | `{pattern}` (a MAC-shaped value: `mac_shaped`) |")
    lines.append("| `*_at`, `sent_at` | 2020-01-01T00:00:00Z to a day after the receiver's clock |")
    lines.append(f"| `seq` | 0 to {MAX_SEQ} |")
    return "\n".join(lines)
