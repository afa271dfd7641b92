"""Radiotap header layout: where the flags, channel and dBm signal fields sit for a given header.

The offsets depend only on the present bitmap words (fields are aligned to their natural size, relative
to the header start), so the frame parser computes a layout once per distinct bitmap and caches it.
A vendor namespace makes the layout depend on header bytes; such headers are marked `dynamic` and laid
out per frame. https://www.radiotap.org/fields/defined lists the fields below.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

# bit -> (alignment, size) of the fields of the default namespace, in bit order.
FIELDS: dict[int, tuple[int, int]] = {
    0: (8, 8),    # TSFT
    1: (1, 1),    # Flags
    2: (1, 1),    # Rate
    3: (2, 4),    # Channel: frequency u16, flags u16
    4: (2, 2),    # FHSS: hop set u8, hop pattern u8, 2-aligned (radiotap.org, Linux radiotap.c)
    5: (1, 1),    # dBm antenna signal
    6: (1, 1),    # dBm antenna noise
    7: (2, 2),    # lock quality
    8: (2, 2),    # TX attenuation
    9: (2, 2),    # dB TX attenuation
    10: (1, 1),   # dBm TX power
    11: (1, 1),   # antenna
    12: (1, 1),   # dB antenna signal
    13: (1, 1),   # dB antenna noise
    14: (2, 2),   # RX flags
    15: (2, 2),   # TX flags
    16: (1, 1),   # RTS retries
    17: (1, 1),   # data retries
    18: (4, 8),   # XChannel
    19: (1, 3),   # MCS
    20: (4, 8),   # A-MPDU status
    21: (2, 12),  # VHT
    22: (8, 12),  # timestamp
    23: (2, 12),  # HE
    24: (2, 12),  # HE-MU
    25: (2, 6),   # HE-MU-other-user
    26: (1, 1),   # 0-length PSDU
    27: (2, 4),   # L-SIG
}
BIT_TLV, BIT_RADIOTAP_NS, BIT_VENDOR_NS, BIT_EXT = 28, 29, 30, 31

FLAG_FCS = 0x10      # the frame ends with a 4-byte FCS
FLAG_BAD_FCS = 0x40  # the FCS check failed


class Layout(NamedTuple):
    """Offsets (from the header start) of the fields the parser reads; -1 when absent."""

    flags: int
    channel: int
    signal: int
    dynamic: bool   # a vendor namespace: lay out again for every frame
    complete: bool  # False when an unknown field hid the fields after it


def present_words(buf: bytes | memoryview, start: int, rt_len: int) -> int:
    """Number of present words (the extended-bitmap chain), or -1 when it runs past the header."""
    n, pos = 1, start + 4
    while buf[pos + 3] & 0x80:
        n += 1
        pos += 4
        if pos + 4 > start + rt_len:
            return -1
    return n


def layout(buf: bytes | memoryview, start: int, rt_len: int, n_words: int) -> Layout:
    """Walk the present words and compute field offsets relative to `start`.

    Bit 29 in a word restarts the default namespace in the next word (one word per antenna on Linux:
    only the first, combined, signal is kept); bit 30 starts a vendor namespace whose header says how
    many bytes to skip; bit 31 alone continues the same namespace with bits 32 and up (none defined).
    """
    words = struct.unpack_from(f"<{n_words}I", buf, start + 4)
    pos = 4 + 4 * n_words
    flags = channel = signal = -1
    dynamic = False
    ns = "radiotap"  # namespace of the current word: radiotap, vendor, or continued (bits 32+)
    for word in words:
        if ns == "radiotap":
            for bit in range(BIT_TLV):
                if not word & (1 << bit):
                    continue
                spec = FIELDS.get(bit)
                if spec is None:
                    return Layout(flags, channel, signal, dynamic, False)
                align, size = spec
                pos += -pos % align
                if bit == 1 and flags < 0:
                    flags = pos
                elif bit == 3 and channel < 0:
                    channel = pos
                elif bit == 5 and signal < 0:
                    signal = pos
                pos += size
            if word & (1 << BIT_TLV):
                return Layout(flags, channel, signal, dynamic, flags >= 0 and signal >= 0)
        elif ns == "continued" and word & ((1 << BIT_TLV) - 1):
            return Layout(flags, channel, signal, dynamic, False)
        if word & (1 << BIT_VENDOR_NS):
            pos += -pos % 2
            if pos + 6 > rt_len:
                return Layout(flags, channel, signal, True, False)
            skip = struct.unpack_from("<H", buf, start + pos + 4)[0]
            pos += 6 + skip
            dynamic, ns = True, "vendor"
        elif word & (1 << BIT_RADIOTAP_NS):
            ns = "radiotap"
        elif ns == "radiotap":
            ns = "continued"
    return Layout(flags, channel, signal, dynamic, pos <= rt_len)


def channel_of(freq_mhz: int) -> int:
    """IEEE channel number of a centre frequency (2.4, 5 and 6 GHz bands); 0 when unknown."""
    if freq_mhz == 2484:
        return 14
    if 2412 <= freq_mhz <= 2472:
        return (freq_mhz - 2407) // 5
    if 5955 <= freq_mhz <= 7115:
        return (freq_mhz - 5950) // 5
    if 5000 <= freq_mhz <= 5900:
        return (freq_mhz - 5000) // 5
    return 0
