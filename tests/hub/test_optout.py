"""The agents' lists on their config topic, through the chain's TLS broker and its ACL. Opt-outs (issue
6): `footfall-hub optout add --mac` keeps no MAC, forgets the device, and every connected gateway drops
it within a minute. Members (issue 7): a consenting member's device, listed by import-crm, has its
visits tagged at the gateway and stored as member visits. Opt-outs that erase (issue 18): the gateway
names the device's visit key of the current window and the hub deletes its visits."""

from __future__ import annotations

import hmac
import json
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.app import AgentApp
from agent.common.bundle import build_bundle, write_bundle
from agent.common.tlsfiles import CERT_FILE
from agent.config import AgentConfig, MqttConfig, SourceConfig, TlsConfig
from agent.privacy.bundle import install_bundle
from hub.cli import main as hub_main
from hub.config import DatabaseConfig, load_hub_config
from hub.pki.chains import chain_secrets
from hub.store.sql import open_database
from tests.hub.pki.support import ORG, STORE, Chain, TlsBroker
from tests.hub.support import query
from tests.support.frames import probe_request

OPTED = "00:1b:63:aa:bb:cc"  # universally administered: a phone's real MAC
OTHER = "00:1b:63:11:22:33"


@pytest.fixture
def chain(tmp_path: Path) -> Chain:
    """The chain's PKI (tests/hub/pki/support.py): CA, broker, hub, gateways gw-a and gw-b."""
    return Chain.make(tmp_path)


def _database(db: DatabaseConfig) -> str:
    """hub.yaml's `database:` line for the test's database (tests/conftest.py `hub_database`)."""
    where = f"url: '{db.url}'" if db.engine == "postgresql" else f"path: '{db.path}'"
    return f"database: {{{where}}}\n"


def _hub_yaml(chain: Chain, port: int, db: DatabaseConfig) -> Path:
    path = chain.root / "hub.yaml"
    path.write_text(f"version: 1\nmqtt: {{host: localhost, port: {port}, tls: {{ca_file: pki/ca.crt, "
                    "cert_file: pki/services/hub.crt, key_file: pki/services/hub.key}}\n"
                    f"{_database(db)}trust: {{pki_dir: pki}}\n")
    return path


def _install(chain: Chain, state: Path) -> None:
    """What `pki issue` hands the gateway: the store's chain key and the opt-out secret, sealed."""
    secrets = chain_secrets(chain.ca.folder, STORE, keys_from=(datetime.now(UTC) - timedelta(days=1)).date())
    cert = (state / CERT_FILE).read_bytes()
    write_bundle(state / "gateway.bundle",
                 build_bundle(f"{ORG}/{STORE}/gw-a", cert, chain.ca_file.read_bytes(), secrets))
    install_bundle(state, state / "gateway.bundle")


class _Live:
    """A live-like source: one probe request of each MAC every 0.1 s; after each batch was processed it
    notes (time, opted frames sent so far, the agent's opted_out counter)."""

    linktype = 127

    def __init__(self, app: AgentApp) -> None:
        self.app, self.counters, self.problem = app, {"frames": 0}, None
        self.log: list[tuple[float, int, int]] = []

    def batches(self, stop: threading.Event) -> Iterator[list[tuple[float, bytes]]]:
        sent = 0
        while not stop.is_set():
            now = time.time()
            yield [(now, probe_request(OPTED, seq=sent % 4096)), (now, probe_request(OTHER, seq=sent % 4096))]
            sent += 1
            pipeline = self.app.pipeline
            self.log.append((time.monotonic(), sent, pipeline.pseudonymizer.counters["opted_out"]
                             if pipeline else 0))
            stop.wait(0.1)


def test_an_opt_out_reaches_a_connected_gateway_which_drops_the_device_within_a_minute(
        chain: Chain, broker: TlsBroker, hub_database: DatabaseConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    """`optout add --mac` publishes the opt-out key on the gateway's retained config topic (the ACL lets
    the hub write it and the gateway read it); the gateway then drops every sighting of that MAC, counted
    `opted_out`, while another MAC is still counted."""
    state = chain.root / "gw-a"
    shutil.copy(chain.ca_file, state / "ca.crt")
    _install(chain, state)
    cfg = replace(AgentConfig(org=ORG, store=STORE, agent="gw-a", state_dir=str(state)),
                  source=SourceConfig(type="pcap", path="unused"),
                  mqtt=MqttConfig(host="localhost", port=broker.port, tls=TlsConfig(ca_file="ca.crt")))
    app, stop = AgentApp(cfg), threading.Event()
    source = _Live(app)
    app._source = lambda: source  # type: ignore[method-assign]  # a stub live source
    runner = threading.Thread(target=app.run, args=(stop, 0.5))
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while not (app.sink and app.sink.connected and len(source.log) > 5) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert source.log and source.log[-1][2] == 0, "nothing is dropped before the opt-out"
        added_at = time.monotonic()
        hub_yaml = _hub_yaml(chain, broker.port, hub_database)
        assert hub_main(["optout", "add", "--mac", OPTED, "--config", str(hub_yaml)]) == 0
        out = capsys.readouterr().out
        assert "published the opt-out and member lists to 2 agents" in out
        while not any(n for t, _, n in source.log if t > added_at) and time.monotonic() < added_at + 60:
            time.sleep(0.05)
        first = next(i for i, (_, _, n) in enumerate(source.log) if n)
        took = source.log[first][0] - added_at
        time.sleep(1.0)  # ten more batches
    finally:
        stop.set()
        runner.join(30)
    print(f"\nopt-out: dropped by the gateway {took:.2f} s after optout add")
    assert took < 60
    _, sent_then, dropped_then = source.log[first]
    _, sent_now, dropped_now = source.log[-1]
    assert dropped_now - dropped_then == sent_now - sent_then > 5  # every later sighting of it dropped
    assert app.sink is not None and app.sink.counters["configs"] >= 1


def test_the_hub_keeps_no_mac_and_forgets_the_member_device(
        tmp_path: Path, hub_database: DatabaseConfig, capsys: pytest.CaptureFixture[str]) -> None:
    """The opt-out is stored as keyed hashes only: no form of the MAC is anywhere in the hub's files; the
    member's visits are deleted, and a later CRM import does not link the device again."""
    from hub.imports.crm import mac_bytes, member_key, member_secret  # noqa: PLC0415 -- hub library
    from hub.pki.ca import CertificateAuthority  # noqa: PLC0415 -- hub library

    CertificateAuthority.init(tmp_path / "pki", ORG)
    path = tmp_path / "hub.yaml"
    path.write_text("version: 1\nmqtt: {port: 1, allow_plain_loopback: true}\n" + _database(hub_database)
                    + "trust: {pki_dir: pki}\n")
    config = load_hub_config(path)
    mk = member_key(member_secret(config.member_secret_path()), mac_bytes(OPTED))
    with open_database(config.database) as db, db.transaction():
        db.execute("INSERT INTO members (member_id, member_key) VALUES ('m1', ?)", [mk])
        db.execute("INSERT INTO member_visits VALUES ('brno-1', ?, 1, 2, 1, 'gw-1')", [mk])
    assert hub_main(["optout", "add", "--mac", OPTED.upper(), "--config", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("opt-out stored (raw MAC not kept); 1 member visits deleted; 1 opt-outs")
    assert captured.err.startswith("footfall-hub: error: the opt-out is stored; cannot reach the broker")
    crm = tmp_path / "crm.csv"
    crm.write_text(f"member_id,consent,device_mac\nm1,yes,{OPTED}\n")
    assert hub_main(["import-crm", str(crm), "--config", str(path)]) == 0
    assert query(config.database, "SELECT count(*) FROM member_visits") == [(0,)]
    assert query(config.database, "SELECT member_key FROM members") == [(None,)]
    assert query(config.database, "SELECT count(*) FROM optouts") == [(1,)]
    crm.unlink()
    mac = mac_bytes(OPTED)
    forms = [mac, mac.hex().encode(), OPTED.encode(), OPTED.upper().encode(),
             OPTED.replace(":", "-").encode()]
    leaks = [(p.name, f) for p in tmp_path.rglob("*") if p.is_file() for f in forms if f in p.read_bytes()]
    assert leaks == []


class _Frames:
    """A source that waits for the hub's config, then yields `frames` once and idles."""

    linktype = 127

    def __init__(self, app: AgentApp, frames: list[tuple[float, bytes]]) -> None:
        self.app, self.frames, self.counters, self.problem = app, frames, {"frames": 0}, None

    def batches(self, stop: threading.Event) -> Iterator[list[tuple[float, bytes]]]:
        while not (self.app.sink and self.app.sink.counters["configs"]) and not stop.wait(0.05):
            pass
        yield self.frames
        while not stop.wait(0.1):
            yield [(time.time(), probe_request(OTHER, seq=1))]


def test_a_members_visit_goes_from_the_crm_import_through_the_gateway_to_member_visits(
        chain: Chain, broker: TlsBroker, hub_database: DatabaseConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    """import-crm publishes the consenting member's gateway key; the gateway tags that phone's visitor
    visit; the hub stores it in member_visits under the member key (never the gateway key in visits),
    and the store's metrics count one member visit. Through the TLS broker, signed batches and all."""
    from hub.app import Hub  # noqa: PLC0415 -- hub library
    from hub.imports.crm import mac_bytes, member_key, member_secret  # noqa: PLC0415 -- hub library

    state = chain.root / "gw-a"
    shutil.copy(chain.ca_file, state / "ca.crt")
    _install(chain, state)
    hub_yaml = _hub_yaml(chain, broker.port, hub_database)
    crm = chain.root / "crm.csv"
    crm.write_text(f"member_id,consent,device_mac\nm1,yes,{OPTED}\nm2,no,{OTHER}\n")
    assert hub_main(["import-crm", str(crm), "--config", str(hub_yaml)]) == 0
    assert "published the opt-out and member lists to 2 agents" in capsys.readouterr().out
    config = load_hub_config(hub_yaml)
    t0 = time.time() - 3600  # an hour ago: strong every 30 s for 10 minutes, a visitor
    frames = [(t0 + 30 * i, probe_request(mac, rssi=-50, seq=i)) for i in range(21) for mac in (OPTED, OTHER)]
    cfg = replace(AgentConfig(org=ORG, store=STORE, agent="gw-a", state_dir=str(state)),
                  source=SourceConfig(type="pcap", path="unused"),
                  mqtt=MqttConfig(host="localhost", port=broker.port, tls=TlsConfig(ca_file="ca.crt")))
    app, stop = AgentApp(cfg), threading.Event()
    app._source = lambda: _Frames(app, frames)  # type: ignore[method-assign]  # a stub live source
    runner = threading.Thread(target=app.run, args=(stop, 0.5))
    with Hub(config):
        runner.start()
        try:
            deadline = time.monotonic() + 30
            rows: list[tuple[str, str]] = []
            while not rows and time.monotonic() < deadline:
                time.sleep(0.2)
                rows = query(config.database, "SELECT store, member_key FROM member_visits")
        finally:
            stop.set()
            runner.join(30)
    assert rows == [(STORE, member_key(member_secret(config.member_secret_path()), mac_bytes(OPTED)))]
    visitors = query(config.database, "SELECT count(*) FROM visits WHERE kind = 'visitor'")[0][0]
    with open_database(config.database) as db:
        columns = db.columns("visits")
    assert visitors == 2 and "member_key" not in columns  # both visits stored, the tag in neither


def test_a_randomized_mac_is_refused_and_nothing_is_stored(
        tmp_path: Path, hub_database: DatabaseConfig, capsys: pytest.CaptureFixture[str]) -> None:
    """A locally administered MAC can never match (the phone changes it): `optout add` says so in one
    line, exit code 1, and stores no opt-out."""
    from hub.pki.ca import CertificateAuthority  # noqa: PLC0415 -- hub library

    CertificateAuthority.init(tmp_path / "pki", ORG)
    path = tmp_path / "hub.yaml"
    path.write_text("version: 1\nmqtt: {port: 1, allow_plain_loopback: true}\n" + _database(hub_database)
                    + "trust: {pki_dir: pki}\n")
    assert hub_main(["optout", "add", "--mac", "da:11:22:33:44:55", "--config", str(path)]) == 1
    assert capsys.readouterr().err == (
        "footfall-hub: error: --mac is a randomized (locally administered) MAC, which the phone changes, so "
        "no gateway can ever match it: give the device's hardware Wi-Fi address; nothing was stored\n")
    assert (hub_database.engine == "sqlite" and not Path(hub_database.path).exists()) or query(
        hub_database, "SELECT count(*) FROM optouts") == [(0,)]


class _Visitors:
    """A source: OPTED and OTHER as visitors (strong, every 30 s for 10 minutes) that ended 20 minutes
    ago, then OTHER every 0.1 s, so the two visits close at once and reach the hub."""

    linktype = 127

    def __init__(self, t0: float) -> None:
        self.frames = [(t0 + 30 * i, probe_request(mac, rssi=-50, seq=i)) for i in range(21)
                       for mac in (OPTED, OTHER)]
        self.counters, self.problem = {"frames": 0}, None

    def batches(self, stop: threading.Event) -> Iterator[list[tuple[float, bytes]]]:
        yield self.frames
        while not stop.wait(0.1):
            yield [(time.time(), probe_request(OTHER, seq=1))]


def _visit_keys(db: DatabaseConfig) -> list[str]:
    return [k for (k,) in query(db, "SELECT device_key FROM visits WHERE kind = 'visitor' ORDER BY 1")]


def test_an_opt_out_erases_the_devices_visits_of_the_current_window_from_the_hub(
        chain: Chain, broker: TlsBroker, hub_database: DatabaseConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    """The hub holds no window key, so it cannot find an opted-out device's visits; the gateway can: after
    `optout add`, the gateway that heard the phone today names its visit key in an erase record and the
    hub deletes that visit, while another phone's visit stays. Through the TLS broker, signed batches."""
    from hub.app import Hub  # noqa: PLC0415 -- hub library

    now = time.time()
    if now % 86400 < 1900:
        pytest.skip("the visits would fall in yesterday's window (the first half hour of a UTC day)")
    state = chain.root / "gw-a"
    shutil.copy(chain.ca_file, state / "ca.crt")
    _install(chain, state)
    hub_yaml = _hub_yaml(chain, broker.port, hub_database)
    config = load_hub_config(hub_yaml)
    cfg = replace(AgentConfig(org=ORG, store=STORE, agent="gw-a", state_dir=str(state)),
                  source=SourceConfig(type="pcap", path="unused"),
                  mqtt=MqttConfig(host="localhost", port=broker.port, tls=TlsConfig(ca_file="ca.crt")))
    app, stop = AgentApp(cfg), threading.Event()
    source = _Visitors(now - 1800)
    app._source = lambda: source  # type: ignore[method-assign]  # a stub live source
    runner = threading.Thread(target=app.run, args=(stop, 0.5))
    with Hub(config):
        runner.start()
        try:
            deadline = time.monotonic() + 30
            while len(_visit_keys(config.database)) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            before = _visit_keys(config.database)
            added_at = time.monotonic()
            assert hub_main(["optout", "add", "--mac", OPTED, "--config", str(hub_yaml)]) == 0
            assert "erase their visits of the current window" in capsys.readouterr().out
            deadline = time.monotonic() + 30
            while len(_visit_keys(config.database)) > 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            took = time.monotonic() - added_at
        finally:
            stop.set()
            runner.join(30)
    print(f"\nopt-out: the device's visit erased at the hub {took:.2f} s after optout add")
    window_key = bytes.fromhex(json.loads((state / "keychain.json").read_text())["anchor_key"])
    keys = {mac: hmac.digest(window_key, bytes.fromhex(mac.replace(":", "")), "sha256")[:16].hex()
            for mac in (OPTED, OTHER)}
    assert before == sorted(keys.values())
    assert _visit_keys(config.database) == [keys[OTHER]]
    assert query(config.database, "SELECT device_key FROM erasures") == [(keys[OPTED],)]
