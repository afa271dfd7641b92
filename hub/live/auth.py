"""Who may see which store's live page: users with roles, scrypt password hashes, expiring sessions.

Roles (a user has one):
- `admin`: every store;
- `area`: the stores of one group of hub.yaml `groups:` (an area manager);
- `manager`: one store (a store manager); `staff`: one store (the till's tablet).

Passwords are stored as scrypt hashes (N=2^14, r=8, p=1, a 16-byte salt), never in clear; a wrong name
and a wrong password take the same time and give the same answer. After `MAX_FAILURES` failed logins of
a name within `LOCK_S`, that name is refused for `LOCK_S`. Sessions end after `ttl_s` without a request.
Users, sessions and failed logins are tables of the hub database (made on first use on SQLite, by
migration 5 on PostgreSQL): every worker of a chain sees the same ones.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from agent.wire.records import iso
from hub.config import DatabaseConfig, HubConfig
from hub.store.sql import Db, open_database

ROLES = ("admin", "area", "manager", "staff")
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MAX_FAILURES, LOCK_S = 5, 300.0
MIN_PASSWORD = 10
_DUMMY = "scrypt$16384$8$1$" + "00" * 16 + "$" + "00" * 32  # checked when the name is unknown


class UserError(ValueError):
    """A user cannot be added as asked: the message is one line with the remedy."""


def hash_password(password: str) -> str:
    """`scrypt$N$r$p$salt$hash` (hex) of `password` with a fresh salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches the stored hash (constant-time comparison)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(digest) // 2)
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)


@dataclass(frozen=True)
class User:
    name: str
    role: str
    scope: str  # the store (manager, staff), the group (area), '' (admin)

    def stores(self, config: HubConfig) -> frozenset[str] | None:
        """The stores this user may see; None: every store."""
        if self.role == "admin":
            return None
        if self.role == "area":
            return frozenset(config.groups.get(self.scope, ()))
        return frozenset({self.scope})

    def may_see(self, config: HubConfig, store: str) -> bool:
        allowed = self.stores(config)
        return allowed is None or store in allowed


TABLES = (
    "CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, role TEXT NOT NULL, scope TEXT NOT NULL,"
    " password_hash TEXT NOT NULL, created_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sessions (token_hash TEXT PRIMARY KEY, csrf TEXT NOT NULL,"
    " name TEXT NOT NULL, expires_epoch_s REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS sessions_name ON sessions (name)",
    "CREATE TABLE IF NOT EXISTS login_failures (name TEXT NOT NULL, at_epoch_s REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS login_failures_name_at ON login_failures (name, at_epoch_s)",
)


def ensure_tables(db: Db) -> None:
    """SQLite makes the tables on first use; PostgreSQL has them from migration 5 (no DDL at run time)."""
    if db.engine == "sqlite":
        for statement in TABLES:
            db.execute(statement)


class Users:
    """The `users` table of the hub database, and the failed logins that lock a name.

    One connection for every thread of the live server, behind a lock (a login or a session check is a
    query of a millisecond; a psycopg connection must not be used by two threads at once)."""

    def __init__(self, database: DatabaseConfig) -> None:
        self.database = database
        self.db = open_database(database, check_same_thread=False)
        ensure_tables(self.db)
        self.lock = threading.Lock()

    def close(self) -> None:
        self.db.close()

    def reconnect(self) -> None:
        """A new connection after the database was out of reach (a restarted server closes the old one);
        StoreError while it still is."""
        with self.lock:
            self.db.close()
            self.db = open_database(self.database, check_same_thread=False)

    def add(self, config: HubConfig, name: str, role: str, scope: str, password: str) -> User:
        """Add or replace a user (a replaced one is signed out); UserError for an unknown role, scope or a
        short password."""
        if role not in ROLES:
            raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if role == "admin":
            scope = ""
        elif role == "area" and scope not in config.groups:
            raise UserError(f"--group {scope!r} is not a group of the config (groups: in hub.yaml)")
        elif role in ("manager", "staff") and not scope:
            raise UserError(f"a {role} needs --store STORE")
        if len(password) < MIN_PASSWORD:
            raise UserError(f"the password is shorter than {MIN_PASSWORD} characters")
        with self.lock, self.db.transaction(immediate=True):
            self.db.execute(
                "INSERT INTO users (name, role, scope, password_hash, created_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET role = excluded.role, scope = excluded.scope,"
                " password_hash = excluded.password_hash, created_at = excluded.created_at",
                (name, role, scope, hash_password(password), iso(time.time())))
            self.db.execute("DELETE FROM sessions WHERE name = ?", (name,))
        return User(name, role, scope)

    def remove(self, name: str) -> bool:
        """Remove a user and end their sessions on every worker; False when there is no such user."""
        with self.lock, self.db.transaction(immediate=True):
            self.db.execute("DELETE FROM sessions WHERE name = ?", (name,))
            return self.db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount == 1

    def list(self) -> list[User]:
        with self.lock:
            rows = self.db.execute("SELECT name, role, scope FROM users ORDER BY name").fetchall()
        return [User(*map(str, r)) for r in rows]

    def check(self, name: str, password: str, now: float | None = None) -> User | None:
        """The user when name and password match and the name is not locked; None otherwise. Failures
        are rows of the database, so a lockout holds on every worker."""
        now = time.time() if now is None else now
        with self.lock:
            (recent,) = self.db.execute(
                "SELECT count(*) FROM login_failures WHERE name = ? AND at_epoch_s > ?",
                (name, now - LOCK_S)).fetchone()
            row = self.db.execute("SELECT role, scope, password_hash FROM users WHERE name = ?",
                                  (name,)).fetchone()
        ok = verify_password(password, str(row[2]) if row else _DUMMY) and row is not None
        with self.lock:
            if int(recent) >= MAX_FAILURES or not ok:
                self.db.execute("DELETE FROM login_failures WHERE at_epoch_s <= ?", (now - LOCK_S,))
                self.db.execute("INSERT INTO login_failures (name, at_epoch_s) VALUES (?, ?)", (name, now))
                return None
            self.db.execute("DELETE FROM login_failures WHERE name = ?", (name,))
        return User(name, str(row[0]), str(row[1]))


@dataclass
class Session:
    token: str
    csrf: str
    user: User
    expires: float


class Sessions:
    """Logged-in sessions: a random token in an HttpOnly cookie, a CSRF token for each session's forms.

    Kept in the `sessions` table (the token's SHA-256, never the token), so that a login holds on every
    worker behind a load balancer and across a hub restart; a session reads its user's role at each
    request, so a removed or changed user is signed out at once. Shares the Users' connection and lock.
    """

    def __init__(self, users: Users, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._users, self._lock = users, users.lock

    @property
    def db(self) -> Db:
        return self._users.db

    def start(self, user: User, now: float | None = None) -> Session:
        now = time.time() if now is None else now
        s = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), user, now + self.ttl_s)
        with self._lock:
            self.db.execute("DELETE FROM sessions WHERE expires_epoch_s <= ?", (now,))
            self.db.execute(
                "INSERT INTO sessions (token_hash, csrf, name, expires_epoch_s) VALUES (?, ?, ?, ?)",
                (_digest(s.token), s.csrf, user.name, s.expires))
        return s

    def get(self, token: str | None, now: float | None = None, touch: bool = True) -> Session | None:
        """The live session of `token`; a request moves its expiry on (`touch`), an expired one is gone."""
        if not token:
            return None
        now = time.time() if now is None else now
        key = _digest(token)
        with self._lock:
            row = self.db.execute(
                "SELECT s.csrf, s.expires_epoch_s, u.name, u.role, u.scope FROM sessions s JOIN users u"
                " ON u.name = s.name WHERE s.token_hash = ?", (key,)).fetchone()
            if row is None or float(row[1]) <= now:
                if row is not None:
                    self.db.execute("DELETE FROM sessions WHERE token_hash = ?", (key,))
                return None
            expires = float(row[1])
            if touch and expires - now < self.ttl_s * 0.99:  # a page's bursts of requests write once
                expires = now + self.ttl_s
                self.db.execute("UPDATE sessions SET expires_epoch_s = ? WHERE token_hash = ?",
                                (expires, key))
        return Session(token, str(row[0]), User(str(row[2]), str(row[3]), str(row[4])), expires)

    def end(self, token: str) -> None:
        with self._lock:
            self.db.execute("DELETE FROM sessions WHERE token_hash = ?", (_digest(token),))


def _digest(token: str) -> str:
    """What the table keeps of a session token: a reader of the database cannot sign in with it."""
    return hashlib.sha256(token.encode()).hexdigest()
