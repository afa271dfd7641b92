"""What the PKI folder keeps besides certificates: gateways' signing keys and the chain's pseudonym secrets.

    signing/{org}/{store}/{agent}.pub   each gateway's Ed25519 batch-signing key (PEM), by CN, written by
                                        `pki issue` from the CSR's extension (agent/enroll.py)
    chains/{store}.json                 only a key of a future window (hub/pki/chains.py: key custody)
    optout.secret                       the chain's opt-out secret (mode 0600): opt-out keys are
                                        HMAC-SHA256(it, MAC)[:16]; gateways get it sealed in their bundle

The hub's ingest reads `signing/` (SigningKeys); `optout add` reads `optout.secret`.
"""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent.common.tlsfiles import SIGNING_KEY_OID, parse_identity, write_private, write_public

SIGNING, OPTOUT_SECRET = "signing", "optout.secret"
MISS_RETRY_S = 5.0


class RegistryError(ValueError):
    """A registration the operator must fix; the message says how."""


def signing_key_of(csr: x509.CertificateSigningRequest) -> Ed25519PublicKey:
    """The Ed25519 public key a gateway's CSR carries; RegistryError when it has none."""
    try:
        ext = csr.extensions.get_extension_for_oid(x509.ObjectIdentifier(SIGNING_KEY_OID))
        value = ext.value
        raw = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
        return Ed25519PublicKey.from_public_bytes(raw)
    except (x509.ExtensionNotFound, ValueError):
        raise RegistryError("the CSR carries no batch-signing key (make it with this version's "
                            "footfall-agent enroll)") from None


def signing_path(folder: Path, org: str, store: str, agent: str) -> Path:
    return folder / SIGNING / org / store / f"{agent}.pub"


def register_signing_key(folder: Path, cn: str, csr: x509.CertificateSigningRequest) -> Path:
    """Write the CSR's signing key under signing/ by CN (a renewal replaces it)."""
    org, store, agent = parse_identity(cn)
    path = signing_path(folder, org, store, agent)
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = signing_key_of(csr).public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    write_public(path, pem)
    return path


def registered_gateways(folder: Path) -> list[tuple[str, str, str]]:
    """(org, store, agent) of every gateway with a registered signing key."""
    return sorted((p.parent.parent.name, p.parent.name, p.stem) for p in (folder / SIGNING).glob("*/*/*.pub"))


class SigningKeys:
    """The registered public keys, loaded on first use; a miss is looked up again after MISS_RETRY_S
    (a gateway enrolled while the hub runs), so an unknown sender costs no more than one stat per 5 s."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._keys: dict[tuple[str, str, str], Ed25519PublicKey] = {}
        self._misses: dict[tuple[str, str, str], float] = {}
        self._lock = threading.Lock()

    def get(self, org: str, store: str, agent: str) -> Ed25519PublicKey | None:
        ids = (org, store, agent)
        with self._lock:
            found = self._keys.get(ids)
            if found is not None or self.folder is None:
                return found
            if time.monotonic() - self._misses.get(ids, float("-inf")) < MISS_RETRY_S:
                return None
            try:
                key = serialization.load_pem_public_key(signing_path(self.folder, *ids).read_bytes())
            except (OSError, ValueError):
                key = None
            if not isinstance(key, Ed25519PublicKey):
                self._misses[ids] = time.monotonic()
                return None
            self._keys[ids] = key
            return key


def optout_secret(folder: Path) -> bytes:
    """The chain's opt-out secret, made (0600) on first use."""
    path = folder / OPTOUT_SECRET
    if not path.exists():
        write_private(path, secrets.token_bytes(32))
    return path.read_bytes()
