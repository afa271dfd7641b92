"""A local mosquitto on a free loopback port, with its own config file: for the demo and the tests.

mosquitto 2 ignores `-p` when the config has a listener, and drops privileges to user `mosquitto`
when started as root: the config names the port and `user root` keeps it able to write its own files.
"""

from __future__ import annotations

__all__ = ["LocalBroker", "free_port"]

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import IO


def free_port() -> int:
    """A TCP port that is free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalBroker:
    """Start, stop and restart one broker; `port` stays the same across restarts."""

    def __init__(self, workdir: Path, port: int | None = None, persistence: bool = False,
                 extra: str = "", conf: Path | None = None) -> None:
        """`conf`: run on this config (e.g. broker-config's TLS one, listening on `port`) instead."""
        self.binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.workdir = workdir
        self.port = port or free_port()
        self.conf = conf or workdir / "mosquitto.conf"
        self.log = workdir / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_fh: IO[bytes] | None = None
        if conf is not None:
            return
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            "user root",
            f"persistence {'true' if persistence else 'false'}",
            f"persistence_location {workdir}/",
            "max_queued_messages 100000",
            "log_dest stderr",
            extra,
        ]
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self) -> LocalBroker:
        self._log_fh = self.log.open("ab")
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=self._log_fh)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening within 10 s")

    def stop(self, kill: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None

    def restart(self) -> None:
        self.stop()
        self.start()
