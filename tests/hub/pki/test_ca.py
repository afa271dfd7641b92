"""The chain's CA and gateway enrolment: keys stay private, only well-named gateways get certificates."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from agent.common.tlsfiles import SIGNING_KEY_OID
from agent.enroll import enroll
from agent.wire.signing import new_signing_key, public_raw
from hub.pki.ca import CertificateAuthority, PkiError
from tests.hub.pki.support import Chain, gateway


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _csr(cn: str) -> bytes:
    """A CSR as enroll makes it (with a batch-signing key), for any CN."""
    key = ec.generate_private_key(ec.SECP256R1())
    raw = public_raw(new_signing_key())
    signing = x509.UnrecognizedExtension(x509.ObjectIdentifier(SIGNING_KEY_OID), raw)
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
           .add_extension(signing, critical=False).sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM)


def test_init_makes_a_p256_ca_with_its_key_readable_by_its_owner_only(tmp_path: Path) -> None:
    """`pki init` leaves ca.key at 0600 in a 0700 folder, a CA certificate of the org that expires, and a
    CRL the broker can load; a second init never overwrites the key."""
    ca = CertificateAuthority.init(tmp_path / "pki", "acme", days=100)
    assert _mode(tmp_path / "pki" / "ca.key") == 0o600 and _mode(tmp_path / "pki") == 0o700
    assert isinstance(ca.key.curve, ec.SECP256R1)
    assert ca.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.org == "acme"
    left = ca.cert.not_valid_after_utc - datetime.now(UTC)
    assert timedelta(days=99) < left <= timedelta(days=100)
    crl = x509.load_pem_x509_crl((tmp_path / "pki" / "crl.pem").read_bytes())
    assert crl.is_signature_valid(ca.key.public_key()) and len(crl) == 0
    with pytest.raises(PkiError, match=r"ca\.key already exists"):
        CertificateAuthority.init(tmp_path / "pki", "acme")


def test_enroll_keeps_the_key_on_the_gateway_and_renews_without_touching_data(tmp_path: Path) -> None:
    """The gateway key is 0600 and enrolling again keeps it (only the CSR is rewritten), unless a new
    key is asked for; the outbox and key chain beside it are untouched."""
    state = tmp_path / "state"
    state.mkdir()
    (state / "outbox.db").write_bytes(b"batches")
    (state / "keychain.json").write_bytes(b"keys")
    first = enroll(state, "acme", "brno-1", "gw-1")
    assert first.cn == "acme/brno-1/gw-1" and first.new_key
    assert _mode(first.key_path) == 0o600
    key = first.key_path.read_bytes()
    again = enroll(state, "acme", "brno-1", "gw-1")
    assert not again.new_key and again.key_path.read_bytes() == key
    assert enroll(state, "acme", "brno-1", "gw-1", new_key=True).key_path.read_bytes() != key
    assert (state / "outbox.db").read_bytes() == b"batches"
    assert (state / "keychain.json").read_bytes() == b"keys"
    csr = x509.load_pem_x509_csr(first.csr_path.read_bytes())
    assert b"PRIVATE" not in first.csr_path.read_bytes() and csr.is_signature_valid


def test_a_gateway_certificate_is_for_client_authentication_of_that_gateway_only(chain: Chain) -> None:
    """The certificate names the gateway, cannot sign other certificates, serves only as a TLS client,
    and expires."""
    cert = x509.load_pem_x509_certificate(chain.a.cert.read_bytes())
    assert cert.subject.rfc4514_string() == "CN=acme/brno-1/gw-a"
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.not_valid_after_utc - cert.not_valid_before_utc <= timedelta(days=366)
    cert.verify_directly_issued_by(chain.ca.cert)


@pytest.mark.parametrize(("cn", "why"), [
    ("hub", "CN 'hub' is not org/store/agent"),
    ("acme/brno-1", "CN 'acme/brno-1' is not org/store/agent"),
    ("acme/brno-1/gw-1/x", "CN 'acme/brno-1/gw-1/x' is not org/store/agent"),
    ("acme/+/gw-1", "store id '+' must match [a-z0-9-]{1,64}"),
    ("acme/brno-1/#", "agent id '#' must match [a-z0-9-]{1,64}"),
    ("acme/Brno/gw-1", "store id 'Brno' must match [a-z0-9-]{1,64}"),
    ("other/brno-1/gw-1", "CN 'other/brno-1/gw-1' is of org 'other', this CA is of org 'acme'"),
])
def test_issue_refuses_a_csr_that_does_not_name_one_gateway_of_the_chain(chain: Chain, cn: str,
                                                                         why: str) -> None:
    """A CN that is not exactly org/store/agent of this chain (a wildcard would widen the ACL pattern,
    another org is another chain) gets no certificate."""
    before = len(chain.ca.listing())
    with pytest.raises(PkiError) as err:
        chain.ca.issue(_csr(cn))
    assert str(err.value).startswith(why)
    assert len(chain.ca.listing()) == before


def test_renewal_gives_a_new_certificate_and_revoking_a_cn_revokes_every_one(chain: Chain) -> None:
    """Issuing again for a CN adds a certificate (new serial, same name); `revoke CN` revokes both,
    `revoke SERIAL` one; the CRL is signed by the CA and keeps the first revocation time."""
    renewed = gateway(chain.ca, chain.root / "gw-a", "gw-a")
    rows = [r for r in chain.ca.listing() if r.cn == renewed.cn]
    assert len(rows) == 2 and len({r.serial for r in rows}) == 2
    b_serial = next(r.serial_hex for r in chain.ca.listing() if r.cn == chain.b.cn)
    assert [r.serial for r in chain.ca.revoke(b_serial)] == [int(b_serial, 16)]
    first = x509.load_pem_x509_crl((chain.ca.folder / "crl.pem").read_bytes())
    assert {r.serial for r in chain.ca.revoke("acme/brno-1/gw-a")} == {r.serial for r in rows}
    crl = x509.load_pem_x509_crl((chain.ca.folder / "crl.pem").read_bytes())
    assert crl.is_signature_valid(chain.ca.key.public_key())
    assert {r.serial_number for r in crl} == {int(b_serial, 16)} | {r.serial for r in rows}
    b_when = crl.get_revoked_certificate_by_serial_number(int(b_serial, 16))
    assert b_when is not None
    assert b_when.revocation_date_utc == first[0].revocation_date_utc
    assert {r.cn for r in chain.ca.listing() if r.revoked} == {chain.a.cn, chain.b.cn}
    with pytest.raises(PkiError, match="no unrevoked certificate has serial or CN 'acme/brno-1/gw-a'"):
        chain.ca.revoke("acme/brno-1/gw-a")


def test_a_certificate_never_outlives_its_ca(tmp_path: Path) -> None:
    """A gateway certificate asked for longer than the CA lives ends with the CA."""
    ca = CertificateAuthority.init(tmp_path / "pki", "acme", days=10)
    cert = ca.issue(_csr("acme/brno-1/gw-1"), days=365)
    assert cert.not_valid_after_utc == ca.cert.not_valid_after_utc
