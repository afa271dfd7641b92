"""The simulated store-day: what the demo and the end-to-end tests rely on."""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
import time
from collections import defaultdict
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.dot11 import Dot11, Dot11ProbeReq, RadioTap
from scapy.utils import RawPcapReader, rdpcap

from agent.pipeline.parse import FrameParser, RawSighting
from agent.simulate import DayFiles, generate_day
from agent.simulate.devices import MODELS
from agent.sources.capture_file import CaptureFile

DATE = dt.date(2026, 11, 26)
SCALE = 0.2  # about 6,800 frames: a full day of staff and fixtures, a fifth of the customers

Raw = tuple[float, bytes]  # (timestamp, frame bytes)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> DayFiles:
    return generate_day(tmp_path_factory.mktemp("day"), DATE, seed=1, scale=SCALE)


@pytest.fixture(scope="module")
def frames(day: DayFiles) -> list[Raw]:
    with RawPcapReader(str(day.pcap)) as reader:
        assert reader.linktype == 127, "DLT_IEEE802_11_RADIO"
        return [(meta.sec + meta.usec / 1e6, data) for data, meta in reader]


@pytest.fixture(scope="module")
def truth(day: DayFiles) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(day.truth_json.read_text(encoding="utf-8"))
    return result


def _files(day: DayFiles) -> tuple[Path, Path, Path]:
    return day.pcap, day.pos_csv, day.truth_json


def _rt_len(data: bytes) -> int:
    return int.from_bytes(data[2:4], "little")


def _addr2(data: bytes) -> bytes:
    return data[_rt_len(data) + 10 : _rt_len(data) + 16]


def _seq(data: bytes) -> int:
    return int.from_bytes(data[_rt_len(data) + 22 : _rt_len(data) + 24], "little") >> 4


def _ie_tail(data: bytes) -> bytes:
    """The information elements after the SSID element (which may be a directed SSID)."""
    body = data[_rt_len(data) + 24 :]
    assert body[0] == 0, "the SSID element comes first"
    return body[2 + body[1] :]


def test_same_seed_gives_byte_identical_files(tmp_path: Path, day: DayFiles) -> None:
    """A seed names a day: the demo and CI regenerate exactly the files a bug report was made with."""
    again = generate_day(tmp_path / "again", DATE, seed=1, scale=SCALE)
    for mine, theirs in zip(_files(day), _files(again), strict=True):
        assert mine.read_bytes() == theirs.read_bytes(), mine.name
    other = generate_day(tmp_path / "other", DATE, seed=2, scale=SCALE)
    assert other.pcap.read_bytes() != day.pcap.read_bytes()


def test_every_frame_is_a_radiotap_probe_request_with_signal(day: DayFiles, frames: list[Raw]) -> None:
    """The pcap reads like a real one-channel sniffer's: radiotap with dBm signal, probe requests only.

    Byte checks cover every frame; scapy dissects one frame of each shape and the first few hundred
    (dissecting all of them takes seconds).
    """
    shapes: dict[bytes, bytes] = {}
    for _, data in frames:
        present = int.from_bytes(data[4:8], "little")
        assert present & (1 << 5), "dBm_AntSignal present"
        assert data[_rt_len(data)] == 0x40, "management frame, subtype 4 (probe request)"
        assert _addr2(data)[0] & 0x01 == 0, "unicast source"
        shapes.setdefault(data[: _rt_len(data) - 1] + _ie_tail(data), data)
    sample = [RadioTap(data) for data in shapes.values()] + list(rdpcap(str(day.pcap), count=300))
    for pkt in sample:
        assert pkt.haslayer(Dot11ProbeReq)
        assert pkt[RadioTap].ChannelFrequency == 2437
        assert -100 < pkt[RadioTap].dBm_AntSignal < -20
        assert pkt[Dot11].addr1 == "ff:ff:ff:ff:ff:ff"
    times = [t for t, _ in frames]
    assert times == sorted(times)
    start = dt.datetime.combine(DATE, dt.time(0), dt.timezone(dt.timedelta(hours=1))).timestamp()
    assert start <= times[0] and times[-1] < start + 86400


def test_randomized_share_and_fixed_macs(truth: dict[str, Any], frames: list[Raw]) -> None:
    """About 65% of customers' phones randomize; a non-randomized device keeps one real-vendor MAC all day."""
    customers = [d for d in truth["devices"] if d["kind"] not in ("staff", "fixture")]
    share = sum(d["randomized"] for d in customers) / len(customers)
    assert 0.55 <= share <= 0.75, share
    assert not any(d["randomized"] for d in truth["devices"] if d["kind"] in ("staff", "fixture"))
    macs = {_addr2(data) for _, data in frames}
    universal = {mac for mac in macs if not mac[0] & 0x02}
    assert len(universal) == sum(not d["randomized"] for d in truth["devices"])
    assert len(macs) == sum(d["macs_n"] for d in truth["devices"])


def test_devices_of_one_model_send_identical_elements(truth: dict[str, Any], frames: list[Raw]) -> None:
    """IEs differ only between models, so a fingerprint groups one model's MACs and nothing else."""
    tails = {_ie_tail(data) for _, data in frames}
    assert len(tails) == len({d["model"] for d in truth["devices"]})
    assert len(tails) <= len(MODELS)


def test_bursts_carry_consecutive_sequence_numbers(frames: list[Raw]) -> None:
    """Frames of one burst (same MAC, milliseconds apart) count up by one, modulo 4096."""
    last: dict[bytes, tuple[float, int]] = {}
    in_burst = 0
    for t, data in frames:
        mac, seq = _addr2(data), _seq(data)
        if mac in last and t - last[mac][0] < 0.1:
            assert seq == (last[mac][1] + 1) % 4096
            in_burst += 1
        last[mac] = (t, seq)
    assert in_burst > len(frames) // 4


def test_truth_agrees_with_the_pos_file_and_itself(day: DayFiles, truth: dict[str, Any]) -> None:
    """Conversion scored against the truth uses the same transactions and sales as the POS export."""
    with day.pos_csv.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["store", "timestamp", "transaction_id", "net_amount"]
    totals = truth["totals"]
    sales = [r for r in rows if not r["net_amount"].startswith("-")]
    assert totals["transactions"] == len(sales) == sum(h["transactions"] for h in truth["hours"])
    assert totals["refunds"] == len(rows) - len(sales)
    assert Decimal(str(totals["net_sales"])) == sum(Decimal(r["net_amount"]) for r in rows)
    assert len({r["transaction_id"] for r in rows}) == len(rows)
    stamps = [dt.datetime.fromisoformat(r["timestamp"]) for r in rows]
    assert stamps == sorted(stamps) and all(s.utcoffset() == dt.timedelta(hours=1) for s in stamps)
    assert sum(Decimal(r["net_amount"]) < 0 for r in rows) == totals["refunds"] >= 1
    # Totals follow the definitions: every visitor has a visit of at least min dwell, and each counted
    # device is a visitor or a passer-by.
    visitors = [d for d in truth["devices"] if d["kind"] == "visitor"]
    assert all(any(end - start >= 300 for start, end in d["visits"]) for d in visitors)
    counted = [d for d in truth["devices"] if d["kind"] not in ("staff", "fixture")]
    assert totals["visitors"] == len(visitors)
    assert totals["passersby"] == len(counted) - len(visitors)
    assert totals["visitor_visits"] >= totals["visitors"]


def test_truth_holds_no_mac_of_the_capture(day: DayFiles, frames: list[Raw]) -> None:
    """The truth and POS files can be shared freely: no MAC appears in any text form or as raw bytes."""
    texts = [day.truth_json.read_bytes(), day.pos_csv.read_bytes()]
    lowered = [t.lower() for t in texts]
    for mac in {_addr2(data) for _, data in frames}:
        hx = mac.hex()
        forms = (mac.hex(":"), mac.hex("-"), hx, f"{hx[:4]}.{hx[4:8]}.{hx[8:]}")
        for text, low in zip(texts, lowered, strict=True):
            assert mac not in text
            assert not any(form.encode() in low for form in forms)


def test_importing_the_simulator_does_not_load_scapy() -> None:
    """The agent imports fast on a gateway: scapy (0.4 s, 80 MB) loads only when a pcap is written."""
    code = "import sys, agent.simulate; print('scapy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_bad_store_name_is_refused_with_an_example(tmp_path: Path) -> None:
    """A store id must fit the MQTT topic rules; the error says what a good one looks like."""
    with pytest.raises(ValueError, match=r"must match \[a-z0-9-\]\{1,64\}, e.g. demo-store"):
        generate_day(tmp_path, DATE, store="Demo Store")


@pytest.mark.slow
def test_full_scale_day_generates(tmp_path: Path) -> None:
    """The demo's default day: about 1,500 passers-by, 250 visitors, 60 bounces, in a few seconds."""
    started = time.perf_counter()
    files = generate_day(tmp_path, DATE)
    print(f"full day generated in {time.perf_counter() - started:.2f} s")
    totals = json.loads(files.truth_json.read_text(encoding="utf-8"))["totals"]
    assert totals["visitors"] == 250 and totals["bounces"] == 60
    assert totals["passersby"] == 1500 + 60  # bounces never made a visitor visit


def test_real_phones_randomize_like_brno_labs(tmp_path: Path) -> None:
    """`--phones real` gives a day whose random MACs behave as brno-lab's measured ones (bench/
    brno_phones.py: 98.4 % live for one burst, 5 % continue the sequence number across a change): at
    least 90 % of its near random MACs last under a second, and at most 15 % of MAC changes within two
    minutes continue the counter (the gentle demo set keeps most MACs for minutes)."""
    def measure(files: DayFiles) -> tuple[float, float]:
        by_mac: dict[bytes, list[RawSighting]] = defaultdict(list)
        for s in FrameParser(127).feed(list(CaptureFile(files.pcap))):
            if s.mac[0] & 2 and s.rssi_dbm >= -75:
                by_mac[s.mac].append(s)
        single = sum(h[-1].ts - h[0].ts < 1 for h in by_mac.values()) / len(by_mac)
        by_fp: dict[int, list[list[RawSighting]]] = defaultdict(list)
        for h in by_mac.values():
            by_fp[h[0].fingerprint].append(h)
        follow = []
        for macs in by_fp.values():
            macs.sort(key=lambda h: h[0].ts)
            follow += [1 <= (b[0].seq - a[-1].seq) % 4096 <= 64 for a, b in pairwise(macs)
                       if 0 <= b[0].ts - a[-1].ts <= 120]
        return single, sum(follow) / len(follow)

    real = measure(generate_day(tmp_path / "real", DATE, seed=1, scale=SCALE, phones="real"))
    gentle = measure(generate_day(tmp_path / "gentle", DATE, seed=1, scale=SCALE))
    assert real[0] >= 0.90 and real[1] <= 0.15
    assert gentle[0] < 0.90 or gentle[1] > 0.15
