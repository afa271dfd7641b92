"""Hub workers as processes for the fault tests: `footfall-hub serve` with a shared subscription group,
all on one hub.yaml (one database), each with its own log."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.faults.support import Tally, tally
from tests.hub.support import wait_for

HUB = Path(sys.executable).with_name("footfall-hub")


def write_worker_config(workdir: Path, port: int, database: str, group: str = "hub") -> Path:
    """The workers' hub.yaml: plain MQTT on loopback, unsigned batches accepted (the fault agents have
    no keys), a short group-commit wait, `ingest.shared_group`."""
    path = workdir / "hub.yaml"
    path.write_text(f"version: 1\nmqtt: {{port: {port}, client_id: fault-hub, allow_plain_loopback: true}}\n"
                    f"{database}\ningest: {{max_wait_ms: 10, shared_group: {group}}}\n"
                    "trust: {require_signatures: false}\n")
    return path


class WorkerProc:
    """One worker process; `start` returns once it subscribed (its log says 'hub started')."""

    def __init__(self, config: Path, name: str) -> None:
        self.config = config
        self.name = name
        self.starts = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.config.parent / f"{self.name}-{self.starts}.log"

    def start(self) -> WorkerProc:
        self.starts += 1
        with self.log.open("wb") as err:
            self.proc = subprocess.Popen([str(HUB), "serve", "--config", str(self.config)],
                                         stdout=subprocess.DEVNULL, stderr=err)
        assert wait_for(lambda: "hub started" in self.log.read_text(), 20), self.log.read_text()
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def terminate(self) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(20) == 0, self.log.read_text()[-3000:]


def tally_store(database: str) -> Tally:
    """What the workers' database holds: a SQLite path, or a PostgreSQL URL (same figures, same SQL)."""
    if not database.startswith("postgresql://"):
        return tally(database)
    import psycopg  # noqa: PLC0415 -- only the PostgreSQL runs load it

    with psycopg.connect(database) as conn:
        keys = [k for (k,) in conn.execute("SELECT device_key FROM visits")]
        row = conn.execute("SELECT count(*), count(DISTINCT (agent, epoch, seq)) FROM batches").fetchone()
        dead = conn.execute("SELECT count(*) FROM dead_letters").fetchone()
    assert row is not None and dead is not None
    return Tally(len(keys), frozenset(keys), int(row[0]), int(row[1]), int(dead[0]))
