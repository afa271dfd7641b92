"""`footfall-hub broker-config`: a mosquitto config and ACL for the chain, from its PKI folder.

One TLS listener (TLS 1.2 at least) that requires a client certificate of the chain's CA, checks the
CRL, and takes the certificate's CN as the username; no anonymous access. The ACL:

- a gateway (CN `org/store/agent`, so `%u` is its own topic base) writes only its data and status and
  reads only its config and acks;
- `hub` reads every gateway's data and status, writes acks, config, metrics, the metrics schema and member
  arrivals;
- `data-team` reads the stores' metrics and their JSON Schema, nothing else: member arrivals (personal
  data) only when broker-config is given `--data-team-arrivals`;
- nobody reads `#` or `$SYS/#`: mosquitto denies every topic no line grants.

Debian's mosquitto, started as root (its systemd unit), drops to the `mosquitto` user before it loads
the TLS files and writes its persistence file; the PKI folder (mode 0700, the CA key inside) stays
closed to it. So the broker's four TLS files are copied to `OUT/tls/` (the key mode 0640, group
`mosquitto`, when run as root and the group exists) and persistence goes to `OUT/data/` (owned by the
`mosquitto` user): the broker keeps the hub's queued messages across its own restarts.

mosquitto reads the CRL when it starts, from its copy: after `pki revoke` (or a new server certificate),
run broker-config again and restart the broker.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
from dataclasses import dataclass
from pathlib import Path

from agent.common.tlsfiles import write_public
from agent.wire.envelope import MAX_PACKET_BYTES
from agent.wire.topics import PREFIX, check_id
from hub.bridgeconf import BRIDGE_IDENTITY, bridge_acl_text, bridge_text
from hub.pki.ca import CA_CERT, CRL_FILE, SERVER_CERT, SERVER_KEY, SERVICES, CertificateAuthority, PkiError

CONF_FILE, ACL_FILE, TLS_DIR, DATA_DIR = "mosquitto.conf", "acl", "tls", "data"
BROKER_USER = "mosquitto"  # what Debian's package creates and mosquitto drops to when started as root
# max_packet_size: the broker refuses (and disconnects) a client sending a packet larger than the hub
# takes (the wire's payload limit plus room for the topic and MQTT 5 properties), so a 1 GB publish
# never reaches the hub


def acl_text(data_team_arrivals: bool = False) -> str:
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
        f"topic write {PREFIX}/+/schema/metrics",
        f"topic write {PREFIX}/+/+/members/arrived",
        "",
        "user data-team",
        f"topic read {PREFIX}/+/+/metrics/+",
        f"topic read {PREFIX}/+/schema/metrics",
        *([f"topic read {PREFIX}/+/+/members/arrived"] if data_team_arrivals else []),
        "",
        "# a regional broker's bridge (docs/chain.md): gateways' data and status in, acks and config out",
        bridge_acl_text(),
    ])


@dataclass(frozen=True)
class BrokerFiles:
    conf: Path
    acl: Path


def conf_text(pki: Path, acl: Path, port: int, bind: str | None) -> str:
    """mosquitto.conf (2.0) for one TLS listener; `pki` is the folder of the broker's copies of the TLS
    files (OUT/tls); paths are absolute so mosquitto may run anywhere."""
    listener = f"listener {port} {bind}" if bind else f"listener {port}"
    data = acl.parent / DATA_DIR
    return "\n".join([
        "# footfall broker (written by footfall-hub broker-config); after pki revoke, run broker-config",
        "# again and restart mosquitto. Started as root it runs as the mosquitto user, which reads tls/.",
        "per_listener_settings false",
        "allow_anonymous false",
        f"acl_file {acl.resolve()}",
        "persistence true",  # the hub's session and queued messages survive a broker restart
        f"persistence_location {data.resolve()}/",
        "autosave_interval 60",
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


def write_broker_config(pki: Path, out: Path, *, port: int = 8883, bind: str | None = None,
                        bridge: str | None = None, region: str = "region",
                        data_team_arrivals: bool = False) -> BrokerFiles:
    """Write `mosquitto.conf` and `acl` into `out` for the CA in `pki`; PkiError if a file is missing.
    `bridge` (HOST:PORT of the hub's broker): a regional broker, bridged there as `region`;
    `data_team_arrivals`: the data team may read member arrivals (personal data)."""
    CertificateAuthority(pki)  # a folder without a CA fails here, with the remedy
    if not (pki / SERVER_CERT).exists():
        raise PkiError(f"{pki} has no broker certificate (make one: footfall-hub pki issue-server "
                       f"--dir {pki} --dns HOST --ip ADDRESS)")
    if not 0 < port < 65536:
        raise PkiError(f"--port {port} is not between 1 and 65535")
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o755)
    files = BrokerFiles(out / CONF_FILE, out / ACL_FILE)
    tls = _copy_tls(pki, out / TLS_DIR)
    data = out / DATA_DIR
    data.mkdir(mode=0o700, exist_ok=True)
    _give(data, BROKER_USER)
    write_public(files.acl, acl_text(data_team_arrivals).encode())
    text = conf_text(tls, files.acl, port, bind)
    if bridge is not None:
        try:
            region = check_id("region", region)
        except ValueError as exc:
            raise PkiError(str(exc)) from None
        services = pki / SERVICES
        if not (services / f"{BRIDGE_IDENTITY}.crt").exists():
            raise PkiError(f"{pki} has no bridge certificate (make one: footfall-hub pki issue-service "
                           f"bridge --dir {pki})")
        write_public(tls / f"{BRIDGE_IDENTITY}.crt", (services / f"{BRIDGE_IDENTITY}.crt").read_bytes())
        _copy_key(services / f"{BRIDGE_IDENTITY}.key", tls / f"{BRIDGE_IDENTITY}.key")
        try:
            text += bridge_text(tls, bridge, region)
        except ValueError as exc:
            raise PkiError(str(exc)) from None
    write_public(files.conf, text.encode())
    return files


def _copy_tls(pki: Path, tls: Path) -> Path:
    """The broker's TLS files copied into `tls` (0750); the key readable by the broker's group only."""
    tls.mkdir(mode=0o750, exist_ok=True)
    tls.chmod(0o750)
    _give(tls, None)
    for name in (CA_CERT, SERVER_CERT, CRL_FILE):
        write_public(tls / name, (pki / name).read_bytes())
    _copy_key(pki / SERVER_KEY, tls / SERVER_KEY)
    return tls


def _copy_key(src: Path, key: Path) -> None:
    """A private key copied to `key`, readable by the broker's group only (0640), never wider meanwhile."""
    tmp = key.with_name(f".{key.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never wider while it is written
    with os.fdopen(fd, "wb") as fh:
        fh.write(src.read_bytes())
    _give(tmp, None)
    if _group() is not None:
        tmp.chmod(0o640)
    os.replace(tmp, key)


def _group() -> int | None:
    """The broker's group id when this process may hand files to it (root, and the group exists)."""
    if os.geteuid() != 0:
        return None
    try:
        return grp.getgrnam(BROKER_USER).gr_gid
    except KeyError:
        return None


def _give(path: Path, user: str | None) -> None:
    """chown `path` to the broker's group (and to `user`, for a folder it writes), when possible."""
    gid = _group()
    if gid is None:
        return
    uid = -1
    if user is not None:
        try:
            uid = pwd.getpwnam(user).pw_uid
        except KeyError:
            uid = -1
    shutil.chown(path, uid if uid >= 0 else None, gid)
