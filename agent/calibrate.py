"""Calibration: a store's people-per-device factor, fitted from ground truth (docs/metrics.md).

Ground truth is a hand-logged occupancy CSV (`start_utc,end_utc,occupancy`, the brno-lab format): the
replayed captures give `present` per window, the truth gives the time-weighted people per window, and
the factor is the least-squares slope through the origin (y = a x). The fit is stored in the agent's
state folder (`calibration.json`) and every estimate after it uses it.

Issue 19 adds to the same fit: the 80 % interval of a window (10th-90th centile of truth / estimate on
occupied windows), the near gate the factor was fitted with (pinned from then on: a learned gate that
moves would silently change what the factor multiplies), and the visitors factor (the truth's entries,
its sum of rises, per linked person of replay --summary) with its 80 % interval from leave-one-out
ratios. Door counters refit the factor day by day where a store has one (agent.common.recalibrate).
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.common.tlsfiles import write_private

CALIBRATION_FILE = "calibration.json"
TRUTH_COLUMNS = ["start_utc", "end_utc", "occupancy"]


class CalibrationError(ValueError):
    """Bad ground truth or no overlap; the message names the file (and line)."""


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    occupancy: float


def _time(path: Path, line: int, column: str, text: str) -> float:
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CalibrationError(f"{path.name}:{line}: {column}: {text!r} is not an ISO 8601 time") from None
    if dt.tzinfo is None:
        raise CalibrationError(f"{path.name}:{line}: {column}: {text!r} has no UTC offset (add +00:00)")
    return dt.timestamp()


def read_truth(path: Path) -> list[Segment]:
    """Read and check a truth CSV: sorted, non-overlapping, non-negative; errors name file and line."""
    try:
        fh = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise CalibrationError(f"{path}: cannot read: {exc.strerror}") from None
    with fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header != TRUTH_COLUMNS:
            raise CalibrationError(f"{path.name}:1: the header must be {','.join(TRUTH_COLUMNS)}")
        segments: list[Segment] = []
        for row in reader:
            line = reader.line_num
            if not row:
                continue
            if len(row) != 3:
                raise CalibrationError(f"{path.name}:{line}: expected 3 columns, found {len(row)}")
            start = _time(path, line, "start_utc", row[0])
            end = _time(path, line, "end_utc", row[1])
            try:
                occ = float(row[2])
            except ValueError:
                raise CalibrationError(f"{path.name}:{line}: occupancy: {row[2]!r} is not a number") from None
            if not math.isfinite(occ) or occ < 0:
                raise CalibrationError(f"{path.name}:{line}: occupancy: {row[2]!r} is negative or not finite")
            if end <= start:
                raise CalibrationError(f"{path.name}:{line}: end_utc is not after start_utc")
            if segments and start < segments[-1].start:
                raise CalibrationError(f"{path.name}:{line}: rows are not sorted by start_utc")
            if segments and start < segments[-1].end:
                raise CalibrationError(f"{path.name}:{line}: this row overlaps the previous one")
            segments.append(Segment(start, end, occ))
    if not segments:
        raise CalibrationError(f"{path.name}: no rows after the header")
    return segments


def truth_windows(segments: list[Segment], window_s: int) -> dict[int, float]:
    """Time-weighted occupancy per window, for windows at least half covered by the truth."""
    lo, hi = segments[0].start, segments[-1].end
    out: dict[int, float] = {}
    w = int(lo // window_s) * window_s
    while w < hi:
        a, b = max(w, lo), min(w + window_s, hi)
        covered = sum(max(0.0, min(b, s.end) - max(a, s.start)) for s in segments)
        if covered >= window_s / 2:
            out[w] = sum(max(0.0, min(b, s.end) - max(a, s.start)) * s.occupancy for s in segments) / covered
        w += window_s
    return out


@dataclass(frozen=True)
class Fit:
    factor: float
    windows_n: int
    occupied_windows_n: int
    r: float
    mae_before: float
    mae_after: float
    window_s: int
    sources: tuple[str, ...]
    # the 80 % interval of a window's people: truth / estimate on occupied windows, 10th and 90th centile
    present_q10: float = 0.0
    present_q90: float = 0.0
    # the near gate the factor was fitted with: pinned from now on (no drift, issue 19)
    near_rssi_dbm: int = 0
    occupied_min_near: int = 0
    # visitors (people) per day: linked chains -> entries (the truth's rises), and its 80 % interval
    visitors_factor: float = 0.0
    visitors_q10: float = 0.0
    visitors_q90: float = 0.0
    visitors_days_n: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def fit(pairs: list[tuple[float, float]], window_s: int, sources: tuple[str, ...]) -> Fit:
    """Least-squares y = a x over (present, truth) pairs."""
    xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
    sxx = sum(x * x for x in xs)
    if not pairs or sxx == 0:
        raise CalibrationError("the captures show no present devices in the truth's windows: nothing to fit")
    a = sum(x * y for x, y in pairs) / sxx
    q10, q90 = ratio_interval([(a * x, y) for x, y in pairs if y >= 1 and x > 0])
    r = statistics.correlation(xs, ys) if len(set(xs)) > 1 and len(set(ys)) > 1 else 0.0
    return Fit(
        factor=round(a, 4), windows_n=len(pairs), occupied_windows_n=sum(y >= 1 for y in ys), r=round(r, 3),
        mae_before=round(statistics.mean(abs(x - y) for x, y in pairs), 3),
        mae_after=round(statistics.mean(abs(a * x - y) for x, y in pairs), 3), window_s=window_s,
        sources=sources, present_q10=q10, present_q90=q90,
    )


def ratio_interval(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    """10th and 90th centiles of truth / estimate over (estimate, truth) pairs: an 80 % interval is
    [estimate x q10, estimate x q90]. (1, 1) when there are too few pairs to say."""
    ratios = sorted(y / x for x, y in pairs if x > 0)
    if len(ratios) < 5:
        return 1.0, 1.0
    qs = statistics.quantiles(ratios, n=10, method="inclusive")
    return round(qs[0], 4), round(qs[-1], 4)


def entries(segments: list[Segment]) -> float:
    """People who came in: the sum of every rise in occupancy (those present at the start count)."""
    total, prev = 0.0, 0.0
    for s in segments:
        total += max(0.0, s.occupancy - prev)
        prev = s.occupancy
    return total


def fit_visitors(result: Fit, days: list[tuple[float, float]], min_entries: float = 3.0) -> Fit:
    """Add the visitors factor (entries = b x linked chains, least squares over days with at least
    `min_entries` entries) and its 80 % interval to a fit."""
    used = [(x, y) for x, y in days if y >= min_entries and x > 0]
    sxx = sum(x * x for x, _ in used)
    if not sxx:
        return result
    b = sum(x * y for x, y in used) / sxx
    # leave-one-out: each day's ratio against the factor fitted without it, since in-sample ratios of a
    # dozen days are too kind to a day the fit has not seen
    loo = []
    for i, (x, y) in enumerate(used):
        rest = used[:i] + used[i + 1:]
        sxx_rest = sum(u * u for u, _ in rest)
        if sxx_rest:
            loo.append((sum(u * v for u, v in rest) / sxx_rest * x, y))
    q10, q90 = ratio_interval(loo)
    return replace(result, visitors_factor=round(b, 4), visitors_q10=q10, visitors_q90=q90,
                   visitors_days_n=len(used))


def save(state_dir: Path, result: Fit) -> Path:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / CALIBRATION_FILE
    stored = {**result.as_dict(), "calibrated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    write_private(path, (json.dumps(stored, indent=2) + "\n").encode())  # the state folder: 0600
    return path


def load(state_dir: Path) -> dict[str, Any] | None:
    """The stored calibration, or None when the store was never calibrated."""
    path = state_dir / CALIBRATION_FILE
    if not path.exists():
        return None
    stored: dict[str, Any] = json.loads(path.read_text())
    return stored


def load_factor(state_dir: Path) -> float | None:
    """The stored factor, or None when the store was never calibrated."""
    stored = load(state_dir)
    return None if stored is None else float(stored["factor"])
