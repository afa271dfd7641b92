"""The Axis people counter poller, against a real local HTTP server serving live-sum.json."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent.config import DoorSensorConfig
from agent.doors.axis import AxisPoller
from agent.doors.ledger import DoorLedger
from tests.agent.doors.conftest import T0, Clock


class Camera:
    """Serves `replies` in turn at /local/peoplecounter/.api (the last one again once they run out)."""

    def __init__(self, replies: list[Any]) -> None:
        self.replies = replies
        self.served = 0
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                reply = camera.replies[min(camera.served, len(camera.replies) - 1)]
                camera.served += 1
                data = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/local/peoplecounter/.api?live-sum.json"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})

    def __enter__(self) -> Camera:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def _live_sum(n_in: int, n_out: int) -> dict[str, Any]:
    return {"serial": "ACCC8E000001", "name": "Entrance", "timestamp": "20261126111500",
            "in": n_in, "out": n_out}


@pytest.fixture
def camera() -> Iterator[Camera]:
    with Camera([_live_sum(120, 100), _live_sum(125, 101), b"<html>login</html>", _live_sum(3, 1)]) as cam:
        yield cam


def test_axis_poller_counts_differences_of_live_sum_and_survives_a_bad_reply_and_midnight(
        camera: Camera, tmp_path: Path) -> None:
    """Polled every poll_s, the camera's totals since midnight become people per minute: the first poll is
    the baseline, a reply that is not JSON is counted and skipped, and the midnight reset counts from 0."""
    ledger = DoorLedger(grace_s=0)
    clock = Clock(T0)
    poller = AxisPoller(DoorSensorConfig(id="door-axis", type="axis", url=camera.url, poll_s=0.02),
                        ledger, clock)
    poller.start()
    try:
        deadline = time.monotonic() + 10
        while camera.served < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        poller.stop()
    recs = ledger.flush(T0 + 120)
    assert [(r.sensor, r.minute_at) for r in recs] == [("door-axis", "2026-11-26T10:15:00Z")]
    assert (recs[0].traffic_in_n, recs[0].traffic_out_n) == (5 + 3, 1 + 1)
    assert ledger.counters["door_axis_bad_json"] == 1
    assert ledger.counters["door_resets"] == 1
    assert ledger.last_seen["door-axis"] == T0


def test_an_unreachable_camera_is_counted_not_raised(tmp_path: Path) -> None:
    """A camera that is off or unplugged costs a counter and a single warning, never the agent."""
    with Camera([_live_sum(1, 1)]) as cam:
        url = cam.url
    poller = AxisPoller(DoorSensorConfig(id="door-axis", type="axis", url=url), DoorLedger(), Clock())
    assert poller.poll_once() is False
    assert poller.poll_once() is False
    assert poller.ledger.counters["door_axis_unreachable"] == 2
    assert "door-axis" not in poller.ledger.last_seen
