"""Calibration: a store's people-per-device factor, fitted from ground truth (DESIGN section 2).

Ground truth is a hand-logged occupancy CSV (`start_utc,end_utc,occupancy`, the brno-lab format): the
replayed captures give `present` per window, the truth gives the time-weighted people per window, and
the factor is the least-squares slope through the origin (y = a x). The fit is stored in the agent's
state folder (`calibration.json`) and every estimate after it uses it.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.enroll import write_private

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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def fit(pairs: list[tuple[float, float]], window_s: int, sources: tuple[str, ...]) -> Fit:
    """Least-squares y = a x over (present, truth) pairs."""
    xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
    sxx = sum(x * x for x in xs)
    if not pairs or sxx == 0:
        raise CalibrationError("the captures show no present devices in the truth's windows: nothing to fit")
    a = sum(x * y for x, y in pairs) / sxx
    r = statistics.correlation(xs, ys) if len(set(xs)) > 1 and len(set(ys)) > 1 else 0.0
    return Fit(
        factor=round(a, 4), windows_n=len(pairs), occupied_windows_n=sum(y >= 1 for y in ys), r=round(r, 3),
        mae_before=round(statistics.mean(abs(x - y) for x, y in pairs), 3),
        mae_after=round(statistics.mean(abs(a * x - y) for x, y in pairs), 3), window_s=window_s,
        sources=sources,
    )


def save(state_dir: Path, result: Fit) -> Path:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / CALIBRATION_FILE
    write_private(path, (json.dumps(result.as_dict(), indent=2) + "\n").encode())  # the state folder: 0600
    return path


def load_factor(state_dir: Path) -> float | None:
    """The stored factor, or None when the store was never calibrated."""
    path = state_dir / CALIBRATION_FILE
    if not path.exists():
        return None
    return float(json.loads(path.read_text())["factor"])
