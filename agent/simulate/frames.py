"""Probe-request bytes: scapy builds one template per model and SSID, every frame is a patched copy.

Building a packet with scapy costs far more than copying bytes, and a store-day holds tens of thousands
of frames, so scapy runs only once per template. It is imported inside the functions: importing it costs
about 0.4 s and 80 MB, and `import agent.simulate` must stay light.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from agent.simulate.devices import SSID, Model

FREQ_MHZ = 2437  # channel 6
LINKTYPE_RADIOTAP = 127  # DLT_IEEE802_11_RADIO
BROADCAST = "ff:ff:ff:ff:ff:ff"
_PLACEHOLDER_DBM = -100

#: One emitted probe request: (time in µs since the epoch, template index, source MAC, seq no., RSSI dBm).
Frame = tuple[int, int, bytes, int, int]


@dataclass(frozen=True)
class Template:
    """A finished frame and the offsets a sniffer would read: source MAC, sequence control, signal."""

    data: bytes
    addr2_at: int
    seq_at: int
    rssi_at: int


def build_template(model: Model, ssid: str = "") -> Template:
    """Radiotap (Flags, Channel, dBm_AntSignal) / probe request with the model's IEs; "" = wildcard SSID."""
    from scapy.layers.dot11 import Dot11, Dot11Elt, Dot11ProbeReq, RadioTap  # noqa: PLC0415 -- see top

    pkt = (
        RadioTap(
            present="Flags+Channel+dBm_AntSignal",
            Flags=0,
            ChannelFrequency=FREQ_MHZ,
            ChannelFlags="CCK+2GHz",
            dBm_AntSignal=_PLACEHOLDER_DBM,
        )
        / Dot11(type=0, subtype=4, addr1=BROADCAST, addr2="00:00:00:00:00:00", addr3=BROADCAST)
        / Dot11ProbeReq()
        / Dot11Elt(ID=SSID, info=ssid.encode())
    )
    for element_id, info in model.ies:
        pkt = pkt / Dot11Elt(ID=element_id, info=info)
    data = bytes(pkt)
    rt_len = int.from_bytes(data[2:4], "little")
    # dBm_AntSignal is the last radiotap field; the 802.11 header is fc, duration, addr1, addr2, addr3, SC.
    template = Template(data, addr2_at=rt_len + 10, seq_at=rt_len + 22, rssi_at=rt_len - 1)
    if data[template.rssi_at] != _PLACEHOLDER_DBM & 0xFF or data[rt_len] != 0x40:
        raise RuntimeError("scapy laid the radiotap header out differently than expected")
    return template


def write_pcap(path: Path, templates: list[Template], frames: Iterable[Frame]) -> int:
    """Write frames (already sorted by time) as a radiotap pcap, byte-identical for the same input."""
    from scapy.utils import RawPcapWriter  # noqa: PLC0415 -- scapy loads only when a pcap is written

    count = 0
    with RawPcapWriter(str(path), linktype=LINKTYPE_RADIOTAP, endianness="<") as writer:
        writer.write_header(None)
        for time_us, template_index, mac, seq, rssi in frames:
            tpl = templates[template_index]
            buf = bytearray(tpl.data)
            buf[tpl.addr2_at : tpl.addr2_at + 6] = mac
            buf[tpl.seq_at : tpl.seq_at + 2] = (seq << 4).to_bytes(2, "little")  # fragment number 0
            buf[tpl.rssi_at] = rssi & 0xFF
            writer.write_packet(bytes(buf), sec=time_us // 1_000_000, usec=time_us % 1_000_000)
            count += 1
    return count
