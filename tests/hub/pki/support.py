"""A chain for the trust tests: CA, broker, hub, data team and gateways, and clients that use them.

The broker runs on exactly the config `footfall-hub broker-config` writes, plus two test-only lines:
`user root` (mosquitto drops to user mosquitto when started as root, and the PKI folder is 0700) and
`sys_interval 1` (so that $SYS topics carry messages within the test).
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.serialization import Encoding
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from agent.common.tlsfiles import CERT_FILE, KEY_FILE, client_context
from agent.enroll import enroll
from hub.brokerconf import write_broker_config
from hub.localbroker import LocalBroker, free_port
from hub.pki.ca import CA_CERT, CertificateAuthority

ORG, STORE = "acme", "brno-1"


@dataclass(frozen=True)
class Identity:
    """The files a client connects with."""

    cn: str
    cert: Path
    key: Path


def gateway(ca: CertificateAuthority, state: Path, agent: str, **issue: object) -> Identity:
    """Enrol a gateway in `state` and sign its CSR with `ca` (issue: days, now)."""
    done = enroll(state, ORG, STORE, agent)
    cert = ca.issue(done.csr_path.read_bytes(), **issue)  # type: ignore[arg-type]
    (state / CERT_FILE).write_bytes(cert.public_bytes(Encoding.PEM))
    return Identity(done.cn, state / CERT_FILE, state / KEY_FILE)


@dataclass
class Chain:
    """A chain's PKI in `root`, with gateways A and B, the hub and the data team."""

    root: Path
    ca: CertificateAuthority
    a: Identity
    b: Identity
    hub: Identity
    data_team: Identity

    @property
    def ca_file(self) -> Path:
        return self.ca.folder / CA_CERT

    @classmethod
    def make(cls, root: Path) -> Chain:
        ca = CertificateAuthority.init(root / "pki", ORG)
        ca.issue_server(["localhost"], ["127.0.0.1"])
        services = {}
        for name in ("hub", "data-team"):
            crt = ca.issue_service(name)
            services[name] = Identity(name, crt, crt.with_suffix(".key"))
        return cls(root, ca, gateway(ca, root / "gw-a", "gw-a"), gateway(ca, root / "gw-b", "gw-b"),
                   services["hub"], services["data-team"])


class TlsBroker(LocalBroker):
    """mosquitto on the generated config (the base class's own plain config is written but unused)."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        port = free_port()
        (chain.root / "broker-run").mkdir()
        super().__init__(chain.root / "broker-run", port)
        self.conf = self.write_config()

    def write_config(self) -> Path:
        """broker-config's output (again: after `pki revoke`, as the operator does), plus the test lines."""
        files = write_broker_config(self.chain.ca.folder, self.chain.root / "broker", port=self.port,
                                    bind="127.0.0.1")
        with files.conf.open("a") as fh:
            fh.write("user root\nsys_interval 1\n")
        return files.conf


def mqtt_connect_packet(client_id: str = "probe") -> bytes:
    """An MQTT 3.1.1 CONNECT with a clean session and this client id."""
    cid = client_id.encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + struct.pack("!H", len(cid)) + cid
    return bytes([0x10, len(body)]) + body


def tls_probe(port: int, ca: Path, cert: Path | None = None, key: Path | None = None, *,
              max_version: ssl.TLSVersion | None = None) -> str:
    """Handshake, send CONNECT, read: `connack 0` when admitted, else the TLS alert (or `closed`)."""
    ctx = ssl.create_default_context(cafile=str(ca))
    if max_version is not None:  # let the client offer old versions: the broker must be the one refusing
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():  # offering TLS 1.0/1.1 is deprecated: here it is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = max_version
    if cert is not None:
        ctx.load_cert_chain(str(cert), str(key))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                # TLS 1.3: the broker checks the client's certificate after the client's handshake ends.
                # Listen first: a refusal arrives as an alert; had we sent CONNECT, the broker closing
                # with it unread would reset the connection and lose the alert.
                tls.settimeout(0.3)
                try:
                    data = tls.recv(4)
                except TimeoutError:
                    tls.settimeout(5)
                    tls.sendall(mqtt_connect_packet())
                    data = tls.recv(4)
        except ssl.SSLError as exc:
            return str(exc.reason or type(exc).__name__)
        except ConnectionResetError:
            return "reset"
    return f"connack {data[3]}" if data[:1] == b"\x20" and len(data) == 4 else "closed"


class Peer:
    """A paho MQTT 5 client with an identity; records what it receives and the broker's reason codes."""

    def __init__(self, name: str, port: int, ca: Path, who: Identity) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
        self.client.tls_set_context(client_context(ca, who.cert, who.key))
        self.received: list[tuple[str, bytes]] = []
        self._cond = threading.Condition()
        self._connected: ReasonCode | None = None
        self._subacks: dict[int, list[int]] = {}
        self._pubacks: dict[int, int] = {}
        self.last_puback: int | None = None  # the raw reason code of the last publish (0x10: no subscriber)
        self.disconnects: list[int] = []  # the reason codes of every lost connection, for failure messages
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = self._on_publish
        self.client.connect("localhost", port)
        self.client.loop_start()
        with self._cond:
            assert self._cond.wait_for(lambda: self._connected is not None, 5), f"{name}: no CONNACK"
        assert self._connected is not None and not self._connected.is_failure, self._connected

    def _on_connect(self, _c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        with self._cond:
            self._connected = rc
            self._cond.notify_all()

    def _on_disconnect(self, _c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        with self._cond:
            self.disconnects.append(rc.value)
            self._cond.notify_all()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.received.append((msg.topic, bytes(msg.payload)))
            self._cond.notify_all()

    def _on_subscribe(self, _c: mqtt.Client, _u: object, mid: int, codes: list[ReasonCode],
                      _p: Properties) -> None:
        with self._cond:
            self._subacks[mid] = [c.value for c in codes]
            self._cond.notify_all()

    def _on_publish(self, _c: mqtt.Client, _u: object, mid: int, rc: ReasonCode, _p: Properties) -> None:
        with self._cond:
            self._pubacks[mid] = rc.value
            self._cond.notify_all()

    def subscribe(self, topic: str) -> int:
        """Subscribe at QoS 1; the SUBACK's reason code (1 granted, 0x80 or more refused)."""
        _, mid = self.client.subscribe(topic, qos=1)
        with self._cond:
            assert self._cond.wait_for(lambda: mid in self._subacks, 5)
            return self._subacks[mid][0]

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> int:
        """Publish at QoS 1; the PUBACK's reason code (0 accepted, 0x87 not authorized); 0x10 (accepted,
        no subscriber yet) reads as 0."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        with self._cond:
            assert self._cond.wait_for(lambda: info.mid in self._pubacks, 5)
            code = self._pubacks[info.mid]
        self.last_puback = code
        return 0 if code == 0x10 else code

    def wait_disconnected(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: bool(self.disconnects), timeout)

    def wait_for(self, topic: str, payload: bytes, timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: (topic, payload) in self.received, timeout)

    def topics(self) -> set[str]:
        with self._cond:
            return {t for t, _ in self.received}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
