"""Read access for the data team (issue 17): logins in `footfall_reader`, which may read the v_* views only.

Migration 4 made the role (NOLOGIN) and the views over `feed_periods`, the feed as published: the
same figures and the same withheld cells as the MQTT feed, never the records (visits, members,
pos_transactions are not granted). `footfall-hub reader --login NAME` (hub/cli_reader.py) adds a login
to the role; run again, it changes nothing (or sets a new password given on stdin). README "Data team
access".
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from hub.store.sql import Db, first_line

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
        raise ReaderError(f"{first_line(exc)} (run it as a database user that may create "
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
