"""The world the attacks run against: a store's week, through the real product, on real files.

One gateway enrolled as a store's first (PKI, sealed bundle, `enroll --install`), a week of captures
(pcap files written with scapy) replayed day by day through the agent (pipeline, outbox, signed batches)
and a real mosquitto into the hub's SQLite file, with the hub ratcheting its key every day as a running
hub does; then one more day with the hub down, so that the gateway is stolen after a rotation with that
day's visits still in its outbox. Devices: regulars who come every day, new visitors each day, phones on
randomized MACs and a staff phone heard all day (static, so carry tokens cross each rotation). Every
universally administered MAC comes from two vendor prefixes and 2,048 suffixes, so an attacker's brute
force over the whole space takes seconds.

What only a test may know (the attacker does not): `window_keys`, each day's real window key, read from
the gateway while that day was current; the attacks use them for their controls only.
"""

from __future__ import annotations

import json
import struct
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from agent.app import AgentApp
from agent.config import AgentConfig, MqttConfig, SourceConfig
from agent.enroll import enroll
from agent.privacy.bundle import install_bundle
from hub.app import Hub
from hub.config import DatabaseConfig, HubConfig, PublishConfig, TrustConfig
from hub.config import MqttConfig as HubMqttConfig
from hub.localbroker import LocalBroker
from hub.pki.ca import CertificateAuthority
from hub.pki.chains import advance_chains
from hub.pki.enrolment import issue_gateway
from tests.support.frames import probe_request, write_pcap

ORG, STORE, AGENT = "acme", "brno-1", "gw-1"
DAYS = 8  # a week delivered to the hub, then the last day left in the gateway's outbox
# the days that ended yesterday: the hub's kept key is then where a running hub's would be (the window
# after tomorrow), not months ahead of the data
DAY0 = datetime.now(UTC).date() - timedelta(days=DAYS)
VENDORS = (bytes.fromhex("001b63"), bytes.fromhex("3c2eff"))
SUFFIXES = 2048  # device part 00:00:00 .. 00:07:ff of each vendor prefix: the attacker's search space
REGULARS, NEW_PER_DAY, RANDOM_PER_DAY = 10, 12, 4


def vendor_space() -> list[bytes]:
    """Every MAC of the two vendor prefixes' small suffix space (4,096)."""
    return [v + n.to_bytes(3, "big") for v in VENDORS for n in range(SUFFIXES)]


def _mac(i: int) -> bytes:
    """The i-th device's MAC, spread over the space (universally administered)."""
    n = (i * 2_654_435_761) % (len(VENDORS) * SUFFIXES)
    return VENDORS[n // SUFFIXES] + (n % SUFFIXES).to_bytes(3, "big")


_TEMPLATES: dict[tuple[bytes, int], bytes] = {}


def _probe(mac: bytes, rssi: int, seq: int) -> bytes:
    """A probe request of `mac` (scapy builds one per device; the sequence number is patched in, since
    scapy takes milliseconds a frame and a week holds thousands)."""
    template = _TEMPLATES.get((mac, rssi))
    if template is None:
        template = _TEMPLATES[(mac, rssi)] = probe_request(mac.hex(":"), rssi=rssi)
    at = struct.unpack_from("<H", template, 2)[0] + 22  # radiotap length + 802.11 header to SeqCtl
    return template[:at] + struct.pack("<H", (seq % 4096) << 4) + template[at + 2:]


@dataclass
class World:
    """Paths of the finished week, and what only the tests know."""

    root: Path
    state: Path            # the gateway's state folder
    hub_files: list[Path]  # the hub's folders and files: PKI, database, member secret, config
    database: Path
    captures: list[Path]
    macs: list[bytes]      # every MAC of the captures (universal and randomized)
    regulars: list[bytes]
    window_keys: dict[str, bytes] = field(default_factory=dict)  # key_window id -> real key (controls)

    @property
    def days(self) -> list[str]:
        return [(DAY0 + timedelta(days=d)).isoformat() for d in range(DAYS)]


def _day_frames(day: int) -> tuple[list[tuple[float, bytes]], list[bytes]]:
    """One day's probe requests: every device a visitor (strong, every 30 s for 10 minutes) at its own
    time, and the staff phone every 2 minutes from 08:00 to 18:00."""
    start = datetime.combine(DAY0 + timedelta(days=day), time(8), UTC).timestamp()
    regulars = [_mac(i) for i in range(REGULARS)]
    new = [_mac(1000 + day * 100 + i) for i in range(NEW_PER_DAY)]
    randomized = [bytes([0x02 | (0x10 * (i + 1)), 0x5E, day, i, 0xAA, 0x01]) for i in range(RANDOM_PER_DAY)]
    frames: list[tuple[float, bytes]] = []
    for n, mac in enumerate(regulars + new + randomized):
        t0 = start + 3600 + n * 900
        frames += [(t0 + 30 * k, _probe(mac, -50, n * 64 + k)) for k in range(21)]
    staff = _mac(999)
    frames += [(start + 120 * k, _probe(staff, -45, k)) for k in range(300)]
    return sorted(frames), [*regulars, *new, *randomized, staff]


def build(root: Path, broker: LocalBroker) -> World:
    """Enrol the gateway, then replay the week through agent, broker and hub; a few seconds."""
    pki, state, db = root / "pki", root / AGENT, root / "hub.db"
    noon0 = datetime.combine(DAY0, time(12), UTC)
    CertificateAuthority.init(pki, ORG)
    csr = enroll(state, ORG, STORE, AGENT).csr_path
    bundle = issue_gateway(pki, csr, keys_from=DAY0, now=noon0).bundle_path
    install_bundle(state, bundle)
    hub_cfg = HubConfig(mqtt=HubMqttConfig(port=broker.port, allow_plain_loopback=True),
                        database=DatabaseConfig(path=str(db)), trust=TrustConfig(pki_dir=str(pki)),
                        publish=PublishConfig(enabled=False))
    world = World(root, state, [pki, db, root / "hub.db-wal", root / "hub.db-shm"], db, [], [], [])
    macs: set[bytes] = set()

    def replay(day: int, drain_timeout_s: float) -> None:
        frames, day_macs = _day_frames(day)
        macs.update(day_macs)
        capture = write_pcap(root / f"day{day}.pcap", frames)
        world.captures.append(capture)
        agent_cfg = replace(AgentConfig(org=ORG, store=STORE, agent=AGENT, state_dir=str(state)),
                            source=SourceConfig(type="pcap", path=str(capture)),
                            mqtt=MqttConfig(port=broker.port, allow_plain_loopback=True))
        assert AgentApp(agent_cfg).run(threading.Event(), drain_timeout_s=drain_timeout_s) == 0
        chain = json.loads((state / "keychain.json").read_text())
        world.window_keys[world.days[day]] = bytes.fromhex(chain["anchor_key"])
        advance_chains(pki, datetime.combine(DAY0 + timedelta(days=day + 1), time(), UTC))

    with Hub(hub_cfg) as hub:
        for day in range(DAYS - 1):
            replay(day, 10.0)
        assert hub.wait_idle(10.0)
    replay(DAYS - 1, 0.2)  # the hub is down: the day stays in the outbox
    world.macs = sorted(macs)
    world.regulars = [_mac(i) for i in range(REGULARS)]
    return world

