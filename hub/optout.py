"""Opt-outs (docs/privacy.md): a device's owner objects; from then on no gateway counts that device.

`add` pseudonymizes the MAC at once and keeps only keyed hashes: its opt-out key HMAC-SHA256(opt-out
secret, MAC)[:16] (what agents match) and its member key (so a member's visits go, and a later CRM import
cannot link the device again). It deletes the member-keyed rows of that device (member_visits) and
unlinks it from its member. A randomized (locally administered) MAC is refused: it can never match.

Visit-keyed rows the hub cannot find: it holds no key of a window with data (hub/pki/chains.py keeps only
a future window's). The gateways can: each one that heard the device in the current window sends an
`erase` record naming its visit key, and the hub deletes those visits and flags (hub/ingest/erase.py);
the gateway drops them from its outbox too. Visits of past windows stay, under keys that nobody can link
to the MAC any more: their window keys are destroyed on every gateway.

`publish` sends the whole list, retained at QoS 1, to every agent's config topic
(`footfall/v1/{org}/{store}/{agent}/config`): every gateway registered in the PKI folder and every agent
that has reported. The broker's ACL lets only the hub write there.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from agent.common.tlsfiles import EnrollError, check_plain, client_context
from agent.wire.records import iso
from agent.wire.settings import AgentSettings
from agent.wire.topics import Topics
from hub.config import HubConfig
from hub.imports.crm import device_mac, gateway_key, member_key, member_secret
from hub.pki.registry import optout_secret, registered_gateways
from hub.store.engine import StoreError
from hub.store.sql import Db, open_database

QOS = 1


class OptoutError(Exception):
    """The opt-out cannot be stored or published; the message says what to do."""


class BadMacError(OptoutError):
    """The --mac given is not one an opt-out can hold (not a MAC, or a randomized one): nothing stored."""


@dataclass(frozen=True)
class Added:
    new: bool
    member_visits_deleted: int
    total: int


def _pki(config: HubConfig) -> Path:
    if not config.trust.pki_dir:
        raise OptoutError("trust.pki_dir is not set in the hub's config (the opt-out secret lives there)")
    return Path(config.trust.pki_dir)


def _open(config: HubConfig) -> Db:
    """The hub's database, either engine; OptoutError (one line, with the remedy) when it cannot be used."""
    try:
        return open_database(config.database)
    except StoreError as exc:
        raise OptoutError(str(exc)) from None


def add(config: HubConfig, mac_text: str) -> Added:
    """Store a device's opt-out and delete what the hub can link to it; the MAC stays in memory only."""
    try:
        mac = device_mac(mac_text)
    except ValueError as exc:
        raise BadMacError(f"--mac {exc}") from None
    key = gateway_key(optout_secret(_pki(config)), mac)  # the opt-out key is the device's gateway key
    member = member_key(member_secret(config.member_secret_path()), mac)
    del mac
    with _open(config) as db:
        with db.transaction():
            cur = db.execute("INSERT INTO optouts (optout_key, member_key, added_at) VALUES (?, ?, ?)"
                             " ON CONFLICT DO NOTHING", [key, member, iso(time.time())])
            new = cur.rowcount == 1
            deleted = db.execute("DELETE FROM member_visits WHERE member_key = ?", [member]).rowcount
            db.execute("UPDATE members SET member_key = NULL, gateway_key = NULL WHERE member_key = ?",
                       [member])
        (total,) = db.execute("SELECT count(*) FROM optouts").fetchone()
    return Added(new, deleted, int(total))


def targets(config: HubConfig) -> list[Topics]:
    """Every agent to tell: registered gateways and agents that have reported."""
    found = set(registered_gateways(Path(config.trust.pki_dir))) if config.trust.pki_dir else set()
    with _open(config) as db:
        found |= {(str(o), str(s), str(a)) for o, s, a in db.execute("SELECT org, store, agent FROM agents")}
    return [Topics(*ids) for ids in sorted(found)]


def settings(config: HubConfig) -> AgentSettings:
    with _open(config) as db:
        keys = tuple(str(k) for (k,) in db.execute("SELECT optout_key FROM optouts ORDER BY optout_key"))
        members = tuple(str(k) for (k,) in db.execute(
            "SELECT DISTINCT gateway_key FROM members WHERE member_key IS NOT NULL"
            " AND gateway_key IS NOT NULL ORDER BY gateway_key"))
    return AgentSettings(keys, iso(time.time()), members)


def publish(config: HubConfig, timeout_s: float = 10.0) -> int:
    """Publish the opt-out list (retained, QoS 1) to every agent's config topic; how many agents."""
    payload, agents = settings(config).encode(), targets(config)
    cfg = config.mqtt
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{cfg.client_id}-config",
                         protocol=mqtt.MQTTv5)
    try:
        if cfg.tls.ca_file:
            client.tls_set_context(client_context(cfg.tls.ca_file, cfg.tls.cert_file, cfg.tls.key_file,
                                                  remedy="make them with footfall-hub pki issue-service hub"))
        else:
            check_plain(cfg.host, cfg.allow_plain_loopback)
        client.connect(cfg.host, cfg.port, cfg.keepalive_s)
    except (OSError, ValueError, EnrollError, ssl.SSLError) as exc:
        raise OptoutError(f"cannot reach the broker at {cfg.host}:{cfg.port}: {exc}") from None
    client.loop_start()
    try:
        infos = [client.publish(t.config, payload, qos=QOS, retain=True) for t in agents]
        deadline = time.monotonic() + timeout_s
        for info in infos:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
            if not info.is_published():
                raise OptoutError(f"the broker at {cfg.host}:{cfg.port} did not confirm the config within "
                                  f"{timeout_s:.0f} s")
    finally:
        client.disconnect()
        client.loop_stop()
    return len(agents)
