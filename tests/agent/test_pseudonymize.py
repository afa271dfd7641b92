"""Pseudonyms: keyed, per window, and the only place a raw MAC is turned into a key."""

from __future__ import annotations

import hashlib
import hmac

from agent.pipeline.parse import RawSighting
from agent.pipeline.pseudonymize import Pseudonymizer
from agent.privacy.keychain import KeyChain

T0 = 1_790_000_000.0  # 2026-09-21, midday UTC
MAC = bytes.fromhex("3c2eff112233")
RANDOM_MAC = bytes.fromhex("da11223344aa")


def raw(ts: float, mac: bytes) -> RawSighting:
    return RawSighting(ts, mac, -50, 6, 100, 7, False)


def test_same_mac_same_window_same_key_next_day_another() -> None:
    """Sightings of one MAC link within a window and never across windows."""
    chain = KeyChain.ephemeral(T0)
    p = Pseudonymizer(chain)
    out = p.feed([raw(T0, MAC), raw(T0 + 60, MAC), raw(T0 + 86400, MAC)])
    assert out[0].device == out[1].device != out[2].device
    assert out[0].window + 1 == out[2].window


def test_key_is_truncated_hmac_and_hides_the_mac() -> None:
    """The key is HMAC-SHA256(window key, MAC) to 128 bits; it holds no part of the MAC."""
    chain = KeyChain.ephemeral(T0)
    s = Pseudonymizer(chain).feed([raw(T0, MAC)])[0]
    assert s.device == hmac.digest(chain.key(s.window), MAC, hashlib.sha256)[:16]
    assert MAC not in s.device and MAC.hex() not in s.device.hex()


def test_randomized_flag_follows_the_locally_administered_bit() -> None:
    """Random MACs (bit 0x02 of the first byte) are flagged; vendor MACs are not."""
    out = Pseudonymizer(KeyChain.ephemeral(T0)).feed([raw(T0, MAC), raw(T0, RANDOM_MAC)])
    assert [s.randomized for s in out] == [False, True]


def test_sightings_before_the_chain_are_dropped_and_counted() -> None:
    """Data older than the oldest key held cannot be pseudonymized: dropped, counted, never raised."""
    p = Pseudonymizer(KeyChain.ephemeral(T0))
    assert p.feed([raw(T0 - 3 * 86400, MAC), raw(T0, MAC)])[0].ts == T0
    assert p.counters["key_expired"] == 1
