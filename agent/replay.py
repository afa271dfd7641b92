"""Offline replay: run a capture through the same pipeline and report per window, or one summary.

This is how an installer checks a store's capture: no outbox, no network, an ephemeral key chain
(pseudonyms of a replay never leave the process).
"""

from __future__ import annotations

import itertools
import json
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.clock import floor
from agent.config import AgentConfig
from agent.pipeline import Pipeline
from agent.pipeline.classify import BOUNCE, VISITOR
from agent.pipeline.occupancy import OccupancyTally
from agent.pipeline.sessionize import ClosedVisit
from agent.privacy.keychain import KeyChain
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
    pipeline: Pipeline | None = None
    stop = threading.Event()
    flagged: set[str] = set()
    # the capture's own timeline is the reference, this machine's clock only a ceiling (agent/timegate.py)
    gate = TimeGate(file_ceiling(time.time))
    for batch in _timed(source.batches(stop), gate, result):
        if pipeline is None:
            pipeline = _pipeline(config, state_dir, batch[0][0], source.linktype)
            result.first_ts = batch[0][0]
            if config.counting.occupancy == "rate":
                c = config.counting
                result.occupancy = OccupancyTally(c.near_rssi_dbm, c.occupied_min_near, c.count_rssi_dbm,
                                                  c.smooth_s)
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
        if result.occupancy is not None:
            result.occupancy.exclude({bytes.fromhex(k) for k in flagged if k})
        if state_dir is not None:
            state = pipeline.export_state()
            state.pop("sessionizer")
            (state_dir / STATE_FILE).write_text(json.dumps(state))
            if result.occupancy is not None:
                (state_dir / OCCUPANCY_FILE).write_text(json.dumps(result.occupancy.export_state()))
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
    state_dir.mkdir(parents=True, exist_ok=True)
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
    the time-averaged number of visitor devices in the window (DESIGN section 2).
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
    rows = []
    for w in range(first, last + 1, window_s):
        rows.append({
            "window_start": iso(w), "seen": len(seen[w]), "present": round(present[w] * factor, 3),
            "visitors": len(visitors[w]), "passersby": len(seen[w] - visitors[w]), "entering": entering[w],
        })
    return rows


def summary(result: ReplayResult) -> dict[str, Any]:
    """The whole capture in one object (see README: replay --summary)."""
    by_device: dict[bytes, set[str]] = defaultdict(set)
    for v in result.visits:
        by_device[v.device].add(v.kind)
    visitors = sum(1 for kinds in by_device.values() if VISITOR in kinds)
    passersby = len(by_device) - visitors
    dwell = [v.ended - v.started for v in result.visits if v.kind == VISITOR]
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
        "passersby": passersby,
        "capture_rate": round(visitors / (visitors + passersby), 4) if by_device else 0.0,
        "median_dwell_s": round(statistics.median(dwell)) if dwell else 0,
        "first_frame_at": iso(result.first_ts) if result.first_ts else None,
        "last_frame_at": iso(result.last_ts) if result.last_ts else None,
        "skipped": malformed,
    }
