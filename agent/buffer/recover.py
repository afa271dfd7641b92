"""A damaged outbox at start-up (a Pi's SD card): move it aside, begin a new epoch, raise an alert.

Detection is the Outbox's own (PRAGMA quick_check, or SQLite calling the file corrupt or not a database
while opening it). Recovery happens in-process before anything uses the file, so there is no restart
loop: a file damaged again right after is moved aside again and the agent still starts. The damaged
files are kept (`outbox.db.corrupt-<UTC time>`, with their -wal and -shm) for a person to look at; the
batches in them were not acknowledged by the hub, which shows their seqs as never-filled gaps.

The alert: the status counter `outbox_corrupt_recovered` (files set aside so far, persisted in the new
file) and one ERROR log line naming SQLite's finding, never a record's content.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.buffer.outbox import Outbox
from agent.buffer.sqlitefile import OutboxCorruptError, files

log = logging.getLogger(__name__)
CORRUPT_KEY = "corrupt_recovered"


def open_outbox(path: Path, org: str, store: str, agent: str, *, clock: Callable[[], float] = time.time,
                **options: Any) -> Outbox:
    """Open the outbox at `path`; a damaged one is moved aside and a new one (a new epoch) begun."""
    try:
        return Outbox(path, org, store, agent, **options)
    except OutboxCorruptError as exc:
        reason = " ".join(str(exc).split())  # one line: quick_check reports may span several
    aside = move_aside(Path(path), clock())
    box = Outbox(path, org, store, agent, **options)  # a second failure on a new file is not ours to hide
    box.set_meta(CORRUPT_KEY, str(len(set_aside(Path(path)))))
    log.error("outbox %s was damaged (%s); moved it aside to %s and began epoch %s; its unacknowledged "
              "batches did not reach the hub", Path(path).name, reason, aside.name, box.epoch)
    return box


def set_aside(path: Path) -> list[Path]:
    """The damaged files moved aside beside `path` so far (their -wal and -shm not counted)."""
    found = path.parent.glob(f"{path.name}.corrupt-*")
    return sorted(p for p in found if not p.name.endswith(("-wal", "-shm")))


def move_aside(path: Path, now: float) -> Path:
    """Rename the database and its -wal and -shm to `<name>.corrupt-<UTC time>[-n]`; the new name."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while any(p.exists() for p in files(aside)):
        n += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    for src, dst in zip(files(path), files(aside), strict=True):
        with contextlib.suppress(FileNotFoundError):
            os.replace(src, dst)
    _sync_dir(path.parent)
    return aside


def _sync_dir(folder: Path) -> None:
    """Make the renames durable before the new file is written (a power cut must not undo them)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
