"""Gateway enrolment: the gateway's private key and a certificate request, both made on the gateway.

`footfall-agent enroll` writes `gateway.key` (EC P-256, TLS), `gateway-sign.key` (Ed25519, signs every
batch; agent/wire/signing.py), both mode 0600 and never leaving the gateway, and `gateway.csr` into the
state folder. The CSR carries the signing key's public half as a private extension (SIGNING_KEY_OID):
one file to carry, and the CSR's own signature (by the TLS key) binds the two keys, so the signing key
cannot be swapped or separated from its request on the way to the hub. The hub signs the CSR and
registers the signing key (`footfall-hub pki issue`), and writes an enrolment bundle sealed to this
gateway (agent/privacy/bundle.py); `enroll --install` installs it. Enrolling again keeps both keys (a
renewal needs only a new certificate) unless `new_key` asks for fresh ones.

The identity is the certificate's CN `org/store/agent`: the broker takes it as the MQTT username
(`use_identity_as_username`), so its ACL pattern `footfall/v1/%u/data` is exactly this gateway's topic.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from agent.common.tlsfiles import (
    CSR_FILE,
    KEY_FILE,
    SIGN_KEY_FILE,
    SIGNING_KEY_OID,
    EnrollError,
    identity,
    write_private,
)


@dataclass(frozen=True)
class Enrolment:
    """What `enroll` wrote."""

    cn: str
    key_path: Path
    csr_path: Path
    new_key: bool


def enroll(state_dir: Path, org: str, store: str, agent: str, *, new_key: bool = False) -> Enrolment:
    """Make (or keep) the gateway key and write a CSR for `org/store/agent` into `state_dir`."""
    from cryptography import x509  # noqa: PLC0415 -- only enrolment loads the X.509 code
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415 -- as above
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415 -- as above
    from cryptography.x509.oid import NameOID  # noqa: PLC0415 -- as above

    try:
        cn = identity(org, store, agent)
    except ValueError as exc:
        raise EnrollError(str(exc)) from None
    state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(state_dir, 0o700)
    key_path = state_dir / KEY_FILE
    made = new_key or not key_path.exists()
    if made:
        key = ec.generate_private_key(ec.SECP256R1())
        write_private(key_path, key.private_bytes(serialization.Encoding.PEM,
                                                  serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    else:
        loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise EnrollError(f"{key_path} is not an EC key (move it aside, or enroll with --new-key)")
        key = loaded
        os.chmod(key_path, 0o600)
    sign_public = _signing_key(state_dir / SIGN_KEY_FILE, made)
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
           .add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier(SIGNING_KEY_OID), sign_public),
                          critical=False)
           .sign(key, hashes.SHA256()))
    csr_path = state_dir / CSR_FILE
    write_private(csr_path, csr.public_bytes(serialization.Encoding.PEM))
    return Enrolment(cn, key_path, csr_path, made)


def _signing_key(path: Path, renew: bool) -> bytes:
    """Make (or keep) the Ed25519 batch-signing key at `path` (0600); its raw public key."""
    from agent.wire.signing import load_signing_key, new_signing_key, private_pem, public_raw  # noqa: PLC0415

    if renew or not path.exists():
        key = new_signing_key()
        write_private(path, private_pem(key))
    else:
        try:
            key = load_signing_key(path)
        except ValueError as exc:
            raise EnrollError(f"{exc} (move it aside, or enroll with --new-key)") from None
        os.chmod(path, 0o600)
    return public_raw(key)
