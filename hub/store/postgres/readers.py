"""Read access for the data team (issue 17): logins in `footfall_reader`, which may read the v_* views only.

Migration 4 made the role (NOLOGIN) and the views over `feed_periods`, the feed as published: the
same figures and the same withheld cells as the MQTT feed, never the records (visits, members,
pos_transactions are not granted). `footfall-hub reader --login NAME` adds a login to the role; run
again, it changes nothing (or sets a new password given on stdin). README "Data team access".
"""

from __future__ import annotations

import argparse
import re
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.store.sql import Db

ROLE = "footfall_reader"
VIEWS = ("v_store_hour", "v_store_day", "v_member_segments")
NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
NOT_HERE = ("read access for the data team is a PostgreSQL feature (database.url); on SQLite they"
            " subscribe to the MQTT feed (README: Data team access)")


class ReaderError(Exception):
    """The login cannot be made as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Login:
    name: str
    created: bool
    password: str | None  # the generated one, to print once; None when given or left unchanged


def _role(db: Db, name: str) -> tuple[Any, ...] | None:
    row = db.execute("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = ?", (name,)).fetchone()
    return None if row is None else tuple(row)


def _member(db: Db, name: str) -> bool:
    return db.execute("SELECT pg_has_role(?, ?, 'MEMBER')", (name, ROLE)).fetchone()[0] is True


def ensure_role(db: Db) -> None:
    """The role and its grants, as migration 4 makes them (again here: the migrating user may not have
    been allowed to make roles; the one running this command must be)."""
    from psycopg import sql  # noqa: PLC0415 -- psycopg loads only for a postgresql:// URL

    if _role(db, ROLE) is None:
        db.raw.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(ROLE)))
    schema = db.execute("SELECT current_schema()").fetchone()[0]
    role = sql.Identifier(ROLE)
    db.raw.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), role))
    db.raw.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(
        sql.SQL(", ").join(sql.Identifier(v) for v in VIEWS), role))


def add_login(db: Db, name: str, password: str | None) -> Login:
    """Make `name` a login of footfall_reader (read-only sessions); `password` None: a new login gets a
    generated one, an existing login keeps its own. ReaderError for a name taken by another role."""
    if not NAME.fullmatch(name):
        raise ReaderError(f"--login {name!r}: use lower-case letters, digits and _ (at most 63), "
                          "starting with a letter or _")
    if db.engine != "postgresql":
        raise ReaderError(NOT_HERE)
    try:
        with db.transaction():  # all of it or nothing
            return _add_login(db, name, password)
    except db.errors.errors.InsufficientPrivilege as exc:
        raise ReaderError(f"{str(exc).strip().splitlines()[0]} (run it as a database user that may create "
                          "roles: CREATEROLE)") from None


def _add_login(db: Db, name: str, password: str | None) -> Login:
    from psycopg import sql  # noqa: PLC0415 -- as above

    ensure_role(db)
    found = _role(db, name)
    if found is not None and (name == ROLE or found[0] or found[1] or not _member(db, name)):
        raise ReaderError(f"role {name!r} exists and is not a data-team login; choose another name")
    generated = secrets.token_urlsafe(18) if password is None and found is None else None
    secret = password if password is not None else generated
    ident = sql.Identifier(name)
    if found is None:
        db.raw.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
            ident, sql.Literal(secret), sql.Identifier(ROLE)))
    elif secret is not None:
        db.raw.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(ident, sql.Literal(secret)))
    db.raw.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(ident))
    return Login(name, found is None, generated)


def cmd_reader(args: argparse.Namespace) -> int:
    from hub.cli import DEFAULT_CONFIG, UserError  # noqa: PLC0415 -- hub.cli imports this module
    from hub.config import ConfigError, load_hub_config  # noqa: PLC0415 -- per-command import (hub/cli.py)
    from hub.store.engine import StoreError  # noqa: PLC0415 -- as above
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
    """`footfall-hub reader` (hub/cli.py registers it)."""
    p = command("reader", "PostgreSQL: a read-only login for the data team (the v_* views of the feed, "
                "suppressed as published; README: Data team access)")
    p.add_argument("--login", required=True, metavar="NAME", help="the login to make or keep")
    p.add_argument("--password-stdin", action="store_true",
                   help="read its password from stdin (default: generate one for a new login, print it once)")
    p.set_defaults(run=cmd_reader)
