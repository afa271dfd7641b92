#!/usr/bin/env python3
"""Occupancy accuracy on the real brno-lab captures (issue 10), next to the naive counter, in one run.

Calibrates on the 2022 days and evaluates on the 2023 days with 10-minute windows, through the shared
scorer (../shared/bench/occupancy_score.py), once with our `replay` as the estimator (days replayed in
order with one state folder, as a gateway would live through them) and once with the naive estimator
(distinct MACs per window, the dataset's static list removed). Then, per day: distinct MACs, grouped
devices, devices flagged static, and how many of the dataset's 14 listed static MACs the agent flagged
on its own (their keys are computed here, from the key chain, before each day is replayed).

    .venv/bin/python bench/occupancy.py
"""

from __future__ import annotations

import glob
import hashlib
import hmac
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agent import replay
from agent.config import AgentConfig
from agent.privacy.keychain import KeyChain
from agent.sources.capture_file import CaptureFile

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "datasets" / "brno-lab"
SCORER = SHARED / "bench" / "occupancy_score.py"
LISTED_STATIC = [
    "dc:fb:48:68:be:e4", "dc:fb:48:8c:71:fc", "dc:fb:48:2a:52:e0", "dc:fb:48:f5:c6:c2", "dc:fb:48:e3:ab:78",
    "dc:fb:48:00:51:90", "dc:fb:48:75:d8:42", "dc:fb:48:de:86:8d", "dc:fb:48:dd:c6:0b", "dc:fb:48:55:d5:78",
    "dc:fb:48:c2:1d:64", "40:ec:99:f9:34:a6", "40:ec:99:8e:3f:63", "40:ec:99:1f:3e:75",
]
MEASURES = [("occupied windows: MAE, people", "occupied_mae", "<= 3.0", "<= 2.0"),
            ("occupied windows: MAPE", "occupied_mape", "<= 0.25", "<= 0.15"),
            ("empty windows predicted < 0.5", "empty_below_half", ">= 95%", ">= 98%"),
            ("all windows: Pearson r", "r", ">= 0.90", ">= 0.95")]


def score(data: Path, cmd: str | None) -> dict[str, object]:
    args = [sys.executable, str(SCORER), str(data), "--from", "2023"] + (["--cmd", cmd] if cmd else [])
    out = subprocess.run(args, capture_output=True, text=True, check=True, cwd=ROOT)
    result: dict[str, object] = json.loads(out.stdout)
    return result


def per_day(state: Path, data: Path = DATA) -> None:
    """Replay every day in order in-process; print the per-day counts and the static-list recall."""
    cfg = AgentConfig()
    listed = [bytes.fromhex(m.replace(":", "")) for m in LISTED_STATIC]
    frames_n, seconds = 0, 0.0
    print(f"{'day':<11} {'frames':>7} {'MACs':>6} {'devices':>8} {'static':>7} {'listed':>7} {'other':>6}")
    for pcap in sorted(glob.glob(str(data / "*.pcap"))):
        stamps = [ts for ts, _ in CaptureFile(pcap)]
        keys: set[str] = set()
        chain_file = state / cfg.privacy.keychain_file
        if chain_file.exists():
            chain = KeyChain.open(chain_file, stamps[0], cfg.privacy.key_window_days, cfg.timezone)
            for index in {chain.index_of(stamps[0]), chain.index_of(stamps[-1])}:
                if index >= chain.anchor_index:
                    keys |= {hmac.digest(chain.key(index), m, hashlib.sha256)[:16].hex() for m in listed}
        t0 = time.perf_counter()
        result = replay.run(Path(pcap), cfg, state)
        seconds += time.perf_counter() - t0
        frames_n += len(stamps)
        flagged = result.flagged
        devices = len({v.device for v in result.visits})
        print(f"{Path(pcap).stem:<11} {len(stamps):>7} {result.macs_n:>6} {devices:>8} {len(flagged):>7} "
              f"{len(flagged & keys):>7} {len(flagged - keys):>6}")
    print(f"replay throughput (whole path, files read from disk): {frames_n / seconds:,.0f} frames/s")


def main(data: Path = DATA) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        cmd = f"{sys.executable} -m agent.cli replay {{pcap}} --window {{window}} --state {state}"
        ours = score(data, cmd)
        naive = score(data, None)
        print("scorer: ../shared/bench/occupancy_score.py ../shared/datasets/brno-lab --from 2023"
              " (factor fitted on 2022, 2023 evaluated, 10-minute windows)")
        print(f"{'measure (2023 days)':<32} {'naive':>8} {'footfall':>9} {'must':>8} {'goal':>8}")
        for label, key, must, goal in MEASURES:
            n, o = naive["transfer"][key], ours["transfer"][key]  # type: ignore[index]  # scorer JSON: untyped
            print(f"{label:<32} {n:>8} {o:>9} {must:>8} {goal:>8}")
        print(f"factor fitted on 2022: naive {naive['factor']}, footfall {ours['factor']}")
        print("footfall:", json.dumps(ours))
        print("naive:   ", json.dumps(naive))
        shutil.rmtree(state, ignore_errors=True)
        per_day(state, data)


if __name__ == "__main__":
    main()
