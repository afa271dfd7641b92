"""The gateway's identity files, written once for both sides: file modes (0600 secrets, 0644 public),
the certificate CN `org/store/agent`, plain MQTT only to loopback, and the TLS context both MQTT clients
use. The agent's enrolment (agent/enroll.py) and the hub's PKI (hub/pki) both build on it."""

from __future__ import annotations

import ipaddress
import os
import ssl
from pathlib import Path

from agent.wire.topics import check_id

KEY_FILE = "gateway.key"
SIGN_KEY_FILE = "gateway-sign.key"
# 2.25.<UUID> (ITU-T X.667): an OID of our own without registration; value = the raw 32-byte public key
SIGNING_KEY_OID = "2.25.324678642467797568316564293830503481344"
CSR_FILE = "gateway.csr"
CERT_FILE = "gateway.crt"
CA_FILE = "ca.crt"


class EnrollError(Exception):
    """Enrolment cannot proceed; the message says why and what to do."""


def identity(org: str, store: str, agent: str) -> str:
    """The certificate CN (and MQTT username) of a gateway: `org/store/agent`."""
    return f"{check_id('org', org)}/{check_id('store', store)}/{check_id('agent', agent)}"


def parse_identity(cn: str) -> tuple[str, str, str]:
    """(org, store, agent) of a gateway CN; ValueError unless it is exactly three valid ids."""
    parts = cn.split("/")
    if len(parts) != 3:
        raise ValueError(f"CN {cn!r} is not org/store/agent")
    org, store, agent = parts
    identity(org, store, agent)
    return org, store, agent


def write_private(path: Path, data: bytes) -> None:
    """Write a secret: created with mode 0600 (never wider, not even briefly), then renamed into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_public(path: Path, data: bytes) -> None:
    """Write a certificate or request (mode 0644) atomically."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.chmod(0o644)
    os.replace(tmp, path)


def check_plain(host: str, allow_plain_loopback: bool) -> None:
    """ValueError unless plain (unencrypted) MQTT to `host` is allowed: a loopback host, and the explicit
    development setting `mqtt.allow_plain_loopback: true`. No name lookup (config checks stay offline)."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ValueError(f"plain MQTT to {host} is refused: set mqtt.tls (ca_file) to reach a broker "
                         "beyond this machine")
    if not allow_plain_loopback:
        raise ValueError("mqtt.tls.ca_file is empty: set it (TLS), or allow_plain_loopback: true for "
                         "development on this machine")


GATEWAY_REMEDY = "enroll, then copy gateway.crt and ca.crt from the hub; keys mode 0600"


def client_context(ca_file: Path | str, cert_file: Path | str, key_file: Path | str,
                   remedy: str = GATEWAY_REMEDY) -> ssl.SSLContext:
    """The TLS context of an MQTT client: the chain's CA, TLS 1.2 at least, host name checked, and the
    client's certificate; EnrollError naming the file when one cannot be loaded."""
    try:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(cert_file), str(key_file))
    except (OSError, ssl.SSLError) as exc:
        raise EnrollError(f"cannot load the TLS files {ca_file}, {cert_file}, {key_file}: {exc} ({remedy})") \
            from None
    return ctx
