"""The outbox's disk cap: files stay within it, raw data goes first, drops counted exactly, WAL bounded."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from agent.buffer.cap import Budget
from agent.buffer.outbox import PRIORITY_AGGREGATE, PRIORITY_RAW
from agent.buffer.sqlitefile import file_bytes
from tests.agent.buffer.records import MIB, T0, minutes, open_box, payload_n, stored, visits

CAP = 2 * MIB
DROP_KEYS = ("outbox_dropped_batches_raw", "outbox_dropped_records_raw",
             "outbox_dropped_batches_aggregate", "outbox_dropped_records_aggregate")


def test_writing_twice_the_cap_stays_within_it_and_counts_every_drop(tmp_path: Path) -> None:
    """Offline for days: db + wal + shm never pass the cap (+1 MiB), and the dropped counts are exact,
    oldest first, so the status topic tells exactly what the hub will never get."""
    rng = random.Random(5)
    box = open_box(tmp_path / "outbox.db", cap_bytes=CAP, max_records_per_batch=50)
    issued: dict[int, int] = {}  # seq -> records
    written = peak = 0
    while written < 2 * CAP:
        recs = visits(rng, rng.randint(1, 120))
        for i in range(0, len(recs), 50):
            issued[len(issued)] = len(recs[i:i + 50])
            written += payload_n(recs[i:i + 50])
        box.append(recs, T0)
        peak = max(peak, box.disk_bytes())
        assert box.disk_bytes() <= CAP + MIB
    left = stored(box)
    dropped = sorted(set(issued) - set(left))
    counters = box.counters()
    print(f"\nwrote {written:,} payload bytes into a {CAP:,}-byte cap; peak on disk {peak:,}; "
          f"{len(dropped)} of {len(issued)} batches dropped")
    assert dropped and max(dropped) < min(left)  # the oldest went
    assert counters["outbox_dropped_batches_aggregate"] == len(dropped)
    assert counters["outbox_dropped_records_aggregate"] == sum(issued[s] for s in dropped)
    assert counters["outbox_dropped_batches_raw"] == counters["outbox_dropped_records_raw"] == 0
    assert peak <= CAP
    box.close()
    again = open_box(tmp_path / "outbox.db", cap_bytes=CAP)
    assert {k: again.counters()[k] for k in DROP_KEYS} == {k: counters[k] for k in DROP_KEYS}
    again.close()


def test_raw_data_goes_first_then_the_oldest_of_the_rest(tmp_path: Path) -> None:
    """At the cap no closed visit or count is dropped while raw data is left (new raw data included);
    each kind goes oldest first. Minute counts stand in for raw data here: no raw record type exists yet."""
    rng = random.Random(7)
    box = open_box(tmp_path / "outbox.db", cap_bytes=MIB, max_records_per_batch=100, raw_types={"minute"})
    phases = [(20, 300)] * 60 + [(60, 0)] * 150  # (visits, raw records) per append: mixed, then visits only
    issued: list[int] = []  # priority per seq: an append numbers its aggregates first, then its raw data
    for n_visits, n_raw in phases:
        issued += [PRIORITY_AGGREGATE] * -(-n_visits // 100) + [PRIORITY_RAW] * -(-n_raw // 100)
        box.append([*visits(rng, n_visits), *minutes(rng, n_raw)], T0)
        left = stored(box)
        c = box.counters()
        raw_left = sorted(s for s, (p, _) in left.items() if p == PRIORITY_RAW)
        if c["outbox_dropped_batches_aggregate"]:
            assert raw_left == [], "a visit was dropped while raw data was stored"
        assert box.disk_bytes() <= MIB + MIB
    c = box.counters()
    print(f"\ndropped: {', '.join(f'{k[15:]}={c[k]}' for k in DROP_KEYS)}")
    assert c["outbox_dropped_batches_raw"] > 0 and c["outbox_dropped_batches_aggregate"] > 0
    left = stored(box)
    for priority in (PRIORITY_RAW, PRIORITY_AGGREGATE):  # within a kind, the oldest went
        gone = [s for s, p in enumerate(issued) if p == priority and s not in left]
        kept = [s for s in left if left[s][0] == priority]
        assert gone and max(gone) < min(kept, default=len(issued))
    box.close()


def test_a_single_append_over_the_cap_keeps_its_counts_and_drops_its_raw_data(tmp_path: Path) -> None:
    """New raw data is dropped before stored visits: incoming batches are candidates in the same order."""
    rng = random.Random(3)
    box = open_box(tmp_path / "outbox.db", cap_bytes=MIB, max_records_per_batch=200, raw_types={"minute"})
    box.append(visits(rng, 400), T0)  # aggregates well within the cap
    before = stored(box)
    box.append(minutes(rng, 40_000), T0)  # raw data larger than the whole cap
    after = stored(box)
    c = box.counters()
    assert set(before) <= set(after)
    assert c["outbox_dropped_batches_aggregate"] == 0
    assert c["outbox_dropped_records_raw"] == 40_000 - sum(n for p, n in after.values() if p == PRIORITY_RAW)
    assert c["outbox_dropped_batches_raw"] == 200 - sum(1 for p, _ in after.values() if p == PRIORITY_RAW)
    assert box.disk_bytes() <= MIB + MIB
    box.close()


def test_the_wal_stays_bounded_through_many_appends_and_acks(tmp_path: Path) -> None:
    """Weeks of appends and acks never let the WAL grow past its share of the cap, and once the hub has
    acked everything the WAL is emptied."""
    rng = random.Random(11)
    box = open_box(tmp_path / "outbox.db", cap_bytes=CAP, max_records_per_batch=50)
    wal = tmp_path / "outbox.db-wal"
    peak = 0
    for i in range(1500):
        seqs = box.append([*visits(rng, rng.randint(1, 30)), *minutes(rng, 5)], T0)
        if i % 3 == 2:  # the hub acks in bursts, one behind
            due = [s for s, _ in box.due(T0, 1000, 30)]
            box.mark_sent(due, T0)
            box.acked(box.epoch, due[:-1] if i % 2 else due)
        peak = max(peak, file_bytes(wal))
        assert seqs
    print(f"\nWAL peak {peak:,} bytes; its share of the {CAP:,}-byte cap is {Budget(CAP).wal_bytes:,}")
    assert peak <= Budget(CAP).wal_bytes
    box.acked(box.epoch, [s for s, _ in box.due(T0 + 60, 10_000, 30)])
    assert box.backlog() == 0
    assert file_bytes(wal) == 0
    box.close()


def test_sqlite_settings_of_the_cap_and_durability(tmp_path: Path) -> None:
    """synchronous is FULL unless configured (power-loss safe); journal_size_limit and the autocheckpoint
    follow the cap; a cap below 1 MiB is refused."""
    box = open_box(tmp_path / "o.db", cap_bytes=CAP)
    pragma = {p: box._db.execute(f"PRAGMA {p}").fetchone()[0]
              for p in ("synchronous", "journal_size_limit", "wal_autocheckpoint", "journal_mode")}
    assert pragma == {"synchronous": 2, "journal_size_limit": 128 * 1024, "wal_autocheckpoint": 32,
                      "journal_mode": "wal"}
    box.close()
    try:
        open_box(tmp_path / "p.db", cap_bytes=MIB - 1)
    except ValueError as exc:
        assert str(exc) == "cap_bytes must be at least 1048576 (1 MiB), not 1048575"
    else:
        raise AssertionError("a cap below 1 MiB was accepted")
    assert not (tmp_path / "p.db").exists()


def test_counters_are_on_the_status_with_zeros_before_any_drop(tmp_path: Path) -> None:
    """The status topic always carries every drop counter (0 when nothing was dropped) and the bytes."""
    box = open_box(tmp_path / "o.db", cap_bytes=CAP)
    c = box.counters()
    assert {k: c[k] for k in DROP_KEYS} == dict.fromkeys(DROP_KEYS, 0)
    assert c["outbox_corrupt_recovered"] == 0
    assert c["outbox_cap_bytes"] == CAP
    assert 0 < c["outbox_bytes"] <= CAP
    with sqlite3.connect(tmp_path / "o.db") as other:  # the counters are plain rows, readable by tools
        assert other.execute("SELECT count(*) FROM meta WHERE key LIKE 'dropped_%'").fetchone()[0] == 0
    box.close()
