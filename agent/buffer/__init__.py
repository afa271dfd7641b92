"""The buffer stage: batches wait here, durable, until the hub acks their commit (docs/reliability.md).

`BUFFERS` is the registry: import strings, so choosing a buffer imports only that one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from agent.wire import Record

BUFFERS: dict[str, str] = {
    "sqlite": "agent.buffer.outbox:Outbox",  # SQLite file, WAL, one transaction per append
}


class Buffer(Protocol):
    """What the composition root and a sink rely on from a buffer."""

    epoch: str

    def append(self, records: Sequence[Record], now: float) -> list[int]: ...
    def due(self, now: float, limit: int, resend_after_s: float) -> list[tuple[int, bytes]]: ...
    def mark_sent(self, seqs: Sequence[int], now: float) -> None: ...
    def acked(self, epoch: str, seqs: Sequence[int]) -> int: ...
    def backlog(self) -> int: ...
    def save_state(self, name: str, value: dict[str, Any]) -> None: ...
    def load_state(self, name: str) -> dict[str, Any] | None: ...
    def close(self) -> None: ...
