"""kill -9 of the agent at random moments: nothing it committed to its outbox is lost, nothing doubles."""

from __future__ import annotations

import random
import time
from pathlib import Path

from hub.app import Hub
from tests.faults.records import keys
from tests.faults.support import AgentProc, figures, hub_config, tally
from tests.support.mosquitto import Mosquitto

KILLS = 50
SEED = 5


def test_kill_9_of_the_agent_at_random_moments_loses_nothing_committed(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    """A gateway loses power at any moment: starting up, appending, publishing, deleting acked batches.
    Whatever its outbox had committed reaches the hub exactly once after the restarts; of what was being
    appended at the kill, either the whole append arrives or none of it (each run's records in the hub
    are a prefix of what it generated, never a hole, never a record twice)."""
    rng = random.Random(SEED)
    began = time.monotonic()
    runs: list[AgentProc] = []
    next_n = 0
    with Hub(hub_config(tmp_path, mosquitto.port)) as hub:
        for run in range(KILLS):
            agent = AgentProc(tmp_path, mosquitto.port, run=run, start_n=next_n,
                              options={"count": 1_000_000, "per_append": rng.randint(1, 40),
                                       "max_records_per_batch": 25, "interval_s": 0.004,
                                       "resend_after_s": 1}).start()
            if rng.random() < 0.2:  # during start-up: imports, opening the outbox, connecting
                time.sleep(rng.uniform(0.0, 0.5))
            else:  # in the stream: appending, publishing, deleting acked batches, checkpointing
                agent.wait_event("ready", 10)
                time.sleep(rng.uniform(0.0, 0.6))
            agent.kill9()
            runs.append(agent)
            next_n = agent.committed()[1] + 1
        last = AgentProc(tmp_path, mosquitto.port, run=KILLS, start_n=next_n,
                         options={"drain_s": 30, "resend_after_s": 1}).start()
        last.wait(40)
        assert last.events("drained")[-1]["ok"], "the final run did not drain its outbox"
        assert hub.wait_idle(10)
    summary = last.events("summary")[-1]
    got = tally(tmp_path / "hub.db")
    committed: set[str] = set()
    for agent in runs:
        first, last_n = agent.committed()
        committed |= keys(agent.run, first, last_n)
    started = sum(1 for a in runs if a.events("ready"))
    unreported = len(got.keys - committed)  # committed, killed before it said so: arrived all the same
    sent = len(committed) + unreported
    lost = figures("kill-9-agent", sent=sent, committed=committed, hub=got, began=began, kills=KILLS,
                   killed_before_ready=KILLS - started, arrived_unreported=unreported,
                   resent=summary["sink"]["resent"],
                   corrupt_recovered=summary["outbox"]["outbox_corrupt_recovered"])
    assert lost == 0
    assert got.duplicated == 0
    assert summary["outbox"]["outbox_corrupt_recovered"] == 0  # kill -9 never damages the file
    for agent in runs:  # whole appends or nothing: each run's records form a prefix of its stream
        first, reported = agent.committed()
        mine = got.keys & keys(agent.run, first, reported + 40)
        assert mine == keys(agent.run, first, first + len(mine) - 1), f"run {agent.run}: hole or stranger"
    assert unreported <= 40 * KILLS
