"""The attacks of issue 18, (1) to (3), as an auditor would run them on the files a week leaves behind.

Each attack reads only what its attacker holds (every file of the hub, or of a stolen gateway), tries
everything cheap, and counts what it recovered; its control runs the same search with one secret the
attacker should not have (a real window key, read from the gateway while its day was current), so that a
harness that finds nothing is shown able to find something. A summary line per attack says both.

What counts as a stored key: every run of exactly 32, 40 or 64 hex digits in any file, and in every cell
of every SQLite table (compressed outbox payloads decompressed). What counts as a secret to derive from:
every 64-hex run, every 32-byte file, the private scalar of every PEM key, and what any enrolment bundle
found opens to with any of those keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import sqlite3
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.common.ratchet import next_key
from agent.common.sealed import SealError, open_sealed
from tests.attacks.world import AGENT, ORG, STORE, World, vendor_space

HASHES = ("md5", "sha1", "sha256")
RATCHET_STEPS = 7      # forward steps tried from every secret (a week): the ratchet only goes forward
PROOF_STEPS = 400      # the proof ratchets every secret more than a year forward
_HEX_RUN = re.compile(rb"(?<![0-9a-fA-F])(?:[0-9a-fA-F]{64}|[0-9a-fA-F]{40}|[0-9a-fA-F]{32})(?![0-9a-fA-F])")


@dataclass(frozen=True)
class Result:
    """What one attack tried and found, and what its control found."""

    name: str
    tried: str
    found: int
    control: str
    control_found: int
    seconds: float

    @property
    def line(self) -> str:
        return (f"{self.name}: {self.tried}: {self.found} recovered | control ({self.control}): "
                f"{self.control_found} recovered [{self.seconds:.1f} s]")


def files(roots: Iterable[Path]) -> list[Path]:
    """Every file under (or at) each root."""
    out: list[Path] = []
    for root in roots:
        if root.is_file():
            out.append(root)
        elif root.is_dir():
            out.extend(p for p in sorted(root.rglob("*")) if p.is_file())
    return out


def _cells(path: Path) -> Iterator[bytes]:
    """Every cell of every table of a SQLite file, as bytes; blobs also decompressed when they are zlib."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for cell in row:
                    if isinstance(cell, bytes):
                        yield cell
                        yield _inflate(cell)
                    elif cell is not None:
                        yield str(cell).encode()
    finally:
        conn.close()


def _inflate(blob: bytes) -> bytes:
    """A zlib blob's content (the outbox compresses large payloads); b"" for anything else."""
    try:
        return zlib.decompress(blob)
    except zlib.error:
        return b""


def contents(roots: Iterable[Path]) -> Iterator[tuple[Path, bytes]]:
    """Each file's bytes, and for a SQLite database each of its cells."""
    for path in files(roots):
        data = path.read_bytes()
        yield path, data
        if data.startswith(b"SQLite format 3\x00"):
            for cell in _cells(path):
                yield path, cell


def stored_keys(roots: Iterable[Path]) -> set[str]:
    """Every 32/40/64-hex run anywhere, lower case: every pseudonym, digest or key the files hold."""
    return {m.group().decode().lower() for _, data in contents(roots) for m in _HEX_RUN.finditer(data)}


def secrets_in(roots: Iterable[Path]) -> set[bytes]:
    """What an attacker would try as a key: 64-hex runs anywhere, 32-byte files, private scalars of PEM
    keys (32-byte SQLite cells are the hub's batch digests, hashes of public payloads: not tried)."""
    found: set[bytes] = set()
    for _, data in contents(roots):
        found.update(bytes.fromhex(m.group().decode()) for m in _HEX_RUN.finditer(data)
                     if len(m.group()) == 64)
    bundles: list[dict[str, Any]] = []
    private: list[ec.EllipticCurvePrivateKey] = []
    for path in files(roots):
        data = path.read_bytes()
        if len(data) == 32:
            found.add(data)
        if b"PRIVATE KEY-----" in data:
            found.update(_scalar(data))
            key = serialization.load_pem_private_key(data, password=None)
            if isinstance(key, ec.EllipticCurvePrivateKey):
                private.append(key)
        if b'"footfall-enrolment"' in data:
            bundles.append(json.loads(data))
    for bundle in bundles:  # what a thief does with a bundle left beside the key that opens it
        for key in private:
            try:
                opened = json.loads(open_sealed(key, bundle["sealed"], bundle["cn"].encode()))
            except SealError:
                continue
            found.update(bytes.fromhex(opened[k]) for k in ("anchor_key", "optout_secret"))
    return found


def _scalar(pem: bytes) -> list[bytes]:
    key = serialization.load_pem_private_key(pem, password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return [key.private_numbers().private_value.to_bytes(32, "big")]
    if isinstance(key, Ed25519PrivateKey):
        return [key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                  serialization.NoEncryption())]
    return []


def derived(secrets: Iterable[bytes], steps: int = RATCHET_STEPS) -> set[bytes]:
    """Each secret, its ratchet `steps` forward, and the carry key of each (HMAC(key, "carry"))."""
    out: set[bytes] = set()
    for secret in secrets:
        key = secret
        for _ in range(steps + 1):
            out.update((key, hmac.digest(key, b"carry", "sha256")))
            key = next_key(key)
    return out


def device_key(key: bytes, mac: bytes) -> str:
    """The product's visit key (docs/privacy.md)."""
    return hmac.digest(key, mac, "sha256")[:16].hex()


def visit_keys(world: World, outbox: bool = False) -> dict[str, set[str]]:
    """key_window -> the device keys the hub stored for it (visits and static flags); with `outbox`, also
    those in the gateway's outbox, still undelivered."""
    out: dict[str, set[str]] = {}
    with sqlite3.connect(f"file:{world.database}?mode=ro", uri=True) as conn:
        for window, key in conn.execute("SELECT key_window, device_key FROM visits WHERE device_key IS NOT"
                                        " NULL UNION SELECT key_window, device_key FROM device_flags"):
            out.setdefault(str(window), set()).add(str(key))
    if outbox:
        for record in _outbox_records(world.state / "outbox.db"):
            if record.get("device_key"):
                out.setdefault(str(record["key_window"]), set()).add(str(record["device_key"]))
    return out


def _outbox_records(path: Path) -> Iterator[dict[str, object]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        for (payload,) in conn.execute("SELECT payload FROM batches"):
            yield from json.loads(_inflate(payload) or payload)["records"]


def _forms(mac: bytes) -> list[bytes]:
    colon = mac.hex(":")
    return [mac, mac.hex().encode(), colon.encode(), colon.upper().encode(), mac.hex("-").encode()]


def _guesses(world: World) -> list[bytes]:
    words = ["footfall", ORG, STORE, AGENT, f"{ORG}/{STORE}", f"{ORG}/{STORE}/{AGENT}", "salt", "secret",
             "key", "password", "pepper", *world.days]
    return [w.encode() for w in words]


def brute_force_hashes(world: World) -> Result:
    """(1) Plain and salted MD5/SHA-1/SHA-256 and HMACs under guessable keys of every MAC of the captures,
    against every key stored anywhere (hub and gateway); control: HMAC under the real window keys."""
    began = time.monotonic()
    stored = stored_keys([*world.hub_files, world.state])
    guesses = _guesses(world)
    tried = found = 0
    for mac in world.macs:
        for form in _forms(mac):
            for name in HASHES:
                digests = [hashlib.new(name, form).hexdigest()]
                digests += [hashlib.new(name, g + form).hexdigest() for g in guesses]
                digests += [hashlib.new(name, form + g).hexdigest() for g in guesses]
                digests += [hmac.new(g, form, name).hexdigest() for g in guesses]
                tried += len(digests)
                found += sum(d in stored or d[:32] in stored for d in digests)
    control = sum(device_key(k, mac) in stored for k in world.window_keys.values() for mac in world.macs)
    schemes = tried // (len(world.macs) * 5)
    return Result("attack 1, hash brute force",
                  f"{len(world.macs)} MACs x 5 spellings x {schemes} schemes = {tried:,} hashes against "
                  f"{len(stored):,} stored hex values", found, "the real window keys", control,
                  time.monotonic() - began)


def _search(keys: Iterable[bytes], macs: list[bytes], wanted: set[str]) -> dict[str, bytes]:
    """device key -> MAC, for every key x MAC whose visit key is in `wanted` (compared as bytes: the
    search is most of the harness's time)."""
    raw = {bytes.fromhex(w) for w in wanted}
    digest = hmac.digest
    return {d.hex(): mac for key in keys for mac in macs if (d := digest(key, mac, "sha256")[:16]) in raw}


def hub_derives_nothing(world: World) -> Result:
    """(2) From every file of the hub after the week: derive any window key (every secret, ratcheted
    forward, and its carry key), invert any stored device key over the vendor space, and link a device
    across two days. Control: one leaked window key links the regulars across two days."""
    began = time.monotonic()
    by_window = visit_keys(world)
    every = set().union(*by_window.values())
    keys = derived(secrets_in(world.hub_files))
    space = vendor_space()
    inverted = _search(keys, space, every)
    real = set(world.window_keys.values())
    linked_by_key = sum(1 for k in every if sum(k in v for v in by_window.values()) > 1)
    found = len(inverted) + len(keys & real) + linked_by_key
    d2, d3 = world.days[2], world.days[3]
    leaked = world.window_keys[d2]
    day2, day3 = _search([leaked], space, by_window[d2]), _search([next_key(leaked)], space, by_window[d3])
    linked = len(set(day2.values()) & set(day3.values()))
    return Result("attack 2, the hub's files",
                  f"{len(keys)} keys derived from {len(files(world.hub_files))} files x {len(space):,} "
                  f"vendor MACs against {len(every)} device keys of {len(by_window)} days; window keys "
                  "derived, devices inverted or linked across days", found,
                  f"day {d2}'s key leaked: devices linked to {d3}", linked, time.monotonic() - began)


def stolen_gateway(world: World) -> Result:
    """(3) A gateway stolen after the week's last rotation: every secret of its state folder (window key,
    opt-out secret, carry keys, TLS and signing keys), ratcheted and carried, against candidate MACs
    (the vendor space): no device key of a past day recomputed. Control: the current window's are."""
    began = time.monotonic()
    by_window = visit_keys(world, outbox=True)
    today = world.days[-1]
    past = set().union(*(v for w, v in by_window.items() if w != today))
    keys = derived(secrets_in([world.state]))
    space = vendor_space()
    hits = _search(keys, space, past | by_window[today])
    found = sum(d in past for d in hits)
    control = sum(d in by_window[today] for d in hits)
    return Result("attack 3, a stolen gateway",
                  f"{len(keys)} keys from {len(files([world.state]))} files x {len(space):,} candidate MACs "
                  f"against {len(past)} device keys of {len(by_window) - 1} past days (hub and outbox)",
                  found,
                  f"the current window's {len(by_window[today])} device keys", control,
                  time.monotonic() - began)


def _spellings(key: bytes) -> list[bytes]:
    b64 = [base64.b64encode(key), base64.urlsafe_b64encode(key)]
    return [key, key.hex().encode(), key.hex().upper().encode(), *b64, *(b.rstrip(b"=") for b in b64)]


def no_past_key_derivable(world: World) -> Result:
    """Every file of the gateway's state folder and of the hub: no key of a past window in any spelling,
    and none reachable from any secret they hold by the ratchet (PROOF_STEPS forward; it has no way
    back). Control: the current window's key is found, in the gateway's key chain."""
    began = time.monotonic()
    roots = [world.state, *world.hub_files]
    today = world.days[-1]
    past = {k for w, k in world.window_keys.items() if w != today}
    spelled = [(s, k) for k in [*past, world.window_keys[today]] for s in _spellings(k)]
    seen = {k for _, data in contents(roots) for s, k in spelled if s in data}
    reachable = derived(secrets_in(roots), PROOF_STEPS)
    found = len(seen & past) + len(reachable & past)
    control = int(world.window_keys[today] in seen) + int(world.window_keys[today] in reachable)
    return Result("proof, no past window key",
                  f"{len(files(roots))} files of gateway and hub, {len(past)} past window keys in 7 "
                  f"spellings and {len(reachable):,} keys reachable by the ratchet", found,
                  "the current window's key: stored, reachable", control, time.monotonic() - began)


ATTACKS = (brute_force_hashes, hub_derives_nothing, stolen_gateway, no_past_key_derivable)
