"""The fault tests' tools: agent processes to start and kill, and what the hub's database holds.

Every fault test ends the same way: the hub's database is read on its own connection, each record is
named by its key (tests/faults/records.py), and the figures are printed on one line:

    faults/<name>: sent N, committed N, in hub N, lost 0, duplicated 0, time X s (...)

`sent` counts records the agent appended (tried to commit), `committed` those it reported committed to
its outbox (the ones the promise covers), `lost` committed records missing from the hub, `duplicated`
record rows beyond the first of their key plus batches stored twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.app import Hub
from hub.config import DatabaseConfig, HubConfig, IngestConfig, MqttConfig, TrustConfig

ROOT = Path(__file__).resolve().parents[2]


def hub_config(tmp_path: Path, port: int, client_id: str = "fault-hub") -> HubConfig:
    """The hub of a fault test: its broker (plain MQTT on loopback), a fresh database in tmp_path, a short
    group-commit wait, unsigned batches accepted (the fault agents have no keys; signing is not what
    these tests are about)."""
    return HubConfig(mqtt=MqttConfig(port=port, client_id=client_id, allow_plain_loopback=True),
                     database=DatabaseConfig(path=str(tmp_path / "hub.db")),
                     ingest=IngestConfig(max_wait_ms=10), trust=TrustConfig(require_signatures=False))


@dataclass
class AgentProc:
    """One run of tests/faults/agent_proc.py: a real process with a real outbox and MQTT sink."""

    workdir: Path
    port: int
    run: int = 0
    start_n: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def out(self) -> Path:
        return self.workdir / f"agent-run-{self.run}.jsonl"

    def start(self) -> AgentProc:
        args = [sys.executable, "-m", "tests.faults.agent_proc", "--outbox", str(self.workdir / "outbox.db"),
                "--port", str(self.port), "--run", str(self.run), "--start", str(self.start_n)]
        for name, value in self.options.items():
            flag = "--" + name.replace("_", "-")
            args += [flag] if value is True else [flag, str(value)]
        with self.out.open("wb") as out, (self.workdir / f"agent-run-{self.run}.log").open("wb") as err:
            self.proc = subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=err)
        return self

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Complete lines printed so far (a line cut by a kill is not one)."""
        if not self.out.exists():
            return []
        text = self.out.read_text()
        lines = text.split("\n")[:-1]  # the last piece has no newline yet: incomplete or empty
        found = [json.loads(line) for line in lines]
        return [e for e in found if kind is None or e["ev"] == kind]

    def wait_event(self, kind: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.events(kind)
            if got:
                return got[-1]
            assert self.proc is not None
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"agent run {self.run}: no {kind!r} event within {timeout} s; "
                             f"stderr: {self.stderr()[-2000:]}")

    def stderr(self) -> str:
        path = self.workdir / f"agent-run-{self.run}.log"
        return path.read_text() if path.exists() else ""

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def terminate(self, timeout: float = 15) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        code = self.proc.wait(timeout)
        assert code == 0, f"agent run {self.run} exited {code}: {self.stderr()[-3000:]}"
        return code

    def committed(self) -> tuple[int, int]:
        """(first, last) record numbers reported committed; (start, start - 1) when none."""
        got = self.events("committed")
        return (self.start_n, got[-1]["last"]) if got else (self.start_n, self.start_n - 1)


def rss_kib(pid: int) -> int:
    """Resident memory of a process, KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@dataclass(frozen=True)
class Tally:
    """What the hub's database holds: record rows, distinct keys, batches."""

    rows: int
    keys: frozenset[str]
    batches: int
    distinct_batches: int
    dead_letters: int

    @property
    def duplicated(self) -> int:
        return self.rows - len(self.keys) + self.batches - self.distinct_batches


def tally(db_path: str | Path) -> Tally:
    with closing(sqlite3.connect(db_path)) as conn:
        keys = [k for (k,) in conn.execute("SELECT device_key FROM visits")]
        batches, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT agent || '/' || epoch || '/' || seq) FROM batches").fetchone()
        (dead,) = conn.execute("SELECT count(*) FROM dead_letters").fetchone()
    return Tally(len(keys), frozenset(keys), int(batches), int(distinct), int(dead))


def figures(name: str, *, sent: int, committed: set[str], hub: Tally, began: float,
            counted_drops: set[str] | frozenset[str] = frozenset(), **extra: Any) -> int:
    """Print the test's figures; the number of committed records missing from the hub, apart from those
    the agent dropped at its disk cap and counted (`counted_drops`)."""
    lost = len(committed - hub.keys - counted_drops)
    more = "".join(f", {k.replace('_', ' ')} {v}" for k, v in extra.items())
    print(f"\nfaults/{name}: sent {sent}, committed {len(committed)}, in hub {len(hub.keys)}, lost {lost}, "
          f"duplicated {hub.duplicated}, time {time.monotonic() - began:.1f} s{more}")
    return lost


def snapshot(db_path: str | Path, skip: tuple[str, ...] = ()) -> dict[str, tuple[int, str]]:
    """Each table's row count and a SHA-256 of all its rows in primary-key order (sorted rows)."""
    out: dict[str, tuple[int, str]] = {}
    with closing(sqlite3.connect(db_path)) as conn:
        names = [n for (n,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        for name in names:
            if name in skip:
                continue
            rows = sorted(repr(r) for r in conn.execute(f"SELECT * FROM [{name}]"))  # names: sqlite_master
            digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]
            out[name] = (len(rows), digest)
    return out


def stop_hub(hub: Hub) -> str:
    """Stop an in-process hub: '' when it stopped cleanly, else the error it raised (printed by the fault
    tests; the broker-restart test asserts there is none)."""
    try:
        hub.stop()
    except RuntimeError as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""
