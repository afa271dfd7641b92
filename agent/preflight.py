"""The checks `run` makes before anything connects, written once: `check-config` runs exactly these.

A config can be valid YAML and still not run: a state_dir that is a file, a capture that is not one, a
missing TLS file or signing key. `run` used to find those out later (some with a traceback) while
`check-config` said ok. Each problem here is one line naming the file; nothing touches the network.
`run` checks its source by opening it (the same `check_interface` or CaptureFile, then the capture
socket, which needs CAP_NET_RAW) and passes `source=False`; `check-config` checks it without opening.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.common.tlsfiles import EnrollError, check_plain, client_context
from agent.config import AgentConfig
from agent.sources.capture_file import CaptureError
from agent.sources.ifaces import check_interface
from agent.sources.pcap_file import PcapFileSource
from agent.wire.signing import load_signing_key


@dataclass(frozen=True)
class Checked:
    """What the checks loaded, for `run` to use: the TLS context (None: plain) and the signing key."""

    tls: ssl.SSLContext | None
    signing_key: Any


def preflight(config: AgentConfig, *, source: bool = True) -> Checked:
    """Every check `run` makes before it connects; EnrollError (TLS, keys, state folder), CaptureError or
    LiveSourceError (the source) with one line naming the file and the fix."""
    check_state_dir(config.state_path)
    if source and config.source.type == "live":
        check_interface(config.source.interface)
    elif source:
        if not config.source.path:
            raise CaptureError("source.path is empty: give the capture file for source.type pcap (or, on a "
                               "gateway, source.type live with source.interface)")
        PcapFileSource(config.source.path).capture.close()  # not a capture, not 802.11: CaptureError
    tls = config.mqtt.tls.paths(config.state_path)
    if tls is None:
        try:
            check_plain(config.mqtt.host, config.mqtt.allow_plain_loopback)
        except ValueError as exc:
            raise EnrollError(str(exc)) from None
    return Checked(client_context(*tls) if tls else None, signing_key(config))


def check_state_dir(path: Path) -> None:
    """The state folder is a folder this user may write in, or can be made."""
    if path.exists():
        if not path.is_dir():
            raise EnrollError(f"state_dir {path} is a file, not a folder (move it aside or set state_dir)")
        if not os.access(path, os.W_OK | os.X_OK):
            raise EnrollError(f"state_dir {path} is not writable by this user (chown it to the agent's user)")
        return
    parent = next((p for p in path.parents if p.exists()), Path("."))
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise EnrollError(f"state_dir {path} cannot be made: {parent} is not a writable folder")


def signing_key(config: AgentConfig) -> Any:
    """The batch-signing key of mqtt.signing_key_file, or None (unsigned, development)."""
    name = config.mqtt.signing_key_file
    if not name:
        return None
    path = config.state_path / name
    try:
        return load_signing_key(path)
    except FileNotFoundError:
        raise EnrollError(f"{path} is missing (run footfall-agent enroll --dir {config.state_path}; "
                          "signing_key_file: '' sends unsigned batches, for development)") from None
    except OSError as exc:
        raise EnrollError(f"{path}: cannot read: {exc.strerror} (enroll again with --new-key)") from None
    except ValueError as exc:
        raise EnrollError(f"{path}: not a signing key: {str(exc)[:120]} (enroll again with --new-key)") \
            from None
