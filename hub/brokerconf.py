"""`footfall-hub broker-config`: a mosquitto config and ACL for the chain, from its PKI folder.

One TLS listener (TLS 1.2 at least) that requires a client certificate of the chain's CA, checks the
CRL, and takes the certificate's CN as the username; no anonymous access. The ACL:

- a gateway (CN `org/store/agent`, so `%u` is its own topic base) writes only its data and status and
  reads only its config and acks;
- `hub` reads every gateway's data and status, writes acks, config and metrics;
- `data-team` reads the stores' metrics, nothing else;
- nobody reads `#` or `$SYS/#`: mosquitto denies every topic no line grants.

mosquitto reads the CRL when it starts: after `pki revoke`, restart the broker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent.enroll import write_public
from agent.wire.envelope import MAX_PACKET_BYTES
from agent.wire.topics import PREFIX
from hub.pki.ca import CA_CERT, CRL_FILE, SERVER_CERT, SERVER_KEY, CertificateAuthority, PkiError

CONF_FILE, ACL_FILE = "mosquitto.conf", "acl"
# max_packet_size: the broker refuses (and disconnects) a client sending a packet larger than the hub
# takes (the wire's payload limit plus room for the topic and MQTT 5 properties), so a 1 GB publish
# never reaches the hub


def acl_text() -> str:
    """The ACL file: gateways by pattern (%u = org/store/agent), then the two service identities."""
    return "\n".join([
        "# footfall broker ACL (written by footfall-hub broker-config); a topic no line grants is denied",
        "# gateways: the certificate CN org/store/agent is the username, so %u is the gateway's own base",
        f"pattern write {PREFIX}/%u/data",
        f"pattern write {PREFIX}/%u/status",
        f"pattern read {PREFIX}/%u/config",
        f"pattern read {PREFIX}/%u/ack",
        "",
        "user hub",
        f"topic read {PREFIX}/+/+/+/data",
        f"topic read {PREFIX}/+/+/+/status",
        f"topic write {PREFIX}/+/+/+/ack",
        f"topic write {PREFIX}/+/+/+/config",
        f"topic write {PREFIX}/+/+/metrics/+",
        "",
        "user data-team",
        f"topic read {PREFIX}/+/+/metrics/+",
        "",
    ])


@dataclass(frozen=True)
class BrokerFiles:
    conf: Path
    acl: Path


def conf_text(pki: Path, acl: Path, port: int, bind: str | None) -> str:
    """mosquitto.conf (2.0) for one TLS listener; paths are absolute so mosquitto may run anywhere."""
    listener = f"listener {port} {bind}" if bind else f"listener {port}"
    return "\n".join([
        "# footfall broker (written by footfall-hub broker-config); restart mosquitto after pki revoke",
        "per_listener_settings false",
        "allow_anonymous false",
        f"acl_file {acl.resolve()}",
        f"max_packet_size {MAX_PACKET_BYTES}",
        "",
        listener,
        "protocol mqtt",
        f"cafile {(pki / CA_CERT).resolve()}",
        f"certfile {(pki / SERVER_CERT).resolve()}",
        f"keyfile {(pki / SERVER_KEY).resolve()}",
        f"crlfile {(pki / CRL_FILE).resolve()}",
        "require_certificate true",
        "use_identity_as_username true",
        "tls_version tlsv1.2",  # mosquitto 2: the lowest version accepted; 1.3 is offered too
        "",
    ])


def write_broker_config(pki: Path, out: Path, *, port: int = 8883, bind: str | None = None) -> BrokerFiles:
    """Write `mosquitto.conf` and `acl` into `out` for the CA in `pki`; PkiError if a file is missing."""
    CertificateAuthority(pki)  # a folder without a CA fails here, with the remedy
    if not (pki / SERVER_CERT).exists():
        raise PkiError(f"{pki} has no broker certificate (make one: footfall-hub pki issue-server "
                       f"--dir {pki} --dns HOST --ip ADDRESS)")
    if not 0 < port < 65536:
        raise PkiError(f"--port {port} is not between 1 and 65535")
    out.mkdir(parents=True, exist_ok=True)
    files = BrokerFiles(out / CONF_FILE, out / ACL_FILE)
    write_public(files.acl, acl_text().encode())
    write_public(files.conf, conf_text(pki, files.acl, port, bind).encode())
    return files
