"""POS import rate (issue 7: at least 100,000 rows/s), against csv.reader alone over the same file.

Writes a 1,000,000-row export of 20 stores (naive local times, refunds, a few voids, loyalty ids),
then times, in one run: `csv.reader` over the file (the floor of reading CSV in Python); a bare
`executemany` of already-parsed rows into the same table of a fresh hub database (the floor of
writing: SQLite's primary key and time index, one transaction; the rows as import_pos binds them, at_utc
formatted); and `import_pos` into another fresh database (read, validate every row, write, commit with
synchronous=FULL; one thread, checking a chunk then inserting it, all in one transaction; a load this
big into an empty table drops the time index and makes it again after the rows: what issue 7's first
import of a year's export does). Then, for the other case, `import_pos` of the same file into the first
database, which by then holds as many other rows, so the index is kept and updated row by row.
Prints the rates and the ratios. `--rows N` for a smaller run.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.config import HubConfig, StoreConfig
from hub.imports import importer
from hub.imports.pos import insert_statement
from hub.store import open_db
from hub.store.sql import SqliteDb

BUDGET = 100_000
STORES = [f"store-{i:02d}" for i in range(20)]


def write_export(path: Path, rows: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    t = 1_795_000_000
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["store", "timestamp", "transaction_id", "net_amount", "status", "member_id"])
        for i in range(rows):
            t += rng.randint(0, 3)
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))
            amount = rng.randint(-2000, 20000)
            status = "void" if i % 997 == 0 else "completed"
            member = f"M{rng.randint(1, 50000)}" if i % 5 == 0 else ""
            w.writerow([STORES[i % 20], stamp, f"T{i}", f"{amount / 100:.2f}", status, member])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    config = HubConfig(default_timezone="Europe/Prague",
                       stores={s: StoreConfig(timezone="Europe/Prague") for s in STORES})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pos.csv"
        write_export(path, args.rows)
        size_mb = path.stat().st_size / 1e6

        t0 = time.perf_counter()
        with path.open(newline="") as f:
            n = sum(1 for _ in csv.reader(f)) - 1
        baseline = n / (time.perf_counter() - t0)

        # other ids than the export's ("F"), so that the export imported here later adds every row
        rows = [(STORES[i % 20], f"F{i}", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_795_000_000 + i)),
                 1_795_000_000 + i, 100, "", 0) for i in range(n)]
        floor_db = open_db(Path(tmp) / "floor.db")
        t0 = time.perf_counter()
        floor_db.conn.execute("BEGIN")
        floor_db.conn.executemany(insert_statement("0" * 64), rows)
        floor_db.conn.execute("COMMIT")
        insert = n / (time.perf_counter() - t0)
        del rows

        db = SqliteDb(open_db(Path(tmp) / "hub.db").conn)
        t0 = time.perf_counter()
        result = importer("pos")(db, path, config)
        rate = n / (time.perf_counter() - t0)
        db.close()

        t0 = time.perf_counter()
        kept = importer("pos")(SqliteDb(floor_db.conn), path, config)
        rate_kept = n / (time.perf_counter() - t0)
        floor_db.close()
    print(f"{n:,} POS rows ({size_mb:.0f} MB), one run")
    print(f"  baseline csv.reader alone          {baseline:>12,.0f} rows/s")
    print(f"  baseline SQLite insert alone       {insert:>12,.0f} rows/s   (same table and indexes)")
    print(f"  import_pos (check + SQLite commit) {rate:>12,.0f} rows/s   ({result.summary()})")
    print(f"  import_pos, into a full table      {rate_kept:>12,.0f} rows/s   ({n:,} rows there before,"
          f" index kept: {kept.summary()})")
    print(f"  import / csv.reader = {rate / baseline:.2f}   import / insert alone = {rate / insert:.2f}"
          f"   (into a full table: {rate_kept / baseline:.2f}, {rate_kept / insert:.2f})")
    verdict = f"met, {rate / BUDGET:.1f}x" if rate >= BUDGET else "NOT met"
    print(f"  budget {BUDGET:,} rows/s (issue 7): {verdict}")
    return 0 if rate >= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
