"""The outbox: identity (epoch, seq), states, acks, durability of one append, two threads."""

from __future__ import annotations

import re
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.buffer.outbox import PRIORITY_AGGREGATE, RESEND_BACKOFF_MAX, Outbox
from agent.wire import MinuteCounts, Topics, Visit, decode_envelope

T0 = 1_700_000_000.0
TOPICS = Topics("acme", "store-1", "gw-1")


def counts(n: int, start: int = 0) -> list[MinuteCounts]:
    return [MinuteCounts("2023-11-14T22:13:00Z", i, i % 7, True) for i in range(start, start + n)]


def open_outbox(path: Path, synchronous: str = "FULL", max_records_per_batch: int = 500) -> Outbox:
    return Outbox(path, TOPICS.org, TOPICS.store, TOPICS.agent, synchronous=synchronous,
                  max_records_per_batch=max_records_per_batch)


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    """A fresh outbox file with small batches."""
    box = open_outbox(tmp_path / "outbox.db", max_records_per_batch=10)
    yield box
    box.close()


def test_append_splits_into_batches_with_gap_free_seqs(outbox: Outbox) -> None:
    """A list of records becomes batches of at most max_records_per_batch, numbered 0, 1, 2, ..."""
    assert outbox.append(counts(25), T0) == [0, 1, 2]
    assert outbox.append(counts(1), T0) == [3]
    assert outbox.append([], T0) == []
    assert outbox.backlog() == 4
    sizes = [len(decode_envelope(TOPICS.data, p).records) for _, p in outbox.due(T0, 10, 30)]
    assert sizes == [10, 10, 5, 1]


def test_seq_continues_after_everything_is_acked_and_the_file_reopened(tmp_path: Path) -> None:
    """The hub dedups on (epoch, seq): a seq is never reused, even once every batch is acked and gone."""
    path = tmp_path / "outbox.db"
    box = open_outbox(path)
    assert box.append(counts(3), T0) == [0]
    assert box.append(counts(3), T0) == [1]
    assert box.acked(box.epoch, [0, 1]) == 2
    box.close()
    box = open_outbox(path)
    assert box.backlog() == 0
    assert box.append(counts(3), T0) == [2]
    box.close()


def test_epoch_is_stable_across_reopen_and_new_for_a_new_file(tmp_path: Path) -> None:
    """A restart keeps the epoch (the hub keeps deduplicating); a new file (wiped gateway) gets a new one."""
    first = open_outbox(tmp_path / "a.db")
    epoch = first.epoch
    first.close()
    again = open_outbox(tmp_path / "a.db")
    other = open_outbox(tmp_path / "b.db")
    assert re.fullmatch(r"[0-9a-f]{16}", epoch)
    assert again.epoch == epoch
    assert other.epoch != epoch
    again.close()
    other.close()


def test_payloads_are_envelopes_the_hub_decodes(tmp_path: Path) -> None:
    """Each stored payload is the exact wire envelope: our ids, our epoch, its seq, the records given."""
    outbox = open_outbox(tmp_path / "o.db")
    visit = Visit("2023-11-14T22:00:00Z", "2023-11-14T22:10:00Z", 600, 12, -51, "visitor", False,
                  "0" * 32, "w-1")
    outbox.append([visit, *counts(2)], T0)
    outbox.append(counts(400), T0)  # large enough to be zlib-compressed
    due = outbox.due(T0, 100, 30)
    envs = [decode_envelope(TOPICS.data, p) for _, p in due]
    assert [e.seq for e in envs] == [s for s, _ in due]
    assert {e.epoch for e in envs} == {outbox.epoch}
    assert envs[0].records == (visit, *counts(2))
    assert envs[0].sent_at == "2023-11-14T22:13:20Z"
    assert any(p[:1] == b"\x78" for _, p in due)
    assert sum(len(e.records) for e in envs[1:]) == 400
    outbox.close()


def test_acked_deletes_only_batches_of_our_epoch(outbox: Outbox) -> None:
    """An ack from another epoch (an old, wiped outbox) never deletes a batch; unknown seqs are ignored."""
    outbox.append(counts(30), T0)
    assert outbox.acked("0123456789abcdef", [0, 1, 2]) == 0
    assert outbox.backlog() == 3
    assert outbox.acked(outbox.epoch, [1, 1, 99]) == 1
    assert [s for s, _ in outbox.due(T0, 10, 30)] == [0, 2]


def test_sent_batches_wait_for_the_hub_then_are_due_again(outbox: Outbox) -> None:
    """A PUBACKed batch is not resent at once, but is resent if the hub has not acked it in time."""
    outbox.append(counts(40), T0)
    outbox.mark_sent([0, 1], T0)
    assert [s for s, _ in outbox.due(T0 + 1, 10, 30)] == [2, 3]
    assert [s for s, _ in outbox.due(T0 + 30, 10, 30)] == [0, 1, 2, 3]
    assert [s for s, _ in outbox.due(T0 + 30, 3, 30)] == [0, 1, 2]
    assert outbox.next_resend_at(30) == T0 + 30
    assert outbox.next_resend_at(30, exclude={0, 1}) is None
    assert outbox.states() == {"queued": 2, "sent": 2}
    assert outbox.backlog() == 4  # sent is not delivered: only the hub's ack deletes


def test_each_resend_of_a_batch_waits_twice_as_long_up_to_the_cap(outbox: Outbox) -> None:
    """A hub that is slow, not gone, is not sent the same batch every resend_after_s: 30 s, 60 s, 120 s,
    then 240 s at most between resends of one batch; a batch sent once still waits only 30 s."""
    outbox.append(counts(20), T0)  # seqs 0 and 1
    waits = []
    at = T0
    for _ in range(6):
        outbox.mark_sent([0], at)
        due_at = outbox.next_resend_at(30, exclude={1})
        assert due_at is not None
        assert [s for s, _ in outbox.due(due_at - 1, 10, 30)] == [1]  # not before its time
        assert [s for s, _ in outbox.due(due_at, 10, 30)] == [0, 1]
        waits.append(due_at - at)
        at = due_at
    assert waits == [30, 60, 120, 240, 240, 240]
    for _ in range(70):  # a hub that never acks: still 240 s apart after 76 resends
        outbox.mark_sent([0], at)
    assert outbox.next_resend_at(30, exclude={1}) == at + 240
    outbox.mark_sent([1], at)
    assert outbox.next_resend_at(30, exclude={0}) == at + 30


def test_a_clock_that_went_back_does_not_strand_sent_batches(outbox: Outbox) -> None:
    """Without an RTC the clock may jump back after NTP: a batch 'sent in the future' is due, not stuck."""
    outbox.append(counts(1), T0)
    outbox.mark_sent([0], T0 + 86_400)
    assert [s for s, _ in outbox.due(T0, 10, 30)] == [0]


def test_a_failed_append_stores_nothing_and_uses_no_seq(outbox: Outbox) -> None:
    """One transaction per append: a failure mid-way leaves no partial batches and no gap in seq."""
    bad = MinuteCounts("2023-11-14T22:13:00Z", object(), 0, True)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        outbox.append([*counts(15), bad], T0)
    assert outbox.backlog() == 0
    assert outbox.append(counts(1), T0) == [0]


def test_settings_are_applied_and_checked(tmp_path: Path) -> None:
    """The file is WAL with the configured synchronous level; a wrong level is refused, not ignored."""
    box = open_outbox(tmp_path / "o.db", synchronous="normal")
    with sqlite3.connect(tmp_path / "o.db") as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 1
    box.close()
    with pytest.raises(ValueError, match="synchronous must be one of OFF, NORMAL, FULL, EXTRA, not 'fast'"):
        open_outbox(tmp_path / "p.db", synchronous="fast")


def test_batches_carry_their_drop_priority(outbox: Outbox) -> None:
    """Counts and visits are stored as aggregates, so the disk cap drops raw data before them."""
    outbox.append(counts(3), T0)
    rows = outbox._db.execute("SELECT priority, records_n, bytes_n > 0 FROM batches").fetchall()
    assert rows == [(PRIORITY_AGGREGATE, 3, 1)]


def test_state_store_survives_a_restart(tmp_path: Path) -> None:
    """Stages save their state for a restart; the last save wins and an unknown name is None."""
    box = open_outbox(tmp_path / "o.db")
    box.save_state("sessionize", {"open": [1, 2]})
    box.save_state("sessionize", {"open": [3]})
    box.close()
    box = open_outbox(tmp_path / "o.db")
    assert box.load_state("sessionize") == {"open": [3]}
    assert box.load_state("nothing") is None
    box.close()
    with pytest.raises(RuntimeError, match="closed"):
        box.backlog()


def test_two_threads_append_and_ack_concurrently(outbox: Outbox) -> None:
    """The pipeline thread appends while the sink thread marks and acks: no error, no lost or double seq."""
    appended: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def pipeline() -> None:
        try:
            for _ in range(200):
                appended.extend(outbox.append(counts(12), T0))
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def sink() -> None:
        try:
            while not (done.is_set() and outbox.backlog() == 0):
                seqs = [s for s, _ in outbox.due(T0, 16, 30)]
                outbox.mark_sent(seqs, T0)
                outbox.acked(outbox.epoch, seqs)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=pipeline), threading.Thread(target=sink)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert appended == list(range(400))
    assert outbox.backlog() == 0


Op = tuple[str, int, list[int]]  # (kind, records to append, seqs to mark or ack)
ops = st.lists(
    st.tuples(st.sampled_from(["append", "ack", "sent", "reopen"]), st.integers(0, 25),
              st.lists(st.integers(0, 60), max_size=6)),
    max_size=30,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=ops)
def test_any_interleaving_keeps_seqs_unique_and_backlog_exact(tmp_path: Path, ops: list[Op]) -> None:
    """Whatever mix of appends, marks, acks and restarts: seqs are 0..n-1 once each, backlog is exact."""
    path = tmp_path / f"prop-{uuid.uuid4().hex}.db"
    box = open_outbox(path, max_records_per_batch=10)
    epoch = box.epoch
    issued: list[int] = []
    pending: set[int] = set()
    try:
        for kind, n, seqs in ops:
            if kind == "append":
                new = box.append(counts(n), T0)
                assert len(new) == -(-n // 10)
                issued.extend(new)
                pending.update(new)
            elif kind == "ack":
                assert box.acked(epoch, seqs) == len(pending & set(seqs))
                pending -= set(seqs)
            elif kind == "sent":
                box.mark_sent(seqs, T0)
            else:
                box.close()
                box = open_outbox(path, max_records_per_batch=10)
                assert box.epoch == epoch
            assert box.backlog() == len(pending)
        assert issued == list(range(len(issued)))
        assert sorted(s for s, _ in box.due(T0 + 30 * RESEND_BACKOFF_MAX, 10_000, 30)) == sorted(pending)
    finally:
        box.close()
