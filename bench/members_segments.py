#!/usr/bin/env python3
"""Lifecycle segments against a chain whose members behave as planned (issue 16): agreement >= 90 %.

A generated two-month, three-store chain (tests/hub/members/chain.py: active, normal, lapsing on
purpose, churning on purpose, new members; a phone left at home now and then, 60 % of visits buying)
is segmented with the default thresholds, the ones that follow the chain's own distribution. Printed:
the thresholds found, the agreement overall and per planned segment, the confusion, and the time of a
daily run, for several seeds.

    .venv/bin/python bench/members_segments.py [--members 3000] [--seeds 3]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.config import SegmentConfig
from hub.members import segments
from hub.store.sql import SqliteDb
from tests.hub.members.chain import agreement, generate

AS_OF = date(2026, 11, 30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--members", type=int, default=3000)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    for seed in range(1, args.seeds + 1):
        db = Path(tempfile.mkdtemp(prefix="segments-bench-")) / "hub.db"
        truth = generate(db, AS_OF, args.members, seed=seed)
        conn = SqliteDb(sqlite3.connect(db, isolation_level=None))
        t0 = time.perf_counter()
        rows = segments.compute(conn, AS_OF, SegmentConfig(), "UTC")
        took = time.perf_counter() - t0
        segments.store(conn, rows)
        share, got = agreement(conn, truth, AS_OF)
        acts = segments.load_activity(conn, ZoneInfo("UTC"), AS_OF)
        th = segments.thresholds(acts, AS_OF, SegmentConfig())
        per = {k: sum(1 for m, s in truth.items() if s == k and got[m] == k) / max(1, sum(
            1 for s in truth.values() if s == k)) for k in segments.SEGMENTS}
        wrong = Counter((truth[m], got[m]) for m in truth if truth[m] != got[m]).most_common(4)
        print(f"seed {seed}: {args.members} members, agreement {share:.1%} "
              f"({', '.join(f'{k} {v:.0%}' for k, v in per.items())}); thresholds lapsing"
              f" {th.lapsing_days} d, churn {th.churn_days} d, active {th.active_days_n} days/28;"
              f" daily run {took:.2f} s")
        print(f"  most common disagreements (planned, found): {wrong}")


if __name__ == "__main__":
    main()
