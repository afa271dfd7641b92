"""Strict by default (CONVENTIONS rule 9): ruff and mypy, as configured in pyproject.toml, report nothing.

Every exception is written down where it applies: a per-line `noqa` or `type: ignore` with its reason,
or an entry in pyproject's per-file-ignores with a comment. These tests run in the normal suite, so a
new lint or type error fails it like any other broken behaviour.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    # the interpreter of this test run, so the venv's ruff and mypy (and its installed stubs) are used
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False)  # the exit code is asserted with the report


@pytest.mark.slow
def test_ruff_reports_nothing() -> None:
    """`ruff check agent hub tests bench` is clean under pyproject's broad rule selection."""
    out = _run("ruff", "check", "--no-cache", "--output-format", "concise", "agent", "hub", "tests", "bench")
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.slow
def test_mypy_strict_reports_nothing() -> None:
    """mypy in strict mode over the `agent` and `hub` packages is clean (pyproject's [tool.mypy] says the
    same; strict and the packages are also given here, so loosening the config cannot pass silently)."""
    out = _run("mypy", "--strict", "-p", "agent", "-p", "hub")
    assert out.returncode == 0, out.stdout + out.stderr
