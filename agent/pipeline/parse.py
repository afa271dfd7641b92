"""The frame parser: radiotap + 802.11 management header + information elements, by hand.

scapy's full dissection runs at under 1,000 frames/s here; this parser reads only what the pipeline
needs, caches the radiotap layout per present bitmap and the IE fingerprint per distinct IE block (a
phone sends the same elements in every probe), and runs at several hundred thousand frames/s.

Output per probe request, a tuple (see RawSighting): the raw MAC lives in it only until the
pseudonymize stage replaces it, in the same batch. Anything else is counted by reason and skipped:
`too_short`, `bad_radiotap`, `bad_fcs`, `not_probe_request`, `group_source`, `bad_ie`, `no_signal`.
"""

from __future__ import annotations

import zlib
from collections import Counter
from typing import Literal, NamedTuple

from agent.pipeline.radiotap import FLAG_BAD_FCS, FLAG_FCS, Layout, channel_of, layout, present_words

LINKTYPE_IEEE802_11 = 105
LINKTYPE_RADIOTAP = 127
SUPPORTED_LINKTYPES = (LINKTYPE_IEEE802_11, LINKTYPE_RADIOTAP)
RSSI_UNKNOWN = -128  # no signal field (bare 802.11 captures): never counts as a strong sighting

_IE_CACHE_MAX = 65536
CHANNELS = {f: channel_of(f) for f in range(2400, 7200) if channel_of(f)}


class RawSighting(NamedTuple):
    """One probe request as parsed; `mac` is raw and must not outlive the batch."""

    ts: float
    mac: bytes
    rssi_dbm: int
    channel: int
    seq: int
    fingerprint: int
    directed: bool


def fingerprint_ies(ies: bytes) -> tuple[int, bool, int] | None:
    """(fingerprint, directed, DS channel) of an IE block, or None when an element overruns the frame.

    The fingerprint covers which elements are present, their order and their contents (capabilities,
    rates, vendor elements), but not the SSID text (it varies between directed probes and is personal
    data) nor the DS channel (it varies with channel hopping).
    """
    pos, end = 0, len(ies)
    parts: list[bytes] = []
    directed, ds_channel = False, 0
    while pos + 2 <= end:
        eid, ln = ies[pos], ies[pos + 1]
        nxt = pos + 2 + ln
        if nxt > end:
            return None
        if eid == 0:
            directed = ln > 0
            parts.append(b"\x00")
        elif eid == 3:
            ds_channel = ies[pos + 2] if ln >= 1 else 0
            parts.append(b"\x03")
        else:
            parts.append(ies[pos:nxt])
        pos = nxt
    if pos != end:
        return None
    return zlib.crc32(b"".join(parts)), directed, ds_channel


class FrameParser:
    """Batch stage: [(ts, frame bytes)] -> [RawSighting] for probe requests; counts the rest."""

    def __init__(self, linktype: int = LINKTYPE_RADIOTAP) -> None:
        if linktype not in SUPPORTED_LINKTYPES:
            raise ValueError(f"link type {linktype} is not 802.11 (105) or radiotap (127)")
        self.linktype = linktype
        self.counters: Counter[str] = Counter()
        self._layouts: dict[bytes, Layout] = {}
        self._ies: dict[bytes, tuple[int, bool, int] | None] = {}

    def feed(self, frames: list[tuple[float, bytes]]) -> list[RawSighting]:
        out: list[RawSighting] = []
        append = out.append
        layouts, ies_cache, counters = self._layouts, self._ies, self.counters
        radiotap = self.linktype == LINKTYPE_RADIOTAP
        new = tuple.__new__  # skips NamedTuple's Python-level __new__: a third of the per-frame cost
        for ts, buf in frames:
            size = len(buf)
            rssi, channel, fcs = RSSI_UNKNOWN, 0, 0
            if radiotap:
                if size < 8 or buf[0] != 0:
                    counters["too_short" if size < 8 else "bad_radiotap"] += 1
                    continue
                rt_len = buf[2] | buf[3] << 8
                if rt_len < 8 or rt_len > size:
                    counters["bad_radiotap"] += 1
                    continue
                if buf[7] & 0x80:
                    n_words = present_words(buf, 0, rt_len)
                    if n_words < 0:
                        counters["bad_radiotap"] += 1
                        continue
                    key = buf[4:4 + 4 * n_words]
                else:
                    n_words, key = 1, buf[4:8]
                lay = layouts.get(key)
                if lay is None or lay.dynamic:
                    lay = layout(buf, 0, rt_len, n_words)
                    if not lay.dynamic:
                        layouts[key] = lay
                if lay.signal < 0:
                    counters["no_signal"] += 1
                    continue
                if lay.signal >= rt_len or lay.flags >= rt_len or lay.channel + 4 > rt_len:
                    counters["bad_radiotap"] += 1  # the bitmap places a field past the header's length
                    continue
                rssi = buf[lay.signal]
                if rssi > 127:
                    rssi -= 256
                if lay.flags >= 0:
                    flags = buf[lay.flags]
                    if flags & FLAG_BAD_FCS:
                        counters["bad_fcs"] += 1
                        continue
                    if flags & FLAG_FCS:
                        fcs = 4
                if lay.channel >= 0:
                    channel = CHANNELS.get(buf[lay.channel] | buf[lay.channel + 1] << 8, 0)
                off = rt_len
            else:
                off = 0
            if size - fcs < off + 24:
                counters["too_short"] += 1
                continue
            if buf[off] != 0x40:  # protocol 0, type management, subtype 4: probe request
                counters["not_probe_request"] += 1
                continue
            if buf[off + 10] & 0x01:
                counters["group_source"] += 1
                continue
            body = off + 28 if buf[off + 1] & 0x80 else off + 24  # +HT control when the order bit is set
            if body > size - fcs:
                counters["too_short"] += 1
                continue
            ies = buf[body:size - fcs]
            fp: tuple[int, bool, int] | Literal[False] | None = ies_cache.get(ies, False)
            if fp is False:
                fp = fingerprint_ies(ies)
                if len(ies_cache) >= _IE_CACHE_MAX:
                    ies_cache.clear()
                ies_cache[ies] = fp
            if fp is None:
                counters["bad_ie"] += 1
                continue
            append(new(RawSighting, (ts, buf[off + 10:off + 16], rssi, channel or fp[2],
                                     (buf[off + 22] | buf[off + 23] << 8) >> 4, fp[0], fp[1])))
        counters["probe_requests"] += len(out)
        return out
