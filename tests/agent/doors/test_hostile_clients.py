"""The push listener against hostile or broken clients, over real loopback sockets: slow, lying about
their Content-Length, hundreds at once, pushing numbers or times past their bounds. Each costs a
counter and at most one log line a minute, never a traceback; a good push right after is counted."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import pytest

from agent.doors import listener as listener_module
from tests.agent.doors.conftest import ServiceFactory, post, token_of


def _open(port: int, data: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    if data:
        sock.sendall(data)
    return sock


def test_slow_lying_and_crowding_clients_cost_counters_and_one_log_line(
        doors: ServiceFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """A client that promises 1000 bytes and sends 10, one that sends 10 and hangs up, 200 connections
    opened at once, and pushes with 10^30 people or a time in 2106: all refused and counted by reason
    (`door_rejected_slow`, `short_body`, `busy`, `out_of_range`, `bad_time`), with one warning in the
    log for all of them, no traceback; then a good push is accepted."""
    monkeypatch.setattr(listener_module._Handler, "timeout", 1)
    svc = doors([{"id": "door-back", "type": "generic"}], grace_s=0)
    assert svc.listener is not None
    port, token = svc.listener.port, token_of(tmp_path)
    head = (f"POST /generic HTTP/1.0\r\nAuthorization: Bearer {token}\r\nContent-Length: 1000\r\n\r\n"
            ).encode()
    caplog.set_level(logging.INFO)
    slow = _open(port, head + b'{"sensor":')
    short = _open(port, head + b'{"sensor":')
    short.shutdown(socket.SHUT_WR)
    crowd = [_open(port) for _ in range(200)]
    time.sleep(0.5)
    for sock in crowd:
        sock.close()
    slow_reply = slow.recv(100)  # the listener drops it after its timeout, without a reply
    slow.close()
    short.close()
    big = post(port, "/generic", {"sensor": "door-back", "time": "2026-11-26T10:14:00Z", "in": 10**30,
                                  "out": 0}, token)
    future = post(port, "/generic", {"sensor": "door-back", "time": "2106-01-01T00:00:00Z", "in": 1,
                                     "out": 0}, token)
    assert big == (400, "field 'in' is larger than 1000000000\n")
    assert future[0] == 400 and "more than 300 s after the gateway's clock" in future[1]
    assert post(port, "/generic", {"sensor": "door-back", "time": "2026-11-26T10:14:00Z", "in": 5,
                                   "out": 2}, token) == (200, "accepted 1 counts\n")
    got = {k: v for k, v in svc.counters().items() if k.startswith("door_rejected_")}
    print(f"\nfaults/bad-input-doors: sent {2 + len(crowd) + 3}, refused {dict(sorted(got.items()))}, "
          f"stored after 1, lost 0")
    assert slow_reply == b""
    assert got["door_rejected_slow"] == 1
    assert got["door_rejected_short_body"] == 1
    assert got["door_rejected_busy"] >= 1  # 32 connections at once at most: the others closed at once
    assert got["door_rejected_out_of_range"] == 1
    assert got["door_rejected_bad_time"] == 1
    warnings = [r for r in caplog.records
                if r.name == listener_module.__name__ and r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "Traceback" not in caplog.text
