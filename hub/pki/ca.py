"""The chain's certificate authority: one folder, one EC P-256 key, every certificate it issued, a CRL.

Layout of the folder (`footfall-hub pki init --dir PKI`):

    ca.key        the CA's private key, mode 0600 (keep it offline if you can)
    ca.crt        the CA certificate: copy it to every gateway, the hub and the broker
    crl.pem       revoked serials, signed by the CA; the broker reads it (`crlfile`)
    issued/       a copy of every certificate issued, named by serial (for `list` and `revoke`)
    server.*      the broker's TLS key and certificate (`issue-server`)
    services/     keys and certificates of the hub and the data team (`issue-service`)
    signing/, chains/, optout.secret   gateways' signing keys and pseudonym secrets (hub/pki/registry.py)

The chain's org is the CA's O attribute; a gateway CSR of another org is refused. P-256 because every
OpenSSL mosquitto links against (1.1 and 3) and every Python ssl accepts it. The CRL's next update is
the CA's expiry: the broker reads it from a local file, so freshness comes from re-signing on every
revocation, and an outdated CRL can never lock every gateway out at once.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from agent.common.tlsfiles import parse_identity, write_private, write_public
from agent.wire.topics import check_id
from hub.pki.registry import RegistryError, register_signing_key

CA_KEY, CA_CERT, CRL_FILE, ISSUED = "ca.key", "ca.crt", "crl.pem", "issued"
SERVER_KEY, SERVER_CERT, SERVICES = "server.key", "server.crt", "services"
# identities that are not gateways, and what the broker's ACL lets each do (hub/brokerconf.py)
SERVICE_NAMES = ("hub", "data-team", "bridge")  # bridge: a regional broker's link (docs/chain.md)
PEM = serialization.Encoding.PEM


class PkiError(Exception):
    """A PKI operation the user can fix; the message says how."""


@dataclass(frozen=True)
class Issued:
    """One certificate the CA issued, as `pki list` shows it."""

    cn: str
    serial: int
    not_after: datetime
    revoked: bool

    @property
    def serial_hex(self) -> str:
        return f"{self.serial:x}"


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


class CertificateAuthority:
    """A chain CA in a folder: issue, revoke and list certificates."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        try:
            key = serialization.load_pem_private_key((folder / CA_KEY).read_bytes(), password=None)
            self.cert = x509.load_pem_x509_certificate((folder / CA_CERT).read_bytes())
        except FileNotFoundError:
            raise PkiError(f"{folder} holds no CA (create one: footfall-hub pki init --dir {folder} "
                           "--org ORG)") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise PkiError(f"{folder / CA_KEY} is not an EC key (was it made by pki init?)")
        self.key = key
        self.org = str(self.cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value)

    @classmethod
    def init(cls, folder: Path, org: str, *, days: int = 3650) -> CertificateAuthority:
        """Create the CA key (0600), its self-signed certificate and an empty CRL in `folder`."""
        check_id("org", org)
        if (folder / CA_KEY).exists():
            raise PkiError(f"{folder / CA_KEY} already exists (keep it, or choose another --dir)")
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        (folder / ISSUED).mkdir(exist_ok=True)
        key, now = _new_key(), _now()
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                          x509.NameAttribute(NameOID.COMMON_NAME, f"footfall {org} chain CA")])
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                             key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, key_cert_sign=True, crl_sign=True,
                                             encipher_only=False, decipher_only=False), critical=True)
                .add_extension(ski, critical=False)
                .sign(key, hashes.SHA256()))
        write_private(folder / CA_KEY, _key_pem(key))
        write_public(folder / CA_CERT, cert.public_bytes(PEM))
        ca = cls(folder)
        ca._write_crl([])
        return ca

    # -- issuing --------------------------------------------------------------------------------------

    def issue(self, csr_pem: bytes, *, days: int = 365, now: datetime | None = None) -> x509.Certificate:
        """Sign a gateway's CSR: CN `org/store/agent` of this chain, client authentication only.

        `now` moves the validity window (tests issue certificates that have already expired).
        """
        csr = self._load_csr(csr_pem)
        cn = _cn(csr.subject)
        try:
            org, _, _ = parse_identity(cn)
        except ValueError as exc:
            raise PkiError(f"{exc}: a gateway CSR names org/store/agent (made by footfall-agent enroll)") \
                from None
        if org != self.org:
            raise PkiError(f"CN {cn!r} is of org {org!r}, this CA is of org {self.org!r} (enroll again "
                           f"with --org {self.org})")
        try:
            register_signing_key(self.folder, cn, csr)  # the key its batches are verified with
        except RegistryError as exc:
            raise PkiError(str(exc)) from None
        return self._sign(cn, csr.public_key(), days, now, server=False)

    def issue_service(self, name: str, *, days: int = 365, csr_pem: bytes | None = None) -> Path:
        """The hub's or the data team's key and certificate in `services/` (or a certificate for a CSR)."""
        if name not in SERVICE_NAMES:
            raise PkiError(f"{name!r} is not a service identity (one of: {', '.join(SERVICE_NAMES)})")
        folder = self.folder / SERVICES
        folder.mkdir(mode=0o700, exist_ok=True)
        if csr_pem is not None:
            csr = self._load_csr(csr_pem)
            if _cn(csr.subject) != name:
                raise PkiError(f"the CSR's CN is {_cn(csr.subject)!r}, not {name!r}")
            public = csr.public_key()
        else:
            key = _new_key()
            write_private(folder / f"{name}.key", _key_pem(key))
            public = key.public_key()
        cert = self._sign(name, public, days, None, server=False)
        write_public(folder / f"{name}.crt", cert.public_bytes(PEM))
        return folder / f"{name}.crt"

    def issue_server(self, dns: list[str], ips: list[str], *, days: int = 365) -> Path:
        """The broker's key (0600) and certificate for these host names and addresses."""
        if not dns and not ips:
            raise PkiError("give the broker's names: --dns HOST and/or --ip ADDRESS (clients check them)")
        try:
            alt = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        except ValueError as exc:
            raise PkiError(f"{exc} (give --ip as an address such as 127.0.0.1)") from None
        key = _new_key()
        cert = self._sign((dns or ips)[0], key.public_key(), days, None, server=True,
                          alt=x509.SubjectAlternativeName(alt))
        write_private(self.folder / SERVER_KEY, _key_pem(key))
        write_public(self.folder / SERVER_CERT, cert.public_bytes(PEM))
        return self.folder / SERVER_CERT

    def _load_csr(self, pem: bytes) -> x509.CertificateSigningRequest:
        try:
            csr = x509.load_pem_x509_csr(pem)
        except ValueError:
            raise PkiError("not a PEM certificate request (give the gateway.csr that enroll wrote)") from None
        if not csr.is_signature_valid:
            raise PkiError("the CSR's signature does not verify (damaged in transit? enroll again)")
        public = csr.public_key()
        weak_rsa = isinstance(public, rsa.RSAPublicKey) and public.key_size < 2048
        if weak_rsa or not isinstance(public, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
                                      | rsa.RSAPublicKey):
            raise PkiError("the CSR's key is not EC, Ed25519 or RSA of 2048 bits or more")
        return csr

    def _sign(self, cn: str, public: object, days: int, now: datetime | None, *, server: bool,
              alt: x509.SubjectAlternativeName | None = None) -> x509.Certificate:
        if days < 1:
            raise PkiError(f"--days {days} must be at least 1")
        start = now or _now()
        end = min(start + timedelta(days=days), self.cert.not_valid_after_utc)  # never outlives the CA
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
                   .issuer_name(self.cert.subject).public_key(public)  # type: ignore[arg-type]
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(start - timedelta(minutes=5)).not_valid_after(end)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                                key_encipherment=False, data_encipherment=False,
                                                key_agreement=False, key_cert_sign=False, crl_sign=False,
                                                encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(public),  # type: ignore[arg-type]
                                  critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                                  critical=False))
        if alt is not None:
            builder = builder.add_extension(alt, critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        issued = self.folder / ISSUED
        issued.mkdir(exist_ok=True)
        write_public(issued / f"{cert.serial_number:x}.crt", cert.public_bytes(PEM))
        return cert

    # -- revocation and listing ------------------------------------------------------------------------

    def certificates(self) -> list[x509.Certificate]:
        """Every certificate issued, oldest first."""
        certs = [x509.load_pem_x509_certificate(p.read_bytes()) for p in (self.folder / ISSUED).glob("*.crt")]
        return sorted(certs, key=lambda c: (c.not_valid_before_utc, c.serial_number))

    def revoked_serials(self) -> set[int]:
        crl = x509.load_pem_x509_crl((self.folder / CRL_FILE).read_bytes())
        return {r.serial_number for r in crl}

    def listing(self) -> list[Issued]:
        revoked = self.revoked_serials()
        return [Issued(_cn(c.subject), c.serial_number, c.not_valid_after_utc, c.serial_number in revoked)
                for c in self.certificates()]

    def revoke(self, what: str) -> list[Issued]:
        """Revoke by serial (hex, as `pki list` prints it) or every unrevoked certificate of a CN."""
        revoked = self.revoked_serials()
        rows = [r for r in self.listing() if not r.revoked]
        hits = [r for r in rows if r.cn == what or r.serial_hex == what.lower().replace(":", "")]
        if not hits:
            raise PkiError(f"no unrevoked certificate has serial or CN {what!r} (see footfall-hub pki list)")
        self._write_crl(sorted(revoked | {r.serial for r in hits}))
        return hits

    def _write_crl(self, serials: list[int]) -> None:
        now = _now()
        old: dict[int, datetime] = {}
        number = int(now.timestamp())
        if (self.folder / CRL_FILE).exists():
            previous = x509.load_pem_x509_crl((self.folder / CRL_FILE).read_bytes())
            old = {r.serial_number: r.revocation_date_utc for r in previous}
            last = previous.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
            number = max(number, last + 1)
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.cert.subject)
                   .last_update(now).next_update(self.cert.not_valid_after_utc)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                                  critical=False)
                   .add_extension(x509.CRLNumber(number), critical=False))  # grows with every CRL
        for serial in serials:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial)
                .revocation_date(old.get(serial, now)).build())
        write_public(self.folder / CRL_FILE, builder.sign(self.key, hashes.SHA256()).public_bytes(PEM))


def _cn(name: x509.Name) -> str:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(attrs) != 1:
        raise PkiError("the CSR must carry exactly one CN (footfall-agent enroll makes such a CSR)")
    return str(attrs[0].value)
