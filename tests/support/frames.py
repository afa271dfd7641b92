"""Frames and captures for tests: probe requests built with scapy, pcap files written by hand.

scapy (about 0.6 s to import) is loaded here, by tests only; the agent's frame path never imports it.
Frames are plain `bytes` as a capture holds them, captures are lists of `(timestamp_s, frame)`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from scapy.layers.dot11 import Dot11, Dot11Elt, Dot11FCS, Dot11ProbeReq, RadioTap
from scapy.packet import Packet, Raw

LINKTYPE_IEEE802_11 = 105
LINKTYPE_RADIOTAP = 127

PHONE_MAC = "02:5e:10:00:00:01"  # locally administered unicast, as a randomized phone MAC
BROADCAST = "ff:ff:ff:ff:ff:ff"

# Element contents of a real probe request (brno-lab 2023-04-17, first frame).
RATES = bytes.fromhex("02040b16")
EXT_RATES = bytes.fromhex("0c1218243048606c")
HT_CAPS = bytes.fromhex("210017ff" + "00" * 22)
EXT_CAPS = bytes.fromhex("0100080000000040")
VENDOR_MICROSOFT_WMM = bytes.fromhex("0050f208000f0000")
VENDOR_BROADCOM = bytes.fromhex("001018020000100000")

# The radiotap fields a probe_request() header carries, as an ESP32 or a Linux monitor interface writes.
DEFAULT_PRESENT = "Flags+Channel+dBm_AntSignal"


def elements(ssid: bytes = b"", ds_channel: int | None = 6, ht_caps: bytes | None = HT_CAPS,
             vendor: Iterable[bytes] = (VENDOR_MICROSOFT_WMM, VENDOR_BROADCOM)) -> bytes:
    """A phone's information elements: SSID, rates, DS parameter set, HT and extended caps, vendor."""
    ies: Packet = Dot11Elt(ID=0, info=ssid) / Dot11Elt(ID=1, info=RATES) / Dot11Elt(ID=50, info=EXT_RATES)
    if ds_channel is not None:
        ies /= Dot11Elt(ID=3, info=bytes([ds_channel]))
    if ht_caps is not None:
        ies /= Dot11Elt(ID=45, info=ht_caps)
    ies /= Dot11Elt(ID=127, info=EXT_CAPS)
    for v in vendor:
        ies /= Dot11Elt(ID=221, info=v)
    return bytes(ies)


def dot11_probe_request(mac: str = PHONE_MAC, seq: int = 0, ies: bytes | None = None, *,
                        fcs: bool = False, subtype: int = 4, frame_type: int = 0) -> Packet:
    """The 802.11 part (no radiotap): header, probe request body, elements; with a valid FCS if asked."""
    cls = Dot11FCS if fcs else Dot11
    header = cls(type=frame_type, subtype=subtype, addr1=BROADCAST, addr2=mac, addr3=BROADCAST, SC=seq << 4)
    return header / Dot11ProbeReq() / Raw(elements() if ies is None else ies)


def probe_request(mac: str = PHONE_MAC, rssi: int = -60, seq: int = 0, channel_mhz: int = 2437, *,
                  ies: bytes | None = None, fcs: bool = False, bad_fcs: bool = False,
                  present: str = DEFAULT_PRESENT, **radiotap_fields: Any) -> bytes:
    """A radiotap probe request as a monitor interface captures it (linktype 127).

    `present` names the radiotap fields (scapy's names); the Flags field, when present, says whether an
    FCS ends the frame and whether it failed its check. Extra keyword arguments set other radiotap fields.
    """
    flags = (["FCS"] if fcs else []) + (["badFCS"] if bad_fcs else [])
    header = RadioTap(present=present, Flags="+".join(flags) or 0, ChannelFrequency=channel_mhz,
                      ChannelFlags="2GHz" if channel_mhz < 3000 else "5GHz", dBm_AntSignal=rssi,
                      **radiotap_fields)
    return bytes(header / dot11_probe_request(mac, seq, ies, fcs=fcs))


def radiotap_header(words: list[int], data: bytes) -> bytes:
    """A radiotap header built by hand: its present words, then the field bytes (padding included).

    For layouts scapy cannot build: per-antenna present words, vendor namespaces, FHSS.
    """
    body = struct.pack(f"<{len(words)}I", *words) + data
    return struct.pack("<BBH", 0, 0, 4 + len(body)) + body


def pcap_bytes(frames: Iterable[tuple[float, bytes]], linktype: int = LINKTYPE_RADIOTAP, *,
               nano: bool = False, big_endian: bool = False) -> bytes:
    """A classic pcap file: microsecond (magic a1b2c3d4) or nanosecond (a1b23c4d) timestamps, any endian."""
    e = ">" if big_endian else "<"
    unit = 1_000_000_000 if nano else 1_000_000
    out = [struct.pack(e + "IHHiIII", 0xA1B23C4D if nano else 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)]
    for ts, frame in frames:
        ticks = round(ts * unit)
        sec, frac = divmod(ticks, unit)
        out.append(struct.pack(e + "IIII", sec, frac, len(frame), len(frame)) + frame)
    return b"".join(out)


def write_pcap(path: Path, frames: Iterable[tuple[float, bytes]], linktype: int = LINKTYPE_RADIOTAP, *,
               nano: bool = False, big_endian: bool = False) -> Path:
    """Write `(timestamp_s, frame)` pairs as a pcap file at `path` and return the path."""
    path.write_bytes(pcap_bytes(frames, linktype, nano=nano, big_endian=big_endian))
    return path


def pcapng_block(block_type: int, body: bytes, *, big_endian: bool = False) -> bytes:
    """One pcapng block: type, total length, body padded to 32 bits, total length again."""
    e = ">" if big_endian else "<"
    body += b"\0" * (-len(body) % 4)
    return struct.pack(e + "II", block_type, 12 + len(body)) + body + struct.pack(e + "I", 12 + len(body))


def pcapng_bytes(frames: Iterable[tuple[float, bytes]], linktype: int = LINKTYPE_RADIOTAP, *,
                 tsresol: int | None = None, big_endian: bool = False) -> bytes:
    """A pcapng file by hand: section header, one interface (with if_tsresol when given), packet blocks.

    `tsresol` is the option's byte: 9 for nanoseconds, 0x80 | n for units of 2**-n seconds.
    """
    e = ">" if big_endian else "<"
    unit = (2 ** (tsresol & 0x7F) if tsresol & 0x80 else 10 ** tsresol) if tsresol is not None else 10 ** 6
    options = b""
    if tsresol is not None:  # if_tsresol, then opt_endofopt
        options = struct.pack(e + "HHB3x", 9, 1, tsresol) + struct.pack(e + "HH", 0, 0)
    out = [pcapng_block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1), big_endian=big_endian),
           pcapng_block(1, struct.pack(e + "HHI", linktype, 0, 262144) + options, big_endian=big_endian)]
    for ts, frame in frames:
        ticks = round(ts * unit)
        epb = struct.pack(e + "IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), len(frame)) + frame
        out.append(pcapng_block(6, epb, big_endian=big_endian))
    return b"".join(out)
