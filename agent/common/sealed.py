"""Secrets sealed to one gateway: ECIES with P-256 ECDH, HKDF-SHA256 and AES-256-GCM.

The hub seals the enrolment secrets (chain key, opt-out secret) to the public key of the gateway's TLS
certificate request; only the gateway's `gateway.key`, which never leaves it, opens them. A fresh
ephemeral key per seal; `context` (the gateway's CN) is bound in both the key derivation and the AEAD's
associated data, so a box made for one gateway does not open as another's.
"""

from __future__ import annotations

import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

INFO = b"footfall enrolment bundle v1\n"
_POINT = serialization.PublicFormat.UncompressedPoint
_X962 = serialization.Encoding.X962


class SealError(ValueError):
    """The box does not open with this key (another gateway's, or damaged)."""


def _key(shared: bytes, context: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO + context).derive(shared)


def seal(recipient: ec.EllipticCurvePublicKey, plaintext: bytes, context: bytes) -> dict[str, str]:
    """Encrypt `plaintext` so that only `recipient`'s private key opens it; a JSON-ready dict."""
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    key = _key(ephemeral.exchange(ec.ECDH(), recipient), context)
    nonce = os.urandom(12)
    return {"alg": "ECIES-P256-HKDF-SHA256-AES256GCM",
            "epk": ephemeral.public_key().public_bytes(_X962, _POINT).hex(),
            "nonce": nonce.hex(), "ciphertext": AESGCM(key).encrypt(nonce, plaintext, context).hex()}


def open_sealed(private: ec.EllipticCurvePrivateKey, box: dict[str, Any], context: bytes) -> bytes:
    """The plaintext of `box`; SealError when it was not sealed to `private` for `context`."""
    try:
        epk = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes.fromhex(box["epk"]))
        key = _key(private.exchange(ec.ECDH(), epk), context)
        return AESGCM(key).decrypt(bytes.fromhex(box["nonce"]), bytes.fromhex(box["ciphertext"]), context)
    except (InvalidTag, KeyError, TypeError, ValueError):
        raise SealError("the bundle does not open with this gateway's key (is it for this gateway?)") \
            from None
