"""The bridge section of a regional broker (`footfall-hub broker-config --bridge HOST:PORT`), docs/chain.md.

A chain with several regions runs a mosquitto per region, where that region's gateways connect, bridged
over TLS to the hub's broker under the `bridge` service identity. The bridge carries each direction the
wire needs (docs/wire.md): data and status out to the hub, acks and config back in. It is an MQTT
3.1.1 bridge with a persistent session on both sides (`cleansession false`), so a broken link queues
rather than drops; anything a broker loses anyway (a restart without persistence, a full queue) is
resent by the agents, which keep every batch until the hub's ack comes back over the same bridge.

mosquitto checks no ACL for a bridge's own messages: the regional broker's ACL binds each gateway to its
topics, the hub's ACL binds `bridge` to the directions below, and the hub verifies every batch's
signature (topic included), so a bridge can only pass on what gateways signed.
"""

from __future__ import annotations

import re
from pathlib import Path

from agent.wire.topics import PREFIX
from hub.pki.ca import CA_CERT

BRIDGE_IDENTITY = "bridge"
# (topic filter, direction as seen from the regional broker); QoS 1 everywhere
BRIDGED = (
    (f"{PREFIX}/+/+/+/data", "out"),
    (f"{PREFIX}/+/+/+/status", "out"),
    (f"{PREFIX}/+/+/+/ack", "in"),
    (f"{PREFIX}/+/+/+/config", "in"),
)
REMOTE_RE = re.compile(r"^(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):(?P<port>[0-9]{1,5})$")


def parse_remote(text: str) -> tuple[str, int]:
    """HOST:PORT of the hub's broker; ValueError with the expected form."""
    m = REMOTE_RE.match(text)
    if not m or not 0 < int(m["port"]) < 65536:
        raise ValueError(f"--bridge {text!r} is not HOST:PORT (the hub's broker, e.g. hub.example.net:8883)")
    return m["host"].strip("[]"), int(m["port"])


def bridge_text(tls: Path, remote: str, region: str) -> str:
    """mosquitto.conf lines of the bridge from this region's broker to the hub's broker at `remote`;
    `tls` holds the chain's CA certificate and the bridge identity's certificate and key (broker-config
    copies them there, where Debian's mosquitto user can read them)."""
    host, port = parse_remote(remote)
    name = f"footfall-{region}"
    lines = [
        f"# bridge of region {region} to the hub's broker (footfall-hub broker-config --bridge)",
        "max_queued_messages 100000",  # per session (the bridge too): hours of a region, link down
        f"connection {name}",
        f"address {host}:{port}",
        "bridge_protocol_version mqttv311",
        f"remote_clientid {name}",  # the hub's broker keeps this session's queue while the link is down
        f"local_clientid {name}-local",
        "cleansession false",
        "try_private true",
        "notifications false",
        "restart_timeout 1 30",  # reconnect back-off, seconds
        f"bridge_cafile {(tls / CA_CERT).resolve()}",
        f"bridge_certfile {(tls / f'{BRIDGE_IDENTITY}.crt').resolve()}",
        f"bridge_keyfile {(tls / f'{BRIDGE_IDENTITY}.key').resolve()}",
        "bridge_tls_version tlsv1.2",
    ]
    lines += [f"topic {topic} {direction} 1" for topic, direction in BRIDGED]
    return "\n".join(lines) + "\n"


def bridge_acl_text() -> str:
    """The hub broker's ACL stanza for `bridge`: the reverse of the hub's own rights on gateway topics."""
    rights = {"out": "write", "in": "read"}
    return "\n".join([f"user {BRIDGE_IDENTITY}", *(f"topic {rights[d]} {t}" for t, d in BRIDGED), ""])
