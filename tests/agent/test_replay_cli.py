"""`footfall-agent replay`: how an installer checks a store's capture (issue 2)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from agent.cli import main

COLUMNS = ["window_start", "seen", "present", "present_low", "present_high", "visitors", "passersby",
           "entering"]


def test_replay_of_an_empty_night_says_nobody(captures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A real night capture of the empty lab: CSV per window, devices heard, no one present."""
    assert main(["replay", str(captures / "2022-11-24.pcap"), "--window", "600"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0]) == COLUMNS
    assert len(rows) >= 25
    assert all(r["window_start"].endswith("Z") for r in rows)
    assert sum(int(r["seen"]) for r in rows) > 0
    assert all(float(r["present"]) == 0 and r["visitors"] == "0" for r in rows)


def test_replay_summary_of_a_busy_day_is_plausible(brno: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A real day with a class in the lab: visitors found, far fewer devices than MACs, sane dwell."""
    assert main(["replay", str(brno / "2022-10-19.pcap"), "--summary"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["frames"] == s["probe_requests"] + sum(s["skipped"].values())
    # 16 people; before calibration, linked chains still count a person's phone and laptop and unlinked
    # fragments (78 chains, 80 visitor devices, 141 with grouping off): calibrate turns them into people
    assert 5 <= s["visitors"] <= 100 and s["visitors_source"] == "linked"
    assert s["devices"] < s["distinct_macs"] / 3
    assert 0 < s["capture_rate"] < 1
    assert 300 <= s["median_dwell_s"] <= 4 * 3600


def test_truncated_capture_warns_and_keeps_what_was_read(tmp_path: Path, captures: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A capture cut mid-record: a warning naming the file and offset, and the frames before it counted."""
    whole = (captures / "2023-04-17.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(whole[:-7])
    assert main(["replay", str(cut), "--summary"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["frames"] == 510
    assert out.err.startswith(f"footfall-agent: warning: {cut}: the file ends inside a record at byte ")


def test_not_a_capture_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file that is not a capture: exit 1 and one line with the remedy."""
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    assert main(["replay", str(bad)]) == 1
    assert capsys.readouterr().err == (
        f"footfall-agent: error: {bad}: not a pcap or pcapng file (starts with 68656c6c)"
        " (give a pcap or pcapng"
        " capture)\n")
