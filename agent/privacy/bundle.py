"""Installing the enrolment bundle on the gateway (its format, shared with the hub: agent/common/bundle.py):
gateway.crt, ca.crt and keychain.json written 0600, then the bundle deleted (a stolen gateway must not
hold the sealed first key beside the key that opens it).
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from agent.common.bundle import KIND, ChainSecrets
from agent.common.ratchet import next_key
from agent.common.sealed import SealError, open_sealed
from agent.common.tlsfiles import CA_FILE, CERT_FILE, KEY_FILE, EnrollError, write_private
from agent.privacy.keychain import KeyChain


@dataclass(frozen=True)
class Installed:
    """What `install_bundle` wrote."""

    cn: str
    keychain: Path
    kept_chain: bool  # the bundle carries the installed chain (a renewal): kept as it is
    left_bundle: str | None = None  # why the bundle could not be deleted (a read-only stick), or None


def install_bundle(state_dir: Path, bundle: Path, keychain_file: str = "keychain.json") -> Installed:
    """Check the bundle is for this gateway, open it, and write gateway.crt, ca.crt and keychain.json."""
    try:
        obj: dict[str, Any] = json.loads(bundle.read_bytes())
        if obj.get("kind") != KIND or obj.get("schema") != 1:
            raise ValueError("not a footfall enrolment bundle")
        cn, cert_pem, ca_pem = str(obj["cn"]), obj["certificate"].encode(), obj["ca"].encode()
        cert = x509.load_pem_x509_certificate(cert_pem)
    except (OSError, ValueError, KeyError, AttributeError) as exc:
        raise EnrollError(f"{bundle}: {exc} (give the .bundle file footfall-hub pki issue wrote)") from None
    try:
        key = serialization.load_pem_private_key((state_dir / KEY_FILE).read_bytes(), password=None)
    except FileNotFoundError:
        raise EnrollError(f"{state_dir / KEY_FILE} is missing (run footfall-agent enroll first)") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        raise EnrollError(f"{bundle.name} is for {cn}, not for the key in {state_dir} (wrong bundle, or "
                          "enrolled again since: issue again)")
    try:
        secrets = json.loads(open_sealed(key, obj["sealed"], cn.encode()))
        chain = ChainSecrets(int(secrets["window_days"]), int(secrets["anchor_index"]),
                             bytes.fromhex(secrets["anchor_key"]), bytes.fromhex(secrets["optout_secret"]))
    except (SealError, KeyError, TypeError, ValueError) as exc:
        raise EnrollError(f"{bundle.name}: {exc}") from None
    write_private(state_dir / CERT_FILE, cert_pem)  # public, but every file of the state folder is 0600
    write_private(state_dir / CA_FILE, ca_pem)
    path = state_dir / keychain_file
    kept = _keep_installed(path, chain)
    index, anchor = (kept.anchor_index, kept.key(kept.anchor_index)) if kept else \
        (chain.anchor_index, chain.anchor_key)
    installed = KeyChain(index, anchor, chain.window_days, path=path, optout_secret=chain.optout_secret)
    if kept is not None:
        installed.first_index = kept.first_index
    installed.save()
    try:
        bundle.unlink(missing_ok=True)
    except OSError as exc:
        return Installed(cn, path, kept is not None, exc.strerror or str(exc))
    return Installed(cn, path, kept is not None)


def _keep_installed(path: Path, chain: ChainSecrets) -> KeyChain | None:
    """The installed chain when the bundle carries the same chain (a renewal): kept as it is, whichever
    is further along. A renewal's bundle holds the hub's future key, later than the live one; installing
    it would stop the gateway until that window, and an older one must not roll destroyed keys back."""
    if not path.exists():
        return None
    try:
        old = KeyChain.open(path, 0.0, chain.window_days)
    except (ValueError, KeyError):
        return None
    if old.anchor_index <= chain.anchor_index:
        same = hmac.compare_digest(old.key(chain.anchor_index), chain.anchor_key)
    else:
        key = chain.anchor_key
        for _ in range(old.anchor_index - chain.anchor_index):
            key = next_key(key)
        same = hmac.compare_digest(key, old.key(old.anchor_index))
    return old if same else None
