"""Who may see which store's live page: users with roles, scrypt password hashes, expiring sessions.

Roles (a user has one):
- `admin`: every store;
- `area`: the stores of one group of hub.yaml `groups:` (an area manager);
- `manager`: one store (a store manager); `staff`: one store (the till's tablet).

Passwords are stored as scrypt hashes (N=2^14, r=8, p=1, a 16-byte salt), never in clear; a wrong name
and a wrong password take the same time and give the same answer. After `MAX_FAILURES` failed logins of
a name within `LOCK_S`, that name is refused for `LOCK_S`. Sessions live in memory (a hub restart logs
everyone out) and end after `ttl_s` without a request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from agent.wire.records import iso
from hub.config import HubConfig
from hub.store.schema import connect

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


def ensure_table(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, role TEXT NOT NULL, scope TEXT NOT"
                 " NULL, password_hash TEXT NOT NULL, created_at TEXT NOT NULL)")


class Users:
    """The `users` table of the hub database."""

    def __init__(self, db_path: str | Path) -> None:
        self.conn = connect(db_path, check_same_thread=False)
        ensure_table(self.conn)
        self._lock = threading.Lock()
        self._failures: dict[str, list[float]] = {}

    def close(self) -> None:
        self.conn.close()

    def add(self, config: HubConfig, name: str, role: str, scope: str, password: str) -> User:
        """Add or replace a user; UserError for an unknown role, scope or a short password."""
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
        with self._lock:
            self.conn.execute("INSERT OR REPLACE INTO users (name, role, scope, password_hash, created_at)"
                              " VALUES (?, ?, ?, ?, ?)", (name, role, scope, hash_password(password),
                                                          iso(time.time())))
        return User(name, role, scope)

    def remove(self, name: str) -> bool:
        with self._lock:
            return self.conn.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount == 1

    def list(self) -> list[User]:
        with self._lock:
            rows = self.conn.execute("SELECT name, role, scope FROM users ORDER BY name").fetchall()
        return [User(*map(str, r)) for r in rows]

    def check(self, name: str, password: str, now: float | None = None) -> User | None:
        """The user when name and password match and the name is not locked; None otherwise."""
        now = time.time() if now is None else now
        with self._lock:
            recent = [t for t in self._failures.get(name, []) if now - t < LOCK_S]
            row = self.conn.execute("SELECT role, scope, password_hash FROM users WHERE name = ?",
                                    (name,)).fetchone()
        ok = verify_password(password, str(row[2]) if row else _DUMMY) and row is not None
        with self._lock:
            if len(recent) >= MAX_FAILURES or not ok:
                self._failures[name] = [*recent, now][-MAX_FAILURES * 2:]
                return None
            self._failures.pop(name, None)
        return User(name, str(row[0]), str(row[1]))


@dataclass
class Session:
    token: str
    csrf: str
    user: User
    expires: float


class Sessions:
    """Logged-in sessions: a random token in an HttpOnly cookie, a CSRF token for each session's forms."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._by_token: dict[str, Session] = {}
        self._lock = threading.Lock()

    def start(self, user: User, now: float | None = None) -> Session:
        now = time.time() if now is None else now
        s = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), user, now + self.ttl_s)
        with self._lock:
            self._by_token = {t: v for t, v in self._by_token.items() if v.expires > now}
            self._by_token[s.token] = s
        return s

    def get(self, token: str | None, now: float | None = None, touch: bool = True) -> Session | None:
        """The live session of `token`; a request moves its expiry on (`touch`), an expired one is gone."""
        if not token:
            return None
        now = time.time() if now is None else now
        with self._lock:
            s = self._by_token.get(token)
            if s is None or s.expires <= now:
                self._by_token.pop(token, None)
                return None
            if touch:
                s.expires = now + self.ttl_s
            return s

    def end(self, token: str) -> None:
        with self._lock:
            self._by_token.pop(token, None)
