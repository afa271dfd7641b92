"""A flapping uplink: the agent's connection is cut hundreds of times while it delivers."""

from __future__ import annotations

import random
import time
from pathlib import Path

from hub.app import Hub
from tests.faults.records import keys
from tests.faults.support import AgentProc, figures, hub_config, open_fds, rss_kib, stop_hub, tally
from tests.hub.support import wait_for
from tests.support.mosquitto import Mosquitto
from tests.support.proxy import Proxy

CYCLES = 200
WARM = 20  # cycles before the first sample: imports, caches and paho's buffers have settled
RSS_TOLERANCE_KIB = 4096
FD_TOLERANCE = 2


def test_hundreds_of_connection_cuts_lose_nothing_and_leak_nothing(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    """A store's DSL line drops every few seconds for days. Each cut lands somewhere in the MQTT
    conversation (the handshake, a publish, a PUBACK, an ack); the agent reconnects each time, nothing is
    lost or stored twice, and its memory and open files stay where they were after the first cycles: a
    gateway with 64 MB does not die of a slow leak after a week of flapping.

    The agent reconnects after 20 ms here instead of its default 1 s so that 200 cycles fit in CI; the
    backoff's length is not what this test is about."""
    rng = random.Random(6)
    began = time.monotonic()
    stop_file = tmp_path / "stop-appending"
    samples: list[tuple[int, int, int]] = []  # (cycle, rss KiB, open fds)
    hub = Hub(hub_config(tmp_path, mosquitto.port)).start()
    try:
        with Proxy(mosquitto.port) as proxy:
            agent = AgentProc(tmp_path, proxy.port, options={
                "count": 10_000_000, "stop_file": stop_file, "per_append": 5, "interval_s": 0.01,
                "resend_after_s": 1, "reconnect_min_s": 0.02, "reconnect_max_s": 0.1, "drain_s": 60,
                "wait_term": True}).start()
            agent.wait_event("ready", 10)
            assert agent.proc is not None
            pid = agent.proc.pid
            cycle = 0
            while cycle < CYCLES:
                assert wait_for(lambda: proxy.open_connections > 0, 10), "the agent did not reconnect"
                time.sleep(rng.uniform(0.0, 0.08))  # anywhere from the CONNECT to a few round trips later
                if proxy.cut():
                    cycle += 1
                if cycle % WARM == 0 and (not samples or samples[-1][0] != cycle):
                    samples.append((cycle, rss_kib(pid), open_fds(pid)))
            stop_file.touch()
            drained = agent.wait_event("drained", 60)
            agent.terminate()
        assert hub.wait_idle(10)
    finally:
        stop_error = stop_hub(hub)
    appended = agent.events("appended")[-1]
    summary = agent.events("summary")[-1]
    got = tally(tmp_path / "hub.db")
    committed = keys(0, *agent.committed())
    (_, rss0, fds0), (_, rss1, fds1) = samples[1], samples[-1]
    lost = figures("connection-flapping", sent=appended["records"], committed=committed, hub=got, began=began,
                   cuts=cycle, reconnects=summary["sink"]["connects"] - 1, resent=summary["sink"]["resent"],
                   rss_kib=" ".join(str(r) for _, r, _ in samples),
                   fds=" ".join(str(f) for _, _, f in samples),
                   hub_stop_error=repr(stop_error))
    assert drained["ok"]
    assert lost == 0
    assert got.duplicated == 0
    assert got.keys == committed
    assert summary["sink"]["connects"] > CYCLES // 2  # a cut before the CONNACK makes no connection
    assert rss1 - rss0 <= RSS_TOLERANCE_KIB, f"RSS grew from {rss0} to {rss1} KiB over {CYCLES - WARM} cuts"
    assert abs(fds1 - fds0) <= FD_TOLERANCE, f"open files went from {fds0} to {fds1}"
