"""The shape of the code (CONVENTIONS rule 8): registries, CLI docs, import boundaries, module sizes."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from agent.buffer import BUFFERS
from agent.cli import build_parser as agent_parser
from agent.sinks import SINKS
from agent.sources import REGISTRY as SOURCES
from agent.wire.ranges import table as range_table
from agent.wire.records import field_table
from hub.brokerconf import acl_text
from hub.cli import parser as hub_parser
from hub.imports import IMPORTERS
from hub.reports import FORMATS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
MAX_LINES = 400
LONG_MODULES: dict[str, str] = {  # path -> why it is longer than MAX_LINES
    "hub/cli.py": "every command's argparse wiring in one place; members, live and pki are split out already",
}


@pytest.mark.parametrize("entry", [*SOURCES.values(), *BUFFERS.values(), *SINKS.values(), *IMPORTERS.values(),
                                   *FORMATS.values()])
def test_every_registry_entry_imports(entry: str) -> None:
    """A registry entry names an importable object, so choosing it in config can never fail late."""
    module, _, name = entry.partition(":")
    assert getattr(importlib.import_module(module), name) is not None


def _commands(parser: object) -> dict[str, str]:
    actions = parser._actions  # type: ignore[attr-defined]  # argparse keeps its subparsers private
    sub = next(a for a in actions if a.__class__.__name__ == "_SubParsersAction")
    return {c.dest: c.help for c in sub._choices_actions}


@pytest.mark.parametrize(("prog", "parser"),
                         [("footfall-agent", agent_parser()), ("footfall-hub", hub_parser())])
def test_every_cli_command_has_help_and_a_readme_mention(prog: str, parser: object) -> None:
    """Each command explains itself in --help and appears in the README with its program name."""
    for name, help_text in _commands(parser).items():
        assert help_text, f"{prog} {name} has no help"
        assert f"{prog} {name}" in README, f"README does not mention `{prog} {name}`"


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_the_agent_never_imports_the_hub() -> None:
    """The agent runs on a gateway without the hub installed."""
    offenders = [str(p) for p in (ROOT / "agent").rglob("*.py")
                 if any(m.split(".")[0] == "hub" for m in _imports(p))]
    assert offenders == []


def test_the_wire_stays_light() -> None:
    """Importing agent.wire pulls in neither scapy, paho nor sqlite3 (the hub and tools import it)."""
    code = ("import sys, agent.wire; print(sorted(m for m in sys.modules"
            " if m.split('.')[0] in ('scapy', 'paho', 'sqlite3', '_sqlite3')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_modules_stay_small() -> None:
    """Modules stay under about 400 lines; a longer one is listed with its reason."""
    long = {str(p.relative_to(ROOT)) for d in ("agent", "hub") for p in (ROOT / d).rglob("*.py")
            if len(p.read_text().splitlines()) > MAX_LINES}
    unlisted = sorted(long - set(LONG_MODULES))
    assert not unlisted, f"over {MAX_LINES} lines without a reason: {unlisted}"


def test_readme_field_table_matches_the_code() -> None:
    """The data team's field table in the README is the one the wire module builds."""
    assert field_table() in README


def test_wire_doc_field_table_matches_the_code() -> None:
    """docs/wire.md's record table (the contract page consumers read) is the one the wire module builds."""
    assert field_table() in (ROOT / "docs" / "wire.md").read_text()


def test_wire_doc_range_table_matches_the_code() -> None:
    """The ranges consumers and gateways are held to (docs/wire.md and the README) are the code's."""
    assert range_table() in (ROOT / "docs" / "wire.md").read_text()
    assert range_table() in README


def test_wire_doc_lists_every_acl_grant() -> None:
    """Every topic filter the broker's ACL grants (gateways, hub, data team, bridge) is named in
    docs/wire.md, so the topics table cannot fall behind broker-config."""
    doc = (ROOT / "docs" / "wire.md").read_text()
    grants = {line.split()[-1] for line in acl_text(data_team_arrivals=True).splitlines()
              if line.startswith(("topic ", "pattern "))}
    assert grants and not sorted(g for g in grants if f"`{g}`" not in doc)


def test_every_test_says_what_it_pins() -> None:
    """Each test function has a docstring stating the behaviour a user relies on."""
    missing = []
    for path in (ROOT / "tests").rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_") \
                    and not ast.get_docstring(node):
                missing.append(f"{path.relative_to(ROOT)}::{node.name}")
    assert missing == []


def test_the_hub_imports_of_the_agent_only_its_common_package_and_the_wire() -> None:
    """The hub builds on agent/common (config, TLS files, bundle, ratchet, systemd, logs) and agent/wire
    (the contract), nothing else of the agent: its stages can change without touching the hub. The
    demo, which runs an agent and a hub in one process, is the one exception; agent/common itself
    imports no stage (only the wire)."""
    allowed = ("agent.common", "agent.wire")
    found = []
    for path in (ROOT / "hub").rglob("*.py"):
        if path.name == "demo.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                if (name == "agent" and isinstance(node, ast.ImportFrom)
                        and [a.name for a in node.names] == ["__version__"]):
                    continue
                if name.split(".")[0] == "agent" and not name.startswith(allowed):
                    found.append(f"{path.relative_to(ROOT)}: {name}")
    for path in (ROOT / "agent" / "common").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("agent.") \
                    and not (node.module or "").startswith(allowed):
                found.append(f"{path.relative_to(ROOT)}: {node.module}")
    assert found == []
