"""`footfall-hub members`: argparse wiring (hub/cli.py registers it; a ValueError is a one-line user
error, which the CLI prints as the error)."""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import asdict
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hub.config import HubConfig


def cmd_members(args: argparse.Namespace, config: HubConfig) -> int:
    from hub.members import segments  # noqa: PLC0415 -- loads only for this command
    from hub.members.mismatch import BY, mismatch  # noqa: PLC0415 -- as above
    from hub.store.engine import StoreError  # noqa: PLC0415 -- as above
    from hub.store.sql import open_database  # noqa: PLC0415 -- as above

    if config.database.engine == "sqlite" and not Path(config.database.path).exists():
        raise ValueError(f"{config.database.path}: no hub database yet (run footfall-hub serve or an import)")
    as_of = args.date or datetime.now(ZoneInfo(config.default_timezone)).date()
    try:
        db = open_database(config.database)
    except StoreError as exc:  # PostgreSQL unreachable or behind: one line with its remedy
        raise ValueError(str(exc)) from None
    try:
        rows = segments.compute(db, as_of, config.segments, config.default_timezone)
        segments.store(db, rows)
        k = config.publish.k
        if args.mismatch:
            tz = ZoneInfo(config.default_timezone)
            start = datetime.combine(as_of - timedelta(days=args.days - 1), time(), tz).timestamp()
            end = datetime.combine(as_of + timedelta(days=1), time(), tz).timestamp()
            table = mismatch(db, args.mismatch, int(start), int(end), k)
            _write(args.format, table, f"visiting vs buying members by {BY[args.mismatch]}, last {args.days} "
                   f"days to {as_of} (k = {k})")
            return 0
        if args.segment:
            chosen = [asdict(r) for r in rows if r.segment == args.segment]
            _write(args.format, chosen, f"{len(chosen)} {args.segment} members on {as_of}")
            return 0
        counts = {s: sum(1 for r in rows if r.segment == s) for s in segments.SEGMENTS}
        shown = segments.suppress(counts, k)
        _write(args.format, [{"segment": s, "members_n": n} for s, n in shown.items()],
               f"members by lifecycle segment on {as_of} (cells under k = {k} withheld)")
    finally:
        db.close()
    return 0


def _write(fmt: str, rows: list[dict[str, Any]], title: str) -> None:
    if fmt == "csv":
        if rows:
            w = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]), lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
        return
    from rich.console import Console  # noqa: PLC0415 -- tables only for the table format
    from rich.table import Table  # noqa: PLC0415 -- as above

    table = Table(title=title)
    for col in rows[0] if rows else ["(none)"]:
        table.add_column(col)
    for r in rows:
        table.add_row(*("-" if v is None else str(v) for v in r.values()))
    Console(file=sys.stdout, width=None if sys.stdout.isatty() else 160).print(table)


def add_commands(command: Any, store_type: Any, date_type: Any) -> None:
    """Register `members`; `command(name, help)` is hub/cli.py's (it adds --config)."""
    p = command("members", "members by lifecycle segment (active, normal, lapsing, churn_risk, new), "
                "lists for the CRM team, and visiting vs buying members")
    p.add_argument("--segment", choices=["active", "normal", "lapsing", "churn_risk", "new"],
                   help="list this segment's members (default: counts per segment, k-suppressed)")
    p.add_argument("--mismatch", choices=["segment", "crm_segment", "tier"],
                   help="visiting vs buying members by this attribute")
    p.add_argument("--days", type=int, default=28, help="the mismatch period: days to --date (default 28)")
    p.add_argument("--date", type=date_type, help="the day segments are computed for (default: today)")
    p.add_argument("--format", choices=["csv", "table"], default="table",
                   help="output format (default: table)")
    p.set_defaults(run_with_config=cmd_members)
