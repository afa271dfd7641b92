"""A user-space interpreter for the classic BPF opcodes a libpcap filter uses, to test a filter on bytes.

The kernel runs the same program on the same bytes; this one lets a test check the program on frames it
cannot send through a radio (every 802.11 type and subtype, odd radiotap lengths) and without root.
"""

from __future__ import annotations

Program = tuple[tuple[int, int, int, int], ...]

_SIZES = {0x00: 4, 0x08: 2, 0x10: 1}  # BPF_W, BPF_H, BPF_B


def run(program: Program, pkt: bytes) -> int:
    """The filter's verdict for `pkt`: bytes to keep, 0 to drop (as the kernel, on an out-of-bounds load)."""
    a = x = 0
    pc = 0
    while pc < len(program):
        code, jt, jf, k = program[pc]
        cls, pc = code & 0x07, pc + 1
        if cls in (0x00, 0x01):  # LD, LDX
            mode, size = code & 0xE0, _SIZES.get(code & 0x18, 4)
            if mode == 0x00:  # IMM
                val = k
            elif mode in (0x20, 0x40):  # ABS, IND
                off = k + (x if mode == 0x40 else 0)
                if off + size > len(pkt):
                    return 0
                val = int.from_bytes(pkt[off:off + size], "big")
            elif mode == 0xA0 and cls == 0x01:  # LDX MSH: 4 * (pkt[k] & 0xf)
                if k >= len(pkt):
                    return 0
                val = (pkt[k] & 0x0F) * 4
            else:
                raise ValueError(f"unsupported load {code:#x}")
            if cls == 0x00:
                a = val
            else:
                x = val
        elif cls == 0x04:  # ALU
            src = x if code & 0x08 else k
            op = code & 0xF0
            ops = {0x00: a + src, 0x10: a - src, 0x20: a * src, 0x40: a | src, 0x50: a & src,
                   0x60: a << src, 0x70: a >> src, 0xA0: a ^ src}
            a = ops[op] & 0xFFFFFFFF
        elif cls == 0x05:  # JMP
            op, src = code & 0xF0, x if code & 0x08 else k
            if op == 0x00:
                pc += k
                continue
            taken = {0x10: a == src, 0x20: a > src, 0x30: a >= src, 0x40: bool(a & src)}[op]
            pc += jt if taken else jf
        elif cls == 0x06:  # RET
            return a if code & 0x18 == 0x10 else k
        elif cls == 0x07:  # MISC: TAX, TXA
            if code & 0xF8 == 0x00:
                x = a
            else:
                a = x
        else:
            raise ValueError(f"unsupported instruction {code:#x}")
    return 0
