"""The kernel filter that lets only probe requests reach Python, as a fixed classic-BPF program.

The program is what libpcap compiles from `type mgt subtype probe-req` for radiotap (DLT 127); a test
compiles the expression with libpcap and pins it to these instructions. Shipping the instructions
instead of compiling at start means the gateway needs neither libpcap nor tcpdump nor scapy (80 MB,
over the agent's 64 MB budget) to capture.
"""

from __future__ import annotations

import ctypes
import socket
import struct

FILTER_EXPRESSION = "type mgt subtype probe-req"
LINKTYPE_RADIOTAP = 127
Program = tuple[tuple[int, int, int, int], ...]  # (code, jt, jf, k) per instruction
SO_ATTACH_FILTER = 26  # asm-generic/socket.h; the same on arm, arm64, x86 and mips

# (code, jt, jf, k): A = radiotap length (little-endian u16 at offset 2); X = A; A = frame control
# byte 0 of the 802.11 header; keep the frame when its type/subtype bits are management/probe request.
PROBE_REQUEST_PROGRAM: Program = (
    (0x30, 0, 0, 3),          # ldb [3]
    (0x64, 0, 0, 8),          # lsh #8
    (0x07, 0, 0, 0),          # tax
    (0x30, 0, 0, 2),          # ldb [2]
    (0x4C, 0, 0, 0),          # or x
    (0x07, 0, 0, 0),          # tax
    (0x50, 0, 0, 0),          # ldb [x + 0]
    (0x54, 0, 0, 0xFC),       # and #0xfc (drop the protocol version bits)
    (0x15, 0, 1, 0x40),       # jeq #0x40 (type 0 management, subtype 4 probe request)
    (0x06, 0, 0, 0xFFFF),     # ret #65535: keep the whole frame
    (0x06, 0, 0, 0),          # ret #0: drop
)


def attach(sock: socket.socket, program: Program = PROBE_REQUEST_PROGRAM) -> None:
    """Attach a classic BPF program to a packet socket (SO_ATTACH_FILTER takes a struct sock_fprog)."""
    insns = b"".join(struct.pack("HBBI", *i) for i in program)
    buf = ctypes.create_string_buffer(insns)
    # struct sock_fprog { unsigned short len; struct sock_filter *filter; } with native padding
    fprog = struct.pack("HP", len(program), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
