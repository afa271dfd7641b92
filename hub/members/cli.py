"""`footfall-hub members`, `footfall-hub users` and `footfall-hub live`: argparse wiring (hub/cli.py
registers them; each raises ValueError with a one-line message, which the CLI prints as the error)."""

from __future__ import annotations

import argparse
import csv
import getpass
import signal
import sys
import threading
from dataclasses import asdict
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hub.config import HubConfig


def cmd_members(args: argparse.Namespace, config: HubConfig) -> int:
    import sqlite3  # noqa: PLC0415 -- `import hub.cli` stays free of sqlite3

    from hub.members import segments  # noqa: PLC0415 -- loads only for this command
    from hub.members.mismatch import BY, mismatch  # noqa: PLC0415 -- as above

    if not Path(config.database.path).exists():
        raise ValueError(f"{config.database.path}: no hub database yet (run footfall-hub serve or an import)")
    as_of = args.date or datetime.now(ZoneInfo(config.default_timezone)).date()
    conn = sqlite3.connect(config.database.path, timeout=30)
    try:
        rows = segments.compute(conn, as_of, config.segments, config.default_timezone)
        segments.store(conn, rows)
        k = config.publish.k
        if args.mismatch:
            tz = ZoneInfo(config.default_timezone)
            start = datetime.combine(as_of - timedelta(days=args.days - 1), time(), tz).timestamp()
            end = datetime.combine(as_of + timedelta(days=1), time(), tz).timestamp()
            table = mismatch(conn, args.mismatch, int(start), int(end), k)
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
        conn.close()
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


def cmd_users(args: argparse.Namespace, config: HubConfig) -> int:
    from hub.live.auth import UserError, Users  # noqa: PLC0415 -- loads only for this command

    users = Users(config.database.path)
    try:
        if args.action == "list":
            for u in users.list():
                print(f"{u.name}\t{u.role}\t{u.scope or '(all stores)'}")
            return 0
        if not args.name:
            raise ValueError(f"{args.action} needs a user NAME")
        if args.action == "remove":
            if not users.remove(args.name):
                raise ValueError(f"there is no user {args.name!r} (see: footfall-hub users list)")
            print(f"user {args.name} removed (their sessions end at the next hub restart)")
            return 0
        password = _password(args.password_stdin)
        try:
            u = users.add(config, args.name, args.role, args.group or args.store or "", password)
        except UserError as exc:
            raise ValueError(str(exc)) from None
        print(f"user {u.name} added: {u.role} of {u.scope or 'every store'} (password kept as a scrypt hash)")
    finally:
        users.close()
    return 0


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ; run the command again")
    return first


def cmd_live(args: argparse.Namespace, config: HubConfig) -> int:
    from hub.live.screen import run  # noqa: PLC0415 -- rich's Live loads only for this command

    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_a: stop.set())
    try:
        return run(config, args.store, args.every, args.once, stop)
    except FileNotFoundError as exc:
        raise ValueError(f"{exc}: no hub database yet (run footfall-hub serve first)") from None
    finally:
        signal.signal(signal.SIGINT, previous)


def add_commands(command: Any, store_type: Any, date_type: Any) -> None:
    """Register the three commands; `command(name, help)` is hub/cli.py's (it adds --config)."""
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
    p = command("users", "live page users: add NAME --role manager --store S, remove NAME, list")
    p.add_argument("action", choices=["add", "remove", "list"])
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--role", choices=["admin", "area", "manager", "staff"], default="manager",
                   help="admin: every store; area: a --group; manager, staff: one --store (default manager)")
    p.add_argument("--store", type=store_type, help="the store of a manager or staff user")
    p.add_argument("--group", help="the store group (hub.yaml groups:) of an area manager")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from stdin's first line")
    p.set_defaults(run_with_config=cmd_users)
    p = command("live", "the live figures of one store on this screen, refreshed every few seconds")
    p.add_argument("--store", type=store_type, required=True, help="store id")
    p.add_argument("--every", type=float, default=3.0, help="refresh every this many seconds (default 3)")
    p.add_argument("--once", action="store_true", help="print one frame and exit")
    p.set_defaults(run_with_config=cmd_live)
