"""Signed batches for the signature tests and bench/signatures.py: gateways with registered keys, genuine
payloads, and every way of tampering with them."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.wire import Envelope, Topics, encode_envelope
from hub.pki.registry import SigningKeys, signing_path
from tests.hub.envelopes import envelope, visit

ORG, STORE = "acme", "brno-1"


@dataclass(frozen=True)
class Gateway:
    """A gateway's ids and its signing key; `registered` says whether the hub knows the key."""

    agent: str
    key: Ed25519PrivateKey

    @property
    def topics(self) -> Topics:
        return Topics(ORG, STORE, self.agent)


def register(pki: Path, gw: Gateway) -> None:
    """Put the gateway's public key where `pki issue` would."""
    path = signing_path(pki, ORG, STORE, gw.agent)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gw.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo))


def gateways(pki: Path) -> tuple[Gateway, Gateway, Gateway, SigningKeys]:
    """gw-1 and gw-2 registered, gw-9 not; and the hub's key registry on `pki`."""
    a, b, stranger = (Gateway(n, Ed25519PrivateKey.generate()) for n in ("gw-1", "gw-2", "gw-9"))
    register(pki, a)
    register(pki, b)
    return a, b, stranger, SigningKeys(pki)


def genuine(gw: Gateway, seq: int, n_records: int, epoch: str = "e1") -> tuple[Envelope, bytes]:
    """A signed batch of `n_records` visits (over about 16 records it is compressed)."""
    env = envelope(seq, [visit(seq * 100 + i) for i in range(n_records)], agent=gw.agent, epoch=epoch)
    return env, encode_envelope(env, key=gw.key)


def flip_bit(payload: bytes, rng: random.Random) -> bytes:
    """The payload with one random bit inverted, anywhere."""
    i, bit = rng.randrange(len(payload)), 1 << rng.randrange(8)
    return payload[:i] + bytes([payload[i] ^ bit]) + payload[i + 1:]


def with_signature(env: Envelope, signature: str | None) -> bytes:
    """The envelope re-encoded with this signature field (truncated, stripped, ...), unsigned otherwise."""
    return encode_envelope(replace(env, signature=signature), compress=False)
