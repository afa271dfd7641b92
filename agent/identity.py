"""Does this gateway's enrolment match its config? File checks only, no network (check-config, run, doctor).

The broker takes the certificate's CN as the gateway's name and lets it write only under that name, so a
config naming store B beside a certificate of store A delivers nothing: every batch is refused, for
ever. These checks catch that, and the other ways an enrolment and a config drift apart, before the
agent starts:

- the CN of `mqtt.tls.cert_file` is `org/store/agent` of the config;
- the certificate was issued for `mqtt.tls.key_file` (not for a key an `enroll --new-key` replaced);
- `signing_check`: the batch-signing key is the one the hub registered, i.e. the one `gateway.csr`
  carried to `pki issue` when the installed certificate was made for that request's key.

Missing files are not reported here: `run` refuses them with its own line, doctor's tls check names them.
"""

from __future__ import annotations

from pathlib import Path

from agent.common.tlsfiles import CSR_FILE, SIGNING_KEY_OID, identity
from agent.config import AgentConfig

RENEW = "enroll again with --new-key, issue, and install the new bundle"


class IdentityError(ValueError):
    """The enrolment on disk does not fit the config; the message names the files and the fix."""


def _cn(cert: object) -> str:
    from cryptography import x509  # noqa: PLC0415 -- the X.509 code loads only when TLS is configured

    assert isinstance(cert, x509.Certificate)
    found = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(found[0].value) if found else ""


def cert_cn(path: Path) -> str:
    """The CN of a PEM certificate file ('' when it cannot be read)."""
    from cryptography import x509  # noqa: PLC0415 -- as above

    try:
        return _cn(x509.load_pem_x509_certificate(path.read_bytes()))
    except (OSError, ValueError):
        return ""


def _public_der(holder: object) -> bytes:
    """The public key of a private key, certificate or CSR, as DER (to compare them)."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 -- as above

    return holder.public_key().public_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def check_identity(cfg: AgentConfig, config_name: str = "the config") -> str | None:
    """The CN of the installed certificate when it fits the config; None without TLS or certificate.
    IdentityError when it names another gateway or was issued for another key."""
    from cryptography import x509  # noqa: PLC0415 -- as above
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 -- as above

    paths = cfg.mqtt.tls.paths(cfg.state_path)
    if paths is None or not paths[1].is_file():
        return None
    _, cert_path, key_path = paths
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise IdentityError(f"{cert_path}: not a readable PEM certificate ({exc}); install the bundle "
                            "again: footfall-agent enroll --install gateway.bundle") from None
    cn, want = _cn(cert), identity(cfg.org, cfg.store, cfg.agent)
    if cn != want:
        raise IdentityError(
            f"{cert_path} is the certificate of {cn}, but {config_name} says org/store/agent {want}: the "
            f"broker would refuse every batch (fix org, store and agent in {config_name}, or enrol this "
            f"gateway as {want})")
    if key_path.is_file():
        try:
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError):
            return cn  # an unreadable key is run's and doctor's tls finding, with its own fix
        if _public_der(key) != _public_der(cert):
            raise IdentityError(f"{cert_path} was issued for another key than {key_path} ({RENEW})")
    return cn


def signing_check(cfg: AgentConfig) -> str:
    """One line on the batch-signing key: registered (as far as the files can tell), or why not.
    IdentityError when the key differs from the one the hub registered."""
    from cryptography import x509  # noqa: PLC0415 -- as above

    from agent.wire.signing import load_signing_key, public_raw  # noqa: PLC0415 -- as above

    name = cfg.mqtt.signing_key_file
    if not name:
        return "batches go unsigned (mqtt.signing_key_file is empty): only a hub with " \
               "require_signatures: false stores them"
    path = cfg.state_path / name
    try:
        key = load_signing_key(path)
    except FileNotFoundError:
        raise IdentityError(f"{path} is missing: run does not start without it (footfall-agent enroll "
                            "makes it; then issue and install)") from None
    except (OSError, ValueError) as exc:
        raise IdentityError(f"{path}: {exc} (footfall-agent enroll makes it; then issue and install)") \
            from None
    csr_path = cfg.state_path / CSR_FILE
    try:
        csr = x509.load_pem_x509_csr(csr_path.read_bytes())
        sent = csr.extensions.get_extension_for_oid(x509.ObjectIdentifier(SIGNING_KEY_OID)).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return f"{path} present; {csr_path} (which carried it to the hub) is gone, so whether the hub " \
               "registered this key cannot be told here"
    if getattr(sent, "value", b"") != public_raw(key):
        raise IdentityError(f"{path} is not the signing key {csr_path} sent to the hub: the hub would "
                            f"dead-letter every batch as bad_signature ({RENEW})")
    paths = cfg.mqtt.tls.paths(cfg.state_path)
    if paths is not None and paths[1].is_file():
        try:
            cert = x509.load_pem_x509_certificate(paths[1].read_bytes())
        except ValueError:
            return f"{path} present; {paths[1]} is not a certificate"
        if _public_der(cert) != _public_der(csr):
            raise IdentityError(f"{csr_path} is newer than {paths[1]}: the hub has not registered its keys "
                                "yet (footfall-hub pki issue it, then enroll --install the bundle)")
        return f"{path} is registered: {csr_path.name} carried it to pki issue, which made {paths[1].name}"
    return f"{path} is the key {csr_path.name} carries to the hub's pki issue"
