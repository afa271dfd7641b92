"""The frame parser: probe requests in, exact sightings out, everything else counted by reason."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.dot11 import (
    Dot11,
    Dot11Beacon,
    Dot11Elt,
    Dot11ProbeResp,
    Dot11QoS,
    RadioTap,
    RadioTapExtendedPresenceMask,
)
from scapy.packet import Raw
from scapy.utils import rdpcap

from agent.pipeline.parse import FrameParser, RawSighting, fingerprint_ies
from agent.sources.capture_file import CaptureFile
from tests.support.frames import (
    BROADCAST,
    HT_CAPS,
    LINKTYPE_IEEE802_11,
    PHONE_MAC,
    VENDOR_BROADCOM,
    VENDOR_MICROSOFT_WMM,
    dot11_probe_request,
    elements,
    probe_request,
    radiotap_header,
)

EXT, RADIOTAP_NS, VENDOR_NS = 1 << 31, 1 << 29, 1 << 30
FLAGS, RATE, CHANNEL, SIGNAL, ANTENNA, RX_FLAGS = (1 << b for b in (1, 2, 3, 5, 11, 14))
TS = 1_700_000_000.25
PHONE_FP = fingerprint_ies(elements())[0]  # type: ignore[index]


def mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def parse(*frames: bytes, linktype: int = 127) -> tuple[list[RawSighting], dict[str, int]]:
    """Feed one batch; return the sightings and the counters without the probe_requests tally."""
    parser = FrameParser(linktype)
    out = parser.feed([(TS + i, f) for i, f in enumerate(frames)])
    assert sum(parser.counters.values()) == len(frames)  # one reason per skipped frame, or probe_requests
    assert parser.counters["probe_requests"] == len(out)
    return out, {k: v for k, v in parser.counters.items() if k != "probe_requests" and v}


def parse_one(frame: bytes, linktype: int = 127) -> RawSighting:
    out, skipped = parse(frame, linktype=linktype)
    assert skipped == {}
    return out[0]


# --- fields ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("mac", "rssi", "seq", "freq", "channel"), [
    (PHONE_MAC, -60, 0, 2437, 6),
    ("dc:a6:32:eb:59:4d", -1, 4095, 2412, 1),
    ("40:ec:99:f9:34:a6", -100, 1801, 2484, 14),
    ("fe:ff:ff:ff:ff:fe", -35, 77, 5180, 36),
    ("02:00:00:00:00:00", -92, 2048, 5955, 1),
])
def test_probe_request_fields_are_parsed_exactly(mac: str, rssi: int, seq: int, freq: int,
                                                 channel: int) -> None:
    """MAC (addr2), dBm signal, 12-bit sequence number and channel come out exactly as sent."""
    frame = probe_request(mac, rssi, seq, freq)
    assert parse_one(frame) == RawSighting(TS, mac_bytes(mac), rssi, channel, seq, PHONE_FP, False)


@pytest.mark.parametrize("ext_words", [0, 1])
def test_tsft_before_the_signal_is_skipped_with_its_alignment(ext_words: int) -> None:
    """A TSFT field (8 bytes, 8-aligned: padded after an extra present word) does not shift the signal."""
    ext = [RadioTapExtendedPresenceMask(index=1, present=0)] * ext_words
    frame = probe_request(rssi=-71, seq=9, present="TSFT+Flags+Channel+dBm_AntSignal" + "+Ext" * ext_words,
                          Ext=ext, mac_timestamp=0xFFEEDDCCBBAA9988)
    assert frame[2] == (31 if ext_words else 23)  # radiotap length: 4 bytes of padding before TSFT
    assert parse_one(frame) == RawSighting(TS, mac_bytes(PHONE_MAC), -71, 6, 9, PHONE_FP, False)


def test_fcs_flag_strips_the_checksum_and_parses_the_same() -> None:
    """A frame with its 4-byte FCS (radiotap flag 0x10) gives the same sighting and fingerprint as without."""
    with_fcs, without = probe_request(seq=300, fcs=True), probe_request(seq=300)
    assert len(with_fcs) == len(without) + 4
    assert parse_one(with_fcs) == parse_one(without)


def test_bad_fcs_flag_is_counted_not_parsed() -> None:
    """A frame whose FCS check failed (radiotap flag 0x40) is counted as bad_fcs and yields nothing."""
    assert parse(probe_request(fcs=True, bad_fcs=True), probe_request(bad_fcs=True)) == ([], {"bad_fcs": 2})


def linux_antenna_frame(combined: int, per_antenna: tuple[int, int]) -> bytes:
    """A probe request as iwlwifi on Linux writes it: one present word per antenna (bit 29 + bit 31)."""
    words = [FLAGS | RATE | CHANNEL | SIGNAL | RX_FLAGS | RADIOTAP_NS | EXT,
             SIGNAL | ANTENNA | RADIOTAP_NS | EXT,
             SIGNAL | ANTENNA]
    data = bytes([0x00, 0x0C]) + struct.pack("<HH", 2462, 0x00A0) + bytes([combined & 0xFF, 0]) + b"\0\0"
    data += bytes([per_antenna[0] & 0xFF, 0, per_antenna[1] & 0xFF, 1])
    return radiotap_header(words, data) + bytes(dot11_probe_request(seq=12))


def test_linux_per_antenna_signals_use_the_combined_one() -> None:
    """With per-antenna present words, the first (combined) signal is the RSSI, as scapy reads it too."""
    frame = linux_antenna_frame(-50, (-52, -55))
    assert RadioTap(frame).dBm_AntSignal == -50
    assert parse_one(frame) == RawSighting(TS, mac_bytes(PHONE_MAC), -50, 11, 12, PHONE_FP, False)


def vendor_namespace_frame(skip: int, rssi: int) -> bytes:
    """Flags and channel, a vendor namespace of `skip` bytes, then the signal in the radiotap namespace."""
    words = [FLAGS | CHANNEL | VENDOR_NS | EXT, 0x7 | RADIOTAP_NS | EXT, SIGNAL | ANTENNA]
    data = b"\x00\x00" + struct.pack("<HH", 2412, 0x00A0)
    data += b"\x00\x13\x74\x01" + struct.pack("<H", skip) + bytes(range(0xF0, 0xF0 + skip))
    return radiotap_header(words, data + bytes([rssi & 0xFF, 0])) + bytes(dot11_probe_request(seq=5))


def test_vendor_namespace_before_the_signal_is_skipped_per_frame() -> None:
    """A vendor namespace is skipped by its own skip_length in every frame: two frames with the same
    present words but different vendor data lengths, in one batch, both give the right signal."""
    out, skipped = parse(vendor_namespace_frame(3, -66), vendor_namespace_frame(10, -44),
                         vendor_namespace_frame(3, -67))
    assert skipped == {}
    assert [(s.rssi_dbm, s.channel, s.seq) for s in out] == [(-66, 1, 5), (-44, 1, 5), (-67, 1, 5)]


def test_bare_802_11_has_unknown_rssi_and_the_ds_channel() -> None:
    """Without radiotap (linktype 105) there is no signal: RSSI is -128, the channel comes from the DS
    parameter set element, and 0 when that is absent too."""
    with_ds = bytes(dot11_probe_request(seq=40, ies=elements(ds_channel=11)))
    no_ds = bytes(dot11_probe_request(seq=41, ies=elements(ds_channel=None)))
    out, skipped = parse(with_ds, no_ds, linktype=LINKTYPE_IEEE802_11)
    assert skipped == {}
    assert [(s.mac, s.rssi_dbm, s.channel, s.seq) for s in out] == [
        (mac_bytes(PHONE_MAC), -128, 11, 40), (mac_bytes(PHONE_MAC), -128, 0, 41)]


def test_radiotap_channel_wins_over_the_ds_element() -> None:
    """The channel the radio was tuned to (radiotap) is used, not the one the phone wrote in its probe."""
    assert parse_one(probe_request(channel_mhz=2417, ies=elements(ds_channel=1))).channel == 2


def test_ht_control_field_is_skipped_when_the_order_bit_is_set() -> None:
    """A management frame with the order bit carries 4 bytes of HT control before its elements."""
    plain = bytes(dot11_probe_request(seq=8))
    htc = bytes([plain[0], plain[1] | 0x80]) + plain[2:24] + b"\x01\x02\x03\x04" + plain[24:]
    out, skipped = parse(plain, htc, linktype=LINKTYPE_IEEE802_11)
    assert skipped == {}
    assert out[0][1:] == out[1][1:]


def test_unsupported_linktype_is_refused() -> None:
    """A parser for a link type that is not 802.11 cannot be made, with the reason in words."""
    with pytest.raises(ValueError, match=r"^link type 1 is not 802\.11 \(105\) or radiotap \(127\)$"):
        FrameParser(1)


# --- fingerprint -------------------------------------------------------------------------------------

def test_fingerprint_ignores_ssid_text_and_ds_channel() -> None:
    """The same phone probing for different networks, on different channels, keeps one fingerprint."""
    fps = {parse_one(probe_request(ies=elements(ssid=ssid, ds_channel=ch))).fingerprint
           for ssid in (b"", b"HomeWiFi", b"x" * 32) for ch in (1, 6, 11)}
    assert fps == {PHONE_FP}


@pytest.mark.parametrize("ies", [
    elements(ht_caps=bytes.fromhex("6f0117ff") + bytes(22)),
    elements(ht_caps=None),
    elements(vendor=[VENDOR_MICROSOFT_WMM]),
    elements(vendor=[VENDOR_BROADCOM, VENDOR_MICROSOFT_WMM]),
    elements(vendor=[VENDOR_MICROSOFT_WMM, VENDOR_BROADCOM, bytes.fromhex("506f9a16030103")]),
], ids=["other-ht-caps", "no-ht-caps", "one-vendor-ie", "vendor-order", "extra-vendor-ie"])
def test_fingerprint_differs_with_capabilities_or_vendor_elements(ies: bytes) -> None:
    """Another model (other HT capabilities, other vendor elements or their order) has another fingerprint."""
    assert parse_one(probe_request(ies=ies)).fingerprint != PHONE_FP


def test_directed_flag_is_set_for_a_named_ssid() -> None:
    """A probe naming a network is directed; a wildcard (empty SSID) probe is not."""
    assert parse_one(probe_request(ies=elements(ssid=b"CafeGuest"))).directed
    assert not parse_one(probe_request(ies=elements(ssid=b""))).directed


def test_fingerprint_ies_reports_ds_channel_and_rejects_overruns() -> None:
    """fingerprint_ies gives (fingerprint, directed, DS channel), and None when an element overruns."""
    fp = fingerprint_ies(elements(ssid=b"a", ds_channel=13))
    assert fp == (PHONE_FP, True, 13)
    assert fingerprint_ies(b"") is not None
    assert fingerprint_ies(elements() + b"\xdd") is None
    assert fingerprint_ies(elements() + b"\xdd\x05abc") is None
    assert HT_CAPS in elements()


# --- malformed ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("fcs", [False, True])
def test_every_truncation_is_parsed_or_counted(fcs: bool) -> None:
    """Cutting a frame anywhere never raises: each prefix is a sighting or one count, by the right reason
    up to the end of the 802.11 header."""
    frame = probe_request(fcs=fcs)
    rt_len = frame[2]
    parser = FrameParser()
    for n in range(len(frame) + 1):
        before = parser.counters.copy()
        out = parser.feed([(TS, frame[:n])])
        delta = parser.counters - before
        assert sum(delta.values()) == 1, n
        if n < 8:
            assert delta == {"too_short": 1}, n
        elif n < rt_len:
            assert delta == {"bad_radiotap": 1}, n
        elif n < rt_len + 24 + (4 if fcs else 0):
            assert delta == {"too_short": 1}, n
    assert out == [parse_one(frame)]
    whole = FrameParser()
    whole.feed([(TS, frame[:n]) for n in range(len(frame) + 1)])
    assert sum(whole.counters.values()) == len(frame) + 1


def test_element_running_past_the_end_is_bad_ie() -> None:
    """An information element longer than what is left of the frame is counted as bad_ie."""
    assert parse(probe_request(ies=elements() + b"\xdd\x10\x00\x50\xf2")) == ([], {"bad_ie": 1})


def test_other_frame_types_are_not_probe_requests() -> None:
    """Beacons, probe responses and data frames are counted as not_probe_request."""
    rt = RadioTap(present="Flags+Channel+dBm_AntSignal", Flags=0, ChannelFrequency=2437, dBm_AntSignal=-40)
    ap = "00:11:22:33:44:55"
    beacon = rt / Dot11(type=0, subtype=8, addr1=BROADCAST, addr2=ap, addr3=ap) / Dot11Beacon() \
        / Dot11Elt(ID=0, info=b"Shop")
    response = rt / Dot11(type=0, subtype=5, addr1=PHONE_MAC, addr2=ap) / Dot11ProbeResp()
    data = rt / Dot11(type=2, subtype=8, addr1=ap, addr2=PHONE_MAC) / Dot11QoS() / Raw(b"x" * 20)
    assert parse(*(bytes(p) for p in (beacon, response, data))) == ([], {"not_probe_request": 3})


def test_group_source_address_is_counted() -> None:
    """A probe from a multicast/broadcast source address (I/G bit set) is not a device: group_source."""
    frames = [probe_request(mac) for mac in ("01:00:5e:00:00:01", BROADCAST, "33:33:00:00:00:01")]
    assert parse(*frames) == ([], {"group_source": 3})


def test_header_without_a_signal_is_no_signal() -> None:
    """A radiotap header without a dBm antenna signal gives no RSSI and is counted as no_signal."""
    assert parse(probe_request(present="Flags+Channel")) == ([], {"no_signal": 1})


def test_broken_radiotap_headers_are_bad_radiotap() -> None:
    """Version other than 0, a length under 8 or past the frame are counted as bad_radiotap."""
    good = probe_request()
    frames = [b"\x01" + good[1:], good[:2] + b"\x04\x00" + good[4:], good[:2] + b"\xff\x7f" + good[4:]]
    assert parse(*frames) == ([], {"bad_radiotap": 3})


def test_fields_past_the_radiotap_length_are_bad_radiotap() -> None:
    """Flags or channel that a present word places past the header length are not read from the 802.11
    frame behind it (nor past the end of the buffer): the header is counted as bad_radiotap."""
    short = radiotap_header([SIGNAL | RADIOTAP_NS | EXT, FLAGS | CHANNEL], b"\xc4")  # only the signal fits
    dot11 = bytes(dot11_probe_request())
    frames = [short, short + dot11, short + b"\x10"]
    assert parse(*frames) == ([], {"bad_radiotap": 3})


def test_order_bit_on_a_short_frame_is_too_short() -> None:
    """A 24-byte management header with the order bit set has no room for its HT control: too_short."""
    plain = bytes(dot11_probe_request())
    htc = bytes([plain[0], plain[1] | 0x80]) + plain[2:24]
    assert parse(htc + b"\x01\x02", linktype=LINKTYPE_IEEE802_11) == ([], {"too_short": 1})


def assert_accounted(frames: list[bytes], linktype: int) -> None:
    parser = FrameParser(linktype)
    out = parser.feed([(TS, f) for f in frames])
    assert sum(parser.counters.values()) - parser.counters["probe_requests"] + len(out) == len(frames)
    for s in out:
        assert len(s.mac) == 6 and not s.mac[0] & 1
        assert -128 <= s.rssi_dbm <= 127 and 0 <= s.seq < 4096 and 0 <= s.channel <= 255


@settings(max_examples=400, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=20), st.sampled_from([105, 127]))
def test_random_bytes_never_raise_and_are_all_accounted(frames: list[bytes], linktype: int) -> None:
    """Random bytes never raise: each one is a sighting or exactly one count."""
    assert_accounted(frames, linktype)


VALID = [probe_request(fcs=True), probe_request(present="TSFT+Flags+Rate+Channel+dBm_AntSignal"),
         linux_antenna_frame(-50, (-52, -55)), vendor_namespace_frame(4, -70)]


PRESENT_BITS = [0, 1, 2, 3, 4, 5, 11, 14, 22, 28, 29, 30, 31]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid frame with some bytes replaced (the radiotap header most often), perhaps cut short."""
    frame = bytearray(draw(st.sampled_from(VALID)))
    rt_len = frame[2]
    for _ in range(draw(st.integers(1, 6))):
        end = draw(st.sampled_from([rt_len, len(frame)]))
        frame[draw(st.integers(0, end - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        word = draw(st.integers(0, 2))
        bits = draw(st.one_of(st.integers(0, 2**32 - 1), st.sets(st.sampled_from(PRESENT_BITS)).map(
            lambda bs: sum(1 << b for b in bs))))
        frame[4 + 4 * word:8 + 4 * word] = struct.pack("<I", bits)
    return bytes(frame[:draw(st.integers(0, len(frame)))] if draw(st.booleans()) else frame)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated(), min_size=1, max_size=10), st.sampled_from([105, 127]))
def test_mutated_frames_never_raise_and_are_all_accounted(frames: list[bytes], linktype: int) -> None:
    """Damaged copies of real layouts (flags, lengths, present words) never raise and are all accounted."""
    assert_accounted(frames, linktype)


@settings(max_examples=60, deadline=None)
@given(mac=st.binary(min_size=6, max_size=6).map(lambda b: bytes([b[0] & 0xFE]) + b[1:]),
       rssi=st.integers(-127, 20), seq=st.integers(0, 4095),
       freq=st.sampled_from([2412, 2437, 2462, 2484, 5180, 5745]), ssid=st.binary(max_size=32))
def test_any_valid_probe_request_round_trips(mac: bytes, rssi: int, seq: int, freq: int, ssid: bytes) -> None:
    """Whatever MAC, signal, sequence number, channel and SSID a phone sends, they come back exactly."""
    frame = probe_request(mac.hex(":"), rssi, seq, freq, ies=elements(ssid=ssid))
    s = parse_one(frame)
    assert (s.mac, s.rssi_dbm, s.seq, s.fingerprint, s.directed) == (mac, rssi, seq, PHONE_FP, bool(ssid))


# --- golden: a real capture against scapy's full dissection ------------------------------------------

def test_real_capture_agrees_with_scapy(captures: Path) -> None:
    """On a real ESP32 capture, every frame's MAC, dBm signal, sequence number, channel and directed flag
    equal what scapy's full dissection reads, and the timestamps are the file's."""
    path = captures / "2023-04-17.pcap"
    capture = CaptureFile(path)
    frames = list(capture)
    parser = FrameParser(capture.linktype)
    ours = parser.feed(frames)
    theirs = rdpcap(str(path))
    assert len(ours) == len(theirs) == 511
    assert dict(parser.counters) == {"probe_requests": 511}
    for s, pkt in zip(ours, theirs, strict=True):
        dot11 = pkt[Dot11]
        freq = pkt[RadioTap].ChannelFrequency
        assert 2412 <= freq <= 2472
        ssid = pkt[Dot11Elt].info if pkt[Dot11Elt].ID == 0 else b""
        assert (s.mac.hex(":"), s.rssi_dbm, s.seq, s.channel, s.directed) == (
            dot11.addr2, pkt[RadioTap].dBm_AntSignal, dot11.SC >> 4, (freq - 2407) // 5, bool(ssid))
        assert s.ts == pytest.approx(float(pkt.time), abs=1e-6)
