#!/usr/bin/env python3
"""Outbox bytes per day of a busy store, offline, and how many days fit in the disk cap (docs/reliability.md).

A busy store-day (default: 3,000 visitors, 1,000 bounces, 20,000 passers-by, one door counter) is built
directly as wire records and appended the way the agent emits them behind a live capture: the source
hands a batch to the pipeline every 0.5 s, so each half-second that closes something is one append. A
visit is emitted when it closes (its last sighting + the 900 s visit timeout), a minute's counts 5 s
after the minute, an hour's and a day's counts once their visits can no longer change; passers-by leave
only counts; the doors thread stores closed door minutes every 15 s. Nothing is acknowledged (the uplink
is down for the whole run), so the outbox holds everything.

Measured in the same run: the files on disk (db + wal + shm, after a checkpoint) at the end of each day.
Printed as ratios against the default cap (256 MiB) and docs/reliability.md's budget (50 MB for 7 days).

    .venv/bin/python bench/outbox_days.py [--days 7] [--visitors 3000] [--passersby 20000] [--door-sensors 1]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.buffer.cap import DEFAULT_CAP_BYTES
from agent.buffer.outbox import Outbox
from agent.wire import DeviceFlag, DoorCounts, MinuteCounts, PeriodCounts, Visit
from agent.wire.records import iso

DAY0 = datetime(2026, 11, 23, tzinfo=UTC).timestamp()  # a Monday
OPEN_S, CLOSE_S = 7 * 3600, 19 * 3600  # 08:00 to 20:00 in Prague, as UTC seconds of the day
TICK_S = 0.5  # agent/sources/live.py FLUSH_S: one pipeline feed, so at most one append, per tick
VISIT_TIMEOUT_S = 900
LATENESS_S = 5
DOOR_FLUSH_S = 15  # doors.flush_s: closed door minutes go to the outbox every 15 s (agent/app.py)
BUDGET_7_DAYS = 50_000_000  # docs/reliability.md: outbox under 50 MB for 7 days of a busy store
MIB = 1 << 20


def _arrival(rng: random.Random) -> float:
    """A time of day in opening hours, busier at lunch and after work (two peaks)."""
    peak = rng.choice((12.5 * 3600 - 3600, 17.5 * 3600 - 3600))  # UTC
    t = rng.gauss(peak, 2.2 * 3600)
    return min(max(t, OPEN_S), CLOSE_S - 60)


def store_day(day: int, args: argparse.Namespace, rng: random.Random) -> list[tuple[float, str, Any]]:
    """(emit time, emitter, record) of one store-day, as the pipeline and the doors thread emit them."""
    visitors, bounces, passersby, doors = args.visitors, args.bounces, args.passersby, args.door_sensors
    base = DAY0 + day * 86_400
    window = iso(base)[:10]
    out: list[tuple[float, str, Any]] = []
    present = [0] * 1440
    for kind, n in (("visitor", visitors), ("bounce", bounces)):
        for _ in range(n):
            start = base + _arrival(rng)
            dwell = int(rng.lognormvariate(7.3, 0.6)) + 300 if kind == "visitor" else rng.randint(60, 299)
            end = start + dwell
            key = f"{rng.getrandbits(128):032x}" if kind == "visitor" else None
            visit = Visit(iso(start), iso(end), dwell, max(3, dwell // 40), rng.randint(-69, -35), kind,
                          rng.random() < 0.7, key, window)
            out.append((end + VISIT_TIMEOUT_S, "pipeline", visit))
            for m in range(int(start - base) // 60, min(int(end - base) // 60 + 1, 1440)):
                present[m] += 1
    for _ in range(passersby):
        present[int(_arrival(rng)) // 60] += 1
    for m in range(1440):
        seen = present[m]
        at = base + 60 * m
        minute = MinuteCounts(iso(at), seen * rng.randint(2, 6), seen, True)
        out.append((at + 60 + LATENESS_S, "pipeline", minute))
        for d in range(doors):  # one record per sensor-minute, stored by the doors thread's next flush
            flush_at = (at + 60) // DOOR_FLUSH_S * DOOR_FLUSH_S + DOOR_FLUSH_S
            traffic = seen // 4 + rng.randint(0, 2)
            out.append((flush_at, "doors", DoorCounts(f"door-{d + 1}", iso(at), traffic, traffic)))
    for h in range(24):
        at = base + 3600 * h
        seen = sum(present[60 * h:60 * h + 60]) // 20
        hour = PeriodCounts("hour", iso(at), seen, seen // 6, seen - seen // 6, seen // 20, seen // 6)
        out.append((at + 3600 + VISIT_TIMEOUT_S, "pipeline", hour))
    whole = PeriodCounts("day", iso(base), visitors + passersby, visitors, passersby, bounces, visitors)
    out.append((base + 86_400 + VISIT_TIMEOUT_S, "pipeline", whole))
    for _ in range(3):  # staff phones and fixtures, flagged static once a day
        flag = DeviceFlag(f"{rng.getrandbits(128):032x}", window, "static", 11.5, 5)
        out.append((base + 86_400 + VISIT_TIMEOUT_S, "pipeline", flag))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--visitors", type=int, default=3000)
    ap.add_argument("--bounces", type=int, default=1000)
    ap.add_argument("--passersby", type=int, default=20_000)
    ap.add_argument("--door-sensors", type=int, default=1, help="door counters, per-minute counts each")
    ap.add_argument("--cap-mib", type=int, default=DEFAULT_CAP_BYTES // MIB)
    ap.add_argument("--synchronous", default="NORMAL",
                    help="the bytes do not depend on it; NORMAL keeps the run short (default NORMAL)")
    args = ap.parse_args()
    rng = random.Random(1)
    cap = args.cap_mib * MIB
    with tempfile.TemporaryDirectory(prefix="outbox-days-") as tmp:
        box = Outbox(Path(tmp) / "outbox.db", "bench", "busy-store", "gw-1", synchronous=args.synchronous,
                     cap_bytes=cap)
        appends = records = 0
        per_day: list[int] = []
        started = time.perf_counter()
        for day in range(args.days):
            ticks: dict[tuple[int, str], list[Any]] = defaultdict(list)  # one append per feed or flush
            for at, emitter, rec in store_day(day, args, rng):
                ticks[int(at / TICK_S), emitter].append(rec)
            for tick in sorted(ticks):
                box.append(ticks[tick], tick[0] * TICK_S)
                appends += 1
                records += len(ticks[tick])
            box.checkpoint()
            per_day.append(box.disk_bytes())
        elapsed = time.perf_counter() - started
        batches = box.backlog()
        (payload,) = box._db.execute("SELECT sum(bytes_n) FROM batches").fetchone()
        counters = box.counters()
        box.close()
    days = args.days
    total = per_day[-1]
    per = total / days
    dropped = sum(v for k, v in counters.items() if k.startswith("outbox_dropped_"))
    print(f"busy store-day: {args.visitors:,} visitors, {args.bounces:,} bounces, {args.passersby:,} "
          f"passers-by, 1,440 minute counts, {1440 * args.door_sensors:,} door counts, 25 period counts, "
          "3 static flags; appended as a live capture and the doors thread emit them")
    print(f"{days} days offline: {records:,} records in {appends:,} appends = {batches:,} batches "
          f"({records / batches:.1f} records, {payload / batches:,.0f} payload bytes per batch); "
          f"{dropped} dropped; written in {elapsed:.1f} s")
    print("on disk after each day (db + wal + shm): " + ", ".join(f"{b / MIB:.1f}" for b in per_day) + " MiB")
    print(f"bytes/day: {per:,.0f} ({per / MIB:.2f} MiB) on disk; {payload / days:,.0f} of them payload "
          f"({payload / total:.0%})")
    print(f"{days}-day total {total / MIB:.1f} MiB vs cap {cap / MIB:.0f} MiB: ratio {total / cap:.3f} "
          f"({cap / per:.0f} days fit in the cap)")
    print(f"{days}-day total vs the 50 MB budget: ratio {total / BUDGET_7_DAYS * 7 / days:.3f}"
          " (scaled to 7 days)")
    return 0 if dropped == 0 and per * 7 < cap else 1


if __name__ == "__main__":
    sys.exit(main())
