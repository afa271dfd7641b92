"""The store's chain of window keys: a one-way ratchet, key n+1 = HKDF-SHA256(key n, "next").

A key yields the later keys, never the earlier ones, so destroying the key of a closed window makes its
pseudonyms unlinkable for good. Windows are whole local days of the store (1, 7 or 30 days long).

The file (mode 0600) also keeps the chain's opt-out secret (long-lived, not a window key: it makes the
opt-out and member lists' keys, docs/privacy.md): both come from the hub in the enrolment bundle
(agent/privacy/bundle.py), so that every gateway of a store computes the same keys. The file holds one
window key only, the anchor: the current window's (or, before a later gateway's first window, that one's).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from agent.common.ratchet import ALLOWED_WINDOW_DAYS, next_key


class KeyExpiredError(LookupError):
    """The window's key was destroyed (the window closed): its data can no longer be pseudonymized."""


class KeyNotYetError(KeyExpiredError):
    """The window is before this gateway's first key: a later gateway of a store starts at the hub's
    future window (hub/pki/chains.py), and holds no key of the days before it."""


def window_index(ts: float, tz: ZoneInfo, window_days: int) -> int:
    """The key window of a UTC timestamp: its local date's ordinal // window_days."""
    return datetime.fromtimestamp(ts, tz).date().toordinal() // window_days


def window_of(timezone: str, window_days: int) -> Callable[[float], int]:
    """`window_index` for one store's zone and window length (agent/timegate.py asks it)."""
    tz = ZoneInfo(timezone)
    return lambda ts: window_index(ts, tz, window_days)


class KeyChain:
    """Window keys of one store from an anchor (the oldest key still held) onwards."""

    def __init__(self, anchor_index: int, anchor_key: bytes, window_days: int = 1, timezone: str = "UTC",
                 path: Path | None = None, *, optout_secret: bytes | None = None) -> None:
        if window_days not in ALLOWED_WINDOW_DAYS:
            raise ValueError(f"key window must be one of {ALLOWED_WINDOW_DAYS} days, not {window_days}")
        self.window_days = window_days
        self.tz = ZoneInfo(timezone)
        self.path = path
        self.optout_secret = optout_secret  # HMAC key of opt-out keys; None: no bundle installed
        self._anchor = (anchor_index, anchor_key)
        self._last = (anchor_index, anchor_key)
        self.first_index = anchor_index  # the first window this gateway ever held a key of

    @classmethod
    def ephemeral(cls, first_ts: float, window_days: int = 1, timezone: str = "UTC") -> KeyChain:
        """A random chain anchored at `first_ts`'s window, held in memory only (offline replay)."""
        chain = cls(0, secrets.token_bytes(32), window_days, timezone)
        chain._anchor = chain._last = (chain.index_of(first_ts), chain._anchor[1])
        chain.first_index = chain._anchor[0]
        return chain

    @classmethod
    def open(cls, path: Path, first_ts: float, window_days: int = 1, timezone: str = "UTC") -> KeyChain:
        """Load the chain file, or create one anchored at `first_ts`'s window (mode 0600)."""
        if path.exists():
            obj = json.loads(path.read_text())
            if obj.get("window_days") != window_days:
                raise ValueError(
                    f"{path}: key window is {obj.get('window_days')} days, config says {window_days}")
            anchor_key = bytes.fromhex(obj["anchor_key"])
            secret = bytes.fromhex(obj["optout_secret"]) if obj.get("optout_secret") else None
            index = int(obj["anchor_index"])
            chain = cls(index, anchor_key, window_days, timezone, path, optout_secret=secret)
            chain.first_index = int(obj.get("first_index", index))
            return chain
        chain = cls(0, secrets.token_bytes(32), window_days, timezone, path)
        chain._anchor = chain._last = (chain.index_of(first_ts), chain._anchor[1])
        chain.first_index = chain._anchor[0]
        chain.save()
        return chain

    def save(self) -> None:
        """Write the anchor (and the opt-out secret) to `path`: a new 0600 file renamed over the old."""
        if self.path is None:
            return
        tmp = self.path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)  # never reuse a file someone made wider
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            obj = {"window_days": self.window_days, "anchor_index": self._anchor[0],
                   "anchor_key": self._anchor[1].hex(), "first_index": self.first_index}
            if self.optout_secret is not None:
                obj["optout_secret"] = self.optout_secret.hex()
            json.dump(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    @property
    def anchor_index(self) -> int:
        return self._anchor[0]

    def index_of(self, ts: float) -> int:
        """Window index of a UTC timestamp: local date ordinal // window_days."""
        return window_index(ts, self.tz, self.window_days)

    def bounds(self, index: int) -> tuple[float, float]:
        """UTC [start, end) of a window: local midnights."""
        start = datetime.combine(date.fromordinal(index * self.window_days), time(), self.tz)
        end = datetime.combine(date.fromordinal((index + 1) * self.window_days), time(), self.tz)
        return start.timestamp(), end.timestamp()

    def window_id(self, index: int) -> str:
        """Human id of a window: its first local date."""
        return date.fromordinal(index * self.window_days).isoformat()

    def key(self, index: int) -> bytes:
        """The window's key, ratcheting forward from the newest derived one (or the anchor)."""
        if index < self.first_index:
            raise KeyNotYetError(f"this gateway's keys start with window {self.window_id(self.first_index)}")
        if index < self._anchor[0]:
            raise KeyExpiredError(f"the key of window {self.window_id(index)} was destroyed")
        i, k = self._last if self._last[0] <= index else self._anchor
        while i < index:
            k, i = next_key(k), i + 1
        self._last = (i, k)
        return k

    def destroy_before(self, index: int) -> None:
        """Move the anchor to `index`: every earlier key is gone from memory and from the file."""
        if index <= self._anchor[0]:
            return
        self._anchor = (index, self.key(index))
        self.save()
