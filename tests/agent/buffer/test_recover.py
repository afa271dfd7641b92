"""A damaged outbox at start-up (a Pi's SD card): set aside, a new epoch, an alert, and no restart loop."""

from __future__ import annotations

import logging
import os
import random
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.buffer.outbox import Outbox
from agent.buffer.recover import open_outbox, set_aside
from agent.buffer.sqlitefile import OutboxCorruptError
from tests.agent.buffer.records import T0, TOPICS, open_box, visits

NOON = 1_795_000_000.0  # 2026-11-18T11:06:40Z


def _filled(path: Path) -> tuple[str, list[str]]:
    """An outbox holding a few batches, closed; its epoch and the device keys it holds."""
    box = open_box(path, max_records_per_batch=20)
    recs = visits(random.Random(1), 200)
    box.append(recs, T0)
    epoch = box.epoch
    box.close()
    return epoch, [str(v.device_key) for v in recs]


def _garbage(path: Path) -> None:
    with path.open("r+b") as f:
        f.write(os.urandom(4096))


def _truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _open(path: Path) -> Outbox:
    return open_outbox(path, TOPICS.org, TOPICS.store, TOPICS.agent, clock=lambda: NOON)


@pytest.mark.parametrize("damage", [_garbage, _truncate], ids=["garbage-over-the-header", "truncated"])
def test_a_damaged_file_is_moved_aside_and_a_new_epoch_begins(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: Callable[[Path], None]) -> None:
    """The agent starts on a damaged outbox: the file is kept aside for a person, a new epoch begins (the hub
    never confuses the two), the status counter raises the alert, and the log line holds no device key."""
    path = tmp_path / "outbox.db"
    epoch, keys = _filled(path)
    damage(path)
    with pytest.raises(OutboxCorruptError):
        open_box(path).close()
    with caplog.at_level(logging.ERROR, logger="agent.buffer.recover"):
        box = _open(path)
    assert box.epoch != epoch
    assert box.backlog() == 0
    assert box.counters()["outbox_corrupt_recovered"] == 1
    assert set_aside(path) == [tmp_path / "outbox.db.corrupt-20261118T110640Z"]
    assert box.append(visits(random.Random(2), 3), T0) == [0]
    [record] = caplog.records
    assert record.getMessage().startswith("outbox outbox.db was damaged (")
    assert record.getMessage().endswith(f"moved it aside to outbox.db.corrupt-20261118T110640Z and "
                                        f"began epoch {box.epoch}; its unacknowledged batches did not reach "
                                        "the hub")
    assert not any(k in record.getMessage() for k in keys)
    box.close()


def test_a_second_corruption_right_after_still_starts(tmp_path: Path) -> None:
    """No restart loop: damaged again at once (same second), the agent still starts, with a third epoch,
    both damaged files kept under distinct names, and the counter at 2 (it survives a restart)."""
    path = tmp_path / "outbox.db"
    first, _ = _filled(path)
    _garbage(path)
    box = _open(path)
    second = box.epoch
    box.close()
    _garbage(path)
    box = _open(path)
    assert len({first, second, box.epoch}) == 3
    assert [p.name for p in set_aside(path)] == ["outbox.db.corrupt-20261118T110640Z",
                                                 "outbox.db.corrupt-20261118T110640Z-2"]
    box.close()
    again = _open(path)
    assert again.counters()["outbox_corrupt_recovered"] == 2
    again.close()


def test_a_healthy_file_keeps_its_epoch_and_raises_no_alert(tmp_path: Path) -> None:
    """A normal restart is not a recovery: same epoch, same batches, nothing set aside, counter 0."""
    path = tmp_path / "outbox.db"
    epoch, _ = _filled(path)
    box = _open(path)
    assert (box.epoch, box.backlog(), box.counters()["outbox_corrupt_recovered"]) == (epoch, 10, 0)
    assert set_aside(path) == []
    box.close()


def test_an_unopenable_path_is_an_error_not_a_corruption(tmp_path: Path) -> None:
    """Only SQLite's "corrupt" and "not a database" move a file aside; any other failure (here a folder
    where the file should be; a lock or an I/O error alike) is raised, and nothing is moved."""
    path = tmp_path / "outbox.db"
    path.mkdir()
    with pytest.raises(sqlite3.OperationalError, match="unable to open database file"):
        _open(path)
    assert path.is_dir()
    assert set_aside(path) == []
