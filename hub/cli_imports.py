"""The import commands (import-pos, import-crm, import-staff), registered by hub/cli.py (kept apart: it
was past its size limit). Beside hub/cli.py, not in hub/imports/, whose package loads sqlite-utils.

Each runs with the loaded config (hub/cli.py's `run_with_config`); a ValueError is the user's error,
printed by hub/cli.py as one line, exit 1. Modules load inside the functions, as in hub/cli.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hub.config import HubConfig

PROG = "footfall-hub"


def _import(args: argparse.Namespace, config: HubConfig, kind: str, what: str) -> int:
    from hub.imports import ImportFileError, importer  # noqa: PLC0415 -- per-command import (docstring)
    from hub.store.engine import StoreError  # noqa: PLC0415 -- per-command import (docstring)
    from hub.store.sql import open_database  # noqa: PLC0415 -- per-command import (docstring)

    path = Path(args.file)
    if not path.is_file():
        raise ValueError(f"{args.file}: no such file (give the path of {what} in CSV)")
    try:
        db = open_database(config.database)
    except StoreError as exc:  # PostgreSQL unreachable or behind: one line with its remedy
        raise ValueError(f"{exc}; nothing was imported") from None
    try:
        result = importer(kind)(db, path, config, progress=sys.stderr.isatty())
    except ImportFileError as exc:
        raise ValueError(f"{exc} (nothing was imported; fix the file and run import-{kind} again)") from None
    finally:
        db.close()
    print(result.summary())
    return 0


def cmd_import_pos(args: argparse.Namespace, config: HubConfig) -> int:
    return _import(args, config, "pos", "a POS export")


def cmd_import_crm(args: argparse.Namespace, config: HubConfig) -> int:
    """Import, then send the agents the new member list (with a PKI: the gateway keys need its secret)."""
    from hub import optout  # noqa: PLC0415 -- per-command import (docstring)

    code = _import(args, config, "crm", "a CRM member export")
    if code == 0 and config.trust.pki_dir:
        try:
            sent = optout.publish(config)
        except optout.OptoutError as exc:
            print(f"{PROG}: warning: the members are imported; {exc} (then run: {PROG} optout publish)",
                  file=sys.stderr)
        else:
            print(f"published the opt-out and member lists to {sent} agents (retained config; they tag "
                  "members' visits)")
    return code


def cmd_import_staff(args: argparse.Namespace, config: HubConfig) -> int:
    return _import(args, config, "staff", "a staff schedule")


def add_commands(command: Any) -> None:
    """Register the import commands; `command(name, help)` is hub/cli.py's (it adds --config)."""
    for name, run, help_text in (
        ("import-pos", cmd_import_pos, "import POS transactions from CSV (store,timestamp,transaction_id,"
                                       "net_amount)"),
        ("import-crm", cmd_import_crm, "import CRM members from CSV; consented device MACs become member "
                                       "keys"),
        ("import-staff", cmd_import_staff, "import a staff schedule from CSV (store,date,hour,labour_hours)"),
    ):
        p = command(name, help_text)
        p.add_argument("file", metavar="FILE.csv")
        p.set_defaults(run_with_config=run)
