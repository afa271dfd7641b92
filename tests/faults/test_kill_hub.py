"""kill -9 of the hub mid-ingest, again and again: the broker's session and the agents' resends fill in."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.faults.records import keys
from tests.faults.support import AgentProc, figures, tally
from tests.hub.support import wait_for
from tests.support.mosquitto import Mosquitto

HUB = Path(sys.executable).with_name("footfall-hub")
KILLS = 8


class HubProc:
    """`footfall-hub serve --config hub.yaml` as a process, its log in the test's folder."""

    def __init__(self, workdir: Path, port: int) -> None:
        self.config = workdir / "hub.yaml"
        self.config.write_text(f"version: 1\nmqtt: {{port: {port}, client_id: fault-hub, "
                               "allow_plain_loopback: true}\ndatabase: {path: hub.db}\n"
                               "ingest: {max_wait_ms: 10}\ntrust: {require_signatures: false}\n")
        self.workdir = workdir
        self.starts = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.workdir / f"hub-{self.starts}.log"

    def start(self) -> None:
        self.starts += 1
        with self.log.open("wb") as err:
            self.proc = subprocess.Popen([str(HUB), "serve", "--config", str(self.config)],
                                         stdout=subprocess.DEVNULL, stderr=err)
        assert wait_for(lambda: "hub started" in self.log.read_text(), 15), self.log.read_text()

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def terminate(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(15) == 0, self.log.read_text()[-3000:]


def test_kill_9_of_the_hub_mid_ingest_loses_and_doubles_nothing(tmp_path: Path, mosquitto: Mosquitto) -> None:
    """The hub is killed while it commits and acknowledges, then restarted, again and again: what it had
    received but not committed comes back (the broker's persistent session, or the agent's resend);
    what it committed but had not acknowledged comes back too and adds no row. Every batch and every
    record is in the database once."""
    rng = random.Random(4)
    began = time.monotonic()
    hub = HubProc(tmp_path, mosquitto.port)
    hub.start()
    agent = AgentProc(tmp_path, mosquitto.port, options={
        "count": 24_000, "per_append": 20, "interval_s": 0.006, "resend_after_s": 2, "drain_s": 60}).start()
    agent.wait_event("ready", 10)
    kills = 0
    while kills < KILLS or not agent.events("appended"):  # at least KILLS, and until the last append
        time.sleep(rng.uniform(0.3, 1.2))  # ingesting
        hub.kill9()
        kills += 1
        time.sleep(rng.uniform(0.0, 0.5))  # down: the broker queues for the hub's session
        hub.start()
    agent.wait(70)
    hub.terminate()
    drained = agent.events("drained")[-1]
    summary = agent.events("summary")[-1]
    got = tally(tmp_path / "hub.db")
    first, last = agent.committed()
    committed = keys(0, first, last)
    lost = figures("kill-9-hub", sent=agent.events("appended")[-1]["records"], committed=committed, hub=got,
                   began=began, hub_kills=kills, hub_starts=hub.starts, batches=got.batches,
                   resent=summary["sink"]["resent"])
    assert drained["ok"]
    assert lost == 0
    assert got.duplicated == 0
    assert got.keys == committed
    assert got.batches == agent.events("appended")[-1]["batches"]
