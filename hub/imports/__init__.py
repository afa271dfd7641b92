"""Imports of business data joined with footfall: a file in, rows in one transaction, all or nothing.

An importer validates the whole file before writing anything and raises ImportFileError naming the
file, line and column of the first bad row. Registry entries are import strings (CONVENTIONS rule 1).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Protocol

from hub.config import HubConfig
from hub.imports.base import ImportFileError, ImportResult
from hub.store.sql import Db

__all__ = ["IMPORTERS", "ImportFileError", "ImportResult", "Importer", "importer"]


class Importer(Protocol):
    """Import one file into the hub database, either engine; re-importing adds nothing."""

    def __call__(self, db: Db, path: Path, config: HubConfig, *, progress: bool = False) -> ImportResult: ...


IMPORTERS: dict[str, str] = {
    "pos": "hub.imports.pos:import_pos",  # point-of-sale transactions (CSV)
    "crm": "hub.imports.crm:import_crm",  # CRM members; consented device MACs become member keys (CSV)
    "staff": "hub.imports.staff:import_staff",  # labour hours per store-hour (CSV)
}


def importer(kind: str) -> Importer:
    """The importer registered as `kind`."""
    module, _, name = IMPORTERS[kind].partition(":")
    found: Importer = getattr(importlib.import_module(module), name)
    return found
