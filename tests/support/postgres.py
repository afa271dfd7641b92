"""A throwaway PostgreSQL cluster for the tests and benchmarks: initdb and pg_ctl on a free loopback port
in a temporary folder, as the tests do for mosquitto.

initdb and postgres refuse to run as root (CI runs as root): then they run as the `postgres` user that
Debian's package creates, through runuser, in a folder that user owns (pytest's own tmp folders are
0700 root, so the cluster lives in a folder of its own under /tmp). Authentication is `trust` on
loopback only; nothing listens elsewhere.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from hub.localbroker import free_port

SERVICE_USER = "postgres"
SUPERUSER = "footfall"
TEMPLATE = "footfall_template"


def bin_dir() -> Path:
    """The newest installed PostgreSQL's bin folder (Debian keeps it off PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL is not installed (run ./run test, or: apt-get install postgresql)")
    return Path(initdb).parent


class LocalPostgres:
    """Start and stop one cluster; `url(db)` names a database in it."""

    def __init__(self, *, fsync: bool = False) -> None:
        """`fsync=False` for tests (a process crash loses nothing; only a power cut would); the benchmark
        passes True to measure what a hub really pays."""
        self.bin = bin_dir()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="footfall-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.fsync = fsync
        self._as: list[str] = []
        self._migrated = False
        if os.getuid() == 0:
            pw = pwd.getpwnam(SERVICE_USER)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self._as = ["runuser", "-u", SERVICE_USER, "--"]

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._as, *args], capture_output=True, text=True, check=False, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed: {done.stderr[-2000:]}{self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return "\n" + self.log.read_text()[-2000:]
        except OSError:
            return ""

    def start(self) -> LocalPostgres:
        if not self.data.exists():
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                      "-E", "UTF8", "--locale=C", "--no-sync")
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                   f"-c fsync={'on' if self.fsync else 'off'} -c max_connections=100")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
                  "-w", "-t", "60", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`immediate`: as if killed; it recovers from its WAL at the next start)."""
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, *, migrated: bool = False) -> str:
        """A new database, empty or (`migrated`) with the hub's schema, copied from a template migrated
        once per cluster (CREATE DATABASE ... TEMPLATE is a file copy: far faster than migrating); its URL."""
        import psycopg  # noqa: PLC0415 -- only the tests that use PostgreSQL load it

        name = f"t_{uuid.uuid4().hex[:12]}"
        template = f" TEMPLATE {self._template()}" if migrated else ""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}{template}".encode())  # names: uuid4 hex, not input
        return self.url(name)

    def _template(self) -> str:
        if not self._migrated:
            import psycopg  # noqa: PLC0415 -- as above

            from hub.store.postgres.migrate import apply  # noqa: PLC0415 -- as above

            with psycopg.connect(self.url(), autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {TEMPLATE}".encode())
            apply(self.url(TEMPLATE))
            self._migrated = True
        return TEMPLATE

    def drop_database(self, url: str) -> None:
        import psycopg  # noqa: PLC0415 -- as above

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
