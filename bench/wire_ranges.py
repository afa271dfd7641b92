#!/usr/bin/env python3
"""Cost of the wire's ranges (issue 14) in the hub's decode: `check_record` per record with the range
checks and with them switched off, same run, same records (visits, as an agent sends them), one core.

    .venv/bin/python bench/wire_ranges.py [--rounds 400]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.wire import records
from tests.hub.envelopes import visit


def per_record_us(check: Callable[[Any], Any], objs: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    for obj in objs:
        check(obj)
    return (time.perf_counter() - start) / len(objs) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=400)
    rounds = ap.parse_args().rounds
    objs = [records.record_to_dict(visit(i)) for i in range(500)]
    ranged = records._FIELD_CHECKS
    # the same table with the number, word and key ranges off; times are parsed (and compared) in both
    bare = {t: tuple((n, c, ty, k if k == 1 else 0, b) for n, c, ty, k, b in v) for t, v in ranged.items()}
    with_ranges, without = [], []
    for _ in range(rounds):
        records._FIELD_CHECKS = ranged
        with_ranges.append(per_record_us(records.check_record, objs))
        records._FIELD_CHECKS = bare
        without.append(per_record_us(records.check_record, objs))
    records._FIELD_CHECKS = ranged
    a, b = min(with_ranges), min(without)
    print(f"check_record, one visit, best of {rounds} x 500: with ranges {a:.2f} us, without {b:.2f} us, "
          f"+{a - b:.2f} us a record ({a / b:.2f}x)")


if __name__ == "__main__":
    main()
