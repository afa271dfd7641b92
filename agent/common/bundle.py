"""The enrolment bundle: what the hub hands a gateway after `pki issue`, in one file.

    {"schema": 1, "kind": "footfall-enrolment", "cn": "org/store/agent",
     "certificate": PEM, "ca": PEM,
     "sealed": ECIES box (agent/common/sealed.py) of
               {"window_days": 1, "anchor_index": N, "anchor_key": hex, "optout_secret": hex}}

The certificates are public; the store's chain key and the chain's opt-out secret travel only sealed to
the gateway's TLS key, so the bundle may cross any channel (USB stick, e-mail) and is never on MQTT.
`footfall-agent enroll --install` writes gateway.crt, ca.crt and keychain.json (mode 0600), then deletes
the bundle: a stolen gateway must not hold the sealed first key beside the key that opens it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from agent.common.sealed import seal
from agent.common.tlsfiles import write_private

KIND = "footfall-enrolment"
BUNDLE_SUFFIX = ".bundle"


@dataclass(frozen=True)
class ChainSecrets:
    """A store's window-key chain anchor and the chain's opt-out secret."""

    window_days: int
    anchor_index: int
    anchor_key: bytes
    optout_secret: bytes


def build_bundle(cn: str, certificate_pem: bytes, ca_pem: bytes, secrets: ChainSecrets) -> bytes:
    """The bundle for the gateway whose certificate this is, its secrets sealed to its public key."""
    public = x509.load_pem_x509_certificate(certificate_pem).public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise ValueError("the gateway's key is not EC P-256 (enroll again with footfall-agent enroll)")
    plain = json.dumps({"window_days": secrets.window_days, "anchor_index": secrets.anchor_index,
                        "anchor_key": secrets.anchor_key.hex(),
                        "optout_secret": secrets.optout_secret.hex()}).encode()
    return json.dumps({"schema": 1, "kind": KIND, "cn": cn, "certificate": certificate_pem.decode(),
                       "ca": ca_pem.decode(), "sealed": seal(public, plain, cn.encode())}, indent=1).encode()


def write_bundle(path: Path, data: bytes) -> None:
    """The bundle holds nothing in clear but certificates; 0600 all the same (it names the gateway)."""
    write_private(path, data)
