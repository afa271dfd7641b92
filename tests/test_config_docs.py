"""The configs a user can read: every key with its default and meaning, printed from the code itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from agent.cli import main as agent_main
from agent.common.configdoc import render
from agent.common.configfile import load_config
from agent.config import AgentConfig, DoorsConfig, DoorSensorConfig
from hub.cli import main as hub_main
from hub.config import HubConfig, StoreConfig

ROOT = Path(__file__).resolve().parents[1]


def test_agent_example_yaml_is_the_code_s_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    """agent/agent.example.yaml is exactly what `footfall-agent config --defaults` prints (regenerate it
    with that command when a setting changes), and it loads back to the defaults."""
    assert agent_main(["config", "--defaults"]) == 0
    printed = capsys.readouterr().out
    assert (ROOT / "agent" / "agent.example.yaml").read_text() == printed
    assert load_config(None, AgentConfig, text=printed) == AgentConfig()


def test_hub_defaults_print_and_load_back(capsys: pytest.CaptureFixture[str]) -> None:
    """`footfall-hub config --defaults` names every section and key, and the text is a valid hub.yaml."""
    assert hub_main(["config", "--defaults"]) == 0
    printed = capsys.readouterr().out
    assert load_config(None, HubConfig, text=printed) == HubConfig()
    for key in ("mqtt:", "session_expiry_s: 604800", "require_signatures: true", "member_secret_file:"):
        assert key in printed


def test_lists_and_mappings_of_sections_round_trip() -> None:
    """Door sensors and stores print as YAML that loads back to the same settings; when there are none,
    a commented example item names each item's keys."""
    agent = replace(AgentConfig(), doors=DoorsConfig(sensors=[
        DoorSensorConfig(id="front", type="xovis", lines=["in-out"]), DoorSensorConfig(id="back")]))
    text = render(agent, "t")
    assert load_config(None, AgentConfig, text=text) == agent
    assert "each item of the list sensors has:" not in text
    assert "\n#    each item of the list sensors has:\n#      id: \"\"  " in render(AgentConfig(), "t")
    hub = HubConfig(stores={"brno-1": StoreConfig(timezone="Europe/Prague", calibration_factor=1.25)},
                    groups={"cz": ["brno-1"]})
    assert load_config(None, HubConfig, text=render(hub, "t")) == hub


def test_config_prints_a_file_s_effective_settings(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """`footfall-agent config --config agent.yaml`: the file's values, the defaults for the rest."""
    cfg = tmp_path / "agent.yaml"
    cfg.write_text("version: 1\nstore: brno-2\ncounting: {min_dwell_s: 600}\n")
    assert agent_main(["config", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    for line in ("\nstore: brno-2 ", "\n  min_dwell_s: 600.0 ", "\n  visit_timeout_s: 900.0 "):
        assert line in out


@pytest.mark.parametrize("main", [agent_main, hub_main])
def test_config_without_a_choice_is_one_line(main: Callable[[list[str]], int],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Neither --defaults nor --config: exit 1 and a line that says which to give."""
    assert main(["config"]) == 1
    assert capsys.readouterr().err.endswith(
        "error: say which: --defaults (every default) or --config FILE (its effective settings)\n")


def test_state_dir_is_the_same_in_the_code_the_unit_and_the_readme() -> None:
    """The default state_dir is the systemd unit's StateDirectory under /var/lib, as the README says."""
    unit = (ROOT / "systemd" / "footfall-agent.service").read_text()
    assert "StateDirectory=footfall-agent\n" in unit
    assert AgentConfig().state_dir == "/var/lib/footfall-agent"
    assert "state_dir: /var/lib/footfall-agent" in (ROOT / "README.md").read_text()
