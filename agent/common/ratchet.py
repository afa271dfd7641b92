"""The one-way ratchet of a store's window keys, defined once: key n+1 = HKDF-SHA256(key n, "next").

The gateway's key chain (agent/privacy/keychain.py) steps its keys with it, and the hub steps the future
window's key it keeps for later gateways (hub/pki/chains.py): both must derive the same keys.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ALLOWED_WINDOW_DAYS = (1, 7, 30)


def next_key(key: bytes) -> bytes:
    """One step of the ratchet."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"next").derive(key)
