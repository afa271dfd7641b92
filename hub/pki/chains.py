"""Key custody on the hub: it keeps no key of a window that has data, only one for a future window.

A store's window keys form a one-way ratchet (agent/privacy/keychain.py). The gateway that is enrolled
first for a store gets a fresh random key for the window of `keys_from` (default: yesterday in UTC, which
is today or later in every time zone); the hub forgets it at once and keeps only the key of the *future
window*: the first window that has begun nowhere on Earth (its local midnight in UTC+14 is still ahead).
No gateway has pseudonymized a frame under that key yet, so nothing the hub holds links any stored data.

    chains/{store}.json   {"window_days": 1, "future_index": N, "future_key": hex}   (mode 0600)

Every later gateway of the store gets that future key sealed in its bundle: it agrees with the first
gateway from the future window on, and counts nothing before it (about one to two days for 1-day
windows; up to a whole window for 7- or 30-day ones). Gateways issued together (`pki issue a.csr
b.csr`, hub/pki/enrolment.py's `together`) share the fresh key instead, so a new store's gateways all
start at once. We chose this over a gateway handing its key to the next (no gateway-to-gateway channel
exists, and a stolen gateway would then also hold the means to enrol impostors).

The hub ratchets the future key forward (`advance_chains`) at every `pki issue`, when `footfall-hub run`
starts, and every hour while it runs, so the file never holds the key of a window that has begun. A hub
switched off for longer than a day keeps, until it next starts, a key that a window with data uses:
start it, or run `pki issue`, and the file moves on (the README says so).
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from agent.common.bundle import ChainSecrets
from agent.common.ratchet import ALLOWED_WINDOW_DAYS, next_key
from agent.common.tlsfiles import write_private
from hub.pki.registry import RegistryError, optout_secret

log = logging.getLogger(__name__)

CHAINS = "chains"
EARLIEST_UTC_OFFSET = timedelta(hours=14)  # Line Islands: where a local day begins first


def future_index(window_days: int, now: datetime) -> int:
    """The first window that has not begun in any time zone at `now`."""
    return (now + EARLIEST_UTC_OFFSET).date().toordinal() // window_days + 1


def window_start(index: int, window_days: int) -> date:
    return date.fromordinal(index * window_days)


def _path(folder: Path, store: str) -> Path:
    return folder / CHAINS / f"{store}.json"


def _read(path: Path) -> tuple[int, int, bytes, bool]:
    """(window_days, future index, future key, old layout). A file of the old layout (the store's
    enrolment anchor) reads as the same chain; advance_chains ratchets it and rewrites it."""
    obj = json.loads(path.read_text())
    if "future_key" in obj:
        return int(obj["window_days"]), int(obj["future_index"]), bytes.fromhex(obj["future_key"]), False
    return int(obj["window_days"]), int(obj["anchor_index"]), bytes.fromhex(obj["anchor_key"]), True


def _write(path: Path, days: int, index: int, key: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private(path, json.dumps({"window_days": days, "future_index": index,
                                    "future_key": key.hex()}).encode())


def _ratchet(key: bytes, steps: int) -> bytes:
    for _ in range(steps):
        key = next_key(key)
    return key


def advance_chains(folder: Path, now: datetime | None = None) -> list[str]:
    """Ratchet every store's kept key to the current future window; the stores whose file moved."""
    at = now or datetime.now(UTC)
    moved = []
    for path in sorted((folder / CHAINS).glob("*.json")):
        days, index, key, old = _read(path)
        wanted = future_index(days, at)
        if index < wanted or old:
            _write(path, days, max(index, wanted), _ratchet(key, max(0, wanted - index)))
            moved.append(path.stem)
    return moved


def chain_secrets(folder: Path, store: str, window_days: int | None = None, keys_from: date | None = None,
                  now: datetime | None = None) -> ChainSecrets:
    """What a new gateway of `store` gets: a fresh chain from `keys_from`'s window for the store's first
    gateway, else the kept future key (or a later one, for a later `keys_from`)."""
    at = now or datetime.now(UTC)
    path = _path(folder, store)
    if path.exists():
        advance_chains(folder, at)
        days, index, key, _ = _read(path)
        if window_days is not None and window_days != days:
            raise RegistryError(f"store {store}'s key window is {days} days, not {window_days} (a chain "
                                "keeps its window)")
        wanted = index if keys_from is None else keys_from.toordinal() // days
        if wanted < index:
            raise RegistryError(
                f"store {store} has gateways already and the hub keeps no key of a window with data: this "
                f"gateway's keys start on {window_start(index, days)} (give --keys-from "
                f"{window_start(index, days)} or later)")
        return ChainSecrets(days, wanted, _ratchet(key, wanted - index), optout_secret(folder))
    days = window_days or 1
    if days not in ALLOWED_WINDOW_DAYS:
        raise RegistryError(f"--window-days {days} is not one of {ALLOWED_WINDOW_DAYS}")
    start = (keys_from or (at - timedelta(days=1)).date()).toordinal() // days
    key = secrets.token_bytes(32)
    future = max(start, future_index(days, at))
    _write(path, days, future, _ratchet(key, future - start))
    return ChainSecrets(days, start, key, optout_secret(folder))


class ChainRatchet:
    """While the hub runs: advance_chains now and every `every_s` (an hour), on a daemon thread."""

    def __init__(self, folder: Path, every_s: float = 3600.0) -> None:
        self.folder, self.every_s = folder, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chain-ratchet", daemon=True)

    def start(self) -> ChainRatchet:
        self._advance()
        self._thread.start()
        return self

    def _advance(self) -> None:
        try:
            advance_chains(self.folder)
        except (OSError, ValueError, KeyError):
            log.exception("could not ratchet the store chains in %s; again in an hour", self.folder)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self._advance()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
