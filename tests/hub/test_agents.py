"""footfall-hub agents: each agent's data in (epoch, seq) order whatever the arrival order, and its gaps."""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from agent.buffer.outbox import Outbox
from agent.sinks.mqtt import MqttSink
from agent.wire import Status, Topics, encode_envelope
from agent.wire.records import iso
from hub.agents_view import gap_text
from hub.app import Hub
from hub.cli import main
from hub.config import DatabaseConfig, HubConfig, StoreConfig
from hub.ingest import Counters, Incoming
from hub.joins.agents import AgentSummary, Gap, agent_summaries, batches_in_order, records_in_order
from hub.joins.stores import store_summaries
from hub.store import open_db
from hub.store.engine import open_store
from hub.store.sql import open_database
from tests.agent.buffer.records import MIB, visits
from tests.hub.envelopes import T0, envelope, visit
from tests.hub.support import query, wait_for
from tests.support.mosquitto import Mosquitto

GW1 = Topics("acme", "brno-1", "gw-1")
DROPPED = "outbox_dropped_batches_aggregate"


class Feed:
    """The hub's own writer on the test's database (either engine), fed messages with chosen arrival
    times."""

    def __init__(self, db: DatabaseConfig) -> None:
        self.db = db
        store = open_store(db)
        store.prepare()  # the schema, as the hub has it at start
        self.writer = store.writer(Counters(), lambda _m, _a: None, max_wait_ms=1)
        self.writer.start()

    def data(self, at: float, *seqs: int, epoch: str = "e1", agent: str = "gw-1",
             store: str = "brno-1") -> None:
        for seq in seqs:
            env = envelope(seq, [visit(seq)], epoch=epoch, agent=agent, store=store)
            self.writer.submit(Incoming(env.topics.data, encode_envelope(env), at))
        assert self.writer.wait_idle()

    def status(self, at: float, topics: Topics, status: Status) -> None:
        self.writer.submit(Incoming(topics.status, status.encode(), at))
        assert self.writer.wait_idle()

    def summaries(self) -> dict[str, AgentSummary]:
        with open_database(self.db) as db:
            return {a.agent: a for a in agent_summaries(db)}


@pytest.fixture
def feed(hub_database: DatabaseConfig) -> Iterator[Feed]:
    """A hub database written by the hub's writer thread, on each engine."""
    f = Feed(hub_database)
    yield f
    f.writer.stop()


@pytest.fixture
def sqlite_feed(tmp_path: Path) -> Iterator[Feed]:
    """As `feed`, on SQLite only: for the `agents` command, which reads SQLite until hub/cli.py opens
    the database through hub.store.sql (the library under it runs on both: the tests above)."""
    f = Feed(DatabaseConfig(path=str(tmp_path / "hub.db")))
    yield f
    f.writer.stop()


def test_a_gap_shows_until_the_missing_seq_arrives(feed: Feed) -> None:
    """Out of order arrival: missing seqs below the highest seen are gaps; they vanish once resent."""
    feed.data(T0, 6, 0, 3, 1)
    gw = feed.summaries()["gw-1"]
    assert gw.gaps == [Gap("e1", 2, 2), Gap("e1", 4, 5)]
    assert (gw.batches, gw.missing_n) == (4, 3)
    feed.data(T0 + 5, 4, 2)
    assert feed.summaries()["gw-1"].gaps == [Gap("e1", 5, 5)]
    feed.data(T0 + 9, 5)
    gw = feed.summaries()["gw-1"]
    assert (gw.gaps, gw.missing_n, gw.batches) == ([], 0, 7)


def test_data_is_exposed_by_epoch_then_seq_whatever_the_arrival(feed: Feed) -> None:
    """A consumer reads an agent's batches and records in the agent's order: epochs by first arrival (a
    wiped gateway's new epoch after the old one, whatever its id), seqs ascending within each."""
    feed.data(T0, 2, 0, epoch="zz")
    feed.data(T0 + 60, 1, 0, epoch="aa")  # the new outbox
    feed.data(T0 + 120, 1, epoch="zz")  # a late resend of the old epoch
    with open_database(feed.db) as db:
        assert [(e, s) for e, s, _, _ in batches_in_order(db, "gw-1")] == [
            ("zz", 0), ("zz", 1), ("zz", 2), ("aa", 0), ("aa", 1)]
        rows = records_in_order(db, "gw-1", "visit")
    assert [(r["epoch"], r["seq"], r["device_key"][-1]) for r in rows] == [
        ("zz", 0, "0"), ("zz", 1, "1"), ("zz", 2, "2"), ("aa", 0, "0"), ("aa", 1, "1")]
    assert [(e.epoch, e.batches, e.missing_n) for e in feed.summaries()["gw-1"].epochs] == [
        ("zz", 3, 0), ("aa", 2, 0)]


def _hub_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "hub.yaml"
    path.write_text("version: 1\ndatabase: {path: hub.db}\n")
    return path


def _small_fleet(feed: Feed) -> None:
    feed.data(T0, 6, 0, 3, 1, epoch="e1")
    feed.data(T0 + 30, 1, 0, epoch="e7")
    feed.status(T0 + 40, GW1, Status("online", "0.1.0", 12, True, {"outbox_dropped_batches_raw": 0}))
    gw2 = Topics("acme", "brno-2", "gw-2")
    feed.data(T0 + 50, 0, 1, agent="gw-2", store="brno-2", epoch="e2")
    feed.status(T0 + 70, gw2, Status("offline", "0.1.0", 0, False, {}))


TABLE = (  # the table is 113 columns wide: each line in two literals
    "┏━━━━━━┳━━━━━━━━┳━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━"
    "━┳━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━━━┓\n"
    "┃ Org  ┃ Store  ┃ Agent ┃ State   ┃ Last seen           "
    " ┃ Backlog ┃ Clock    ┃ Epochs ┃ Batches ┃ Gaps         ┃\n"
    "┡━━━━━━╇━━━━━━━━╇━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━"
    "━╇━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━┩\n"
    "│ acme │ brno-1 │ gw-1  │ online  │ 2026-11-18T11:07:20Z"
    " │      12 │ synced   │      2 │       6 │ 3: e1 2, 4-5 │\n"
    "│ acme │ brno-2 │ gw-2  │ offline │ 2026-11-18T11:07:50Z"
    " │       0 │ unsynced │      1 │       2 │ 0            │\n"
    "└──────┴────────┴───────┴─────────┴─────────────────────"
    "─┴─────────┴──────────┴────────┴─────────┴──────────────┘\n"
)


def _cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["agents", "--config", str(_hub_yaml(tmp_path)), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_agents_table_word_for_word(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch, sqlite_feed: Feed) -> None:
    """The fleet table: state, last seen, backlog and clock from the last status; epochs, batches, and the
    missing seqs with their first three ranges by epoch, word for word."""
    monkeypatch.chdir(tmp_path)
    _small_fleet(sqlite_feed)
    assert _cli(tmp_path, capsys) == (0, TABLE, "")


def test_cli_agents_json_for_one_store(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch, sqlite_feed: Feed) -> None:
    """--format json gives programs every field, full epochs and every gap range; --store filters."""
    monkeypatch.chdir(tmp_path)
    _small_fleet(sqlite_feed)
    code, out, err = _cli(tmp_path, capsys, "--store", "brno-2", "--format", "json")
    assert (code, err) == (0, "")
    assert json.loads(out) == {"agents": [{
        "agent": "gw-2", "org": "acme", "store": "brno-2", "state": "offline",
        "last_seen": "2026-11-18T11:07:50Z", "backlog_batches": 0, "clock_synced": False,
        "agent_version": "0.1.0", "batches": 2, "missing_n": 0, "counters": {},
        "epochs": [{"epoch": "e2", "batches": 2, "first_seq": 0, "last_seq": 1,
                    "first_received_at": "2026-11-18T11:07:30Z", "missing_n": 0, "gaps": []}]}]}
    code, out, err = _cli(tmp_path, capsys, "--format", "json")
    gw1 = json.loads(out)["agents"][0]
    assert [(e["epoch"], e["gaps"]) for e in gw1["epochs"]] == [("e1", [[2, 2], [4, 5]]), ("e7", [])]


def test_the_gaps_cell_shows_the_first_three_ranges_by_epoch() -> None:
    """Many gaps stay readable: their count, then the first three ranges grouped by (shortened) epoch."""
    old = "5f0c1d2e3a4b5c6d"
    gaps = [Gap(old, 2, 2), Gap(old, 6, 8), Gap("77aa", 1, 1), Gap("77aa", 5, 5)]
    assert gap_text(gaps, 6) == "6: 5f0c1d2e 2, 6-8; 77aa 1, ..."
    assert gap_text(gaps[:1], 1) == "1: 5f0c1d2e 2"
    assert gap_text([], 0) == "0"


def test_cli_agents_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    """No database, or no agent yet: one line with the remedy, exit 1."""
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "hub.db"
    assert _cli(tmp_path, capsys) == (1, "", f"footfall-hub: error: database {db} does not exist "
                                      "(is the hub ingesting? see footfall-hub serve)\n")
    from hub.store import open_db  # noqa: PLC0415 -- an empty hub database, as the hub creates it

    open_db(db).close()
    assert _cli(tmp_path, capsys, "--store", "x") == (
        1, "", f"footfall-hub: error: no agent of store x has reported to {db} yet "
        "(is the hub ingesting? see footfall-hub serve)\n")


def test_seqs_an_agent_dropped_at_its_cap_are_gaps_that_never_fill(
        tmp_path: Path, mosquitto: Mosquitto, hub_config: HubConfig) -> None:
    """Real agent outbox, mosquitto and hub: what the outbox dropped at its disk cap shows in `agents` as
    gaps that stay after the agent drained, exactly the seqs dropped, and the status explains them."""
    box = Outbox(tmp_path / "outbox.db", GW1.org, GW1.store, GW1.agent, cap_bytes=MIB,
                 max_records_per_batch=50)
    rng = random.Random(4)
    issued = 0
    while box.counters()["outbox_dropped_batches_aggregate"] < 5:  # offline: the cap fills, the oldest go
        box.append(visits(rng, 50), T0)
        issued += 1
    kept = sorted(s for s, _ in box.due(T0, 10_000, 30))
    dropped = sorted(set(range(issued)) - set(kept))
    counters = box.counters()
    sink = MqttSink(box, GW1, "127.0.0.1", mosquitto.port, "agent-under-test", resend_after_s=5,
                    status=lambda: Status("online", "0.1.0", counters=box.counters()))
    with Hub(hub_config) as hub:
        sink.start()
        try:
            assert sink.wait_drained(30)
            assert wait_for(lambda: _hub_status(hub_config).get(DROPPED) == len(dropped))
            assert hub.wait_idle()
        finally:
            sink.stop()
    box.close()
    with open_database(hub_config.database) as db:
        [gw] = agent_summaries(db)
        assert [s for _, s, _, _ in batches_in_order(db, "gw-1")] == kept
    assert [(g.first, g.last) for g in gw.gaps] == [(dropped[0], dropped[-1])]
    assert gw.missing_n == len(dropped) == counters["outbox_dropped_batches_aggregate"]
    assert gw.counters["outbox_dropped_records_aggregate"] == 50 * len(dropped)


def _hub_status(config: HubConfig) -> dict[str, int]:
    """The agent's counters as the hub stored them from its status topic."""
    rows = query(config.database, "SELECT counters FROM agents WHERE agent = 'gw-1'")
    return json.loads(rows[0][0]) if rows and rows[0][0] else {}


def test_agents_of_the_same_id_in_two_stores_are_two_agents(feed: Feed) -> None:
    """gw-1 of brno-1 and gw-1 of brno-2 are listed apart, each with its own state, batches and gaps: an
    agent is (org, store, agent), never its id alone."""
    feed.data(T0, 0, 1, 2, epoch="e1")
    feed.status(T0 + 10, GW1, Status("online", "0.1.0", 3, True, {}))
    feed.data(T0 + 20, 0, 2, epoch="e9", store="brno-2")
    feed.status(T0 + 30, Topics("acme", "brno-2", "gw-1"), Status("offline", "0.1.0", 0, False, {}))
    with open_database(feed.db) as db:
        rows = [(a.org, a.store, a.agent, a.state, a.batches, a.missing_n) for a in agent_summaries(db)]
        assert rows == [("acme", "brno-1", "gw-1", "online", 3, 0),
                        ("acme", "brno-2", "gw-1", "offline", 2, 1)]
        in_order = batches_in_order(db, "gw-1", store="brno-2")
        assert [(e, q) for e, q, _, _ in in_order] == [("e9", 0), ("e9", 2)]
        assert [a.store for a in agent_summaries(db, "brno-2")] == ["brno-2"]
        assert [r["epoch"] for r in records_in_order(db, "gw-1", "visit", store="brno-2")] == ["e9", "e9"]


def test_an_older_database_keyed_by_agent_alone_is_migrated(tmp_path: Path) -> None:
    """A hub database made before agents were keyed by store opens with its rows kept and the new key."""
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE agents (agent TEXT PRIMARY KEY, org TEXT, store TEXT, state TEXT,"
                     " last_seen TEXT, backlog_batches INTEGER, clock_synced INTEGER, agent_version TEXT,"
                     " counters TEXT, status_at TEXT)")
        conn.execute("INSERT INTO agents (agent, org, store, state)"
                     " VALUES ('gw-1', 'acme', 'brno-1', 'online')")
        conn.commit()
    db = open_db(path)
    try:
        assert db.table("agents").pks == ["org", "store", "agent"]
        assert db.execute("SELECT org, store, agent, state FROM agents").fetchall() == [
            ("acme", "brno-1", "gw-1", "online")]
    finally:
        db.close()


def test_stores_lists_configured_stores_and_stores_in_the_data(feed: Feed) -> None:
    """`footfall-hub stores` (hub.joins.stores): every store of the config or the data, its newest
    footfall record and sale, its agents and how many are online, on each engine."""
    _small_fleet(feed)
    with open_database(feed.db) as db:
        db.execute("INSERT INTO pos_transactions (store, transaction_id, at_utc, at_epoch_s,"
                   " net_amount_cents) VALUES ('brno-1', 'T1', '2026-11-18T11:00:00Z', ?, 1250)", (T0 + 200,))
        config = HubConfig(database=feed.db, stores={"brno-3": StoreConfig(timezone="Europe/Vienna")},
                           groups={"south": ["brno-1", "brno-3"]})
        got = {s.store: s for s in store_summaries(db, config)}
    assert sorted(got) == ["brno-1", "brno-2", "brno-3"]
    one, two, three = got["brno-1"], got["brno-2"], got["brno-3"]
    assert (one.configured, one.last_data_at, one.last_sale_at) == (False, iso(T0), iso(T0 + 200))
    assert (one.agents, one.online_agents, one.groups) == (("gw-1",), 1, ("south",))
    assert (two.agents, two.online_agents, two.last_sale_at) == (("gw-2",), 0, None)
    assert (three.configured, three.timezone, three.agents, three.last_data_at) == (
        True, "Europe/Vienna", (), None)
