"""Frames far from the clock or from their capture's timeline never move the key ratchet (agent/timegate.py).

The brno-lab captures are from 2022-2023 while this machine says 2026: their reference is their own
timeline, this machine's clock only a ceiling.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from agent.cli import main
from agent.privacy.keychain import window_of
from agent.sources.pcap_file import PcapFileSource
from agent.timegate import TimeGate
from tests.support.frames import write_pcap

Y2106 = 4_294_000_000.0  # 2106-01-27, just inside pcap's 32-bit seconds
DAY = "2023-02-23.pcap"
COUNTS = ("frames", "probe_requests", "distinct_macs", "devices", "static_devices", "visits", "bounces",
          "visitors", "passersby", "capture_rate", "median_dwell_s", "first_frame_at", "last_frame_at")


def _frames(capture: Path) -> tuple[list[tuple[float, bytes]], int]:
    source = PcapFileSource(capture)
    frames = [f for batch in source.batches(threading.Event()) for f in batch]
    return frames, source.linktype


def _summary(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object], str]:
    code = main(["replay", *args, "--summary"])
    out = capsys.readouterr()
    return code, json.loads(out.out), out.err


def test_a_2106_frame_then_a_normal_day_in_the_same_state_counts_the_day_as_alone(
        tmp_path: Path, brno: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One frame stamped 2106 used to advance the state's key ratchet to 2106: every later frame, in that
    replay and every later one, was `key_expired`, silently, exit 0. Now that frame is dropped
    (`time_future`), the replay says so and exits 1 (it dropped all of its capture), and the real day
    replayed next in the same --state counts exactly as it does in a fresh state."""
    frames, linktype = _frames(brno / DAY)
    bad = write_pcap(tmp_path / "2106.pcap", [(Y2106, frames[0][1])], linktype)
    code, alone, _ = _summary(capsys, str(brno / DAY), "--state", str(tmp_path / "fresh"))
    assert code == 0
    assert main(["replay", str(bad), "--summary", "--state", str(tmp_path / "state")]) == 1
    err = capsys.readouterr().err
    assert err == (f"footfall-agent: error: {bad}: 1 of 1 frames dropped for their time (time_future 1); "
                   "timestamps far from the capture's own timeline or this machine's clock, or before the "
                   "state folder's key window: most of the capture was not counted\n")
    code, after, err = _summary(capsys, str(brno / DAY), "--state", str(tmp_path / "state"))
    assert (code, err) == (0, "")
    assert {k: after[k] for k in COUNTS} == {k: alone[k] for k in COUNTS}
    assert alone["frames"] == 1694 and alone["devices"] == 20


def test_one_frame_far_ahead_inside_a_capture_is_an_outlier_and_the_day_counts_as_without_it(
        tmp_path: Path, brno: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A frame stamped months ahead of its neighbours (still before this machine's clock) in the middle of
    a real capture is an outlier of the capture's timeline: dropped as `time_outlier`, with a warning;
    the day's counts are those of the capture without it (before, the rest of the day was key_expired)."""
    frames, linktype = _frames(brno / DAY)
    middle = len(frames) // 2
    ahead = frames[middle][0] + 200 * 86400
    with_outlier = [*frames[:middle], (ahead, frames[middle][1]), *frames[middle:]]
    capture = write_pcap(tmp_path / "outlier.pcap", with_outlier, linktype)
    plain = write_pcap(tmp_path / "plain.pcap", frames, linktype)
    _, alone, _ = _summary(capsys, str(plain))
    code, got, err = _summary(capsys, str(capture))
    assert code == 0
    assert err == (f"footfall-agent: warning: {capture}: 1 of 1695 frames dropped for their time "
                   "(time_outlier 1); timestamps far from the capture's own timeline or this machine's "
                   "clock, or before the state folder's key window\n")
    counted = [k for k in COUNTS if k != "frames"]  # frames read: one more, and it is in skipped
    assert {k: got[k] for k in counted} == {k: alone[k] for k in counted}
    assert got["skipped"] == {"time_outlier": 1}
    assert got["frames"] == alone["frames"] + 1 == got["probe_requests"] + 1


def test_a_real_gap_in_a_capture_is_followed_not_dropped() -> None:
    """A gateway that was off for two days: the frames after the gap agree with each other, so the
    capture's timeline moves on with them; nothing is dropped."""
    gate = TimeGate(lambda: None)
    day1 = [(1_700_000_000.0 + i, b"a") for i in range(10)]
    day3 = [(1_700_000_000.0 + 2 * 86400 + i, b"b") for i in range(10)]
    out = gate.feed(day1[:5]) + gate.feed(day1[5:] + day3[:2]) + gate.feed(day3[2:]) + gate.close()
    assert out == day1 + day3
    assert gate.counters == {}


def test_without_a_set_clock_an_unconfirmed_jump_is_still_an_outlier() -> None:
    """With no clock to trust (ceiling None), a lone frame ahead of the timeline is dropped when the
    capture's frames that follow it continue the old time; a capture of a lone frame keeps nothing."""
    gate = TimeGate(lambda: None)
    day = [(1_700_000_000.0 + i, b"a") for i in range(10)]
    out = gate.feed([*day[:5], (Y2106, b"x"), *day[5:]]) + gate.close()
    assert out == day
    assert gate.counters == {"time_outlier": 1}
    lone = TimeGate(lambda: None)
    assert lone.feed([(Y2106, b"x")]) + lone.close() == []
    assert lone.counters == {"time_outlier": 1}


def test_live_frames_ahead_of_a_synced_clock_are_dropped_and_unsynced_never_open_a_later_window() -> None:
    """Live: a synced clock is the reference (frames over 5 min ahead: `time_future`); with the clock
    not synchronised, frames of a window after the key chain's newest are `time_unsynced_ahead`."""
    now = 1_790_000_000.0
    gate = TimeGate(lambda: now + 300, timeline=False)
    assert gate.feed([(now, b"a"), (now + 299, b"b"), (now + 301, b"c"), (Y2106, b"d")]) == \
        [(now, b"a"), (now + 299, b"b")]
    assert gate.not_ahead([(now, b"a"), (now + 86400, b"b")], now + 3600) == [(now, b"a")]
    assert gate.counters == {"time_future": 2, "time_unsynced_ahead": 1}


def test_a_quiet_night_loses_no_frame_and_a_lone_jump_into_the_next_window_still_does(
        captures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Within the accepted frames' key window a jump cannot move the ratchet, so it needs no confirming:
    the shipped quiet night (frames minutes apart, no 3 within 5 minutes) replays without a drop (it lost
    3 of its 511 frames when every jump needed confirming). A lone frame in the next window is still
    dropped when the capture's timeline goes on without it."""
    code, got, err = _summary(capsys, str(captures / "2023-04-17.pcap"))
    assert (code, err, got["frames"], got.get("skipped", {})) == (0, "", 511, {})
    window = window_of("UTC", 1)
    gate = TimeGate(lambda: None, window_of=window)
    t0 = 1_700_006_400.0  # 2023-11-15 00:00Z
    night = [(t0 + i * 1200.0, b"n") for i in range(10)]  # 20 minutes apart, one window
    next_day = (t0 + 86400 + 600.0, b"x")
    out = gate.feed(night[:5]) + gate.feed([next_day, *night[5:]]) + gate.close()
    assert out == night
    assert gate.counters == {"time_outlier": 1}
