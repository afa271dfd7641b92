"""The door registry and the README's door section stay true (CONVENTIONS rules 1 and 8)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from agent.common.configfile import load_config
from agent.config import AgentConfig
from agent.doors import REGISTRY, load
from tests.agent.doors.conftest import ServiceFactory, post, token_of

README = (Path(__file__).resolve().parents[3] / "README.md").read_text()
SECTION = README.split("### Door counters", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_every_door_kind_imports_and_is_documented(kind: str) -> None:
    """Choosing a door type in agent.yaml can never fail late, and the README's table names it."""
    assert load(kind).__doc__
    assert f"| `{kind}` |" in SECTION


def test_gpiozero_is_imported_only_when_a_gpio_sensor_starts() -> None:
    """A gateway without GPIO pins (an OpenWrt router) runs door counting without gpiozero."""
    code = ("import sys, agent.app, agent.doors.service, agent.doors.gpio; "
            "print([m for m in sys.modules if m.startswith('gpiozero')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_readme_example_config_loads() -> None:
    """The door config an installer copies from the README is valid as written."""
    yaml_text = re.search(r"```yaml\n(.*?)```", SECTION, re.S).group(1)  # type: ignore[union-attr]
    cfg = load_config(None, AgentConfig, text="version: 1\n" + yaml_text)
    assert [s.type for s in cfg.doors.sensors] == ["xovis", "generic", "axis", "gpio"]


def test_the_readme_curl_example_prints_what_it_shows(doors: ServiceFactory, tmp_path: Path) -> None:
    """The README's bad push and its one-line answer are real."""
    svc = doors([{"id": "door-back", "type": "generic"}])
    status, text = post(svc.listener.port, "/generic", {"sensor": "door-back", "in": 3},  # type: ignore[union-attr]
                        token_of(tmp_path))
    assert status == 400 and text.strip() in SECTION
