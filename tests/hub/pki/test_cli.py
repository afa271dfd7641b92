"""`footfall-hub pki ...`, `footfall-hub broker-config` and `footfall-agent enroll`: the operator's path,
with one-line errors (and their remedies) pinned word for word."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.cli import main as agent_main
from hub.cli import main as hub_main


def _hub(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = hub_main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_enrolment_round_trip_from_the_command_line(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """init, enroll, issue, list, revoke, list: each step prints what it did and what comes next."""
    pki, state = str(tmp_path / "pki"), tmp_path / "state"
    code, out, _ = _hub(capsys, "pki", "init", "--dir", pki, "--org", "acme")
    assert code == 0 and out.startswith(f"CA of org acme in {pki}: ca.key (mode 0600, keep it safe)")
    assert agent_main(["enroll", "--dir", str(state), "--org", "acme", "--store", "brno-1",
                       "--agent", "gw-1"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (f"{state}/gateway.csr: request for acme/brno-1/gw-1 (new keys: "
                                   f"{state}/gateway.key and gateway-sign.key, mode 0600, stay here)")
    code, out, _ = _hub(capsys, "pki", "issue", str(state / "gateway.csr"), "--dir", pki, "--days", "90")
    assert code == 0 and out.startswith(f"{state}/gateway.crt: acme/brno-1/gw-1, serial ")
    assert (state / "gateway.crt").exists()
    code, out, _ = _hub(capsys, "pki", "list", "--dir", pki)
    assert code == 0
    row = next(line for line in out.splitlines() if "acme/brno-1/gw-1" in line)
    assert row.split("│")[4].strip() == "no"
    for column in ("CN", "Serial", "Not after", "Revoked"):
        assert column in out
    code, out, _ = _hub(capsys, "pki", "revoke", "acme/brno-1/gw-1", "--dir", pki)
    assert code == 0 and out.endswith(
        f"{pki}/crl.pem updated; run footfall-hub broker-config again and restart the broker\n")
    _, out, _ = _hub(capsys, "pki", "list", "--dir", pki)
    row = next(line for line in out.splitlines() if "acme/brno-1/gw-1" in line)
    assert row.split("│")[4].strip() == "yes"


def test_pki_errors_are_one_line_with_a_remedy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing CA, a file that is not a CSR, a wrong org and a broker config without a server
    certificate each end in one line and exit code 1."""
    pki = str(tmp_path / "pki")
    assert _hub(capsys, "pki", "list", "--dir", pki) == (
        1, "", f"footfall-hub: error: {pki} holds no CA (create one: footfall-hub pki init --dir {pki} "
               "--org ORG)\n")
    _hub(capsys, "pki", "init", "--dir", pki, "--org", "acme")
    assert _hub(capsys, "pki", "issue", f"{pki}/ca.crt", "--dir", pki) == (
        1, "", "footfall-hub: error: not a PEM certificate request (give the gateway.csr that enroll "
               "wrote)\n")
    agent_main(["enroll", "--dir", str(tmp_path / "s"), "--org", "other", "--store", "s", "--agent", "a"])
    capsys.readouterr()
    assert _hub(capsys, "pki", "issue", str(tmp_path / "s" / "gateway.csr"), "--dir", pki) == (
        1, "", "footfall-hub: error: CN 'other/s/a' is of org 'other', this CA is of org 'acme' (enroll "
               "again with --org acme)\n")
    assert _hub(capsys, "pki", "issue", str(tmp_path / "nope.csr"), "--dir", pki) == (
        1, "", f"footfall-hub: error: {tmp_path}/nope.csr: No such file or directory (check the path "
               "and its permissions)\n")
    assert _hub(capsys, "broker-config", "--pki", pki, "--out", str(tmp_path / "b")) == (
        1, "", f"footfall-hub: error: {pki} has no broker certificate (make one: footfall-hub pki "
               f"issue-server --dir {pki} --dns HOST --ip ADDRESS)\n")


def test_enroll_refuses_a_bad_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An id the topics cannot carry is refused before any key is made."""
    assert agent_main(["enroll", "--dir", str(tmp_path / "s"), "--org", "acme", "--store", "Brno",
                       "--agent", "gw-1"]) == 1
    assert capsys.readouterr().err == "footfall-agent: error: store id 'Brno' must match [a-z0-9-]{1,64}\n"
    assert not (tmp_path / "s").exists()


def test_broker_config_writes_a_tls_only_listener_and_the_acl(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The config requires a client certificate of the chain, TLS 1.2 at least, the CRL and the CN as
    username, and allows no anonymous client; the ACL gives gateways only their own topics."""
    pki = tmp_path / "pki"
    _hub(capsys, "pki", "init", "--dir", str(pki), "--org", "acme")
    assert _hub(capsys, "pki", "issue-server", "--dir", str(pki), "--dns", "localhost", "--ip",
                "127.0.0.1")[0] == 0
    code, out, _ = _hub(capsys, "broker-config", "--pki", str(pki), "--out", str(tmp_path / "b"))
    assert code == 0 and out == f"{tmp_path}/b/mosquitto.conf and {tmp_path}/b/acl: run mosquitto -c " \
                                f"{tmp_path}/b/mosquitto.conf\n"
    conf = (tmp_path / "b" / "mosquitto.conf").read_text().splitlines()
    for line in ("listener 8883", "allow_anonymous false", "require_certificate true",
                 "use_identity_as_username true", "tls_version tlsv1.2", f"crlfile {tmp_path}/b/tls/crl.pem",
                 f"cafile {tmp_path}/b/tls/ca.crt", f"acl_file {tmp_path}/b/acl", "persistence true",
                 f"persistence_location {tmp_path}/b/data/"):
        assert line in conf
    assert not any(line.startswith(("user ", "password_file", "listener 1883")) for line in conf)
    acl = (tmp_path / "b" / "acl").read_text().splitlines()
    assert [line for line in acl if line.startswith("pattern")] == [
        "pattern write footfall/v1/%u/data", "pattern write footfall/v1/%u/status",
        "pattern read footfall/v1/%u/config", "pattern read footfall/v1/%u/ack"]
    assert not any(line.endswith((" #", " $SYS/#")) for line in acl)


def test_a_stores_second_gateway_is_told_when_it_starts(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The hub keeps only a future window's key, so a store's second gateway starts there; `pki issue`
    says from which day, in one line, where the first gateway's issue says nothing of the kind."""
    from hub.pki.chains import future_index, window_start  # noqa: PLC0415 -- hub library

    pki = str(tmp_path / "pki")
    assert _hub(capsys, "pki", "init", "--dir", pki, "--org", "acme")[0] == 0
    for agent in ("gw-1", "gw-2"):
        assert agent_main(["enroll", "--dir", str(tmp_path / agent), "--org", "acme", "--store", "brno-1",
                           "--agent", agent]) == 0
    capsys.readouterr()
    code, first, _ = _hub(capsys, "pki", "issue", str(tmp_path / "gw-1" / "gateway.csr"), "--dir", pki)
    assert code == 0 and "note:" not in first
    code, second, _ = _hub(capsys, "pki", "issue", str(tmp_path / "gw-2" / "gateway.csr"), "--dir", pki)
    day = window_start(future_index(1, datetime.now(UTC)), 1)
    assert code == 0 and f"the store's keys from {day} sealed" in second
    assert second.splitlines()[-1] == (
        f"note: this gateway counts from {day}: the store has gateways already, and the hub keeps no key of "
        "a window that has begun (only the next one's)")


def test_a_new_stores_gateways_issued_together_all_start_today(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """`pki issue a.csr b.csr`: a new store's gateways share the fresh key (none waits for the future
    window), and each installs the same chain."""
    from agent.privacy.bundle import install_bundle  # noqa: PLC0415 -- agent library

    pki = str(tmp_path / "pki")
    assert _hub(capsys, "pki", "init", "--dir", pki, "--org", "acme")[0] == 0
    for agent in ("gw-1", "gw-2"):
        assert agent_main(["enroll", "--dir", str(tmp_path / agent), "--org", "acme", "--store", "brno-1",
                           "--agent", agent]) == 0
    capsys.readouterr()
    code, out, _ = _hub(capsys, "pki", "issue", str(tmp_path / "gw-1" / "gateway.csr"),
                        str(tmp_path / "gw-2" / "gateway.csr"), "--dir", pki)
    assert code == 0 and len(out.splitlines()) == 2 and "note:" not in out
    chains = []
    for agent in ("gw-1", "gw-2"):
        install_bundle(tmp_path / agent, tmp_path / agent / "gateway.bundle")
        chains.append((tmp_path / agent / "keychain.json").read_text())
    assert json.loads(chains[0])["anchor_key"] == json.loads(chains[1])["anchor_key"]
    assert _hub(capsys, "pki", "issue", str(tmp_path / "gw-1" / "gateway.csr"),
                str(tmp_path / "gw-2" / "gateway.csr"), "--dir", pki, "--out", "x.crt") == (
        1, "", "footfall-hub: error: --out names one certificate: give one CSR with it\n")
