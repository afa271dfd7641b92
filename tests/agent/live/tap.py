"""A kernel interface that looks like a monitor interface: a TAP device whose link type is set to 803.

TUNSETLINK sets a TAP device's ARPHRD type, so /sys/class/net/NAME/type reads 803 (radiotap) as on a
real monitor interface; a frame written to the TAP's file descriptor is received on the interface and
reaches packet sockets and their BPF filters exactly as a frame from a Wi-Fi driver would. What it does
not have is a radio: no wiphy, so `iw` cannot tune it.
"""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess

TUNSETIFF = 0x400454CA
TUNSETPERSIST = 0x400454CB
TUNSETLINK = 0x400454CD
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
ARPHRD_IEEE80211_RADIOTAP = 803


def open_tap(name: str, *, persist: bool = False, link: int | None = ARPHRD_IEEE80211_RADIOTAP,
             up: bool = True) -> int:
    """Create (or attach to) TAP `name` in this process's network namespace; returns its fd.

    A non-persistent TAP disappears when the fd closes: the way an unplugged USB adapter disappears.
    """
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    if link is not None:
        fcntl.ioctl(fd, TUNSETLINK, link)  # only while the interface is down
    if persist:
        fcntl.ioctl(fd, TUNSETPERSIST, 1)
    if up:
        subprocess.run(["ip", "link", "set", name, "up"], check=True)
    return fd
