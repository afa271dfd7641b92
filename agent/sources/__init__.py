"""Frame sources: where (timestamp, frame bytes) batches come from.

The registry maps a source type (agent.yaml `source.type`) to an import string, so that scapy (about
0.6 s and 80 MB to import) loads only when live capture is chosen.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from typing import Any, Protocol

Batch = list[tuple[float, bytes]]

REGISTRY: dict[str, str] = {
    "pcap": "agent.sources.pcap_file:PcapFileSource",
    "live": "agent.sources.live:LiveSource",  # a monitor-mode interface, probe requests only
}


class Source(Protocol):
    """A source yields batches of frames until it ends or `stop` is set."""

    linktype: int
    counters: dict[str, int]
    problem: str | None  # a sentence for the operator when the source ended on damaged input

    def batches(self, stop: threading.Event) -> Iterator[Batch]:
        """Batches until the source ends or `stop` is set; a live source also yields empty ones when idle."""
        ...


def load(kind: str) -> type[Any]:
    """The source class registered under `kind` (imported only now)."""
    module, _, name = REGISTRY[kind].partition(":")
    cls: type[Any] = getattr(importlib.import_module(module), name)
    return cls
