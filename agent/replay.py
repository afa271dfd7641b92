"""Offline replay: run a capture through the same pipeline and report per window, or one summary.

This is how an installer checks a store's capture: no outbox, no network, an ephemeral key chain
(pseudonyms of a replay never leave the process).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent import calibrate
from agent.clock import floor
from agent.common.tlsfiles import write_private
from agent.config import AgentConfig
from agent.pipeline import Pipeline
from agent.pipeline.classify import BOUNCE, VISITOR
from agent.pipeline.link import Person, link, summarize
from agent.pipeline.occupancy import OccupancyTally
from agent.pipeline.sessionize import ClosedVisit
from agent.privacy.keychain import KeyChain, window_of
from agent.sources.pcap_file import PcapFileSource
from agent.timegate import TIME_REASONS, TimeGate, file_ceiling
from agent.wire.records import DeviceFlag, iso


@dataclass
class ReplayResult:
    visits: list[ClosedVisit] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    first_ts: float = 0.0
    last_ts: float = 0.0
    problem: str | None = None
    macs_n: int = 0
    flagged: set[str] = field(default_factory=set)  # device keys (hex) found static
    flags: list[DeviceFlag] = field(default_factory=list)  # the flags themselves, for review

    occupancy: Any = None  # the rate-occupancy tally (agent.pipeline.occupancy), when configured
    people: list[Person] = field(default_factory=list)  # linked chains (agent.pipeline.link)
    people_min_dwell_s: float = 300.0
    min_strong_sightings: int = 3
    calibration: dict[str, Any] = field(default_factory=dict)  # the state folder's calibration.json
    time_dropped: dict[str, int] = field(default_factory=dict)  # frames dropped for their time, by reason
    frames_read: int = 0  # frames the capture held, before any was dropped

    @property
    def static_n(self) -> int:
        return len(self.flagged)

    @property
    def mostly_dropped(self) -> bool:
        """More than half of the capture's frames were dropped for their time: its counts mean little."""
        return sum(self.time_dropped.values()) * 2 > self.frames_read > 0


STATE_FILE = "replay-state.json"
OCCUPANCY_FILE = "occupancy-state.json"


def run(capture: Path, config: AgentConfig, state_dir: Path | None = None) -> ReplayResult:
    """Replay a whole capture; raises CaptureError when it is not a capture at all.

    With `state_dir`, what the agent learns across days (static devices, the key chain) is loaded
    from it and saved back, as a gateway's state directory would keep it: replaying days in order then
    behaves like the agent running through them.
    """
    source = PcapFileSource(capture, config.source.batch_frames)
    result = ReplayResult()
    result.calibration = (calibrate.load(state_dir) if state_dir is not None else None) or {}
    pinned = result.calibration
    pipeline: Pipeline | None = None
    stop = threading.Event()
    flagged: set[str] = set()
    # the capture's own timeline is the reference, this machine's clock only a ceiling (agent/timegate.py)
    gate = TimeGate(file_ceiling(time.time),
                    window_of=window_of(config.timezone, config.privacy.key_window_days))
    for batch in _timed(source.batches(stop), gate, result):
        if pipeline is None:
            pipeline = _pipeline(config, state_dir, batch[0][0], source.linktype)
            result.first_ts = batch[0][0]
            if config.counting.occupancy == "rate":
                c = config.counting
                # a calibrated store's gate is the one its factor was fitted with (no drift, issue 19)
                near = c.near_rssi_dbm or int(pinned.get("near_rssi_dbm", 0))
                min_near = c.occupied_min_near or int(pinned.get("occupied_min_near", 0))
                result.occupancy = OccupancyTally(near, min_near, c.count_rssi_dbm, c.smooth_s)
                saved = state_dir / OCCUPANCY_FILE if state_dir is not None else None
                if saved is not None and saved.exists():
                    result.occupancy.import_state(json.loads(saved.read_text()))
                pipeline.sessionizer.tally = result.occupancy
        out = pipeline.feed(batch)
        result.visits.extend(out.visits)
        result.flags.extend(r for r in out.records if isinstance(r, DeviceFlag))
        flagged.update(r.device_key for r in out.records if isinstance(r, DeviceFlag))
        result.last_ts = max(result.last_ts, batch[-1][0])
    if pipeline is not None:
        out = pipeline.close()
        result.visits.extend(out.visits)
        result.counters.update(pipeline.counters())
        result.macs_n = pipeline.pseudonymizer.distinct_keys
        result.flagged = flagged
        # offline, a device found static during the day leaves the day's counts from its start, as the
        # hub does with the DeviceFlag records it receives
        result.visits = [v for v in result.visits if v.device.hex() not in flagged]
        c = config.counting
        result.people = link(result.visits, gap_s=c.people_gap_s, rssi_dbm=c.people_rssi_dbm)
        result.people_min_dwell_s = c.people_min_dwell_s
        result.min_strong_sightings = c.min_strong_sightings
        if result.occupancy is not None:
            result.occupancy.exclude({bytes.fromhex(k) for k in flagged if k})
        if state_dir is not None:
            state = pipeline.export_state()
            state.pop("sessionizer")
            write_private(state_dir / STATE_FILE, json.dumps(state).encode())  # carry keys: 0600
            if result.occupancy is not None:
                occupancy = json.dumps(result.occupancy.export_state()).encode()
                write_private(state_dir / OCCUPANCY_FILE, occupancy)
    result.counters.update(source.counters)
    result.counters.update(gate.counters)
    result.time_dropped = {k: n for k, n in result.counters.items() if k in TIME_REASONS and n}
    result.problem = source.problem
    return result


def _timed(batches: Iterator[list[tuple[float, bytes]]], gate: TimeGate,
           result: ReplayResult) -> Iterator[list[tuple[float, bytes]]]:
    """The capture's batches through the time gate (before 2020, then the gate); empty ones skipped."""
    for batch in itertools.chain(batches, [None]):
        if batch is None:
            out = gate.close()
        else:
            result.frames_read += len(batch)
            out = gate.feed(floor(batch, gate.counters))
        if out:
            yield out


def _pipeline(config: AgentConfig, state_dir: Path | None, first_ts: float, linktype: int) -> Pipeline:
    days, tz = config.privacy.key_window_days, config.timezone
    if state_dir is None:
        return Pipeline(config, KeyChain.ephemeral(first_ts, days, tz), linktype)
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    pipeline = Pipeline(config, KeyChain.open(state_dir / config.privacy.keychain_file, first_ts, days, tz),
                        linktype)
    saved = state_dir / STATE_FILE
    if saved.exists():
        pipeline.import_state(json.loads(saved.read_text()))
    return pipeline


def windows(result: ReplayResult, window_s: int, factor: float = 1.0) -> list[dict[str, Any]]:
    """One row per window from the first frame to the last: seen, present, visitors, passersby, entering.

    `present` is the occupancy estimate times the store's calibration factor: with rate occupancy (the
    default, agent.pipeline.occupancy) the near-gated, smoothed number of devices heard in the window; else
    the time-averaged number of visitor devices in the window (docs/metrics.md).
    """
    if not result.visits and result.first_ts == 0.0:
        return []
    first = int(result.first_ts // window_s) * window_s
    last = int(result.last_ts // window_s) * window_s
    seen: dict[int, set[bytes]] = defaultdict(set)
    visitors: dict[int, set[bytes]] = defaultdict(set)
    present: dict[int, float] = defaultdict(float)
    entering: dict[int, int] = defaultdict(int)
    for v in result.visits:
        w = int(v.started // window_s) * window_s
        while w <= v.ended:
            seen[w].add(v.device)
            if v.kind == VISITOR:
                visitors[w].add(v.device)
                present[w] += (min(v.ended, w + window_s) - max(v.started, w)) / window_s
            w += window_s
        if v.kind == VISITOR:
            entering[int(v.started // window_s) * window_s] += 1
    if result.occupancy is not None:
        present = defaultdict(float, result.occupancy.counts(window_s))
    q10 = float(result.calibration.get("present_q10") or 1.0)
    q90 = float(result.calibration.get("present_q90") or 1.0)
    rows = []
    for w in range(first, last + 1, window_s):
        est = present[w] * factor
        rows.append({
            "window_start": iso(w), "seen": len(seen[w]), "present": round(est, 3),
            "present_low": round(est * q10, 3), "present_high": round(est * q90, 3),
            "visitors": len(visitors[w]), "passersby": len(seen[w] - visitors[w]), "entering": entering[w],
        })
    return rows


def summary(result: ReplayResult) -> dict[str, Any]:
    """The whole capture in one object (see README: replay --summary)."""
    by_device: dict[bytes, set[str]] = defaultdict(set)
    for v in result.visits:
        by_device[v.device].add(v.kind)
    device_visitors = sum(1 for kinds in by_device.values() if VISITOR in kinds)
    passersby = len(by_device) - device_visitors
    people = summarize(result.people, result.people_min_dwell_s, result.min_strong_sightings)
    cal = result.calibration
    b = float(cal.get("visitors_factor") or 0.0)
    visitors = round(b * people.visitors, 1) if b else float(people.visitors)
    low = round(visitors * float(cal.get("visitors_q10") or 1.0), 1)
    high = round(visitors * float(cal.get("visitors_q90") or 1.0), 1)
    malformed = {k: n for k, n in result.counters.items() if k not in ("frames", "probe_requests")}
    return {
        "frames": result.counters.get("frames", 0),
        "probe_requests": result.counters.get("probe_requests", 0),
        "distinct_macs": result.macs_n,
        "devices": len(by_device),
        "static_devices": result.static_n,
        "static_for_review": [{"device_key": f.device_key, "key_window": f.key_window,
                               "hours_present_h": f.hours_present_h, "days_present_n": f.days_present_n}
                              for f in result.flags],
        "visits": sum(1 for v in result.visits if v.kind == VISITOR),
        "bounces": sum(1 for v in result.visits if v.kind == BOUNCE),
        "visitors": visitors,
        "visitors_low": low,
        "visitors_high": high,
        "visitors_source": "calibrated" if b else "linked",
        "linked_visitors": people.visitors,
        "mean_dwell_s": round(people.mean_dwell_s),
        "median_dwell_s": round(people.median_dwell_s),
        "linked_fragments": people.fragments_n,
        "device_visitors": device_visitors,
        "passersby": passersby,
        "capture_rate": round(device_visitors / (device_visitors + passersby), 4) if by_device else 0.0,
        "first_frame_at": iso(result.first_ts) if result.first_ts else None,
        "last_frame_at": iso(result.last_ts) if result.last_ts else None,
        "skipped": malformed,
        "learned": _learned(result),
    }


def _learned(result: ReplayResult) -> dict[str, Any]:
    """What estimates use that was learned or calibrated, and when (no drift: issue 19)."""
    out: dict[str, Any] = {"gate": result.occupancy.learned() if result.occupancy is not None else None}
    cal = result.calibration
    out["calibration"] = {k: cal.get(k) for k in ("factor", "visitors_factor", "windows_n", "sources")} \
        if cal else None
    return out
