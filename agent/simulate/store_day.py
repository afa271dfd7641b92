"""A seeded, realistic store-day: a probe-request pcap, the POS export and the exact truth.

The demo and the end-to-end tests need a day whose answer is known: passers-by on the street, visitors
with realistic dwell and daily peaks, bounces, staff and fixtures, phones that randomize their MAC the
way their model does. One `random.Random(seed)` drives everything in a fixed order, and no wall clock,
set or hash order is involved, so a seed gives byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from agent.simulate.devices import (
    DIRECTED_SSIDS,
    FIXTURES,
    MODELS,
    PHONE_SETS,
    PHONES,
    STAFF_MODELS,
    Model,
    random_local_mac,
    vendor_mac,
)
from agent.simulate.frames import Frame, Template, build_template, write_pcap
from agent.simulate.pos import make_sales, write_pos
from agent.simulate.truth import (
    US,
    DeviceTruth,
    Settings,
    Visit,
    build_truth,
    classify,
    dumps_truth,
    sessionize,
)

PASSERSBY, VISITORS, BOUNCES, STAFF = 1500, 250, 60, 3
RETURN_P = 0.12  # tries; most fit before closing: about 10% of visitors return
NOISE_DB = 3.5  # per-frame RSSI noise
MIN_DBM, MAX_DBM = -96, -30
PASSERBY_MAX_DBM = -71  # the street is behind glass: a passer-by never reaches visitor level
OPEN_H, CLOSE_H = 9, 20
# Relative arrivals per local hour: lunch and late-afternoon peaks; the street is busy longer.
VISITOR_CURVE = {9: 4, 10: 6, 11: 8, 12: 13, 13: 12, 14: 8, 15: 9, 16: 12, 17: 15, 18: 13, 19: 6}
STREET_CURVE = {
    7: 5, 8: 9, 9: 7, 10: 7, 11: 9, 12: 13, 13: 12, 14: 9, 15: 10, 16: 13, 17: 16, 18: 14, 19: 9, 20: 6,
}
_STORE_RE = re.compile(r"[a-z0-9-]{1,64}")


@dataclass(frozen=True)
class DayFiles:
    """The three files of one simulated store-day."""

    pcap: Path
    pos_csv: Path
    truth_json: Path


@dataclass
class _Device:
    """A physical device while it is simulated: its MAC state and what it emitted."""

    kind: str
    model: Model
    randomized: bool
    template: int
    directed: int  # template index of its directed-SSID probe, -1 if none
    mac: bytes = b""
    mac_until_us: int = 0
    seq: int = 0
    times: list[int] = field(default_factory=list)
    rssis: list[int] = field(default_factory=list)
    macs_n: int = 0


class _Day:
    """Emits bursts for devices into one frame list; owns the templates and the MACs in use."""

    def __init__(self, rng: random.Random, date: dt.date, tz: ZoneInfo) -> None:
        self.rng, self.date, self.tz = rng, date, tz
        self.templates: list[Template] = []
        self._template_keys: dict[tuple[str, str], int] = {}
        self._macs_used: set[bytes] = set()
        self.frames: list[Frame] = []
        self.devices: list[_Device] = []
        self.phones: tuple[Model, ...] = PHONES

    def local_us(self, hour: int, minute: int = 0) -> int:
        """Epoch µs of a local wall-clock time on the day (DST-aware)."""
        local = dt.datetime.combine(self.date, dt.time(hour, minute), self.tz)
        return int(local.timestamp()) * US

    def day_bounds_us(self) -> tuple[int, int]:
        start = dt.datetime.combine(self.date, dt.time(0), self.tz)
        end = dt.datetime.combine(self.date + dt.timedelta(days=1), dt.time(0), self.tz)
        return int(start.timestamp()) * US, int(end.timestamp()) * US

    def sample_time(self, curve: dict[int, int]) -> int:
        hour = self.rng.choices(list(curve), weights=list(curve.values()))[0]
        return self.local_us(hour) + int(self.rng.uniform(0, 3600) * US)

    def _template(self, model: Model, ssid: str) -> int:
        key = (model.name, ssid)
        if key not in self._template_keys:
            self._template_keys[key] = len(self.templates)
            self.templates.append(build_template(model, ssid))
        return self._template_keys[key]

    def _unique(self, make: Callable[[], bytes]) -> bytes:
        mac = make()
        while mac in self._macs_used:
            mac = make()
        self._macs_used.add(mac)
        return mac

    def new_device(self, kind: str, model: Model, randomized: bool) -> _Device:
        rng = self.rng
        directed = -1
        if rng.random() < model.directed_p:
            directed = self._template(model, rng.choice(DIRECTED_SSIDS))
        dev = _Device(kind, model, randomized, self._template(model, ""), directed)
        dev.seq = rng.randrange(4096)
        if not randomized:
            dev.mac = self._unique(lambda: vendor_mac(rng, model))
            dev.macs_n = 1
        self.devices.append(dev)
        return dev

    def burst(self, dev: _Device, t_us: int, mean_dbm: float, max_dbm: int) -> None:
        """1-4 probe requests a few ms apart with consecutive sequence numbers."""
        rng, model = self.rng, dev.model
        if dev.randomized and (not dev.mac or model.rotate_s == (0, 0) or t_us >= dev.mac_until_us):
            if dev.mac and model.seq_resets:
                dev.seq = rng.randrange(4096)
            dev.mac = self._unique(lambda: random_local_mac(rng))
            dev.macs_n += 1
            dev.mac_until_us = t_us + int(rng.uniform(*model.rotate_s) * US)
        n = rng.choices((1, 2, 3, 4), weights=model.burst)[0]
        for i in range(n):
            rssi = min(max_dbm, max(MIN_DBM, round(rng.gauss(mean_dbm, NOISE_DB))))
            template = dev.directed if dev.directed >= 0 and n >= 2 and i == n - 1 else dev.template
            self.frames.append((t_us, template, dev.mac, dev.seq, rssi))
            dev.times.append(t_us)
            dev.rssis.append(rssi)
            dev.seq = (dev.seq + 1) % 4096
            t_us += rng.randint(1_500, 12_000)
        dev.seq = (dev.seq + rng.randint(0, 24)) % 4096  # probes sent on other channels, unheard here

    def presence(
        self,
        dev: _Device,
        *,
        start_us: int,
        end_us: int,
        mean_dbm: Callable[[int], float],
        screen_p: float,
        max_dbm: int = MAX_DBM,
    ) -> None:
        """Bursts from start to end (both heard), spaced by the model's screen-on/off intervals."""
        t = start_us
        while True:
            self.burst(dev, t, mean_dbm(t), max_dbm)
            if t >= end_us - US:  # close enough: a burst squeezed in later would overlap this one
                return
            lo, hi = dev.model.active_s if self.rng.random() < screen_p else dev.model.idle_s
            t = min(end_us, t + int(self.rng.uniform(lo, hi) * US))

    def presence_until(
        self, dev: _Device, start_us: int, end_us: int, mean_dbm: float, check: Callable[[Visit], bool]
    ) -> None:
        """An in-store presence, redrawn until its frames meet `check` (e.g. 3 strong sightings)."""
        saved = (dev.mac, dev.mac_until_us, dev.seq, dev.macs_n, len(dev.times), len(self.frames))
        for _ in range(200):
            self.presence(
                dev, start_us=start_us, end_us=end_us, mean_dbm=_around(self.rng, mean_dbm, 3), screen_p=0.35
            )
            got = saved[4]
            visits = sessionize(dev.times[got:], dev.rssis[got:], Settings())
            if len(visits) == 1 and check(visits[0]):
                return
            dev.mac, dev.mac_until_us, dev.seq, dev.macs_n = saved[:4]
            del dev.times[got:], dev.rssis[got:], self.frames[saved[5] :]
        raise RuntimeError("simulator could not draw a presence meeting its definition")


def _around(rng: random.Random, base: float, sd: float) -> Callable[[int], float]:
    """A mean signal that wanders from burst to burst as the person moves."""
    return lambda _t: base + rng.gauss(0, sd)


def _customer(day: _Day, kind: str) -> _Device:
    phones = day.phones
    model = day.rng.choices(phones, weights=[m.weight for m in phones])[0]
    return day.new_device(kind, model, day.rng.random() < model.randomized_p)


def _visit_window(day: _Day, earliest_us: int | None = None) -> tuple[int, int] | None:
    """Arrival on the visitor curve (or after `earliest_us`), lognormal dwell, gone by closing time."""
    close = day.local_us(CLOSE_H)
    if earliest_us is not None and earliest_us + 330 * US > close:
        return None
    for _ in range(1000):
        start = day.sample_time(VISITOR_CURVE) if earliest_us is None else earliest_us
        dwell = day.rng.lognormvariate(math.log(1050), 0.8)  # median 17.5 min
        if 330 <= dwell <= 7200 and start + dwell * US <= close:
            return start, start + int(dwell * US)
    return None


def _simulate(day: _Day, scale: float) -> None:
    rng, s = day.rng, Settings()
    day_start, day_end = day.day_bounds_us()
    for i in range(STAFF):
        dev = day.new_device("staff", MODELS[STAFF_MODELS[i % len(STAFF_MODELS)]], randomized=False)
        start = day.local_us(8, 30) + int(rng.uniform(-600, 600) * US)
        end = day.local_us(20, 30) + int(rng.uniform(-600, 600) * US)
        base = rng.uniform(-60, -48)
        day.presence(dev, start_us=start, end_us=end, mean_dbm=_around(rng, base, 4), screen_p=0.1)
    for model, base in zip(FIXTURES, (-55.0, -62.0), strict=True):
        dev = day.new_device("fixture", model, randomized=False)
        first = day_start + int(rng.uniform(0, model.idle_s[0]) * US)
        day.presence(dev, start_us=first, end_us=day_end - US, mean_dbm=_around(rng, base, 1.5), screen_p=0)
    for _ in range(round(VISITORS * scale)):
        dev = _customer(day, "visitor")
        window = _visit_window(day)
        if window is None:
            continue
        day.presence_until(dev, *window, rng.uniform(-65, -45), lambda v: v.is_visitor(s))
        if rng.random() < RETURN_P:
            again = _visit_window(day, window[1] + int(rng.uniform(35, 150) * 60 * US))
            if again is not None:
                day.presence_until(dev, *again, rng.uniform(-65, -45), lambda v: v.is_visitor(s))
    for _ in range(round(BOUNCES * scale)):
        dev = _customer(day, "bounce")
        start = day.sample_time(VISITOR_CURVE)
        end = start + int(rng.uniform(60, 240) * US)
        day.presence_until(dev, start, end, rng.uniform(-65, -50), lambda v: v.is_bounce(s))
    for _ in range(round(PASSERSBY * scale)):
        dev = _customer(day, "passerby")
        start = day.sample_time(STREET_CURVE)
        span = 0.0 if rng.random() < 0.5 else min(65.0, max(3.0, rng.lognormvariate(math.log(20), 0.6)))
        end = start + int(span * US)
        peak = rng.uniform(-82, -74)

        def along(t: int, start: int = start, span: float = span, peak: float = peak) -> float:
            """Strongest in front of the window, about 5 dB weaker at either end of the pass."""
            x = (2 * (t - start) / (span * US) - 1) if span else 0.0
            return peak - 5 * x * x

        day.presence(dev, start_us=start, end_us=end, mean_dbm=along, screen_p=0.5, max_dbm=PASSERBY_MAX_DBM)


def generate_day(  # noqa: PLR0917 -- the demo and the e2e tests call it positionally, as briefed
    out_dir: Path,
    date: dt.date,
    seed: int = 1,
    store: str = "demo-store",
    timezone: str = "Europe/Prague",
    scale: float = 1.0,
    phones: str = "gentle",
) -> DayFiles:
    """Write `{store}-{date}.pcap`, `.pos.csv` and `.truth.json` under out_dir; same seed, same bytes.

    `scale` multiplies the number of visitors, bounces and passers-by (staff and fixtures stay).
    `phones` picks the randomization habits: gentle (the demo's), or real (measured on brno-lab, see
    agent.simulate.devices).
    """
    if not _STORE_RE.fullmatch(store):
        raise ValueError(f"store {store!r} must match [a-z0-9-]{{1,64}}, e.g. demo-store")
    if not 0 < scale <= 20:
        raise ValueError(f"scale {scale} must be in (0, 20]")
    tz = ZoneInfo(timezone)
    if phones not in PHONE_SETS:
        raise ValueError(f"phones {phones!r} is not one of {', '.join(PHONE_SETS)}")
    day = _Day(random.Random(seed), date, tz)
    day.phones = PHONE_SETS[phones]
    _simulate(day, scale)
    settings = Settings()
    day_start, day_end = day.day_bounds_us()

    # Devices numbered by first sighting; kinds recomputed from the frames and checked against intent.
    ordered = sorted((d for d in day.devices if d.times), key=lambda d: d.times[0])
    devices: list[DeviceTruth] = []
    for index, dev in enumerate(ordered):
        visits = sessionize(dev.times, dev.rssis, settings)
        kind = dev.kind if dev.kind in ("staff", "fixture") else classify(visits, settings)
        if kind != dev.kind:
            raise RuntimeError(f"simulator bug: device {index} meant as {dev.kind} emitted a {kind}")
        devices.append(
            DeviceTruth(index, kind, dev.randomized, dev.model.name, visits, tuple(dev.times), dev.macs_n)
        )
    visitor_visits = sorted(
        (v for d in devices if d.kind == "visitor" for v in d.visits if v.is_visitor(settings)),
        key=lambda v: v.start_us,
    )
    sales = make_sales(day.rng, date, visitor_visits, day.local_us(OPEN_H), day.local_us(CLOSE_H))

    out_dir.mkdir(parents=True, exist_ok=True)
    files = DayFiles(
        pcap=out_dir / f"{store}-{date.isoformat()}.pcap",
        pos_csv=out_dir / f"{store}-{date.isoformat()}.pos.csv",
        truth_json=out_dir / f"{store}-{date.isoformat()}.truth.json",
    )
    day.frames.sort(key=lambda f: f[0])  # stable: simultaneous frames keep their generation order
    write_pcap(files.pcap, day.templates, day.frames)
    write_pos(files.pos_csv, store, timezone, sales)
    truth = build_truth(
        store=store, date=date, timezone=timezone, settings=settings, devices=devices, sales=sales,
        day_start_us=day_start, day_end_us=day_end,
    )
    files.truth_json.write_text(dumps_truth(truth), encoding="utf-8")
    return files
