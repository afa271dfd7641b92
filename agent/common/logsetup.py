"""Where the agent's and the hub's logs go, and in what shape (`--log-format`).

- `journal` (what `auto` picks under systemd, which sets JOURNAL_STREAM to stderr's device:inode): one
  line per record with a `<N>` syslog priority prefix (sd-daemon(3)), so `journalctl -p warning` filters
  by level; no timestamp, journald stamps every line itself.
- `text` (what `auto` picks elsewhere): `time LEVEL logger: message` on stderr, for a terminal or procd's
  logread.
- `json`: one JSON object per line (`ts`, `level`, `logger`, `message`, and `exc` with a traceback), for
  a fleet's log shipper (Vector, Fluent Bit, Promtail) reading stderr or the journal.

Both CLIs call `setup()`; the hub may import this module of the agent (never the reverse).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from typing import TextIO

FORMATS = ("auto", "text", "journal", "json")
TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# syslog priorities (sd-daemon(3)): journald reads the <N> prefix of each line as the record's level
_PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}


class JournalFormatter(logging.Formatter):
    """`<priority>logger: message`; a traceback's lines follow with the same priority."""

    def format(self, record: logging.LogRecord) -> str:
        prio = _PRIORITY.get(record.levelno, 6 if record.levelno < logging.WARNING else 3)
        text = f"{record.name}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return "\n".join(f"<{prio}>{line}" for line in text.splitlines())


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts (ISO 8601 UTC, ms), level, logger, message[, exc]."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": self.formatTime(record), "level": record.levelname.lower(), "logger": record.name,
               "message": record.getMessage()}
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        from datetime import UTC, datetime  # noqa: PLC0415 -- only the json format needs it

        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace(
            "+00:00", "Z")


def under_journald(stream: TextIO = sys.stderr, env: Mapping[str, str] | None = None) -> bool:
    """True when `stream` is the journal's stream socket (systemd's JOURNAL_STREAM names it)."""
    value = (os.environ if env is None else env).get("JOURNAL_STREAM", "")
    try:
        dev, ino = (int(x) for x in value.split(":"))
        st = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


def setup(fmt: str = "auto", verbose: bool = False, stream: TextIO = sys.stderr) -> str:
    """Configure the root logger for `fmt`; returns the format chosen (auto resolved).

    Like logging.basicConfig, it leaves a root logger that already has handlers alone (an embedding
    program's, or pytest's), so calling main() twice in one process logs each line once."""
    if fmt == "auto":
        fmt = "journal" if under_journald(stream) else "text"
    root = logging.getLogger()
    if root.handlers:
        return fmt
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JournalFormatter() if fmt == "journal" else JsonFormatter() if fmt == "json"
                         else logging.Formatter(TEXT))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    return fmt
