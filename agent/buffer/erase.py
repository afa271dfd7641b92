"""Erasing an opted-out device from the outbox (issue 18): its visits and flags leave every batch that
nobody has seen yet.

A batch the sink has taken (to publish) may already be at the hub: rewriting it would make its resend a
second body under a stored seq, which the hub refuses as a replay. So only batches never handed to the
sink are rewritten, in place: same seq, same epoch, signed again; the hub deletes what reached it
before (the `erase` record, hub/ingest/erase.py). A batch left with no records stays, empty, so that the
seq keeps no gap.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from dataclasses import replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.wire import decode_envelope, encode_envelope
from agent.wire.topics import Topics

ERASABLE = ("visit", "device_flag")


def names(record: Any, devices: Collection[tuple[str, str]]) -> bool:
    """The record is a visit or flag of one of these (device key, key window)."""
    return record.type in ERASABLE and (record.device_key, record.key_window) in devices


def erase_batches(conn: sqlite3.Connection, topics: Topics, devices: Collection[tuple[str, str]], *,
                  skip: Collection[int], state: str, key: Ed25519PrivateKey | None) -> int:
    """Rewrite the batches in `state` whose seq is not in `skip` without the records that name
    `devices`; how many records went. The caller holds the outbox's lock and a transaction."""
    if not devices:
        return 0
    gone = 0
    for seq, payload in conn.execute("SELECT seq, payload FROM batches WHERE state = ?", [state]).fetchall():
        if int(seq) in skip:
            continue
        env = decode_envelope(topics.data, bytes(payload))
        kept = tuple(r for r in env.records if not names(r, devices))
        if len(kept) == len(env.records):
            continue
        new = encode_envelope(replace(env, records=kept, signature=None), key=key)
        conn.execute("UPDATE batches SET payload = ?, records_n = ?, bytes_n = ? WHERE seq = ?",
                     [new, len(kept), len(new), seq])
        gone += len(env.records) - len(kept)
    return gone
