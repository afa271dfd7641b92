"""Channel hopping: the configured channels in turn through `iw`, failures counted and reported once."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from agent.sources.hop import ChannelHopper


def _fake_iw(tmp_path: Path, exit_code: int = 0) -> tuple[Path, Path]:
    log = tmp_path / "iw.log"
    iw = tmp_path / "iw"
    iw.write_text(f"#!/bin/sh\necho \"$@\" >> {log}\n"
                  f"echo 'command failed: Operation not permitted (-1)' >&2\nexit {exit_code}\n")
    iw.chmod(0o755)
    return iw, log


def test_hopping_cycles_the_channels_with_one_dwell_each(tmp_path: Path) -> None:
    """`iw dev mon0 set channel N` runs for 1, 6, 11, 1, ... each `dwell_s` apart, and stops when asked."""
    iw, log = _fake_iw(tmp_path)
    hopper = ChannelHopper("mon0", [1, 6, 11], 0.1, iw=str(iw))
    hopper.start()
    time.sleep(0.55)
    hopper.stop()
    calls = log.read_text().splitlines()
    assert calls[:4] == ["dev mon0 set channel 1", "dev mon0 set channel 6", "dev mon0 set channel 11",
                         "dev mon0 set channel 1"]
    assert 4 <= len(calls) <= 7
    assert hopper.counters["channel_hops"] == len(calls)
    time.sleep(0.2)
    assert len(log.read_text().splitlines()) == len(calls), "no hop after stop()"


def test_a_failing_iw_is_counted_every_time_and_logged_once(tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """Without CAP_NET_ADMIN every hop fails: each failure is counted, and logged once with its cause."""
    iw, _ = _fake_iw(tmp_path, exit_code=1)
    hopper = ChannelHopper("mon0", [1, 6], 1.0, iw=str(iw))
    with caplog.at_level(logging.WARNING):
        results = [hopper.hop(c) for c in (1, 6, 1)]
    assert results == [False, False, False]
    assert hopper.counters == {"channel_hop_errors": 3}
    assert [r.getMessage() for r in caplog.records] == [
        "channel hop to 1 on mon0 failed: command failed: Operation not permitted (-1) "
        "(hopping needs iw and CAP_NET_ADMIN)"]


def test_a_missing_iw_binary_is_a_counted_failure_not_a_crash(tmp_path: Path) -> None:
    """A gateway without iw installed keeps capturing on its current channel."""
    hopper = ChannelHopper("mon0", [1], 1.0, iw=os.fspath(tmp_path / "no-such-iw"))
    assert hopper.hop(1) is False
    assert hopper.counters == {"channel_hop_errors": 1}
