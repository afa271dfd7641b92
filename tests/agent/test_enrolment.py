"""Enrolment (issue 6): the gateway's signing key, the bundle sealed to it, and keys that rotate away."""

from __future__ import annotations

import errno
import json
import stat
import threading
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agent.app import AgentApp
from agent.buffer.outbox import Outbox
from agent.cli import main as agent_main
from agent.common.ratchet import next_key
from agent.common.tlsfiles import SIGNING_KEY_OID
from agent.config import AgentConfig, MqttConfig, SourceConfig
from agent.enroll import enroll
from agent.privacy.bundle import install_bundle
from agent.wire.signing import load_signing_key, public_raw
from hub.pki.ca import CertificateAuthority
from hub.pki.chains import future_index
from hub.pki.enrolment import issue_gateway
from hub.pki.registry import RegistryError, signing_path
from tests.support.frames import probe_request, write_pcap
from tests.support.mosquitto import Mosquitto

DAY = date(2026, 11, 26)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _enrolled(tmp_path: Path, agent: str = "gw-1", keys_from: date | None = DAY) -> tuple[Path, Path]:
    pki, state = tmp_path / "pki", tmp_path / agent
    if not (pki / "ca.key").exists():
        CertificateAuthority.init(pki, "acme")
    csr = enroll(state, "acme", "brno-1", agent).csr_path
    return pki, issue_gateway(pki, csr, keys_from=keys_from).bundle_path


def test_enroll_makes_a_private_signing_key_that_pki_issue_registers_by_cn(tmp_path: Path) -> None:
    """The Ed25519 signing key is 0600 and stays on the gateway; its public half travels inside the CSR
    (covered by the CSR's signature) and `pki issue` files it under signing/org/store/agent.pub."""
    pki, _ = _enrolled(tmp_path)
    key_path = tmp_path / "gw-1" / "gateway-sign.key"
    assert _mode(key_path) == 0o600
    raw = public_raw(load_signing_key(key_path))
    csr = x509.load_pem_x509_csr((tmp_path / "gw-1" / "gateway.csr").read_bytes())
    ext = csr.extensions.get_extension_for_oid(x509.ObjectIdentifier(SIGNING_KEY_OID)).value
    assert isinstance(ext, x509.UnrecognizedExtension) and ext.value == raw
    registered = serialization.load_pem_public_key(signing_path(pki, "acme", "brno-1", "gw-1").read_bytes())
    assert public_raw(registered) == raw  # type: ignore[arg-type]


def test_the_bundle_carries_the_first_key_sealed_installs_it_0600_and_is_deleted(tmp_path: Path) -> None:
    """The gateway's first window key and the opt-out secret are nowhere in the bundle in clear;
    `enroll --install` writes keychain.json (0600) with them and deletes the bundle, so a stolen gateway
    holds no sealed copy of a key its own gateway.key would open."""
    pki, bundle = _enrolled(tmp_path)
    optout = (pki / "optout.secret").read_bytes()
    data = bundle.read_bytes()
    assert agent_main(["enroll", "--dir", str(tmp_path / "gw-1"), "--install", str(bundle)]) == 0
    assert not bundle.exists()
    chain = json.loads((tmp_path / "gw-1" / "keychain.json").read_text())
    assert _mode(tmp_path / "gw-1" / "keychain.json") == 0o600
    assert chain["anchor_index"] == DAY.toordinal()
    for secret in (bytes.fromhex(chain["anchor_key"]), optout):
        assert secret not in data and secret.hex().encode() not in data
    assert bytes.fromhex(chain["optout_secret"]) == optout


def test_the_hub_keeps_only_a_future_key_and_a_second_gateway_starts_there(tmp_path: Path) -> None:
    """After the first gateway's enrolment the hub's chain file holds the key of the first window that
    has begun nowhere, never the key handed out; a second gateway of the store gets that key, which is
    the first gateway's chain further along, and an earlier --keys-from is refused in one line."""
    pki, bundle = _enrolled(tmp_path)
    install_bundle(tmp_path / "gw-1", bundle)
    first = bytes.fromhex(json.loads((tmp_path / "gw-1" / "keychain.json").read_text())["anchor_key"])
    hub_chain = json.loads((pki / "chains" / "brno-1.json").read_text())
    future = future_index(1, datetime.now(UTC))
    assert hub_chain["future_index"] == future > (datetime.now(UTC) + timedelta(hours=14)).date().toordinal()
    assert hub_chain["future_key"] != first.hex() and "anchor_key" not in hub_chain
    with pytest.raises(RegistryError, match="keys start on"):
        _enrolled(tmp_path, "gw-2")
    _, other = _enrolled(tmp_path, "gw-2", keys_from=None)
    install_bundle(tmp_path / "gw-2", other)
    second = json.loads((tmp_path / "gw-2" / "keychain.json").read_text())
    key = first
    for _ in range(future - DAY.toordinal()):
        key = next_key(key)
    assert (second["anchor_index"], second["anchor_key"]) == (future, key.hex())


def test_a_bundle_opens_only_on_its_own_gateway(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Another gateway's bundle is refused in one line naming whose it is; nothing is written."""
    _, bundle = _enrolled(tmp_path)
    enroll(tmp_path / "gw-2", "acme", "brno-1", "gw-2")
    assert agent_main(["enroll", "--dir", str(tmp_path / "gw-2"), "--install", str(bundle)]) == 1
    assert capsys.readouterr().err == (
        "footfall-agent: error: gateway.bundle is for acme/brno-1/gw-1, not for the key in "
        f"{tmp_path / 'gw-2'} (wrong bundle, or enrolled again since: issue again)\n")
    assert not (tmp_path / "gw-2" / "keychain.json").exists()


def test_after_rotation_the_closed_windows_key_is_nowhere_in_the_state_folder(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    """A gateway that ran across midnight keeps only the new window's key: the installed key of the
    closed day is gone from every file of its state folder (key chain, outbox, pipeline state)."""
    _, bundle = _enrolled(tmp_path)
    state = tmp_path / "gw-1"
    install_bundle(state, bundle)
    old_key = bytes.fromhex(json.loads((state / "keychain.json").read_text())["anchor_key"])
    midnight = datetime(2026, 11, 27, tzinfo=UTC).timestamp()
    frames = [(midnight + dt, probe_request(f"00:1b:63:00:00:{i:02x}", seq=i))
              for i in range(8) for dt in (-3600.0 + i, 60.0 + i)]
    write_pcap(tmp_path / "day.pcap", sorted(frames))
    cfg = replace(AgentConfig(org="acme", store="brno-1", agent="gw-1", state_dir=str(state)),
                  source=SourceConfig(type="pcap", path=str(tmp_path / "day.pcap")),
                  mqtt=MqttConfig(port=mosquitto.port, allow_plain_loopback=True))
    assert AgentApp(cfg).run(threading.Event(), drain_timeout_s=0.5) == 0
    now_key = bytes.fromhex(json.loads((state / "keychain.json").read_text())["anchor_key"])
    assert now_key == next_key(old_key)
    forms = [old_key, old_key.hex().encode(), old_key.hex().upper().encode()]
    found = [p.name for p in state.rglob("*") if p.is_file() for f in forms if f in p.read_bytes()]
    assert found == []
    assert (DAY + timedelta(days=1)).toordinal() == json.loads((state / "keychain.json").read_text())[
        "anchor_index"]


def test_the_state_folder_is_0700_and_every_file_in_it_0600_after_a_run(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    """After enrolment, install and a run, the gateway's state folder is its owner's only: the folder
    0700, and every file 0600: certificates, key chain, the outbox and its WAL and index (an older
    version's 0644 outbox too)."""
    _, bundle = _enrolled(tmp_path)
    state = tmp_path / "gw-1"
    install_bundle(state, bundle)
    Outbox(state / "outbox.db", "acme", "brno-1", "gw-1").close()
    (state / "outbox.db").chmod(0o644)  # as an older version left it: narrowed at the next start
    write_pcap(tmp_path / "day.pcap", [(datetime(2026, 11, 26, 12, tzinfo=UTC).timestamp() + i,
                                        probe_request("00:1b:63:00:00:01", seq=i)) for i in range(5)])
    cfg = replace(AgentConfig(org="acme", store="brno-1", agent="gw-1", state_dir=str(state)),
                  source=SourceConfig(type="pcap", path=str(tmp_path / "day.pcap")),
                  mqtt=MqttConfig(port=mosquitto.port, allow_plain_loopback=True))
    assert AgentApp(cfg).run(threading.Event(), drain_timeout_s=0.5) == 0
    names = sorted(p.name for p in state.iterdir())
    assert {"outbox.db", "keychain.json", "gateway.crt", "ca.crt", "gateway.key"} <= set(names)
    assert _mode(state) == 0o700
    assert {p.name: oct(_mode(p)) for p in state.iterdir()} == dict.fromkeys(names, oct(0o600))


def test_a_renewal_keeps_the_live_key_though_its_bundle_carries_the_future_one(tmp_path: Path) -> None:
    """`pki issue` again before expiry: the new bundle holds the hub's future key (the only one it has);
    installing it keeps the gateway's live key chain, so it goes on counting today."""
    pki, bundle = _enrolled(tmp_path)
    state = tmp_path / "gw-1"
    install_bundle(state, bundle)
    live = json.loads((state / "keychain.json").read_text())
    renewal = issue_gateway(pki, state / "gateway.csr").bundle_path
    done = install_bundle(state, renewal)
    assert done.kept_chain and not renewal.exists()
    assert json.loads((state / "keychain.json").read_text())["anchor_key"] == live["anchor_key"]


def test_a_bundle_that_cannot_be_deleted_is_named_in_a_warning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A bundle on a read-only stick: the install still succeeds (exit 0), and one warning line says the
    bundle is left and why it must go."""
    _, bundle = _enrolled(tmp_path)
    real_unlink = Path.unlink

    def read_only(self: Path, missing_ok: bool = False) -> None:
        if self == bundle:
            raise OSError(errno.EROFS, "Read-only file system")
        real_unlink(self, missing_ok)

    monkeypatch.setattr(Path, "unlink", read_only)
    assert agent_main(["enroll", "--dir", str(tmp_path / "gw-1"), "--install", str(bundle)]) == 0
    assert capsys.readouterr().err == (
        f"footfall-agent: warning: could not delete {bundle} (Read-only file system): delete it yourself, "
        "it holds this gateway's first key, which gateway.key opens\n")
    assert bundle.exists() and (tmp_path / "gw-1" / "keychain.json").exists()
