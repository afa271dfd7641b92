"""agent.yaml is checked at start and never half-accepted (CONVENTIONS rule 5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cli import main
from agent.common.configfile import ConfigError
from agent.config import load
from tests.support.frames import probe_request, write_pcap


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "message"), [
    ("version: 1\nmqtt:\n  port: abc\n", "agent.yaml:3: mqtt.port: 'abc' is not an integer"),
    ("version: 1\nstore: demo\nmqtt:\n  prot: 1883\n",
     "agent.yaml:4: mqtt.prot: unknown setting (known: allow_plain_loopback, client_id, host, keepalive_s,"
     " max_inflight_batches, port, resend_after_s, signing_key_file, tls)"),
    ("version: 2\n", "agent.yaml:1: version: '2' is not supported (use 1)"),
    ("version: 1\ncounting: [1, 2]\n", "agent.yaml:2: counting: must be a mapping of settings"),
    ("version: 1\nstore: Demo Store\n",
     "agent.yaml:2: store: store id 'Demo Store' must match [a-z0-9-]{1,64}"),
    ("version: 1\nmqtt: {port: 70000}\n", "agent.yaml:2: mqtt.port: port 70000 is not between 1 and 65535"),
    ("version: 1\nstore: a\nstore: b\n", "agent.yaml:3: store: given twice"),
    ("version: 1\nstore: [\n", "agent.yaml:3: expected the node content, but found '<stream end>'"),
])
def test_bad_config_names_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    """Each mistake is one line naming the file, the line and the setting, word for word."""
    with pytest.raises(ConfigError) as err:
        load(write(tmp_path, text))
    assert str(err.value) == message


def test_defaults_fill_what_the_file_leaves_out(tmp_path: Path) -> None:
    """A file with only the store's ids keeps every documented default."""
    cfg = load(write(tmp_path, "version: 1\norg: acme\nstore: brno-1\ncounting: {min_dwell_s: 600}\n"))
    got = (cfg.org, cfg.store, cfg.counting.min_dwell_s, cfg.counting.visit_timeout_s)
    assert got == ("acme", "brno-1", 600, 900)


def test_check_config_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """check-config exits 0 on a good file and 1 with a one-line remedy on a bad one."""
    capture = write_pcap(tmp_path / "day.pcap", [(1_790_000_000.0, probe_request())])
    good = write(tmp_path, f"version: 1\nstate_dir: {tmp_path / 'state'}\nsource: {{path: {capture}}}\n"
                           "mqtt: {allow_plain_loopback: true, signing_key_file: ''}\n")
    assert main(["check-config", "--config", str(good)]) == 0
    bad = write(tmp_path, "version: 1\nmqtt: {port: abc}\n")
    assert main(["check-config", "--config", str(bad)]) == 1
    assert capsys.readouterr().err.strip().endswith(
        "agent.yaml:2: mqtt.port: 'abc' is not an integer (fix the file, then run: footfall-agent"
        f" check-config --config {bad})")
