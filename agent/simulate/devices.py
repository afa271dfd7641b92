"""Device models of the simulated store-day: what each model puts in its probe requests, how it behaves.

The pipeline groups randomized MACs into devices by information-element fingerprint, sequence-number
continuity and timing, so the simulator needs models whose IEs are identical within a model and whose
MAC rotation, sequence-number and probing habits differ between models the way real phones do.
The IE bytes are plausible, not captured from the named phones; the OUIs are real vendor prefixes.

Two sets of habits (issue 19). PHONES is the gentle set the demo was built on: several models keep one
random MAC for minutes and most keep counting sequence numbers across a change. REAL_PHONES randomizes
the way brno-lab's phones do (`.venv/bin/python bench/brno_phones.py`, 14,290 random MACs heard at
-75 dBm or stronger on the 2022 days): 98.4 % of random MACs live for one burst (< 1 s), with 1-3
frames (median 2); when a MAC of a fingerprint follows another within two minutes its sequence number
continues the last one (1-64 ahead) only 5.0 % of the time (1.6 % by chance), so every randomizing
model gets a new MAC per burst and restarts its counter, but one (OnePlus, 5 % of phones) which keeps
counting; the next MAC comes 0.3-69 s after the last (deciles), which the probing intervals give; and
16.4 % of minutes hold two or more MACs of one fingerprint (phones of one model side by side), which the
model shares give at the demo's visitor density.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

# Element IDs (IEEE 802.11-2020, 9.4.2).
SSID, RATES, DS_PARAMS, HT_CAPS, RM_CAPS, EXT_RATES, EXT_CAPS, INTERWORKING = 0, 1, 3, 45, 70, 50, 127, 107
VHT_CAPS, VENDOR, EXTENSION = 191, 221, 255

CHANNEL = 6  # the sniffer listens on 2437 MHz; probes heard there carry DS Parameter Set = 6

#: Directed SSIDs some older devices probe for (generic names: a real list could identify a person).
DIRECTED_SSIDS = ("eduroam", "HomeNet", "Vodafone-5G", "UPC Wi-Free", "Cafe-Guest", "O2-Internet-42")


def _ht(cap_info: int, ampdu: int, streams: int) -> bytes:
    """HT Capabilities body (26 bytes): cap info, A-MPDU params, MCS set (one 0xff per stream), rest 0."""
    return cap_info.to_bytes(2, "little") + bytes([ampdu]) + b"\xff" * streams + bytes(16 - streams + 7)


def _vht(cap_info: int, streams: int) -> bytes:
    """VHT Capabilities body (12 bytes): MCS 0-9 on `streams` spatial streams, the rest unsupported."""
    mcs = sum((0b10 if ss < streams else 0b11) << (2 * ss) for ss in range(8)).to_bytes(2, "little")
    return cap_info.to_bytes(4, "little") + mcs + bytes(2) + mcs + bytes(2)


def _he(mac: str, phy: str) -> bytes:
    """HE Capabilities (element 255, extension 35): 6 MAC, 11 PHY capability bytes, MCS 0-11 on 2 streams."""
    body = bytes.fromhex(mac) + bytes.fromhex(phy)
    if len(body) != 17:
        raise ValueError("HE capabilities need 6 MAC and 11 PHY bytes")
    return bytes([35]) + body + bytes.fromhex("fafffaff")


def _wps(manufacturer: str, model: str, number: str, name: str, *, category: int, sub: int) -> bytes:
    """Microsoft/WFA WPS vendor element (00:50:f2 type 4) as Android <= 9 and Windows send it."""

    def tlv(kind: int, value: bytes) -> bytes:
        return kind.to_bytes(2, "big") + len(value).to_bytes(2, "big") + value

    return bytes.fromhex("0050f204") + b"".join(
        (
            tlv(0x104A, b"\x10"),  # version 1.0
            tlv(0x103A, b"\x00"),  # request type: enrollee, info only
            tlv(0x1008, bytes.fromhex("4388")),  # config methods
            tlv(0x1054, category.to_bytes(2, "big") + bytes.fromhex("0050f204") + sub.to_bytes(2, "big")),
            tlv(0x103C, b"\x03"),  # RF bands 2.4 + 5 GHz
            tlv(0x1002, bytes(2)),  # association state
            tlv(0x1009, bytes(2)),  # configuration error
            tlv(0x1012, bytes(2)),  # device password id
            tlv(0x1021, manufacturer.encode()),
            tlv(0x1023, model.encode()),
            tlv(0x1024, number.encode()),
            tlv(0x1011, name.encode()),
            tlv(0x1049, bytes.fromhex("00372a000120")),  # WFA vendor extension: version 2.0
        )
    )


_APPLE = bytes.fromhex("0017f20a000104000000")  # Apple 00:17:f2, type 0x0a
_BROADCOM = bytes.fromhex("001018020000100000")  # Broadcom 00:10:18, type 2
_MS_P2P = bytes.fromhex("0050f208000f0000")  # Microsoft 00:50:f2, type 8
_MBO = bytes.fromhex("506f9a16030103")  # Wi-Fi Alliance MBO-OCE: cellular data capable

_RATES_B = (RATES, bytes.fromhex("02040b160c121824"))  # 1-18 Mb/s, no basic-rate bits (iOS style)
_RATES_BB = (RATES, bytes.fromhex("82848b960c121824"))  # 1-11 Mb/s marked basic (most Android)
_RATES_11B = (RATES, bytes.fromhex("02040b16"))
_XRATES = (EXT_RATES, bytes.fromhex("3048606c"))
_XRATES_LONG = (EXT_RATES, bytes.fromhex("0c1218243048606c"))
_DS = (DS_PARAMS, bytes([CHANNEL]))

IEList = tuple[tuple[int, bytes], ...]


@dataclass(frozen=True)
class Model:
    """One device model: its IEs (after the SSID element) and its probing habits."""

    name: str
    weight: float  # share among customers' devices (0: only staff or fixture)
    randomized_p: float  # share of devices of this model that probe with a randomized MAC
    ouis: tuple[str, ...]  # real vendor prefixes for its universally administered MACs
    ies: IEList
    rotate_s: tuple[int, int]  # a randomized MAC lives this long; (0, 0): a new MAC every burst
    seq_resets: bool  # the 12-bit sequence number jumps to a random value when the MAC changes
    idle_s: tuple[int, int]  # interval between bursts while the screen is off
    active_s: tuple[int, int]  # interval while the screen is on
    burst: tuple[int, int, int, int]  # weights of bursts of 1, 2, 3, 4 probe requests
    directed_p: float = 0.0  # share of devices that also probe one directed SSID


PHONES: tuple[Model, ...] = (
    Model(
        "Apple iPhone 15 (iOS 17)", 0.16, 1.0, ("F0:18:98", "3C:22:FB"),
        (_RATES_B, _XRATES, _DS, (HT_CAPS, _ht(0x01EF, 0x17, 2)),
         (EXT_CAPS, bytes.fromhex("0400088001400040")),
         (VHT_CAPS, _vht(0x0F8259B2, 2)), (VENDOR, _APPLE),
         (EXTENSION, _he("0178c81a4000", "1c9ce00a02000000000000"))),
        (0, 0), False, (60, 240), (20, 45), (0, 1, 2, 1),
    ),
    Model(
        "Apple iPhone 11 (iOS 15)", 0.12, 0.8, ("A4:83:E7", "AC:BC:32", "88:66:A5"),
        (_RATES_B, _XRATES, _DS, (HT_CAPS, _ht(0x002D, 0x17, 2)),
         (EXT_CAPS, bytes.fromhex("0400080000000040")),
         (VHT_CAPS, _vht(0x0F825832, 2)), (VENDOR, _APPLE)),
        (300, 900), False, (60, 300), (20, 60), (0, 2, 1, 0),
    ),
    Model(
        "Samsung Galaxy S23 (Android 14)", 0.14, 0.85, ("84:25:19", "F4:7B:5E"),
        (_RATES_BB, _XRATES, _DS, (HT_CAPS, _ht(0x01EF, 0x1B, 2)), (RM_CAPS, bytes.fromhex("7000000000")),
         (EXT_CAPS, bytes.fromhex("04000a82214000400080")), (VHT_CAPS, _vht(0x339071B2, 2)),
         (EXTENSION, _he("0108081a4000", "80203002000d009f080000")), (VENDOR, _MBO)),
        (0, 0), False, (45, 180), (15, 40), (1, 2, 1, 0),
    ),
    Model(
        "Samsung Galaxy A52 (Android 13)", 0.10, 0.6, ("FC:03:9F", "84:25:19"),
        (_RATES_BB, _XRATES, _DS, (HT_CAPS, _ht(0x016F, 0x17, 1)),
         (EXT_CAPS, bytes.fromhex("0400088000000040")),
         (VENDOR, _MS_P2P), (VENDOR, _BROADCOM)),
        (300, 900), False, (60, 240), (20, 50), (1, 2, 0, 0),
    ),
    Model(
        "Google Pixel 7 (Android 14)", 0.06, 1.0, ("3C:28:6D", "F8:8F:CA"),
        (_RATES_BB, _XRATES, _DS, (HT_CAPS, _ht(0x0063, 0x17, 2)),
         (EXT_CAPS, bytes.fromhex("0000080000000040")),
         (VHT_CAPS, _vht(0x03807122, 2)), (EXTENSION, _he("0108081a4000", "40203002000d009f000000")),
         (VENDOR, _MBO)),
        (0, 0), True, (30, 150), (10, 30), (2, 1, 0, 0),
    ),
    Model(
        "Xiaomi Redmi Note 12 (Android 13)", 0.12, 0.5, ("64:09:80", "F8:A4:5F", "04:10:6B"),
        (_RATES_BB, _XRATES, _DS, (HT_CAPS, _ht(0x012D, 0x17, 1)),
         (EXT_CAPS, bytes.fromhex("00000a0200004000")),
         (VENDOR, _MS_P2P)),
        (300, 900), False, (60, 300), (20, 60), (1, 3, 1, 0),
    ),
    Model(
        "Huawei P30 (Android 10)", 0.07, 0.3, ("48:46:FB", "00:E0:FC"),
        (_RATES_BB, _XRATES, _DS, (HT_CAPS, _ht(0x192D, 0x1B, 2)),
         (EXT_CAPS, bytes.fromhex("0400080000000040")),
         (VENDOR, _wps("HUAWEI", "ELE-L29", "1", "HUAWEI P30", category=10, sub=5)), (VENDOR, _BROADCOM)),
        (600, 900), False, (90, 300), (30, 60), (0, 1, 2, 2), 0.3,
    ),
    Model(
        "Motorola moto g (Android 11)", 0.07, 0.5, ("04:D3:95", "0C:CB:85"),
        (_RATES_11B, _XRATES_LONG, _DS, (HT_CAPS, _ht(0x002D, 0x03, 1)),
         (EXT_CAPS, bytes.fromhex("0000080000000040"))),
        (300, 600), True, (60, 300), (20, 60), (2, 2, 0, 0),
    ),
    Model(
        "OnePlus Nord (Android 12)", 0.05, 0.6, ("2C:A7:EF", "94:65:2D"),
        (_RATES_BB, _XRATES, _DS, (HT_CAPS, _ht(0x01AD, 0x17, 2)),
         (EXT_CAPS, bytes.fromhex("04000a020140004001")),
         (VHT_CAPS, _vht(0x0F8159B2, 2)), (VENDOR, _MBO)),
        (0, 0), False, (30, 120), (10, 30), (1, 1, 1, 1),
    ),
    Model(
        "Samsung Galaxy J5 (Android 8)", 0.05, 0.0, ("8C:F5:A3", "E8:50:8B"),
        (_RATES_BB, _XRATES, _DS, (HT_CAPS, _ht(0x016E, 0x17, 1)),
         (EXT_CAPS, bytes.fromhex("00000a8201")),
         (VENDOR, _wps("samsung", "SM-J530F", "1", "Galaxy J5", category=10, sub=5))),
        (0, 0), False, (120, 300), (30, 60), (0, 1, 1, 2), 0.5,
    ),
    Model(
        "Intel AX201 laptop (Windows 11)", 0.06, 0.2, ("3C:A9:F4", "F8:E4:E3"),
        (_RATES_BB, _XRATES, _DS, (HT_CAPS, _ht(0x09EF, 0x1B, 2)),
         (EXT_CAPS, bytes.fromhex("0400000000000040")),
         (INTERWORKING, b"\x0f"), (VHT_CAPS, _vht(0x0F8259B2, 2)),
         (VENDOR, _wps("Intel Corporation", "Windows", "11", "DESKTOP", category=1, sub=1))),
        (600, 900), False, (60, 120), (30, 60), (0, 2, 1, 1),
    ),
)

def _real(model: Model) -> Model:
    """The model as brno-lab's phones behave: a new MAC every burst, the counter restarted at each."""
    if model.randomized_p == 0 or model.name.startswith(("OnePlus", "Intel")):
        return model  # never randomizes; or keeps its counter (5 %); or a laptop keeping a MAC for minutes
    return replace(model, rotate_s=(0, 0), seq_resets=True)


REAL_PHONES: tuple[Model, ...] = tuple(_real(m) for m in PHONES)
PHONE_SETS = {"gentle": PHONES, "real": REAL_PHONES}

FIXTURES: tuple[Model, ...] = (
    Model(
        "Samsung smart TV (Tizen)", 0.0, 0.0, ("8C:71:F8",),
        (_RATES_BB, _XRATES, _DS, (HT_CAPS, _ht(0x010C, 0x19, 2)), (VENDOR, _BROADCOM)),
        (0, 0), False, (60, 180), (60, 180), (1, 1, 0, 0),
    ),
    Model(
        "HP LaserJet printer", 0.0, 0.0, ("00:68:EB", "14:CB:19"),
        (_RATES_11B, _XRATES_LONG, _DS, (HT_CAPS, _ht(0x000C, 0x03, 1)),
         (VENDOR, _wps("HP", "LaserJet Pro", "M404", "HP LaserJet", category=3, sub=1))),
        (0, 0), False, (90, 240), (90, 240), (1, 0, 0, 0),
    ),
)

#: Staff phones are company phones with randomization off for the store network.
STAFF_MODELS = (
    "Samsung Galaxy A52 (Android 13)",
    "Apple iPhone 11 (iOS 15)",
    "Xiaomi Redmi Note 12 (Android 13)",
)

MODELS: dict[str, Model] = {m.name: m for m in PHONES + FIXTURES}


def random_local_mac(rng: random.Random) -> bytes:
    """A randomized MAC: locally administered (bit 0x02 set), unicast (bit 0x01 clear)."""
    return bytes([(rng.randrange(256) & 0xFC) | 0x02]) + rng.randbytes(5)


def vendor_mac(rng: random.Random, model: Model) -> bytes:
    """A universally administered MAC under one of the model's real OUIs."""
    return bytes.fromhex(rng.choice(model.ouis).replace(":", "")) + rng.randbytes(3)
