"""`footfall-hub reader`: a read-only login for the data team on PostgreSQL (hub/store/postgres/readers.py),
registered by hub/cli.py. Beside hub/cli.py, not in hub/store/, whose package loads sqlite-utils: every
command's start would pay for it. Modules load inside the function, as in hub/cli.py.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path


def cmd_reader(args: argparse.Namespace) -> int:
    from hub.cli import DEFAULT_CONFIG, UserError  # noqa: PLC0415 -- hub.cli imports this module
    from hub.config import ConfigError, load_hub_config  # noqa: PLC0415 -- per-command import (hub/cli.py)
    from hub.store.engine import StoreError  # noqa: PLC0415 -- as above
    from hub.store.postgres.readers import (  # noqa: PLC0415 -- as above
        NOT_HERE,
        ROLE,
        VIEWS,
        ReaderError,
        add_login,
    )
    from hub.store.sql import open_database  # noqa: PLC0415 -- as above

    path = args.config or (DEFAULT_CONFIG if Path(DEFAULT_CONFIG).exists() else None)
    try:
        config = load_hub_config(path)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    if config.database.engine != "postgresql":
        raise UserError(NOT_HERE)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    if password == "":
        raise UserError("--password-stdin read an empty line; give the password on stdin")
    try:
        with open_database(config.database) as db:
            login = add_login(db, args.login, password)
    except (StoreError, ReaderError) as exc:
        raise UserError(f"{exc} (database {config.database.where()})") from None
    what = "added to" if login.created else "already in"
    print(f"login {login.name} {what} {ROLE}: it may read {', '.join(VIEWS)} only")
    if login.password is not None:
        print(f"password (shown once, keep it in the BI tool): {login.password}")
    elif not login.created and password is None:
        print("password unchanged (give a new one with --password-stdin)")
    return 0


def add_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """Register `footfall-hub reader` with hub/cli.py's `command`."""
    p = command("reader", "PostgreSQL: a read-only login for the data team (the v_* views of the feed, "
                "suppressed as published; README: Data team access)")
    p.add_argument("--login", required=True, metavar="NAME", help="the login to make or keep")
    p.add_argument("--password-stdin", action="store_true",
                   help="read its password from stdin (default: generate one for a new login, print it once)")
    p.set_defaults(run=cmd_reader)
