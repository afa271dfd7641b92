"""Headless Debian chromium driven over the DevTools protocol, with the standard library only.

A minimal WebSocket client (RFC 6455: handshake, masked text frames out, fragmented frames in) is
enough for CDP; a PNG reader (8-bit RGB/RGBA, the five filters) is enough for chromium's screenshots.
No websocket package, no Pillow: nothing to add to the dev extra.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--remote-debugging-port=0")
MISSING = ("chromium is not installed: run ./run test (it installs Debian's chromium),"
           " or apt-get install chromium")


def chromium_binary(search: str | None = None) -> str:
    """Debian's chromium on `search` (default: PATH and /usr/bin); else AssertionError saying how to
    get it: a missing browser fails the suite, it is not a skip."""
    found = shutil.which("chromium", path=search or f"{os.environ.get('PATH', '')}{os.pathsep}/usr/bin")
    assert found, MISSING
    return found


class WebSocket:
    """One client connection: send text, receive whole messages."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        hostport, _, path = url.removeprefix("ws://").partition("/")
        host, _, port = hostport.partition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head.decode(errors="replace")

    def _exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("chromium closed the DevTools connection")
            buf += chunk
        return bytes(buf)

    def send(self, text: str) -> None:
        data, mask = text.encode(), os.urandom(4)
        n = len(data)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else
                                bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536 else
                                bytes([0x80 | 127]) + struct.pack(">Q", n))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self) -> str:
        parts: list[bytes] = []
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            payload = self._exact(n)  # the server never masks
            opcode = b0 & 0x0F
            if opcode == 8:
                raise ConnectionError("chromium closed the DevTools connection")
            if opcode in (0, 1, 2):
                parts.append(payload)
                if b0 & 0x80:
                    return b"".join(parts).decode()

    def close(self) -> None:
        self.sock.close()


@dataclass
class Page:
    """One tab: `call` a CDP method; events seen meanwhile are kept in `events`."""

    ws: WebSocket
    events: list[dict[str, Any]] = field(default_factory=list)
    _id: int = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                assert "error" not in msg, f"{method}: {msg['error']}"
                result: dict[str, Any] = msg["result"]
                return result
            self.events.append(msg)

    def wait_event(self, name: str, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in self.events:
                if e.get("method") == name:
                    return e
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError(name)

    def evaluate(self, expression: str) -> Any:
        out = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in out, out["exceptionDetails"]
        return out["result"].get("value")

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions, log entries of level warning or error."""
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                out.append(f"console.{p['type']}: {[a.get('value') for a in p.get('args', [])]}")
            elif m == "Runtime.exceptionThrown":
                out.append(f"exception: {p['exceptionDetails'].get('text')}")
            elif m == "Log.entryAdded" and p["entry"]["level"] in ("warning", "error"):
                out.append(f"log {p['entry']['level']}: {p['entry']['text']}")
        return out

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events
                if e.get("method") == "Network.requestWillBeSent"]


@contextmanager
def browser(tmp: Path) -> Iterator[Page]:
    """A fresh headless chromium with its own profile, and one blank tab; both gone after."""
    profile = tmp / "chromium-profile"
    with (tmp / "chromium.log").open("wb") as log:
        proc = subprocess.Popen([chromium_binary(), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                stdout=subprocess.DEVNULL, stderr=log)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            assert proc.poll() is None, f"chromium exited: {(tmp / 'chromium.log').read_text()[-2000:]}"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port within 30 s"
            time.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        root = Page(WebSocket(f"ws://127.0.0.1:{port}{path}"))
        target = root.call("Target.createTarget", url="about:blank")["targetId"]
        page = Page(WebSocket(f"ws://127.0.0.1:{port}/devtools/page/{target}"))
        for domain in ("Runtime", "Log", "Page", "Network"):
            page.call(f"{domain}.enable")
        try:
            yield page
        finally:
            page.ws.close()
            root.ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def open_file(page: Page, path: Path, width: int, height: int, mobile: bool) -> None:
    """Show `path` (a file:// URL) at a viewport of width x height CSS pixels, scale 1, and wait for load."""
    page.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
              mobile=mobile)
    page.events.clear()
    page.call("Page.navigate", url=path.resolve().as_uri())
    page.wait_event("Page.loadEventFired")


def screenshot(page: Page, clip: dict[str, float] | None = None) -> bytes:
    """A PNG of the whole page, or of `clip` (page coordinates, CSS pixels)."""
    if clip is None:
        w, h = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        clip = {"x": 0, "y": 0, "width": w, "height": h}
    out = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                    clip={**clip, "scale": 1})
    return base64.b64decode(out["data"])


def png_pixels(png: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """(width, height, RGB pixels row by row) of an 8-bit RGB or RGBA, non-interlaced PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(png):
        (n,), kind = struct.unpack(">I", png[pos:pos + 4]), png[pos + 4:pos + 8]
        data = png[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data)
            assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += data
        pos += 12 + n
    raw, stride = zlib.decompress(idat), width * channels
    prev, pixels = bytearray(stride), []
    for y in range(height):
        kind, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = row[i - channels] if i >= channels else 0
            b, c = prev[i], (prev[i - channels] if i >= channels else 0)
            if kind == 1:
                row[i] = (row[i] + a) & 0xFF
            elif kind == 2:
                row[i] = (row[i] + b) & 0xFF
            elif kind == 3:
                row[i] = (row[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        pixels += [(row[i], row[i + 1], row[i + 2]) for i in range(0, stride, channels)]
        prev = row
    return width, height, pixels


def coloured_pixels(png: bytes) -> int:
    """Pixels with a colour (max - min channel over 40): the charts' marks; axes, text and grid are grey."""
    _, _, pixels = png_pixels(png)
    return sum(1 for r, g, b in pixels if max(r, g, b) - min(r, g, b) > 40)
