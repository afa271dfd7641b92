"""Batch signatures: Ed25519 by the gateway's signing key over the topic and the envelope's exact bytes.

The signed bytes, exactly:

    topic (UTF-8) + b"\\n" + the envelope's JSON as sent (decompressed), without its `signature` member

The agent serializes the envelope without a signature, signs those bytes, and appends the signature as
the object's last member: `...,"signature":"<128 lower-case hex digits>"}`. The hub cuts that member off
the bytes it received to get back the signed bytes, so it never re-serializes JSON: no canonical form to
agree on across Python versions (float and escape spellings), and the cost of a check is the hash and
the Ed25519 verification alone (bench/signatures.py). A signature anywhere else in the object does not
verify. Signing the topic binds the batch to its sender's topic: a batch republished under another
gateway's topic does not verify.
"""

from __future__ import annotations

import re
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNATURE_FIELD = "signature"
SIGNATURE_HEX_LEN = 128
_HEX = re.compile(r"^[0-9a-f]{128}$")  # lower case only: one spelling per signature
_MEMBER = b',"' + SIGNATURE_FIELD.encode() + b'":"'  # what precedes the hex digits
_TAIL_LEN = len(_MEMBER) + SIGNATURE_HEX_LEN + 2  # member, digits, closing quote and brace


def signed_message(topic: str, unsigned_json: bytes) -> bytes:
    """The bytes a signature covers: topic, a newline, the envelope's JSON without its signature."""
    return topic.encode() + b"\n" + unsigned_json


def attach(key: Ed25519PrivateKey, topic: str, unsigned_json: bytes) -> bytes:
    """`unsigned_json` (a JSON object) signed by `key` for `topic`, the signature as its last member."""
    if not unsigned_json.endswith(b"}") or len(unsigned_json) < 3:
        raise ValueError("only a non-empty JSON object can carry a signature")
    signature = key.sign(signed_message(topic, unsigned_json)).hex()
    return unsigned_json[:-1] + _MEMBER + signature.encode() + b'"}'


def detach(signed_json: bytes) -> bytes | None:
    """The JSON `attach` signed, when `signed_json` ends with a well-formed signature member; else None."""
    tail = signed_json[-_TAIL_LEN:]
    if len(signed_json) <= _TAIL_LEN or not (tail.startswith(_MEMBER) and tail.endswith(b'"}')):
        return None
    return signed_json[:-_TAIL_LEN] + b"}"


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
