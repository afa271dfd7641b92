"""Pseudonymize right after parsing: MAC -> visit key, HMAC-SHA256(window key, MAC) truncated to 128 bits.

This is the only stage that sees a raw MAC besides the parser. The batch's raw sightings are dropped as
soon as this stage returns; the per-batch cache of keys lives only for the call (bursts repeat a MAC).

Carrying static flags across rotations (docs/privacy.md, improved): staff phones and fixtures are often
switched off at night and skip days, so holding the old key for the first hour of a new window misses
them, and holding old keys longer would link everybody. Instead each window n has a carry key
C_n = HMAC(key_n, "carry"), and key_n is destroyed as soon as window n+1 begins. On a universally
administered MAC's first sighting in a window the stage notes its carry token HMAC(C_n, MAC) (memory
only; the static stage keeps the tokens of its all-day candidates only) and, for each carry key still
held, yields (token under that key, new key) in `transfers`. A carry key links nothing but candidates'
tokens, and yields no visit key (it is an HMAC of the window key). It lives for the documented overlap,
CARRY_WINDOWS = 1: the carry key of the last window with data is held through the next window with data
and destroyed when the one after begins, so a stolen gateway holds at most one past window's carry key
(and the all-day tokens of that window). The price: a fixture or staff phone silent for a whole window
with data starts its history again. Randomized MACs never cross a window.

Opt-outs (docs/privacy.md): with the opt-out secret installed, the stage computes the opt-out key
HMAC-SHA256(opt-out secret, MAC)[:16] of each universally administered MAC at its first sighting in a
window (one HMAC per MAC and window, not per frame; again for every MAC after the list changes), and
drops every sighting of a listed one, counted `opted_out`. Randomized MACs are never matched to the
list. An opt-out also erases (issue 18): the stage remembers, in memory and for the current window only,
the opt-out key of each universally administered MAC it heard; when a new list names one of them, or a
listed MAC heard earlier in the window is heard again, `take_erasures` yields its visit key so that the
pipeline drops its open visit, the outbox its queued visits and the hub its stored ones (an `erase`
record). The map is never saved: after a restart, a device is erased when it is heard again in the
window. Past windows need nothing: their keys are destroyed, so nobody can link their visits to the MAC.

Members (docs/privacy.md, with the gateway secret): the same key of a universally administered MAC is
looked up in the hub's list of consenting members' device keys; a match tags the device for the window
(`member_of`), and its visitor visits carry the key so the hub can store the member's visit. The list
and the key use the opt-out secret, not the member secret, so a gateway never holds the key of the CRM
tables. An opted-out device is never tagged. Randomized MACs are never matched.
"""

from __future__ import annotations

import contextlib
import hmac
from collections import Counter
from typing import Any, NamedTuple

from agent.pipeline.parse import RawSighting
from agent.privacy.keychain import KeyChain, KeyExpiredError, KeyNotYetError

CARRY_WINDOWS = 1  # the overlap (docs/privacy.md): see the docstring


class Sighting(NamedTuple):
    """A pseudonymous sighting: what every stage after this one sees."""

    ts: float
    device: bytes      # 16-byte visit key (a group key for randomized MACs after grouping)
    randomized: bool   # locally administered MAC
    rssi_dbm: int
    channel: int
    seq: int
    fingerprint: int
    window: int        # key window index


class Pseudonymizer:
    """Batch stage: [RawSighting] -> [Sighting]."""

    def __init__(self, chain: KeyChain, carry_windows: int = CARRY_WINDOWS) -> None:
        self.chain = chain
        self.carry_windows = carry_windows
        self.counters: Counter[str] = Counter()
        self._win = (-1, 0.0, 0.0, b"")  # index, start, end, key
        self._carry = b""                  # C_n of the current window
        self.tokens: dict[bytes, bytes] = {}       # visit key -> carry token, current window (memory only)
        self.prev_tokens: dict[bytes, bytes] = {}  # the same for the previous window
        self.carry_keys: list[tuple[int, bytes]] = []  # (window, C) of earlier windows with data, newest last
        self.transfers: list[tuple[bytes, bytes]] = []  # (old carry token, new key), for the static stage
        self._keys_seen: set[bytes] = set()  # distinct visit keys (MACs) of the current window
        self.distinct_keys = 0  # distinct visit keys, summed over windows
        # the hub's lists: (opt-out keys, member keys, visit keys checked against them, visit keys to
        # drop), one tuple so that set_lists (MQTT's thread) replaces them all at once
        self._lists: tuple[frozenset[bytes], frozenset[bytes], set[bytes], set[bytes]] = (
            frozenset(), frozenset(), set(), set())
        self.member_tags: dict[bytes, str] = {}       # visit key -> member's gateway key, current window
        self._gateway_keys: dict[bytes, bytes] = {}   # opt-out key -> visit key, current window (memory)
        self._erased: set[bytes] = set()              # visit keys erased in the current window
        self._erasures: list[tuple[bytes, int]] = []  # (visit key, window) for take_erasures
        self._lists_changed = False
        self._had_data = False                        # the current window saw a sighting
        self.prev_member_tags: dict[bytes, str] = {}  # the same for the previous window

    def set_lists(self, optouts: frozenset[bytes], members: frozenset[bytes] = frozenset()) -> None:
        """The hub's opt-out and member keys (16 bytes each): every MAC is checked again at its next
        sighting, and a device stays tagged only while the new list holds it (the retained config comes
        again at every reconnect: an open visit keeps its tag)."""
        def kept(tags: dict[bytes, str]) -> dict[bytes, str]:
            return {dev: tag for dev, tag in tags.items() if bytes.fromhex(tag) in members and
                    bytes.fromhex(tag) not in optouts}

        self.member_tags, self.prev_member_tags = kept(self.member_tags), kept(self.prev_member_tags)
        self._lists = (optouts, members, set(), set())
        self._lists_changed = True

    def take_erasures(self) -> list[tuple[bytes, int]]:
        """(visit key, window) of the current window's devices that opted out since the last call; the
        pipeline's thread calls it (set_lists, on MQTT's thread, only raises a flag)."""
        if self._lists_changed:
            self._lists_changed = False
            optouts = self._lists[0]
            for gateway_key, dev in list(self._gateway_keys.items()):
                if gateway_key in optouts and dev in self._keys_seen:  # heard before it was listed
                    self._erase(dev)
        out, self._erasures = self._erasures, []
        return out

    def _erase(self, dev: bytes) -> None:
        if dev not in self._erased:
            self._erased.add(dev)
            self._erasures.append((dev, self._win[0]))
            self.tokens.pop(dev, None)  # no carry token: its static history ends here too
            self.member_tags.pop(dev, None)

    def rotate(self, now: float) -> None:
        """Enter `now`'s window when the clock (not a frame) crosses into it: a quiet gateway destroys
        the closed window's key at midnight, not at its next frame. Call it with a synced clock only."""
        if self._win[0] >= 0 and self.chain.index_of(now) > self._win[0]:
            with contextlib.suppress(KeyExpiredError):
                self._enter_window(now)

    def member_of(self, dev: bytes) -> str | None:
        """The member key (hex) a visit key of the current or previous window was tagged with, or None."""
        return self.member_tags.get(dev) or self.prev_member_tags.get(dev)

    def _enter_window(self, ts: float) -> tuple[int, float, float, bytes]:
        index = self.chain.index_of(ts)
        old_index = self._win[0]
        key = self.chain.key(index)  # raises KeyExpiredError for a destroyed window
        if old_index >= 0 and index > old_index:
            if self._had_data or self._keys_seen:  # the overlap counts windows with data only
                self.carry_keys = [*self.carry_keys, (old_index, self._carry)][-self.carry_windows:]
            self.prev_tokens, self.tokens = self.tokens, {}
            self.prev_member_tags, self.member_tags = self.member_tags, {}
            self.chain.destroy_before(index)
        elif index != old_index:
            self.tokens, self.member_tags = {}, {}
            if old_index < 0:  # the first window with data: keys of earlier windows are of no use
                self.chain.destroy_before(index)
        self._lists = (self._lists[0], self._lists[1], set(), set())
        self._carry = hmac.digest(key, b"carry", "sha256")
        start, end = self.chain.bounds(index)
        self._keys_seen.clear()
        self._gateway_keys, self._erased, self._had_data = {}, set(), False
        self._win = (index, start, end, key)
        return self._win

    def feed(self, raws: list[RawSighting]) -> list[Sighting]:
        out: list[Sighting] = []
        append = out.append
        index, start, end, key = self._win
        cache: dict[bytes, bytes] = {}
        digest = hmac.digest
        new = tuple.__new__  # skips NamedTuple's Python-level __new__ on the frame path
        seen = self._keys_seen
        optouts, members, checked, blocked = self._lists
        secret = self.chain.optout_secret
        if (optouts or members) and secret is None:
            self.counters["optout_no_secret"] += 1  # no enrolment bundle installed: cannot match
        for r in raws:
            ts = r[0]
            if not start <= ts < end:
                try:
                    index, start, end, key = self._enter_window(ts)
                except KeyNotYetError:
                    self.counters["key_not_yet"] += 1
                    continue
                except KeyExpiredError:
                    self.counters["key_expired"] += 1
                    continue
                cache, seen = {}, self._keys_seen
                optouts, members, checked, blocked = self._lists
            mac = r[1]
            dev = cache.get(mac)
            if dev is None:
                dev = cache[mac] = digest(key, mac, "sha256")[:16]
                if secret is not None and dev not in checked and not mac[0] & 0x02:
                    checked.add(dev)
                    gateway_key = digest(secret, mac, "sha256")[:16]
                    self._gateway_keys[gateway_key] = dev
                    if gateway_key in optouts:
                        blocked.add(dev)
                        if dev in seen:  # heard before the list named it: its visits go too
                            self._erase(dev)
                    elif gateway_key in members:
                        self.member_tags[dev] = gateway_key.hex()
                if dev not in seen and dev not in blocked:  # first sighting of this MAC in the window
                    seen.add(dev)
                    self.distinct_keys += 1
                    if not mac[0] & 0x02:
                        self.tokens[dev] = digest(self._carry, mac, "sha256")[:16]
                        for _w, carry in self.carry_keys:
                            self.transfers.append((digest(carry, mac, "sha256")[:16], dev))
            if blocked and dev in blocked:
                self.counters["opted_out"] += 1
                continue
            append(new(Sighting, (ts, dev, mac[0] & 0x02 == 2, r[2], r[3], r[4], r[5], index)))
        cache.clear()
        if out:
            self._had_data = True
        return out

    def export_state(self) -> dict[str, Any]:
        """The current window and the carry keys (secrets: the state is stored with mode 0600)."""
        return {"window": self._win[0], "carry_keys": [[w, c.hex()] for w, c in self.carry_keys],
                "had_data": self._had_data}

    def import_state(self, state: dict[str, Any]) -> None:
        self.carry_keys = [(int(w), bytes.fromhex(c)) for w, c in state.get("carry_keys", [])]
        self._had_data = bool(state.get("had_data", True))
        index = int(state.get("window", -1))
        if index >= 0:
            try:
                start, end = self.chain.bounds(index)
                key = self.chain.key(index)
            except KeyExpiredError:
                return
            self._win, self._carry = (index, start, end, key), hmac.digest(key, b"carry", "sha256")

    def token_of(self, dev: bytes) -> bytes | None:
        """Carry token of a visit key of the current or previous window (None when not held)."""
        return self.tokens.get(dev) or self.prev_tokens.get(dev)

    def take_transfers(self) -> list[tuple[bytes, bytes]]:
        out, self.transfers = self.transfers, []
        return out
