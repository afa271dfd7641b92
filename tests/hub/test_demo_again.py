"""`footfall-hub demo --out DIR` run again into the same folder, as someone trying a second day does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.cli import main


def test_a_second_demo_day_into_the_same_folder_keeps_the_chain(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A later --date into the same --out reuses its CA and enrolment and reports the new day; an earlier
    date (whose keys the chain destroyed) is one line that says what to give instead, exit 1."""
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--scale", "0.05", "--format", "json"]
    assert main([*args, "--date", "2026-11-26"]) == 0
    ca = (out / "pki" / "ca.crt").read_bytes()
    first = json.loads(capsys.readouterr().out)
    assert main([*args, "--date", "2026-11-27"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert (first["date"], second["date"]) == ("2026-11-26", "2026-11-27")
    assert second["day"]["transactions"] > 0
    assert (out / "pki" / "ca.crt").read_bytes() == ca
    assert main([*args, "--date", "2026-11-26"]) == 1
    assert capsys.readouterr().err == (
        f"footfall-hub: error: {out} holds a demo chain that is past 2026-11-26 already (its keys of earlier "
        "days are destroyed): give a later --date, or another --out\n")
