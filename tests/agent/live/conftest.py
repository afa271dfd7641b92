"""Fixtures for the live path: a fresh network namespace (root only) and a way to run code inside it."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@cache
def netns_unavailable() -> str | None:
    """Why network namespaces and TAP devices cannot be used here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root: creating a network namespace and a TAP interface needs CAP_NET_ADMIN"
    if shutil.which("ip") is None:
        return "needs iproute2's ip (apt-get install iproute2)"
    if not Path("/dev/net/tun").exists():
        return "needs /dev/net/tun (a kernel with CONFIG_TUN)"
    probe = f"fft-probe-{secrets.token_hex(3)}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], check=False)
    return None


class Netns:
    """A named network namespace holding only `lo` (down) until a test adds interfaces."""

    def __init__(self, name: str) -> None:
        self.name = name

    def run(self, *cmd: str, stdin: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a command inside the namespace (with its own /sys), from the repository root."""
        return subprocess.run(["ip", "netns", "exec", self.name, *cmd], input=stdin, capture_output=True,
                              text=True, cwd=ROOT, timeout=timeout, check=False)

    def python(self, *args: str, stdin: str | None = None, prefix: tuple[str, ...] = ()) \
            -> subprocess.CompletedProcess[str]:
        return self.run(*prefix, sys.executable, *args, stdin=stdin)

    def monitor_tap(self, name: str = "mon0", *, up: bool = True) -> None:
        """A persistent radiotap TAP interface (link type 803) that lives as long as the namespace."""
        code = f"from tests.agent.live.tap import open_tap; open_tap({name!r}, persist=True, up={up})"
        done = self.python("-c", code)
        assert done.returncode == 0, done.stderr


@pytest.fixture
def netns() -> Iterator[Netns]:
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    name = f"fft-{os.getpid()}-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield Netns(name)
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
