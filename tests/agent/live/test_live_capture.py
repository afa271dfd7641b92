"""Live capture through the kernel, without Wi-Fi hardware: a radiotap TAP interface (link type 803, as a
monitor interface) in a fresh network namespace, fed with frames built by scapy, captured by LiveSource.

What this does not cover is a radio: a real driver's radiotap fields, a channel change, frame rates of a
busy store (see firmware_notes/checklist.md for the on-site check).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from agent.common.configfile import load_config
from agent.config import AgentConfig
from agent.pipeline.parse import FrameParser
from tests.agent.live.conftest import Netns
from tests.agent.live.test_bpf import _other
from tests.support.frames import probe_request


def _capture(netns: Netns, steps: list[dict[str, Any]], **plan: Any) -> dict[str, Any]:
    done = netns.python("-m", "tests.agent.live.capture_driver", stdin=json.dumps({"steps": steps, **plan}))
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _probes(n: int, first_seq: int = 0) -> list[bytes]:
    return [probe_request(mac=f"02:5e:10:00:{i >> 8:02x}:{i & 0xFF:02x}", seq=first_seq + i)
            for i in range(n)]


def _frames(result: dict[str, Any]) -> list[tuple[float, bytes]]:
    return [(ts, bytes.fromhex(h)) for b in result["batches"] for ts, h in b["frames"]]


def test_only_probe_requests_reach_the_pipeline_with_their_bytes_and_times(netns: Netns) -> None:
    """Of a mix of probe requests, beacons, responses and data frames, exactly the probe requests come
    out, in order, byte for byte, stamped with the time they were heard, and the parser reads them all."""
    probes = _probes(200)
    noise = [_other(0, 8), _other(0, 5), _other(2, 0), _other(1, 13)]
    mixed = [f for i, p in enumerate(probes) for f in (p, noise[i % 4])]
    result = _capture(netns, [{"feed": [f.hex() for f in mixed]}], idle_s=0.6)
    frames = _frames(result)
    assert [f for _, f in frames] == probes
    stamps = [ts for ts, _ in frames]
    assert result["t0"] <= stamps[0] and stamps == sorted(stamps) and stamps[-1] <= result["t1"]
    assert result["counters"]["frames"] == 200
    parser = FrameParser(127)
    assert len(parser.feed(frames)) == 200


def test_batches_leave_when_full_and_every_half_second_when_quiet(netns: Netns) -> None:
    """A burst leaves in batches of at most batch_frames; a quiet interface still yields (empty) batches
    about every 0.5 s, so idle visits close and a stop request is seen."""
    result = _capture(netns, [{"feed": [p.hex() for p in _probes(300)]}], batch_frames=64, idle_s=2.0)
    sizes = [len(b["frames"]) for b in result["batches"]]
    assert sum(sizes) == 300 and max(sizes) == 64 and sizes.count(64) >= 4
    quiet = [b["at"] for b in result["batches"] if not b["frames"]][-3:]
    gaps = [later - earlier for earlier, later in itertools.pairwise(quiet)]
    assert len(gaps) == 2 and all(0.4 <= g <= 0.8 for g in gaps), gaps


def test_capture_resumes_by_itself_after_the_adapter_is_unplugged(netns: Netns) -> None:
    """An adapter that vanishes and comes back (USB unplugged and replugged) is counted, and capture
    resumes on the new interface without a restart."""
    before, after = _probes(10), _probes(10, first_seq=100)
    steps = [{"feed": [p.hex() for p in before]}, {"sleep": 0.7}, {"unplug": True}, {"sleep": 1.0},
             {"replug": True}, {"sleep": 0.5}, {"feed": [p.hex() for p in after]}]
    result = _capture(netns, steps, idle_s=0.8)
    assert [f for _, f in _frames(result)] == before + after
    assert result["counters"]["interface_lost"] == 1


def test_a_failing_channel_hop_is_counted_and_capture_goes_on(netns: Netns) -> None:
    """With hopping configured and `iw` unable to tune (here: no radio behind the interface), every
    frame is still captured and the failures are counted for the status topic."""
    result = _capture(netns, [{"sleep": 0.5}, {"feed": [p.hex() for p in _probes(20)]}],
                      channels=[1, 6, 11], idle_s=0.5)
    assert len(_frames(result)) == 20
    assert result["counters"]["channel_hop_errors"] >= 2


def test_live_config_is_accepted_with_channels() -> None:
    """`source: {type: live, interface: mon0, channels: [1, 6, 11], dwell_s: 2}` is a valid config."""
    text = "version: 1\nsource: {type: live, interface: mon0, channels: [1, 6, 11], dwell_s: 2}\n"
    cfg = load_config("agent.yaml", AgentConfig, text)
    assert (cfg.source.type, cfg.source.channels, cfg.source.dwell_s) == ("live", [1, 6, 11], 2.0)
