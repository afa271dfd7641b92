"""The kernel filter: the fixed program is libpcap's own, and it keeps probe requests and nothing else."""

from __future__ import annotations

import pytest
from scapy.layers.dot11 import RadioTap

from agent.sources.bpf import FILTER_EXPRESSION, LINKTYPE_RADIOTAP, PROBE_REQUEST_PROGRAM
from tests.agent.live import bpfvm
from tests.support.frames import dot11_probe_request, probe_request, radiotap_header


def test_the_program_is_what_libpcap_compiles_from_the_expression() -> None:
    """The agent ships the filter as instructions (no libpcap on the gateway); they are exactly what
    libpcap compiles from `type mgt subtype probe-req` for radiotap: the kernel keeps what tcpdump would."""
    try:
        from scapy.arch.common import compile_filter  # noqa: PLC0415 -- needs libpcap, loaded only here
        program = compile_filter(FILTER_EXPRESSION, linktype=LINKTYPE_RADIOTAP)
    except ImportError as exc:
        pytest.skip(f"libpcap is not installed ({exc}); apt-get install libpcap0.8")
    compiled = tuple((i.code, i.jt, i.jf, i.k) for i in program.bf_insns[:program.bf_len])
    assert compiled == PROBE_REQUEST_PROGRAM


def _other(frame_type: int, subtype: int) -> bytes:
    return bytes(RadioTap(present="Flags+Channel+dBm_AntSignal", ChannelFrequency=2437, ChannelFlags="2GHz",
                          dBm_AntSignal=-50) / dot11_probe_request(frame_type=frame_type, subtype=subtype))


KEPT = {
    "probe request": probe_request(),
    "probe request with FCS": probe_request(fcs=True),
    "probe request, long radiotap": probe_request(present="TSFT+Flags+Rate+Channel+dBm_AntSignal+Antenna",
                                                  mac_timestamp=1, Rate=2, Antenna=1),
    # a radiotap header over 255 bytes: its length's high byte matters
    "probe request, 300-byte radiotap": radiotap_header([1 << 29 | 1 << 31, 0], b"\0" * 292)
    + bytes(dot11_probe_request()),
}
DROPPED = {
    "beacon": _other(0, 8),
    "probe response": _other(0, 5),
    "association request": _other(0, 0),
    "data": _other(2, 0),
    "QoS data": _other(2, 8),
    "ack (control)": _other(1, 13),
    "radiotap header only": radiotap_header([0], b""),
    "shorter than a radiotap header": b"\x00\x00",
}


@pytest.mark.parametrize("name", list(KEPT))
def test_probe_requests_pass_the_filter_whole(name: str) -> None:
    """Every probe request reaches Python with all its bytes, whatever its radiotap header's length."""
    frame = KEPT[name]
    assert bpfvm.run(PROBE_REQUEST_PROGRAM, frame) >= len(frame)


@pytest.mark.parametrize("name", list(DROPPED))
def test_other_frames_never_reach_python(name: str) -> None:
    """Beacons, responses, data and control frames (most of the air) are dropped in the kernel."""
    assert bpfvm.run(PROBE_REQUEST_PROGRAM, DROPPED[name]) == 0
