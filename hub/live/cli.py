"""`footfall-hub users` (the live page's accounts) and `footfall-hub live` (the back-office screen):
argparse wiring (hub/cli.py registers them; a ValueError is a one-line user error)."""

from __future__ import annotations

import argparse
import getpass
import signal
import sys
import threading
from typing import Any

from hub.config import HubConfig


def cmd_users(args: argparse.Namespace, config: HubConfig) -> int:
    from hub.live.auth import UserError, Users  # noqa: PLC0415 -- loads only for this command
    from hub.store.engine import StoreError  # noqa: PLC0415 -- as above

    try:
        users = Users(config.database)
    except StoreError as exc:  # unreachable, or its schema is behind (the message has the remedy)
        raise ValueError(str(exc)) from None
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
            print(f"user {args.name} removed and signed out")
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
    from hub.store.engine import StoreError  # noqa: PLC0415 -- as above

    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_a: stop.set())
    try:
        return run(config, args.store, args.every, args.once, stop)
    except FileNotFoundError as exc:
        raise ValueError(f"{exc}: no hub database yet (run footfall-hub serve first)") from None
    except StoreError as exc:
        raise ValueError(str(exc)) from None
    finally:
        signal.signal(signal.SIGINT, previous)


def add_commands(command: Any, store_type: Any) -> None:
    """Register `users` and `live`; `command(name, help)` is hub/cli.py's (it adds --config)."""
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
