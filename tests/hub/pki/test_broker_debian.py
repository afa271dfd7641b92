"""broker-config's output under Debian's mosquitto as shipped: started as root, it runs as the
`mosquitto` user (which the Debian package creates), reads its TLS files, keeps its persistence file."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.brokerconf import write_broker_config
from hub.localbroker import LocalBroker, free_port
from tests.hub.pki.support import Chain, Peer


def _mosquitto_user() -> pwd.struct_passwd:
    if os.geteuid() != 0:
        pytest.skip("needs root: mosquitto drops to its own user only when started as root (CI runs as root)")
    try:
        return pwd.getpwnam("mosquitto")
    except KeyError:
        pytest.skip("no mosquitto user: apt-get install mosquitto creates it (./run does)")


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A folder the mosquitto user can reach (pytest's tmp_path is closed to other users, like a PKI)."""
    path = Path(tempfile.mkdtemp(prefix="footfall-broker-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


def _uid(pid: int) -> int:
    line = next(li for li in Path(f"/proc/{pid}/status").read_text().splitlines() if li.startswith("Uid:"))
    return int(line.split()[1])


def test_the_broker_runs_as_the_mosquitto_user_with_tls_and_persistence(chain: Chain, public_dir: Path,
                                                                        tmp_path: Path) -> None:
    """Started as root on broker-config's output (no `user root`), mosquitto runs as `mosquitto`, admits
    the hub with its certificate (so it read the key the PKI folder keeps closed to it) and writes its
    persistence file on stop; the CA key is never copied out of the PKI folder."""
    user = _mosquitto_user()
    assert stat.S_IMODE(chain.ca.folder.stat().st_mode) == 0o700
    port = free_port()
    files = write_broker_config(chain.ca.folder, public_dir / "broker", port=port, bind="127.0.0.1")
    assert "\nuser " not in files.conf.read_text()
    key = public_dir / "broker" / "tls" / "server.key"
    assert (stat.S_IMODE(key.stat().st_mode), key.stat().st_gid) == (0o640, user.pw_gid)
    assert not list((public_dir / "broker").rglob("ca.key"))
    broker = LocalBroker(tmp_path, port, conf=files.conf).start()
    try:
        assert broker.proc is not None and _uid(broker.proc.pid) == user.pw_uid
        hub = Peer("hub", port, chain.ca_file, chain.hub)
        try:
            assert hub.subscribe("footfall/v1/+/+/+/data") == 1
        finally:
            hub.close()
    finally:
        broker.stop()
    saved = public_dir / "broker" / "data" / "mosquitto.db"
    assert saved.exists() and saved.stat().st_uid == user.pw_uid
