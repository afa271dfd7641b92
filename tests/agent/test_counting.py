"""Counting people, not MACs (issue 10): grouping random MACs, quiet windows, static devices."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from agent import replay
from agent.config import AgentConfig
from tests.support.frames import elements, probe_request, write_pcap

DAY0 = datetime(2026, 3, 2, tzinfo=UTC).timestamp()  # a Monday, 00:00 UTC
PHONE_IES = elements(vendor=[bytes.fromhex("0017f20a000104")])  # one model: every unit probes alike


def random_mac(n: int) -> str:
    return f"02:{n >> 24 & 255:02x}:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}:{0x5A:02x}"


def phone(start: float, minutes: int, *, seq0: int, mac0: int, rssi: int = -55, every_s: float = 60.0
          ) -> list[tuple[float, bytes]]:
    """A phone on random MACs: a burst of two probes every minute, a new MAC each burst, seq counting on."""
    frames, seq, t, n = [], seq0, start, 0
    while t < start + minutes * 60:
        mac = random_mac(mac0 + n)
        for k in range(2):
            frames.append((t + k * 0.02, probe_request(mac, rssi, seq % 4096, ies=PHONE_IES)))
            seq += 1
        seq += 7  # probes on the channels this sniffer does not hear
        t += every_s
        n += 1
    return frames


def run(tmp_path: Path, frames: list[tuple[float, bytes]], name: str = "c.pcap",
        state: Path | None = None) -> replay.ReplayResult:
    return replay.run(write_pcap(tmp_path / name, sorted(frames)), AgentConfig(), state)


def test_a_phone_rotating_its_mac_is_one_device(tmp_path: Path) -> None:
    """Thirty random MACs of one phone (same elements, continuing sequence numbers) are one visitor."""
    result = run(tmp_path, phone(DAY0 + 10 * 3600, 30, seq0=100, mac0=1))
    summary = replay.summary(result)
    assert summary["distinct_macs"] == 30
    assert (summary["devices"], summary["visitors"]) == (1, 1)


def test_two_phones_of_one_model_side_by_side_stay_two(tmp_path: Path) -> None:
    """Two phones with identical elements, heard in turn, each keep their own sequence: two visitors."""
    frames = phone(DAY0 + 10 * 3600, 30, seq0=100, mac0=1) + phone(DAY0 + 10 * 3600 + 20, 30, seq0=2000,
                                                                     mac0=1000, rssi=-60)
    summary = replay.summary(run(tmp_path, frames))
    assert summary["distinct_macs"] == 60
    assert (summary["devices"], summary["visitors"]) == (2, 2)


def test_one_faint_frame_does_not_make_a_window_occupied(tmp_path: Path) -> None:
    """A device heard once at -90 dBm leaves every window at nobody present."""
    frames = [(DAY0 + 9 * 3600 + 30, probe_request("02:00:00:00:00:09", -90, 5))]
    frames += [(DAY0 + 9 * 3600 + i * 600.0, probe_request("3c:2e:ff:00:00:01", -95, i)) for i in range(4)]
    rows = replay.windows(run(tmp_path, frames), 600)
    assert rows and all(r["present"] == 0 and r["visitors"] == 0 for r in rows)


def fixture_day(day: int, hours: float = 4.0) -> list[tuple[float, bytes]]:
    """A fixture (vendor MAC, strong) probing every 2 minutes from 09:00 for `hours`, and one shopper."""
    start = DAY0 + day * 86400 + 9 * 3600
    frames = [(start + i * 120.0, probe_request("3c:2e:ff:aa:bb:cc", -45, (day * 400 + i) % 4096))
              for i in range(int(hours * 30))]
    return frames + phone(start + 3600, 40, seq0=300 + day, mac0=day * 100)


def test_static_devices_are_learned_over_days_and_survive_key_rotation(tmp_path: Path) -> None:
    """A fixture heard all day (4 hours: under the 6-hour rule) on three days is static from the start of
    the fourth, though its key changes every day; the shopper stays a visitor."""
    state = tmp_path / "state"
    results = [run(tmp_path, fixture_day(d), f"day{d}.pcap", state) for d in range(4)]
    assert [replay.summary(r)["visitors"] for r in results] == [2, 2, 2, 1]
    assert [r.static_n for r in results] == [0, 0, 0, 1]
    keys = [{v.device for v in r.visits if v.ended - v.started > 3 * 3600} for r in results[:3]]
    assert all(len(k) == 1 for k in keys) and len(set.union(*keys)) == 3  # a new key every day


def test_without_the_state_folder_nothing_is_learned(tmp_path: Path) -> None:
    """The same four days replayed with no state: the fixture counts as a visitor every day."""
    assert [run(tmp_path, fixture_day(d), f"day{d}.pcap").static_n for d in range(4)] == [0, 0, 0, 0]


def test_a_device_heard_over_six_hours_today_is_static_without_history(tmp_path: Path) -> None:
    """More than 6 hours on the first day: flagged and listed, its visits leave the counts."""
    result = run(tmp_path, fixture_day(0, hours=10))
    assert result.static_n == 1
    summary = replay.summary(result)
    assert summary["visitors"] == 1
    [listed] = summary["static_for_review"]
    assert len(listed["device_key"]) == 32 and listed["hours_present_h"] > 6
