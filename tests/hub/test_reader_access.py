"""The data team's SQL access (issue 17): a reader login sees the feed as published, withheld cells NULL
alike, and nothing else. Real PostgreSQL (the session's cluster), real mosquitto, the real publisher."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from agent.wire import PeriodCounts
from agent.wire.records import iso
from hub.app import Hub
from hub.cli import main
from hub.config import (
    DatabaseConfig,
    HubConfig,
    IngestConfig,
    MetricSettings,
    MqttConfig,
    PublishConfig,
    StoreConfig,
    TrustConfig,
)
from hub.publish.example_consumer import topic_filter
from hub.publish.payload import SEGMENT_FIELDS
from hub.store.postgres.migrate import apply
from hub.store.postgres.schema import LATEST
from tests.hub.envelopes import Publisher, envelope, visit
from tests.support.mosquitto import Mosquitto
from tests.support.postgres import LocalPostgres

PRAGUE = ZoneInfo("Europe/Prague")
VALUES = ("visits_n", "visitors_n", "passersby_n", "capture_rate", "traffic_in", "traffic_source",
          "transactions_n", "net_sales_cents", "conversion", "k", "noise_epsilon", "revision")


@pytest.fixture
def pg_hub(mosquitto: Mosquitto, postgres_cluster: LocalPostgres, tmp_path: Path) -> Iterator[HubConfig]:
    """A hub on the test broker and a migrated database of the session's cluster (PostgreSQL only)."""
    url = postgres_cluster.create_database(migrated=True)
    try:
        yield HubConfig(
            mqtt=MqttConfig(port=mosquitto.port, client_id="test-hub", allow_plain_loopback=True),
            trust=TrustConfig(require_signatures=False),
            database=DatabaseConfig(path=str(tmp_path / "hub.db"), url=url),
            ingest=IngestConfig(max_wait_ms=10),
            publish=PublishConfig(settle_s=1.0),
            default_timezone="Europe/Prague",
            stores={"brno-1": StoreConfig(timezone="Europe/Prague", calibration_factor=1.5,
                                          settings=MetricSettings())},
        )
    finally:
        postgres_cluster.drop_database(url)


@pytest.fixture
def login(postgres_cluster: LocalPostgres) -> Iterator[str]:
    """A login name of its own (roles belong to the cluster), dropped after the test."""
    name = f"bi_{uuid.uuid4().hex[:8]}"
    yield name
    with psycopg.connect(postgres_cluster.url(), autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {name}".encode())  # name: uuid hex, not input


def yaml_for(config: HubConfig, tmp_path: Path) -> str:
    path = tmp_path / "hub.yaml"
    if config.database.engine == "postgresql":
        path.write_text(f"version: 1\ndatabase: {{url: '{config.database.url}'}}\n")
    else:
        path.write_text(f"version: 1\ndatabase: {{path: '{config.database.path}'}}\n")
    return str(path)


def reader(config_file: str, name: str, password: str | None, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{password}\n" if password else ""))
    return main(["reader", "--config", config_file, "--login", name,
                 *(["--password-stdin"] if password else [])])


def as_login(config: HubConfig, name: str, password: str) -> psycopg.Connection[tuple[Any, ...]]:
    url = config.database.url.replace("://footfall@", f"://{name}:{password}@")
    return psycopg.connect(url, autocommit=True)


Docs = dict[tuple[str, str], dict[str, Any]]


def publish_a_day(config: HubConfig, publisher: Publisher) -> tuple[str, Docs]:
    """Two days ago in Prague: hours 10-12 (11:00 has 2 visitors: withheld) and the day, through the hub
    and its publisher as serve runs them; (local date, (period, local hh:mm) -> payload received)."""
    day = datetime.now(PRAGUE).date() - timedelta(days=2)
    t0 = datetime.combine(day, time(0), PRAGUE).timestamp()
    recs: list[object] = [PeriodCounts("hour", iso(t0 + h * 3600), v + p, v, p, 0, v)
                          for h, v, p in ((10, 8, 30), (11, 2, 40), (12, 9, 35))]
    recs.append(PeriodCounts("day", iso(t0), 70, 19, 53, 0, 19))
    recs += [visit(h * 100 + i, start=t0 + h * 3600 + 60 * i) for h, v in ((10, 8), (11, 2), (12, 9))
             for i in range(v)]
    publisher.subscribe(topic_filter("acme"))
    with Hub(config) as hub:
        publisher.send(envelope(0, recs))
        assert hub.wait_idle()
        assert hub.wait_published()
        assert publisher.wait_received(4), publisher.received
    docs = {(t.rsplit("/", 1)[1], json.loads(b)["local_start"][11:16]): json.loads(b)
            for t, b in publisher.received}
    return day.isoformat(), docs


def test_a_reader_sees_the_feed_as_published_and_nothing_else(
    pg_hub: HubConfig, publisher: Publisher, login: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a day went out on MQTT, a login made by `footfall-hub reader` reads in v_store_day and
    v_store_hour the very values of the payloads; the hour the feed withholds (2 visitors at k=5) and
    the day's complement are NULL in the views too, with the same reasons. visits, members,
    pos_transactions and the feed's own table are denied, and so is writing to a view."""
    day, docs = publish_a_day(pg_hub, publisher)
    assert reader(yaml_for(pg_hub, tmp_path), login, "s3cret", monkeypatch) == 0
    with as_login(pg_hub, login, "s3cret") as conn:
        cur = conn.execute("SELECT * FROM v_store_day WHERE store = 'brno-1' AND local_date = %s", (day,))
        names = [c.name for c in cur.description or ()]
        (row,) = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        sent = docs[("day", "00:00")]
        fields = (*VALUES, *SEGMENT_FIELDS)
        assert {f: row[f] for f in fields} == {f: sent[f] for f in fields}
        assert row["visitors_n"] is None and sent["visitors_n"] is None  # the complement, withheld alike
        assert row["withheld"] == sent["withheld"]
        assert row["start_at"] == datetime.fromisoformat(sent["start_at"]).astimezone(UTC)
        cur = conn.execute("SELECT * FROM v_store_hour WHERE local_date = %s ORDER BY local_hour", (day,))
        names = [c.name for c in cur.description or ()]
        hours = {r["local_hour"]: r for r in (dict(zip(names, x, strict=True)) for x in cur.fetchall())}
        assert sorted(hours) == [10, 11, 12]
        for h, row in hours.items():
            sent = docs[("hour", f"{h}:00")]
            assert {f: row[f] for f in VALUES} == {f: sent[f] for f in VALUES}, h
        assert hours[11]["visitors_n"] is None
        assert {"field": "visitors_n", "reason": "below_k"} in hours[11]["withheld"]
        segments = conn.execute("SELECT segment, members_n FROM v_member_segments WHERE local_date = %s"
                                " ORDER BY segment", (day,)).fetchall()
        assert dict(segments) == {f.removeprefix("members_").removesuffix("_n"): docs[("day", "00:00")][f]
                                  for f in SEGMENT_FIELDS}
        for table in ("visits", "members", "pos_transactions", "feed_periods", "periods"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                conn.execute(f"SELECT count(*) FROM {table}".encode())  # fixed names
        conn.execute("SET default_transaction_read_only = off")  # the login's default is read-only
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            conn.execute("INSERT INTO v_store_day (org, store) VALUES ('x', 'y')")


def test_reader_is_idempotent_and_generates_a_password_once(
    pg_hub: HubConfig, login: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without --password-stdin a new login gets a generated password, printed once; run again, the
    login stays as it was (one role, its password unchanged); a new password can be given on stdin."""
    path = yaml_for(pg_hub, tmp_path)
    assert reader(path, login, None, monkeypatch) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (f"login {login} added to footfall_reader: it may read v_store_hour, v_store_day,"
                      " v_member_segments only")
    password = out[1].removeprefix("password (shown once, keep it in the BI tool): ")
    assert len(password) >= 20
    assert reader(path, login, None, monkeypatch) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "password unchanged (give a new one with --password-stdin)"]
    with as_login(pg_hub, login, password) as conn:
        assert conn.execute("SELECT count(*) FROM v_store_day").fetchone() == (0,)
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
    assert reader(path, login, "another", monkeypatch) == 0
    assert "already in footfall_reader" in capsys.readouterr().out


def test_reader_refuses_a_role_that_is_not_a_data_team_login_or_a_bad_name(
    pg_hub: HubConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The hub's own database user (a superuser here) is never turned into a reader, and a name that
    would need quoting is refused: one line, exit 1."""
    assert reader(yaml_for(pg_hub, tmp_path), "footfall", None, monkeypatch) == 1
    err = capsys.readouterr().err
    assert err.startswith("footfall-hub: error: role 'footfall' exists and is not a data-team login; "
                          "choose another name (database postgresql://footfall@127.0.0.1:")
    assert err.count("\n") == 1
    assert reader(yaml_for(pg_hub, tmp_path), "BI-team", None, monkeypatch) == 1
    assert capsys.readouterr().err.startswith(
        "footfall-hub: error: --login 'BI-team': use lower-case letters, digits and _ (at most 63), "
        "starting with a letter or _")


def test_reader_on_sqlite_says_it_is_a_postgresql_feature(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On SQLite there is no database server to log in to: one line, exit 1, and no file made."""
    config = HubConfig(database=DatabaseConfig(path=str(tmp_path / "hub.db")))
    assert reader(yaml_for(config, tmp_path), "bi", None, monkeypatch) == 1
    assert capsys.readouterr().err == (
        "footfall-hub: error: read access for the data team is a PostgreSQL feature (database.url); on "
        "SQLite they subscribe to the MQTT feed (README: Data team access)\n")
    assert not (tmp_path / "hub.db").exists()


def test_a_hub_user_without_createrole_migrates_and_reader_names_what_it_needs(
    postgres_cluster: LocalPostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """As in production, the hub's database user owns its database but is no superuser: migration 4
    applies (the role exists in the cluster; only its grants are made), and `reader`, which must make
    a role, says in one line what the user lacks."""
    owner = f"hub_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_cluster.url(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {owner} LOGIN".encode())  # names: uuid hex, not input
        conn.execute(f"CREATE DATABASE {owner} OWNER {owner}".encode())
    url = postgres_cluster.url(owner).replace("://footfall@", f"://{owner}@")
    try:
        assert apply(url)[0] == LATEST
        config = HubConfig(database=DatabaseConfig(path=str(tmp_path / "hub.db"), url=url))
        assert reader(yaml_for(config, tmp_path), "bi_nobody", None, monkeypatch) == 1
        err = capsys.readouterr().err
        assert err.startswith("footfall-hub: error: permission denied to create role")
        assert "(run it as a database user that may create roles: CREATEROLE)" in err
        assert err.count("\n") == 1
    finally:
        with psycopg.connect(postgres_cluster.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {owner} WITH (FORCE)".encode())
            conn.execute(f"DROP OWNED BY {owner}".encode())
            conn.execute(f"DROP ROLE IF EXISTS {owner}".encode())
