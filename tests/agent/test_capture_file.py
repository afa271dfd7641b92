"""Capture files: pcap (micro- and nanosecond, both byte orders), pcapng; damaged files keep what precedes."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from scapy.layers.dot11 import RadioTap
from scapy.utils import PcapNgWriter, wrpcap

from agent.sources import capture_file
from agent.sources.capture_file import CaptureError, CaptureFile
from tests.support.frames import (
    LINKTYPE_IEEE802_11,
    dot11_probe_request,
    pcap_bytes,
    pcapng_block,
    pcapng_bytes,
    probe_request,
    write_pcap,
)

T0 = 1_700_000_000


def frames(n: int = 3) -> list[tuple[float, bytes]]:
    """n probe requests of different lengths, 0.25 s apart (exact in binary and in microseconds)."""
    return [(T0 + i * 0.25, probe_request(seq=i, ies=bytes(i))) for i in range(n)]


def read(path: Path) -> tuple[CaptureFile, list[tuple[float, bytes]]]:
    capture = CaptureFile(path)
    return capture, list(capture)


def test_scapy_pcap_is_read_with_linktype_and_timestamps(tmp_path: Path) -> None:
    """A pcap written by scapy (as tcpdump writes it) gives every frame, its timestamp and link type 127."""
    packets = [RadioTap(frame) for _, frame in frames()]
    for (ts, _), pkt in zip(frames(), packets, strict=True):
        pkt.time = ts
    wrpcap(str(tmp_path / "a.pcap"), packets)
    capture, got = read(tmp_path / "a.pcap")
    assert (capture.format, capture.linktype, capture.problem, capture.frames_n) == ("pcap", 127, None, 3)
    assert got == frames()


def test_scapy_pcapng_is_read_with_linktype_and_timestamps(tmp_path: Path) -> None:
    """A pcapng written by scapy gives every frame with its timestamp (microseconds) and link type 127."""
    writer = PcapNgWriter(str(tmp_path / "a.pcapng"))
    for ts, frame in frames():
        pkt = RadioTap(frame)
        pkt.time = ts
        writer.write(pkt)
    writer.close()
    capture, got = read(tmp_path / "a.pcapng")
    assert (capture.format, capture.linktype, capture.problem, capture.frames_n) == ("pcapng", 127, None, 3)
    assert [f for _, f in got] == [f for _, f in frames()]
    assert [ts for ts, _ in got] == pytest.approx([ts for ts, _ in frames()], abs=1e-6)


def test_bare_802_11_pcap_reports_linktype_105(tmp_path: Path) -> None:
    """A capture without radiotap headers reports link type 105, so the parser knows there is no signal."""
    wrpcap(str(tmp_path / "a.pcap"), [dot11_probe_request()])
    capture, got = read(tmp_path / "a.pcap")
    assert capture.linktype == LINKTYPE_IEEE802_11
    assert got[0][1] == bytes(dot11_probe_request())


@pytest.mark.parametrize("endian", ["<", ">"])
def test_nanosecond_pcap_timestamps(tmp_path: Path, endian: str) -> None:
    """A nanosecond pcap (magic a1b23c4d), in either byte order, gives timestamps in seconds, not 1000x."""
    frame = probe_request()
    data = struct.pack(endian + "IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, 127)
    for sec, nsec in ((T0, 999_999_999), (T0 + 1, 1)):
        data += struct.pack(endian + "IIII", sec, nsec, len(frame), len(frame)) + frame
    (tmp_path / "ns.pcap").write_bytes(data)
    capture, got = read(tmp_path / "ns.pcap")
    assert capture.linktype == 127
    assert [ts for ts, _ in got] == pytest.approx([T0 + 0.999999999, T0 + 1.000000001], abs=1e-6)
    assert [f for _, f in got] == [frame, frame]


def test_big_endian_pcap(tmp_path: Path) -> None:
    """A big-endian pcap (as written on MIPS routers) reads like a little-endian one."""
    path = write_pcap(tmp_path / "be.pcap", frames(), big_endian=True)
    assert path.read_bytes()[:4] == b"\xa1\xb2\xc3\xd4"
    capture, got = read(path)
    assert (capture.linktype, capture.problem) == (127, None)
    assert got == frames()


@pytest.mark.parametrize(("tsresol", "big_endian"), [(9, False), (0x80 | 20, False), (6, True), (9, True)],
                         ids=["ns", "2^-20", "us-big-endian", "ns-big-endian"])
def test_pcapng_timestamp_resolution_and_byte_order(tmp_path: Path, tsresol: int, big_endian: bool) -> None:
    """A pcapng interface's if_tsresol (powers of 10 or of 2) and the section's byte order are honoured:
    timestamps come out in seconds."""
    path = tmp_path / "a.pcapng"
    path.write_bytes(pcapng_bytes(frames(), tsresol=tsresol, big_endian=big_endian))
    capture, got = read(path)
    assert (capture.linktype, capture.problem) == (127, None)
    assert got == frames()


def test_pcapng_packets_of_another_interface_linktype_are_counted_and_skipped(tmp_path: Path) -> None:
    """Packets of a second interface with another link type (e.g. Ethernet) are skipped and counted."""
    (_, radio), (_, other) = frames(2)
    data = pcapng_bytes([(T0, radio)]) + pcapng_block(1, struct.pack("<HHI", 1, 0, 262144))
    data += pcapng_block(6, struct.pack("<IIIII", 1, 0, 0, len(other), len(other)) + other)
    (tmp_path / "two.pcapng").write_bytes(data)
    capture, got = read(tmp_path / "two.pcapng")
    assert got == [(T0, radio)]
    assert (capture.linktype, capture.skipped_other_linktype, capture.problem) == (127, 1, None)


def record_offsets(data: bytes) -> list[int]:
    """File offsets of the records of a little-endian pcap, or of the blocks of a pcapng."""
    pcapng = data[:4] == b"\x0a\x0d\x0d\x0a"
    offsets, pos = [], 0 if pcapng else 24
    while pos < len(data):
        offsets.append(pos)
        if pcapng:
            pos += struct.unpack_from("<I", data, pos + 4)[0]
        else:
            pos += 16 + struct.unpack_from("<I", data, pos + 8)[0]
    return offsets


@pytest.mark.parametrize("cut", [10, 16 + 40, 0], ids=["in-header", "in-data", "whole"])
def test_truncated_pcap_keeps_frames_before_the_damage(tmp_path: Path, cut: int) -> None:
    """A file cut in the last record (its header or its data) yields every complete frame before it, and
    `problem` says where, in a sentence naming the file and the byte offset."""
    data = pcap_bytes(frames())
    last = record_offsets(data)[-1]
    path = tmp_path / "cut.pcap"
    path.write_bytes(data[:last + cut] if cut else data[:last])
    capture, got = read(path)
    assert got == frames()[:2]
    if cut:
        assert capture.problem == (f"{path}: the file ends inside a record at byte {last} after 2 frames; "
                                   "the frames before it were read, the rest of the file was skipped")
    else:
        assert capture.problem is None


def test_record_claiming_an_absurd_length_stops_the_read(tmp_path: Path) -> None:
    """A record header claiming more than the 256 KiB snap length is damage: the read stops there."""
    data = pcap_bytes(frames(2))
    data += struct.pack("<IIII", T0, 0, 0xFFFFFFF0, 0xFFFFFFF0) + b"\0" * 64
    path = tmp_path / "bad.pcap"
    path.write_bytes(data)
    capture, got = read(path)
    assert got == frames(2)
    assert capture.problem is not None
    offset = len(pcap_bytes(frames(2)))
    assert f"a record claims 4294967280 bytes at byte {offset} after 2 frames" in capture.problem
    assert "the frames before it were read" in capture.problem


def test_truncated_pcapng_keeps_frames_before_the_damage(tmp_path: Path) -> None:
    """A pcapng cut inside its last block yields the packets before it and names the offset."""
    data = pcapng_bytes(frames())
    path = tmp_path / "cut.pcapng"
    path.write_bytes(data[:-9])
    capture, got = read(path)
    assert got == frames()[:2]
    last_block = record_offsets(data)[-1]
    assert capture.problem == (f"{path}: the file ends inside a block at byte {last_block} after 2 frames; "
                               "the frames before it were read, the rest of the file was skipped")


@pytest.mark.parametrize("chunk", [7, 100, 1 << 22])
@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_records_spanning_read_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int,
                                      fmt: str) -> None:
    """Frames that straddle the reader's chunk boundaries are read whole, and the damage offset of a cut
    file is the same whatever the chunk size."""
    monkeypatch.setattr(capture_file, "CHUNK_BYTES", chunk)
    many = frames(20)
    data = pcap_bytes(many) if fmt == "pcap" else pcapng_bytes(many)
    (tmp_path / "whole").write_bytes(data)
    (tmp_path / "cut").write_bytes(data[:-5])
    capture, got = read(tmp_path / "whole")
    assert (got, capture.problem) == (many, None)
    capture, got = read(tmp_path / "cut")
    assert got == many[:19]
    assert capture.problem is not None
    assert f" at byte {record_offsets(data)[-1]} after 19 frames;" in capture.problem


def test_text_file_is_not_a_capture(tmp_path: Path) -> None:
    """A file that is not a capture raises CaptureError naming the file and what it starts with."""
    path = tmp_path / "notes.txt"
    path.write_text("# visitors by hour\n")
    with pytest.raises(CaptureError) as err:
        CaptureFile(path)
    assert str(err.value) == f"{path}: not a pcap or pcapng file (starts with 23207669)"


def test_empty_file_is_not_a_capture(tmp_path: Path) -> None:
    """An empty file raises CaptureError: nothing in it is a capture."""
    path = tmp_path / "empty.pcap"
    path.write_bytes(b"")
    with pytest.raises(CaptureError) as err:
        CaptureFile(path)
    assert str(err.value) == f"{path}: not a pcap or pcapng file (starts with nothing)"


def test_truncated_pcap_header_is_an_error(tmp_path: Path) -> None:
    """A pcap cut inside its 24-byte file header cannot be read at all: CaptureError with the byte count."""
    path = tmp_path / "short.pcap"
    path.write_bytes(pcap_bytes([])[:10])
    with pytest.raises(CaptureError) as err:
        CaptureFile(path)
    assert str(err.value) == f"{path}: truncated pcap header (10 of 24 bytes)"


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    """A path that does not exist raises CaptureError naming it, not a bare OSError."""
    path = tmp_path / "nope.pcap"
    with pytest.raises(CaptureError) as err:
        CaptureFile(path)
    assert str(err.value) == f"{path}: cannot open: No such file or directory"


def test_pcap_with_only_a_header_is_empty(tmp_path: Path) -> None:
    """A capture that was started and stopped before any frame yields nothing and reports no problem."""
    capture, got = read(write_pcap(tmp_path / "none.pcap", []))
    assert (got, capture.problem, capture.linktype) == ([], None, 127)
