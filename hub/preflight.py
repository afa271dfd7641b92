"""The checks `serve` makes before it connects, written once: `check-config` runs exactly these.

Plain MQTT only to loopback with the flag, TLS files that load, signatures with a PKI folder, and a
database file that is SQLite (or can be made). Each problem is one ConfigError line naming the file;
nothing touches the network.
"""

from __future__ import annotations

import os
from pathlib import Path

from agent.common.tlsfiles import EnrollError, check_plain, client_context
from hub.config import ConfigError, HubConfig

SQLITE_MAGIC = b"SQLite format 3\0"


def preflight(config: HubConfig, *, tls: bool = True) -> None:
    """Every check `serve` makes before it starts; ConfigError (one line) on the first problem. `serve`
    passes tls=False: its MQTT client loads the same files with the same function a moment later (and
    says BrokerUnavailableError, as a TLS problem at the broker would)."""
    mqtt, trust = config.mqtt, config.trust
    try:
        if mqtt.tls.ca_file and tls:
            client_context(mqtt.tls.ca_file, mqtt.tls.cert_file, mqtt.tls.key_file,
                           remedy="make them with footfall-hub pki issue-service hub")
        elif not mqtt.tls.ca_file:
            check_plain(mqtt.host, mqtt.allow_plain_loopback)
    except (ValueError, EnrollError) as exc:
        raise ConfigError(str(exc)) from None
    if trust.problem():
        raise ConfigError(str(trust.problem()))
    if trust.pki_dir and not Path(trust.pki_dir).is_dir():
        raise ConfigError(f"trust.pki_dir {trust.pki_dir} is not a folder (footfall-hub pki init makes it)")
    if config.database.engine == "sqlite":  # a server's database is checked by serve's store (StoreError)
        check_database(Path(config.database.path))


def check_database(path: Path) -> None:
    """The database is an SQLite file this user may write, or can be made in its folder."""
    if path.exists():
        if not path.is_file():
            raise ConfigError(f"database.path {path} is not a file")
        try:
            with path.open("rb") as fh:
                head = fh.read(len(SQLITE_MAGIC))
        except OSError as exc:
            raise ConfigError(f"database.path {path}: cannot read: {exc.strerror}") from None
        if head and head != SQLITE_MAGIC:
            raise ConfigError(f"database.path {path} is not an SQLite database (a wrong path?)")
        if not os.access(path, os.W_OK):
            raise ConfigError(f"database.path {path} is not writable by this user")
        return
    parent = path.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"database.path {path} cannot be made: {parent} is not a writable folder")
