"""`pki issue` for a gateway: its certificate, its signing key registered, and its enrolment bundle.

The bundle (agent/common/bundle.py) holds the certificate, the CA certificate, and the gateway's first
window key and the chain's opt-out secret sealed to the gateway's own key: the secrets never leave the hub
in clear, and the hub keeps no key of a window with data (hub/pki/chains.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from agent.common.bundle import BUNDLE_SUFFIX, ChainSecrets, build_bundle, write_bundle
from agent.common.tlsfiles import parse_identity, write_public
from hub.pki.ca import CA_CERT, CertificateAuthority
from hub.pki.chains import chain_secrets, window_start


@dataclass(frozen=True)
class IssuedGateway:
    """What `issue_gateway` wrote."""

    cn: str
    serial: int
    not_after: datetime
    cert_path: Path
    bundle_path: Path
    keys_from: date  # the first day the gateway can pseudonymize (its first window's start)


def issue_gateway(pki: Path, csr: Path, *, days: int = 365, out: Path | None = None,
                  window_days: int | None = None, keys_from: date | None = None,
                  now: datetime | None = None,
                  together: dict[str, ChainSecrets] | None = None) -> IssuedGateway:
    """Sign `csr`, register its signing key, and write the certificate and the sealed bundle beside it.

    `together`: gateways issued in one go (`pki issue a.csr b.csr`) share their store's keys through
    this dict, so a new store's gateways all start with the fresh key, not only the first of them."""
    ca = CertificateAuthority(pki)
    cert = ca.issue(csr.read_bytes(), days=days, now=now)
    cn = str(cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)
    _, store, _ = parse_identity(cn)
    cert_path = out or csr.with_suffix(".crt")
    cert_pem = cert.public_bytes(Encoding.PEM)
    write_public(cert_path, cert_pem)
    secrets = (together or {}).get(store) or chain_secrets(pki, store, window_days, keys_from, now)
    if together is not None:
        together[store] = secrets
    bundle_path = cert_path.with_suffix(BUNDLE_SUFFIX)
    write_bundle(bundle_path, build_bundle(cn, cert_pem, (pki / CA_CERT).read_bytes(), secrets))
    return IssuedGateway(cn, cert.serial_number, cert.not_valid_after_utc, cert_path, bundle_path,
                         window_start(secrets.anchor_index, secrets.window_days))
