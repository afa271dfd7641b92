"""Counters for machines (CONVENTIONS rule 6): what came in, what was stored, what was set aside and why."""

from __future__ import annotations

import threading
from collections import Counter


class Counters:
    """Thread-safe ingest counters; `snapshot()` is what the hub logs and will publish."""

    NAMES = (
        "received",
        "batches_stored",
        "records_stored",
        "duplicates",
        "dead_letters",
        "status_updates",
        "commits",
        "write_errors",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: Counter[str] = Counter()
        self._dead: Counter[str] = Counter()

    def add(self, **deltas: int) -> None:
        """Add to named counters (names from NAMES)."""
        with self._lock:
            for name, n in deltas.items():
                if name not in self.NAMES:
                    raise KeyError(f"unknown counter {name!r}")
                self._values[name] += n

    def dead_letter(self, reason: str, n: int = 1) -> None:
        """Count a payload set aside, by its reason (bad_json, schema_version, ...)."""
        with self._lock:
            self._values["dead_letters"] += n
            self._dead[reason] += n

    def __getitem__(self, name: str) -> int:
        with self._lock:
            return self._values[name]

    def dead_by_reason(self) -> dict[str, int]:
        with self._lock:
            return dict(self._dead)

    def snapshot(self) -> dict[str, int | dict[str, int]]:
        """Every counter, zeros included, and dead letters by reason."""
        with self._lock:
            out: dict[str, int | dict[str, int]] = {n: self._values[n] for n in self.NAMES}
            out["dead_letters_by_reason"] = dict(sorted(self._dead.items()))
            return out
