"""A gateway whose enrolment and config disagree is told so before it starts, by doctor, and by `run`.

The chain here is real (tests/hub/pki/support.py: a CA, the broker's certificate, gateways enrolled with
`footfall-agent enroll` and signed by the CA) and so is the broker: mosquitto on broker-config's output.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent import doctor
from agent.cli import main
from agent.common.tlsfiles import SIGN_KEY_FILE, write_private
from agent.config import load
from agent.sinks.refusal import Refusals
from agent.wire.signing import new_signing_key, private_pem
from tests.hub.pki.support import Chain, TlsBroker


@pytest.fixture
def chain(tmp_path: Path) -> Chain:
    """CA of org acme and its broker certificate; gateway acme/brno-1/gw-a enrolled in root/gw-a."""
    return Chain.make(tmp_path / "chain")

def _config(tmp_path: Path, chain: Chain, port: int, store: str = "brno-1", extra: str = "") -> Path:
    path = tmp_path / f"agent-{store}.yaml"
    capture = Path(__file__).resolve().parents[1] / "data" / "brno-lab" / "2022-11-24.pcap"
    path.write_text(f"version: 1\norg: acme\nstore: {store}\nagent: gw-a\nstate_dir: {chain.root / 'gw-a'}\n"
                    f"source: {{type: pcap, path: {capture}}}\n"  # check-config opens the source as run does
                    f"mqtt: {{host: 127.0.0.1, port: {port}, tls: {{ca_file: {chain.ca_file}}}{extra}}}\n")
    return path


def test_check_config_refuses_a_config_of_another_store_than_the_certificate(
        tmp_path: Path, chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    """Store B's config beside store A's certificate: check-config (no network) exits 1 with one line
    naming both identities and the two ways out; the right store's config is ok."""
    assert main(["check-config", "--config", str(_config(tmp_path, chain, 8883))]) == 0
    bad = _config(tmp_path, chain, 8883, store="brno-2")
    assert main(["check-config", "--config", str(bad)]) == 1
    assert capsys.readouterr().err == (
        f"footfall-agent: error: {chain.a.cert} is the certificate of acme/brno-1/gw-a, but {bad} says "
        "org/store/agent acme/brno-2/gw-a: the broker would refuse every batch (fix org, store and agent in "
        f"{bad}, or enrol this gateway as acme/brno-2/gw-a)\n")


def test_doctor_proves_the_enrolment_against_the_real_broker(tmp_path: Path, chain: Chain,
                                                             broker: TlsBroker) -> None:
    """With the right config, doctor's identity, signing and session checks are ok: a TLS handshake and
    an MQTT session with the gateway's own files."""
    cfg = load(_config(tmp_path, chain, broker.port))
    found = {f.name: f for f in doctor.run(cfg, timeout_s=5)}
    assert found["identity"].ok and found["signing"].ok, found
    assert found["session"].line() == (f"ok       session      127.0.0.1:{broker.port}: TLS and an MQTT "
                                       "session admitted with gateway.crt (CN acme/brno-1/gw-a)")


def test_doctor_finds_the_store_mismatch_although_the_broker_admits_the_certificate(
        tmp_path: Path, chain: Chain, broker: TlsBroker) -> None:
    """Store B's config with store A's valid certificate: the broker admits the session (so a TCP or TLS
    check alone passes), and the identity check is the PROBLEM line that names both; exit 1."""
    cfg = load(_config(tmp_path, chain, broker.port, store="brno-2"))
    found = {f.name: f for f in doctor.run(cfg, timeout_s=5)}
    assert found["session"].ok and found["broker"].ok
    assert found["identity"].line().startswith(
        f"PROBLEM  identity     {chain.a.cert} is the certificate of acme/brno-1/gw-a, but the config says "
        "org/store/agent acme/brno-2/gw-a")


def test_doctor_finds_a_signing_key_the_hub_never_registered(tmp_path: Path, chain: Chain) -> None:
    """A batch-signing key replaced after enrolment would have every batch dead-lettered: doctor says so."""
    state = chain.root / "gw-a"
    cfg = load(_config(tmp_path, chain, 8883))
    assert "is registered" in next(
        f.detail for f in doctor.run(cfg, timeout_s=0.2) if f.name == "signing")
    write_private(state / SIGN_KEY_FILE, private_pem(new_signing_key()))
    finding = next(f for f in doctor.run(cfg, timeout_s=0.2) if f.name == "signing")
    assert not finding.ok and finding.detail.startswith(f"{state / SIGN_KEY_FILE} is not the signing key ")


def test_run_stops_with_one_line_when_the_broker_keeps_refusing(tmp_path: Path, chain: Chain,
                                                               broker: TlsBroker, captures: Path) -> None:
    """When the broker keeps refusing the gateway's batches as not authorized (here its ACL lost the
    gateways' data line), `run` does not report success: after 3 refusals in a row it stops, saves its
    state, prints one line and exits 78, which the unit's RestartPreventExitStatus does not restart."""
    acl = chain.root / "broker" / "acl"
    acl.write_text(acl.read_text().replace("pattern write footfall/v1/%u/data\n", ""))
    broker.restart()
    cfg = _config(tmp_path, chain, broker.port, extra=", resend_after_s: 0.5")
    done = subprocess.run([sys.executable, "-m", "agent.cli", "--log-format", "json", "run", "--config",
                           str(cfg), "--pcap", str(captures / "2023-04-17.pcap")],
                          capture_output=True, text=True, timeout=120, check=False)  # asserted next
    assert done.returncode == 78, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("footfall-agent: error:")]
    assert errors == [
        "footfall-agent: error: the broker refused acme/brno-1/gw-a 3 times in a row, last: PUBACK not "
        "authorized (0x87); check that the certificate in state_dir is this gateway's (footfall-agent "
        "doctor), not revoked, and that the broker's ACL grants it"]


def test_doctor_finds_a_revoked_certificate_at_the_broker(tmp_path: Path, chain: Chain,
                                                         broker: TlsBroker) -> None:
    """After `pki revoke` (and broker-config again, a broker restart) the files still look right, and
    the session check is where doctor finds that the broker no longer admits this gateway."""
    chain.ca.revoke(chain.a.cn)
    broker.write_config()
    broker.restart()
    found = {f.name: f for f in doctor.run(load(_config(tmp_path, chain, broker.port)), timeout_s=5)}
    assert found["identity"].ok and not found["session"].ok
    assert "renew (enroll, pki issue, enroll --install)" in found["session"].fix


def test_enroll_reads_the_ids_and_the_state_folder_from_the_config(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`enroll --config agent.yaml` asks for nothing the config already says; a flag that contradicts
    the config is one line, and nothing is written."""
    state = tmp_path / "state"
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(f"version: 1\norg: acme\nstore: brno-2\nagent: gw-7\nstate_dir: {state}\n")
    assert main(["enroll", "--config", str(cfg), "--store", "brno-3"]) == 1
    assert capsys.readouterr().err == (
        f"footfall-agent: error: --store brno-3 differs from store: brno-2 in {cfg} (give one of them)\n")
    assert not state.exists()
    assert main(["enroll", "--config", str(cfg)]) == 0
    assert capsys.readouterr().out.startswith(f"{state}/gateway.csr: request for acme/brno-2/gw-7 (new keys")


def test_run_stops_when_the_broker_rejects_a_revoked_certificate(tmp_path: Path, chain: Chain,
                                                                 broker: TlsBroker, captures: Path) -> None:
    """A revoked gateway passes every file check, and the broker ends each TLS session with a
    `certificate revoked` alert: after 3 of them `run` stops with one line and exit 78."""
    chain.ca.revoke(chain.a.cn)
    broker.write_config()
    broker.restart()
    cfg = _config(tmp_path, chain, broker.port)
    done = subprocess.run([sys.executable, "-m", "agent.cli", "run", "--config", str(cfg), "--pcap",
                           str(captures / "2023-04-17.pcap")],
                          capture_output=True, text=True, timeout=120, check=False)  # asserted next
    assert done.returncode == 78, done.stderr
    assert done.stderr.splitlines()[-1] == (
        "footfall-agent: error: the broker refused acme/brno-1/gw-a 3 times in a row, last: TLS alert "
        "certificate revoked; check that the certificate in state_dir is this gateway's (footfall-agent "
        "doctor), not revoked, and that the broker's ACL grants it")


def test_only_identity_refusals_in_a_row_stop_the_agent() -> None:
    """A broker that is merely busy or down (quota, server unavailable) never stops the agent; identity
    refusals do only 3 in a row: an acknowledged batch in between shows the identity works."""
    r = Refusals("acme/brno-1/gw-a")
    for code in (0x97, 0x88, 0x80):  # quota exceeded, server unavailable, unspecified
        r.note("PUBACK", code)
    r.note_log("failed to receive on socket: [Errno 104] Connection reset by peer")
    assert r.reason is None
    r.note("PUBACK", 0x87)
    r.note_log("failed to receive on socket: [SSL: SSLV3_ALERT_CERTIFICATE_REVOKED] sslv3 alert")
    r.ok()
    r.note("SUBACK", 0x87)
    r.note("CONNACK", 0x86)
    assert r.reason is None
    r.note_log("[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca")
    assert r.reason is not None and "3 times in a row, last: TLS alert unknown CA;" in r.reason


def test_doctor_names_a_broker_certificate_made_for_another_host(tmp_path: Path, chain: Chain,
                                                                 broker: TlsBroker) -> None:
    """A broker certificate issued for another name than mqtt.host: the handshake fails on the gateway's
    side, and doctor's session line says so with the command that makes a right one."""
    chain.ca.issue_server(["broker.elsewhere.example"], [])
    broker.write_config()
    broker.restart()
    found = {f.name: f for f in doctor.run(load(_config(tmp_path, chain, broker.port)), timeout_s=5)}
    session = found["session"]
    assert not session.ok and "the broker's certificate fails: " in session.detail
    assert "127.0.0.1" in session.detail and "pki issue-server --dns HOST --ip ADDRESS" in session.fix
