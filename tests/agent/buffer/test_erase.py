"""An opt-out erases the device from the outbox file (issue 18): only batches nobody has taken yet."""

from __future__ import annotations

import stat
from pathlib import Path

from agent.buffer.outbox import Outbox
from agent.wire import Erase, MinuteCounts, Topics, Visit, decode_envelope, decode_signed
from agent.wire.signing import new_signing_key, verify

TOPICS = Topics("acme", "store-1", "gw-1")
T0 = 1_700_000_000.0
OPTED, OTHER = "aa" * 16, "bb" * 16


def visit(key: str) -> Visit:
    return Visit("2023-11-14T22:13:00Z", "2023-11-14T22:23:00Z", 600, 20, -50, "visitor", False, key,
                 "2023-11-14")


def test_an_erase_rewrites_queued_batches_without_the_device_same_seq_signed_again(tmp_path: Path) -> None:
    """Queued batches lose the opted-out device's visits (no byte of its key is left in the outbox's
    files), keep their seq and everything else, and still carry a valid signature; a batch already
    handed to the sink is left alone (it may be at the hub, which the erase record reaches)."""
    key = new_signing_key()
    box = Outbox(tmp_path / "outbox.db", TOPICS.org, TOPICS.store, TOPICS.agent, max_records_per_batch=3,
                 signing_key=key)
    minute = MinuteCounts("2023-11-14T22:13:00Z", 5, 2, True)
    assert box.append([visit(OPTED), minute, visit(OTHER)], T0) == [0]
    [taken] = box.due_batches(T0, 1, 30.0)  # the sink took seq 0
    assert box.append([visit(OPTED), visit(OTHER), minute], T0) == [1]
    assert box.erase({(OPTED, "2023-11-14")}) == 1
    batches = {b.seq: b.payload for b in box.due_batches(T0, 10, 30.0)}
    assert batches[0] == taken.payload
    env, signed = decode_signed(TOPICS.data, batches[1])
    assert [getattr(r, "device_key", None) for r in env.records] == [OTHER, None]
    assert signed is not None and verify(key.public_key(), signed, env.signature)
    assert decode_envelope(TOPICS.data, batches[1]).seq == 1
    box.acked(box.epoch, [0])
    box.checkpoint()
    box.close()
    files = [p for p in tmp_path.iterdir() if p.name.startswith("outbox.db")]
    assert all(OPTED.encode() not in p.read_bytes() for p in files)
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)


def test_the_erase_record_itself_is_queued_like_any_record(tmp_path: Path) -> None:
    """The erase record travels in a batch (the hub needs it); it is not erased by its own key."""
    box = Outbox(tmp_path / "outbox.db", TOPICS.org, TOPICS.store, TOPICS.agent)
    box.append([Erase(OPTED, "2023-11-14", "2023-11-14T23:00:00Z")], T0)
    assert box.erase({(OPTED, "2023-11-14")}) == 0
    [(_, payload)] = box.due(T0, 1, 30.0)
    [record] = decode_envelope(TOPICS.data, payload).records
    assert record == Erase(OPTED, "2023-11-14", "2023-11-14T23:00:00Z")
    box.close()
