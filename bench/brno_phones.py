#!/usr/bin/env python3
"""How real phones randomize, measured on brno-lab's 2022 days: the simulator's figures come from here.

    .venv/bin/python bench/brno_phones.py

Random (locally administered) MACs heard at -75 dBm or stronger: how long one MAC lives, how many
frames it sends, how sequence numbers behave when one MAC of a fingerprint follows another within two
minutes, and how often two MACs of one fingerprint are heard in the same minute (phones of one model
side by side). agent/simulate/devices.py cites these figures.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path

from agent.pipeline.parse import FrameParser, RawSighting
from agent.sources.capture_file import CaptureFile

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "brno-lab"


def deciles(xs: list[float]) -> list[float]:
    return [round(v, 1) for v in statistics.quantiles(xs, n=10)]


def main() -> None:
    life: list[float] = []
    frames: list[float] = []
    follow: list[tuple[int, float]] = []  # (seq delta, gap s) from one MAC to the next of a fingerprint
    per_minute: list[float] = []
    for pcap in sorted(DATA.glob("2022-*.pcap")):
        by_mac: dict[bytes, list[RawSighting]] = defaultdict(list)
        for s in FrameParser(127).feed(list(CaptureFile(pcap))):
            if s.mac[0] & 2 and s.rssi_dbm >= -75:
                by_mac[s.mac].append(s)
        by_fp: dict[int, list[tuple[float, float, int, int]]] = defaultdict(list)
        for heard in by_mac.values():
            life.append(heard[-1].ts - heard[0].ts)
            frames.append(len(heard))
            by_fp[heard[0].fingerprint].append((heard[0].ts, heard[-1].ts, heard[0].seq, heard[-1].seq))
        for macs in by_fp.values():
            macs.sort()
            follow += [((b[2] - a[3]) % 4096, b[0] - a[1]) for a, b in pairwise(macs)
                       if 0 <= b[0] - a[1] <= 120]
            minutes: Counter[int] = Counter()
            for first, last, _, _ in macs:
                for m in range(int(first // 60), int(last // 60) + 1):
                    minutes[m] += 1
            per_minute += list(minutes.values())
    deltas = [d for d, _ in follow]
    print(f"random MACs at >= -75 dBm on the 2022 days: {len(life)}")
    single = sum(x < 1 for x in life) / len(life)
    print(f"one MAC's life, s (deciles): {deciles(life)}; single burst (< 1 s): {single:.1%}")
    print(f"frames per MAC (deciles): {deciles(frames)}")
    print(f"next MAC of a fingerprint within 120 s: {len(follow)}; its first seq follows the last by 1-64: "
          f"{sum(1 <= d <= 64 for d in deltas) / len(deltas):.1%} (chance: 1.6%), 1-256: "
          f"{sum(1 <= d <= 256 for d in deltas) / len(deltas):.1%}")
    print(f"gap to the next MAC, s (deciles): {deciles([g for _, g in follow])}")
    print(f"minutes with 2+ MACs of one fingerprint: {sum(c > 1 for c in per_minute) / len(per_minute):.1%}")


if __name__ == "__main__":
    main()
