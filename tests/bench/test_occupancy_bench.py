"""The occupancy benchmark keeps working (issue 10): run on two small real days, it prints both columns."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_occupancy_bench_runs_on_two_small_days(tmp_path: Path, brno: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """One calibration day and one evaluated day: the side-by-side table, the per-day rows, a throughput."""
    for day in ("2022-10-19", "2023-04-14"):
        for ext in (".pcap", ".occupancy.csv"):
            (tmp_path / f"{day}{ext}").symlink_to(brno / f"{day}{ext}")
    spec = importlib.util.spec_from_file_location("occupancy_bench", ROOT / "bench" / "occupancy.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules["occupancy_bench"] = bench
    spec.loader.exec_module(bench)
    bench.main(tmp_path)
    out = capsys.readouterr().out
    assert "occupied windows: MAE, people" in out and "all windows: Pearson r" in out
    assert "2022-10-19" in out and "2023-04-14" in out
    assert "replay throughput" in out
