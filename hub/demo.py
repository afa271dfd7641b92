"""The demo: one seeded store-day through the whole path, on this machine, with embedded defaults.

generate the day (capture, POS sales, truth) -> a throwaway chain PKI, the gateway's enrolment (keys,
certificate, bundle with the store's chain key) and the broker's TLS config, all in the work folder ->
start mosquitto on it (TLS, client certificates, ACL) -> start the hub (SQLite, signatures required) ->
run the agent on the capture until the hub has acknowledged every batch -> import the POS sales ->
print the store's daily report, and how it compares with the generator's truth. Exactly the production
set-up of the README's Trust section, on loopback.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TextIO

from agent.app import AgentApp
from agent.common.tlsfiles import CA_FILE, CERT_FILE
from agent.config import AgentConfig, MqttConfig, PrivacyConfig, SourceConfig
from agent.config import TlsConfig as AgentTlsConfig
from agent.enroll import enroll
from agent.privacy.bundle import install_bundle
from agent.simulate import generate_day
from hub.app import Hub
from hub.brokerconf import write_broker_config
from hub.config import DatabaseConfig, HubConfig, StoreConfig, TlsConfig, TrustConfig
from hub.config import MqttConfig as HubMqttConfig
from hub.imports import importer
from hub.joins import daily_report
from hub.localbroker import LocalBroker, free_port
from hub.pki.ca import CA_KEY, CertificateAuthority
from hub.pki.enrolment import issue_gateway
from hub.pki.registry import RegistryError
from hub.reports import formatter
from hub.store.sql import open_database

log = logging.getLogger("footfall.demo")
ORG, STORE, AGENT, TZ, HOST = "demo", "demo-store", "gw-1", "Europe/Prague", "127.0.0.1"


class DemoError(Exception):
    """The demo cannot run as asked; one line with the remedy."""


def secure(work: Path, day: date) -> tuple[LocalBroker, HubMqttConfig, TrustConfig, MqttConfig]:
    """PKI, enrolment and TLS broker in `work`: the (unstarted) broker, and the hub's and agent's settings."""
    pki, state = work / "pki", work / "agent"
    # a second demo into the same --out (another --date) keeps the chain: its CA, keys and hub.db
    ca = CertificateAuthority(pki) if (pki / CA_KEY).exists() else CertificateAuthority.init(pki, ORG)
    ca.issue_server(["localhost"], [HOST])
    hub_crt = ca.issue_service("hub")
    _enrol_gateway(work, pki, state, day)
    port = free_port()
    files = write_broker_config(pki, work / "broker", port=port, bind=HOST)
    with files.conf.open("a") as fh:
        fh.write("user root\n")  # started as root, mosquitto would drop to a user that cannot read pki/
    (work / "broker-run").mkdir(exist_ok=True)
    broker = LocalBroker(work / "broker-run", port, conf=files.conf)
    hub_mqtt = HubMqttConfig(host=HOST, port=port, tls=TlsConfig(
        str(pki / CA_FILE), str(hub_crt), str(hub_crt.with_suffix(".key"))))
    agent_mqtt = MqttConfig(host=HOST, port=port, tls=AgentTlsConfig(ca_file=CA_FILE))
    return broker, hub_mqtt, TrustConfig(pki_dir=str(pki)), agent_mqtt


def _enrol_gateway(work: Path, pki: Path, state: Path, day: date) -> None:
    """Enrol the demo's gateway, or keep the one an earlier demo into this --out enrolled: the hub holds
    no key of a window with data (key custody), but the gateway ratchets its own key forward to a later
    --date. An earlier date's keys are destroyed on both sides: DemoError."""
    held = state / PrivacyConfig().keychain_file
    if held.exists() and (state / CERT_FILE).exists():
        if day.toordinal() < int(json.loads(held.read_text())["anchor_index"]):  # one-day windows
            raise DemoError(f"{work} holds a demo chain that is past {day} already (its keys of earlier days "
                            "are destroyed): give a later --date, or another --out")
        return
    csr = enroll(state, ORG, STORE, AGENT).csr_path
    try:
        bundle = issue_gateway(pki, csr, keys_from=day - timedelta(days=1)).bundle_path
    except RegistryError:  # forward secrecy: the store's keys of earlier days are gone for good
        raise DemoError(f"{work} holds a demo chain that is past {day} already (its keys of earlier days "
                        "are destroyed): give a later --date, or another --out") from None
    install_bundle(state, bundle)


def run_demo(out_dir: Path | None, day: date, *, seed: int, scale: float, fmt: str, out: TextIO) -> int:
    """Run the whole path; the report goes to `out`, progress to the log. Returns an exit code."""
    with tempfile.TemporaryDirectory(prefix="footfall-demo-") as tmp:
        work = out_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        files = generate_day(work / "data", day, seed=seed, store=STORE, timezone=TZ, scale=scale)
        log.info("generated %s (%.1f s)", files.pcap.name, time.monotonic() - t0)
        broker, hub_mqtt, trust, agent_mqtt = secure(work, day)
        broker.start()
        log.info("TLS broker on %s:%d, certificates and keys in %s", HOST, broker.port, work / "pki")
        try:
            hub_cfg = HubConfig(
                mqtt=hub_mqtt, trust=trust, database=DatabaseConfig(path=str(work / "hub.db")),
                stores={STORE: StoreConfig(timezone=TZ)},
            )
            agent_cfg = replace(
                AgentConfig(org=ORG, store=STORE, agent=AGENT, timezone=TZ, state_dir=str(work / "agent")),
                source=SourceConfig(type="pcap", path=str(files.pcap)), mqtt=agent_mqtt,
            )
            with Hub(hub_cfg) as hub:
                t0 = time.monotonic()
                AgentApp(agent_cfg).run(threading.Event(), drain_timeout_s=60.0)
                hub.wait_idle(10.0)
                log.info("agent replayed the day and the hub committed it (%.1f s)", time.monotonic() - t0)
            _import_and_report(hub_cfg, files.pos_csv, day, fmt, out)
        finally:
            broker.stop()
        if fmt == "table":
            _compare(files.truth_json, hub_cfg, day, out)
        if out_dir is not None:
            log.info("files kept in %s", out_dir)
    return 0


def _import_and_report(cfg: HubConfig, pos_csv: Path, day: date, fmt: str, out: TextIO) -> None:
    with open_database(cfg.database) as db:
        imports_db: Any = db  # hub.imports takes a Db once its port lands (issue 17)
        result = importer("pos")(imports_db, pos_csv, cfg, progress=False)
        log.info("%s", result.summary())
        formatter(fmt)(daily_report(db, cfg, STORE, day), out)


def _compare(truth_json: Path, cfg: HubConfig, day: date, out: TextIO) -> None:
    """One line per headline figure: what the hub reports next to what the generator knows."""
    truth = json.loads(truth_json.read_text())["totals"]
    with open_database(cfg.database, readonly=True) as db:
        got = daily_report(db, cfg, STORE, day).day
    print("\nagainst the generator's truth (the demo knows who was a visitor):", file=out)
    for name, ours, true in (("visitors", got.visitors, truth["visitors"]),
                             ("passers-by", got.passersby, truth["passersby"]),
                             ("transactions", got.transactions, truth["transactions"])):
        print(f"  {name:<13} hub {ours!s:>6}   truth {true:>6}", file=out)
