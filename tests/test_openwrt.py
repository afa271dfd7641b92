"""The OpenWrt procd script (firmware_notes/footfall-agent.init), without OpenWrt: procd's functions are
stubbed to record what the script asks for, and the command it gives procd is then run for real."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INIT = ROOT / "firmware_notes" / "footfall-agent.init"
STUBS = """
procd_open_instance() { echo open; }
procd_close_instance() { echo close; }
procd_set_param() { printf '%s' "$1"; shift; for a in "$@"; do printf ' %s' "$a"; done; echo; }
"""


def _params(**overrides: str) -> dict[str, list[str]]:
    """start_service()'s procd parameters, with the script's variables overridden after it is read."""
    sets = "".join(f"{k}={shlex.quote(v)}\n" for k, v in overrides.items())
    script = f"{STUBS}\n. {INIT}\n{sets}start_service\n"
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30, check=True)
    lines = out.stdout.splitlines()
    assert lines[0] == "open" and lines[-1] == "close"
    return {line.split()[0]: line.split()[1:] for line in lines[1:-1]}


def test_procd_gets_a_respawning_agent_with_its_logs_and_a_clean_stop() -> None:
    """respawn (5 crashes an hour at most), stdout and stderr to logd, 30 s for SIGTERM, restart when
    agent.yaml changes, and `python3 -m agent.cli run --config /etc/footfall/agent.yaml`."""
    params = _params()
    assert params["command"] == ["/usr/bin/python3", "-m", "agent.cli", "--log-format", "text", "run",
                                 "--config", "/etc/footfall/agent.yaml"]
    assert params["respawn"] == ["3600", "5", "5"] and params["term_timeout"] == ["30"]
    assert params["stdout"] == params["stderr"] == ["1"] and params["file"] == ["/etc/footfall/agent.yaml"]
    assert "PYTHONPATH=/opt/footfall" in params["env"]


def test_the_command_runs_from_a_folder_holding_only_the_agent_package(tmp_path: Path) -> None:
    """What the router has: agent/ copied into /opt/footfall (no hub, no install); the script's command,
    given PYTHONPATH from the script, loads the agent from there and reads the config."""
    home = tmp_path / "opt-footfall"
    shutil.copytree(ROOT / "agent", home / "agent", ignore=shutil.ignore_patterns("__pycache__"))
    config = tmp_path / "agent.yaml"
    capture = ROOT / "tests" / "data" / "brno-lab" / "2022-11-24.pcap"  # check-config opens the source too
    config.write_text(f"version: 1\nstore: brno-1\nstate_dir: {tmp_path / 'state'}\n"
                      f"source: {{type: pcap, path: {capture}}}\n"
                      "mqtt: {host: 127.0.0.1, allow_plain_loopback: true, signing_key_file: ''}\n")
    params = _params(PYTHON=sys.executable, FOOTFALL_HOME=str(home), CONFIG=str(config))
    env = dict(e.split("=", 1) for e in params["env"])
    command = params["command"]
    assert command[-3:] == ["run", "--config", str(config)]
    full_env = {**os.environ, **env}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), cwd=tmp_path, env=full_env, capture_output=True, text=True,
                              timeout=60, check=False)  # asserted by the caller

    assert run(command[0], "-c", "import agent; print(agent.__file__)").stdout == \
        f"{home / 'agent' / '__init__.py'}\n"
    done = run(*command[:-3], "check-config", "--config", str(config))
    assert (done.returncode, done.stdout) == (0, f"{config}: ok\n"), done.stderr
