"""`footfall-hub users` (the live page's accounts) and `footfall-hub live --store S` (the back office)."""

from __future__ import annotations

import io
import socket
import time
from pathlib import Path

import pytest

from agent.wire.records import iso
from hub.cli import main
from hub.config import DatabaseConfig
from hub.store.sql import open_database
from tests.hub.live.support import insert
from tests.hub.support import query
from tests.support.mosquitto import Mosquitto

PRESENCE_SQL = (
    "INSERT INTO presence (org, store, agent, epoch, seq, idx, taken_at, present_n, entered_n, new_n,"
    " recent_s, taken_epoch_s) VALUES ('acme', 'brno-1', ?, 'e', ?, 0, ?, ?, ?, ?, 300, ?)"
)


def _yaml(tmp_path: Path, database: DatabaseConfig | None = None) -> Path:
    """A hub.yaml on the test's database: hub.db beside it, or the PostgreSQL URL of `database`."""
    where = f"{{url: '{database.url}'}}" if database and database.engine == "postgresql" else "{path: hub.db}"
    path = tmp_path / "hub.yaml"
    path.write_text(f"version: 1\ndatabase: {where}\ndefault_timezone: Europe/Prague\n"
                    "groups: {south: [brno-1, brno-2]}\n"
                    "stores: {brno-1: {calibration_factor: 2.0}}\n")
    return path


def _database(tmp_path: Path, hub_database: DatabaseConfig) -> DatabaseConfig:
    """The database the yaml names (SQLite: hub.db beside it, made here)."""
    if hub_database.engine == "sqlite":
        hub_database = DatabaseConfig(path=str(tmp_path / "hub.db"))
    open_database(hub_database).close()
    return hub_database


def test_users_are_added_listed_and_removed(
    tmp_path: Path, hub_database: DatabaseConfig, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """`users add NAME --role manager --store S --password-stdin` stores the user with a scrypt hash;
    `users list` shows name, role and scope; mistakes are one line with the remedy, exit 1."""
    config = str(_yaml(tmp_path, hub_database))
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    assert main(["users", "add", "anna", "--role", "manager", "--store", "brno-1", "--password-stdin",
                 "--config", config]) == 0
    assert capsys.readouterr().out == "user anna added: manager of brno-1 (password kept as a scrypt hash)\n"
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    assert main(["users", "add", "olga", "--role", "area", "--group", "south", "--password-stdin",
                 "--config", config]) == 0
    capsys.readouterr()
    assert main(["users", "list", "--config", config]) == 0
    assert capsys.readouterr().out == "anna\tmanager\tbrno-1\nolga\tarea\tsouth\n"
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "add", "tom", "--role", "staff", "--store", "brno-1", "--password-stdin",
                 "--config", config]) == 1
    assert capsys.readouterr().err == "footfall-hub: error: the password is shorter than 10 characters\n"
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    assert main(["users", "add", "tom", "--role", "area", "--group", "north", "--password-stdin",
                 "--config", config]) == 1
    assert capsys.readouterr().err == ("footfall-hub: error: --group 'north' is not a group of the config"
                                       " (groups: in hub.yaml)\n")
    assert main(["users", "remove", "bob", "--config", config]) == 1
    assert capsys.readouterr().err == ("footfall-hub: error: there is no user 'bob' (see: footfall-hub users"
                                       " list)\n")
    assert main(["users", "remove", "anna", "--config", config]) == 0
    assert capsys.readouterr().out == "user anna removed and signed out\n"
    assert query(_database(tmp_path, hub_database), "SELECT name FROM users") == [("olga",)]


def test_live_prints_the_stores_figures(
    tmp_path: Path, hub_database: DatabaseConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    """`live --store S --once` draws one frame: people now (x the calibration factor, with the
    interval), entries this hour and today, from the rows the hub committed today."""
    config = str(_yaml(tmp_path, hub_database))
    db = open_database(_database(tmp_path, hub_database))
    now = time.time()
    insert(db, "presence", PRESENCE_SQL, [("gw-1", 0, iso(now - 30), 5, 5, 9, int(now - 30)),
                                          ("gw-1", 1, iso(now - 10), 6, 2, 3, int(now - 10))])
    db.close()
    assert main(["live", "--store", "brno-1", "--once", "--config", config]) == 0
    out = capsys.readouterr().out
    lines = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") >= 3}
    assert "12" in lines["people in the store now"]  # 6 devices x 2.0
    assert " 7 " in lines["entries today"] and "(wifi)" in lines["entries today"]
    assert "members arriving" in out


def test_live_without_a_database_says_to_start_the_hub(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before the hub ever ran there is nothing to show: one line saying what to do, exit 1."""
    assert main(["live", "--store", "brno-1", "--once", "--config", str(_yaml(tmp_path))]) == 1
    err = capsys.readouterr().err
    assert err.startswith("footfall-hub: error: ") and err.endswith(
        "hub.db: no hub database yet (run footfall-hub serve first)\n")


def test_serve_says_when_the_live_page_port_is_taken(
    tmp_path: Path, mosquitto: Mosquitto, capsys: pytest.CaptureFixture[str]
) -> None:
    """`serve --http` on a port another program holds stops with one line naming the setting, exit 1,
    and nothing left running."""
    path = tmp_path / "hub.yaml"
    path.write_text(f"version: 1\nmqtt: {{port: {mosquitto.port}, allow_plain_loopback: true}}\n"
                    "database: {path: hub.db}\ntrust: {require_signatures: false}\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--config", str(path), "--http", f"127.0.0.1:{port}"]) == 1
    assert capsys.readouterr().err == (
        f"footfall-hub: error: live.http 127.0.0.1:{port}: Address already in use (is another program on"
        f" that port? choose another) (in {path})\n")
    assert main(["serve", "--config", str(path), "--http", "nowhere"]) == 1
    assert capsys.readouterr().err == ("footfall-hub: error: --http: http 'nowhere' is not HOST:PORT"
                                       " (e.g. --http 127.0.0.1:8080)\n")


def test_the_back_office_screen_follows_new_commits(tmp_path: Path, hub_database: DatabaseConfig) -> None:
    """After its first frame, the screen reads the rows committed since, and counts each row once
    however often it reads it, so entries add up once each while `serve` goes on writing in another
    process; on both engines (no rowid: by time, and the rows' batch keys)."""
    from hub.config import load_hub_config  # noqa: PLC0415 -- the screen's own pieces
    from hub.live.feed import live_state  # noqa: PLC0415
    from hub.live.screen import Tail  # noqa: PLC0415

    config = load_hub_config(_yaml(tmp_path, hub_database))
    db = open_database(_database(tmp_path, hub_database))
    now = time.time()
    insert(db, "presence", PRESENCE_SQL, [("gw-1", 0, iso(now - 30), 5, 5, 9, int(now - 30))])
    state = live_state(config)
    tail = Tail(config, state)
    tail.start(now)
    insert(db, "presence", PRESENCE_SQL, [("gw-1", 1, iso(now - 10), 6, 2, 3, int(now - 10))])
    for _ in range(2):
        tail.poll(now)
    insert(db, "presence", PRESENCE_SQL, [("gw-2", 0, iso(now - 5), 4, 9, 9, int(now - 5))])
    tail.poll(now + 1)
    db.close()
    snap = state.snapshot("brno-1", now + 1)
    tail.history.close()
    assert (snap["entries"]["today"], snap["present"]["devices_n"]) == (9, 6)  # the larger gateway's
