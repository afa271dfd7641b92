"""Calibration (issue 10): the factor fitted from ground truth, and clear errors on bad truth files."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from agent import replay
from agent.calibrate import CalibrationError, fit, load_factor, read_truth, truth_windows
from agent.cli import main
from agent.config import AgentConfig
from agent.simulate import generate_day
from agent.wire.records import parse_iso

HEADER = "start_utc,end_utc,occupancy\n"


def test_fit_recovers_a_known_linear_relation() -> None:
    """Truth that is exactly 2.5 x present gives factor 2.5, r 1 and no error after calibration."""
    pairs = [(x, 2.5 * x) for x in (0.0, 1.0, 2.0, 4.0, 7.5, 3.0)]
    result = fit(pairs, 600, ("a",))
    assert result.factor == 2.5 and result.r == 1.0 and result.mae_after == 0.0


def test_calibrate_command_stores_the_factor_replay_uses(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """On a real capture whose truth is 2 x the estimate, `calibrate` stores 2.0 and replay then applies
    it."""
    day = generate_day(tmp_path / "d", date(2026, 11, 26), seed=5, scale=0.2)
    rows = replay.windows(replay.run(day.pcap, AgentConfig()), 600)
    lines = [HEADER]
    for r in rows:
        start = parse_iso(r["window_start"])
        lines.append(f"{_iso(start)},{_iso(start + 600)},{2 * r['present']}\n")
    truth = tmp_path / "truth.csv"
    truth.write_text("".join(lines))
    state = tmp_path / "state"
    assert main(["calibrate", "--state", str(state), "--pair", str(day.pcap), str(truth)]) == 0
    assert json.loads(capsys.readouterr().out)["factor"] == pytest.approx(2.0, abs=0.01)
    assert load_factor(state) == pytest.approx(2.0, abs=0.01)
    assert main(["replay", str(day.pcap), "--state", str(state)]) == 0
    calibrated = [line.split(",")[2] for line in capsys.readouterr().out.splitlines()[1:]]
    assert [float(c) for c in calibrated] == pytest.approx([2 * r["present"] for r in rows], abs=0.05)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


@pytest.mark.parametrize(("body", "message"), [
    ("start,end,occ\n", "truth.csv:1: the header must be start_utc,end_utc,occupancy"),
    (HEADER, "truth.csv: no rows after the header"),
    (HEADER + "2023-01-01T10:00:00+00:00,2023-01-01T11:00:00+00:00,-2\n",
     "truth.csv:2: occupancy: '-2' is negative or not finite"),
    (HEADER + "2023-01-01T10:00:00+00:00,2023-01-01T11:00:00+00:00,x\n",
     "truth.csv:2: occupancy: 'x' is not a number"),
    (HEADER + "2023-01-01T10:00:00+00:00,2023-01-01T09:00:00+00:00,1\n",
     "truth.csv:2: end_utc is not after start_utc"),
    (HEADER + "2023-01-01T10:00:00+00:00,2023-01-01T11:00:00+00:00,1\n"
     "2023-01-01T09:00:00+00:00,2023-01-01T09:30:00+00:00,1\n",
     "truth.csv:3: rows are not sorted by start_utc"),
    (HEADER + "2023-01-01T10:00:00+00:00,2023-01-01T11:00:00+00:00,1\n"
     "2023-01-01T10:30:00+00:00,2023-01-01T12:00:00+00:00,1\n",
     "truth.csv:3: this row overlaps the previous one"),
    (HEADER + "yesterday,2023-01-01T11:00:00+00:00,1\n",
     "truth.csv:2: start_utc: 'yesterday' is not an ISO 8601 time"),
    (HEADER + "2023-01-01T10:00:00,2023-01-01T11:00:00+00:00,1\n",
     "truth.csv:2: start_utc: '2023-01-01T10:00:00' has no UTC offset (add +00:00)"),
    (HEADER + "2023-01-01T10:00:00+00:00,2023-01-01T11:00:00+00:00\n",
     "truth.csv:2: expected 3 columns, found 2"),
])
def test_bad_truth_files_name_file_and_line(tmp_path: Path, body: str, message: str) -> None:
    """Each kind of bad row is refused with its file and line, word for word."""
    path = tmp_path / "truth.csv"
    path.write_text(body)
    with pytest.raises(CalibrationError) as err:
        read_truth(path)
    assert str(err.value) == message


def test_truth_with_no_overlap_is_an_error_and_stores_nothing(tmp_path: Path, captures: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Truth from another day than the capture: one-line error, exit 1, no calibration stored."""
    truth = tmp_path / "truth.csv"
    truth.write_text(HEADER + "2020-01-01T10:00:00+00:00,2020-01-01T11:00:00+00:00,3\n")
    state = tmp_path / "state"
    capture = captures / "2023-04-17.pcap"
    assert main(["calibrate", "--state", str(state), "--pair", str(capture), str(truth)]) == 1
    assert capsys.readouterr().err.strip() == (
        "footfall-agent: error: truth.csv: no window overlaps the capture 2023-04-17.pcap"
        " (nothing was stored)")
    assert load_factor(state) is None


def test_truth_windows_are_time_weighted(tmp_path: Path) -> None:
    """A window half at 2 people and half at 4 holds 3 people on average."""
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "2023-01-01T10:00:00+00:00,2023-01-01T10:05:00+00:00,2\n"
                    "2023-01-01T10:05:00+00:00,2023-01-01T10:10:00+00:00,4\n")
    assert list(truth_windows(read_truth(path), 600).values()) == [3.0]
