"""The leader lease: of several hub workers exactly one runs the singletons, and a dead leader's lease
passes to another worker without anyone cleaning up after it."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from hub.config import DatabaseConfig
from hub.leader import Elector, FileLease
from hub.store.engine import open_store
from tests.hub.support import wait_for

HOLD = "import sys, time; from hub.leader import FileLease; assert FileLease(sys.argv[1]).acquire(); " \
       "print('held', flush=True); time.sleep(60)"


def test_a_file_lease_is_held_by_one_worker_at_a_time(tmp_path: Path) -> None:
    """Two workers on one database: the second cannot take the lease until the first gives it up."""
    first, second = FileLease(tmp_path / "hub.db.leader"), FileLease(tmp_path / "hub.db.leader")
    assert first.acquire()
    assert not second.acquire()
    assert not second.held()
    first.release()
    assert second.acquire()
    assert second.held()
    second.release()


def test_a_lease_of_a_worker_killed_with_kill_9_is_free_at_once(tmp_path: Path) -> None:
    """A leader killed -9 leaves no stale lock: the kernel drops its flock, another worker takes over."""
    path = tmp_path / "hub.db.leader"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"held\n"
        assert not FileLease(path).acquire()
    finally:
        proc.kill()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    successor = FileLease(path)
    assert successor.acquire()
    successor.release()


def test_only_the_elected_worker_runs_the_singletons_and_the_other_takes_over(
        hub_database: DatabaseConfig) -> None:
    """The metrics publisher runs in one worker; when that worker stops, another starts it within a poll:
    with the store's lease on either engine (a file lock beside SQLite, an advisory lock on PostgreSQL)."""
    running: list[str] = []
    lock = threading.Lock()

    def worker(name: str) -> Elector:
        def elected() -> None:
            with lock:
                running.append(name)

        def deposed() -> None:
            with lock:
                running.remove(name)

        return Elector(open_store(hub_database).lease(), elected, deposed, poll_s=0.05)

    a = worker("a").start()
    b = worker("b").start()
    try:
        assert running == ["a"]
        assert a.leader and not b.leader
        a.stop()
        assert wait_for(lambda: running == ["b"], 5)
        assert b.leader
    finally:
        a.stop()
        b.stop()
    assert running == []


def test_a_worker_whose_singletons_fail_to_start_gives_the_lease_back(tmp_path: Path) -> None:
    """Elected while the broker refuses the publisher: the lease is released so that it can be retried,
    rather than held by a worker that runs nothing."""
    attempts: list[int] = []

    def elected() -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("broker refused")

    elector = Elector(FileLease(tmp_path / "lease"), elected, lambda: None, poll_s=0.3).start()
    try:
        assert not elector.leader
        other = FileLease(tmp_path / "lease")
        assert other.acquire()  # given back at once (the next poll is 0.3 s away)
        other.release()
        assert wait_for(lambda: elector.leader, 5)
        assert len(attempts) == 3
    finally:
        elector.stop()
