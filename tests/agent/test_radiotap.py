"""Radiotap layout: where the flags, channel and dBm signal sit for the headers real drivers write."""

from __future__ import annotations

import itertools
import struct

import pytest
from scapy.layers.dot11 import RadioTap, RadioTapExtendedPresenceMask

from agent.pipeline.radiotap import Layout, channel_of, layout, present_words
from tests.support.frames import radiotap_header as header

EXT, RADIOTAP_NS, VENDOR_NS = 1 << 31, 1 << 29, 1 << 30
TSFT, FLAGS, RATE, CHANNEL, FHSS, SIGNAL, ANTENNA, RX_FLAGS = (1 << b for b in (0, 1, 2, 3, 4, 5, 11, 14))


def layout_of(buf: bytes) -> Layout:
    rt_len = struct.unpack_from("<H", buf, 2)[0]
    n = present_words(buf, 0, rt_len)
    assert n > 0
    return layout(buf, 0, rt_len, n)


FIELD_SETS = [
    fields for n in range(5) for fields in itertools.combinations(["TSFT", "Flags", "Rate", "Channel"], n)
]


@pytest.mark.parametrize("ext_words", [0, 1, 2])
@pytest.mark.parametrize("fields", FIELD_SETS, ids="+".join)
def test_layout_agrees_with_scapy_for_fields_before_the_signal(fields: tuple[str, ...],
                                                               ext_words: int) -> None:
    """Flags, channel and signal are read where scapy puts them, whatever precedes them (TSFT is 8-aligned
    relative to the header start, so extra present words move it and everything after it)."""
    names = "+".join((*fields, "dBm_AntSignal", *(["Ext"] if ext_words else [])))
    ext = [RadioTapExtendedPresenceMask(index=i + 1, present=EXT if i + 1 < ext_words else 0)
           for i in range(ext_words)]
    buf = bytes(RadioTap(present=names, Ext=ext, mac_timestamp=0x1122334455667788, Flags=0x02, Rate=0x16,
                         ChannelFrequency=5180, ChannelFlags=0x0140, dBm_AntSignal=-77))
    lay = layout_of(buf)
    assert lay.complete and not lay.dynamic
    assert buf[lay.signal] == 256 - 77
    assert (lay.flags >= 0) == ("Flags" in fields)
    assert (lay.channel >= 0) == ("Channel" in fields)
    if "Flags" in fields:
        assert buf[lay.flags] == 0x02
    if "Channel" in fields:
        assert struct.unpack_from("<HH", buf, lay.channel) == (5180, 0x0140)
    assert lay.signal == len(buf) - 1


def test_fhss_is_two_byte_aligned() -> None:
    """An FHSS field after a one-byte field starts on an even offset (radiotap.org; Linux radiotap.c), so
    the signal after it is found."""
    buf = header([FLAGS | FHSS | SIGNAL], bytes([0x00, 0xEE, 0x01, 0x02, 0xC4]))  # flags, pad, FHSS, signal
    assert layout_of(buf) == Layout(flags=8, channel=-1, signal=12, dynamic=False, complete=True)


def test_linux_per_antenna_words_keep_the_first_combined_signal() -> None:
    """Linux writes one present word per antenna, each restarting the radiotap namespace (bit 29): the
    layout keeps the first word's combined signal, not an antenna's."""
    words = [FLAGS | RATE | CHANNEL | SIGNAL | RX_FLAGS | RADIOTAP_NS | EXT,  # 0xa000402e, as iwlwifi
             SIGNAL | ANTENNA | RADIOTAP_NS | EXT,
             SIGNAL | ANTENNA]
    data = bytes([0x00, 0x0C]) + struct.pack("<HH", 2437, 0x00A0) + bytes([256 - 50, 0]) + b"\0\0" \
        + bytes([256 - 52, 0, 256 - 55, 1])
    buf = header(words, data)
    assert words[0] == 0xA000402E
    lay = layout_of(buf)
    assert lay == Layout(flags=16, channel=18, signal=22, dynamic=False, complete=True)
    assert buf[lay.signal] == 256 - 50


def test_signal_only_in_an_antenna_word_is_found() -> None:
    """A header whose first word has no signal but whose per-antenna word does still yields a signal."""
    data = struct.pack("<HH", 2412, 0xA0) + b"\xc8\x00"
    buf = header([CHANNEL | RADIOTAP_NS | EXT, SIGNAL | ANTENNA], data)
    lay = layout_of(buf)
    assert (lay.channel, lay.signal) == (12, 16)


def vendor_header(skip: int) -> bytes:
    """Flags and channel, then a vendor namespace with `skip` bytes of data, then the radiotap namespace
    again with the signal: the signal's offset depends on the vendor's skip_length."""
    words = [FLAGS | CHANNEL | VENDOR_NS | EXT, 0x3 | RADIOTAP_NS | EXT, SIGNAL | ANTENNA]
    data = b"\x00\x00" + struct.pack("<HH", 2462, 0xA0)  # flags, pad, channel at 20
    data += b"\x00\x13\x74" + b"\x01" + struct.pack("<H", skip) + b"\xaa" * skip  # OUI, sub_ns, skip_length
    return header(words, data + bytes([256 - 61, 0]))


@pytest.mark.parametrize("skip", [0, 1, 5, 8])
def test_vendor_namespace_is_skipped_by_its_length(skip: int) -> None:
    """A vendor namespace (bit 30) is skipped by the skip_length in its header; the layout is marked
    dynamic because the next frame with the same bitmaps may skip a different length."""
    buf = vendor_header(skip)
    lay = layout_of(buf)
    assert lay.dynamic and lay.complete
    assert (lay.flags, lay.channel) == (16, 18)
    assert buf[lay.signal] == 256 - 61
    assert lay.signal == 22 + 6 + skip


def test_vendor_namespace_header_past_the_end_is_incomplete() -> None:
    """A vendor namespace whose 6-byte header does not fit in the radiotap length is not trusted."""
    buf = header([FLAGS | VENDOR_NS | EXT, SIGNAL], b"\x00\x00\x00\x13")
    lay = layout_of(buf)
    assert lay.dynamic and not lay.complete and lay.signal < 0


def test_fields_in_bits_32_and_up_are_unknown() -> None:
    """Bit 31 without a namespace bit continues with bits 32 and up, none defined: the layout stops there
    but keeps what came before."""
    buf = header([FLAGS | SIGNAL | EXT, 0x1], b"\x00\xb0\x00\x00")
    lay = layout_of(buf)
    assert (lay.flags, lay.signal, lay.complete) == (12, 13, False)


def test_fields_running_past_the_header_are_incomplete() -> None:
    """A bitmap that claims more field bytes than the header length holds is marked incomplete."""
    buf = header([TSFT | SIGNAL], b"\x00" * 4)  # TSFT needs 8 bytes
    assert not layout_of(buf).complete


def test_extended_bitmap_running_past_the_header_is_rejected() -> None:
    """A chain of present words with bit 31 set up to the end of the header is reported as -1."""
    buf = header([EXT, EXT], b"")
    assert present_words(buf, 0, len(buf)) == -1
    assert present_words(header([EXT, EXT, 0], b""), 0, 16) == 3


@pytest.mark.parametrize(("freq", "channel"), [
    (2412, 1), (2417, 2), (2437, 6), (2472, 13), (2484, 14),
    (5180, 36), (5500, 100), (5825, 165), (5955, 1), (6115, 33), (7115, 233),
    (2400, 0), (4920, 0), (0, 0), (65535, 0),
])
def test_channel_of_maps_centre_frequencies(freq: int, channel: int) -> None:
    """Centre frequencies map to IEEE channel numbers in the 2.4, 5 and 6 GHz bands; others to 0."""
    assert channel_of(freq) == channel
