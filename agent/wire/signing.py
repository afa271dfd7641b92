"""Batch signatures: Ed25519 by the gateway's signing key over the topic and the envelope's body.

The signed bytes, exactly:

    topic (UTF-8) + b"\\n" + canonical JSON of the envelope without its `signature` field

where canonical JSON is `json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)`.
The signature goes into the envelope as `signature` (128 hex digits) before compression, so the hub
verifies what it decoded whatever the transport did to the bytes. Signing the topic binds the batch to
its sender's topic: a batch republished under another gateway's topic does not verify.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNATURE_FIELD = "signature"
SIGNATURE_HEX_LEN = 128
_HEX = re.compile(r"^[0-9a-f]{128}$")  # lower case only: one spelling per signature


def signed_message(topic: str, body: dict[str, Any]) -> bytes:
    """The bytes a signature covers: topic, a newline, the canonical JSON of `body` minus its signature."""
    unsigned = {k: v for k, v in body.items() if k != SIGNATURE_FIELD}
    canonical = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return topic.encode() + b"\n" + canonical.encode()


def sign(key: Ed25519PrivateKey, topic: str, body: dict[str, Any]) -> str:
    """The hex signature of `body` published on `topic`."""
    return key.sign(signed_message(topic, body)).hex()


def verify(public: Ed25519PublicKey, message: bytes, signature: object) -> bool:
    """True when `signature` (hex) is `public`'s signature of `message`; never raises on bad input."""
    if not isinstance(signature, str) or not _HEX.match(signature):
        return False
    try:
        public.verify(bytes.fromhex(signature), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def new_signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_raw(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of a public key (what the CSR carries and the hub registers)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """The gateway's signing key (PEM); ValueError when the file holds something else."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 key")
    return key
