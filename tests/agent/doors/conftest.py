"""Door-counter fixtures: a DoorService on a free loopback port, a settable clock, a real HTTP client."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.config import DoorsConfig, DoorSensorConfig
from agent.doors.service import DoorService
from agent.wire.records import parse_iso

T0 = parse_iso("2026-11-26T10:15:00Z")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


ServiceFactory = Callable[..., DoorService]


@pytest.fixture
def doors(tmp_path: Path, clock: Clock) -> Iterator[ServiceFactory]:
    """make(sensor dicts, **DoorsConfig settings): a started DoorService, stopped after the test."""
    started: list[DoorService] = []

    def make(sensors: list[dict[str, Any]], **settings: Any) -> DoorService:
        cfg = DoorsConfig(sensors=[DoorSensorConfig(**s) for s in sensors],
                          **{"listen_port": 0, **settings})
        service = DoorService(cfg, tmp_path, clock)
        service.start()
        started.append(service)
        return service

    yield make
    for service in started:
        service.stop()


def token_of(tmp_path: Path) -> str:
    return (tmp_path / "door-token").read_text().strip()


def post(port: int, path: str, body: Any, token: str | None, *, raw: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, str]:
    """POST over a real loopback connection; (status, reply text)."""
    data = raw if raw is not None else json.dumps(body).encode()
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", path, body=data, headers=hdrs)
        reply = conn.getresponse()
        return reply.status, reply.read().decode()
    finally:
        conn.close()
