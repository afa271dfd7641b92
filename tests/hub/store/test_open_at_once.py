"""Several commands opening one new hub database at the same moment (a cron import beside serve)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

OPEN = "import sys; from hub.store import open_db; open_db(sys.argv[1]).close()"


def test_processes_opening_a_new_database_at_once_all_get_it(tmp_path: Path) -> None:
    """Six processes open (and so create) the same new database at once: each waits for the others'
    schema instead of failing with "database is locked", and the schema is made once."""
    path = tmp_path / "hub.db"
    procs = [subprocess.Popen([sys.executable, "-c", OPEN, str(path)], stderr=subprocess.PIPE, text=True)
             for _ in range(6)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, errors
