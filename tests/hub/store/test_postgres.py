"""The hub's store on a real PostgreSQL (database.url: postgresql://...): migrations with a version
table, monthly partitions, and ingest from a real mosquitto, exactly once."""

from __future__ import annotations

import dataclasses
import time
from contextlib import closing
from typing import Any

import psycopg
import pytest

from agent.wire import Ack, Erase, Topics
from agent.wire.records import iso
from hub.app import Hub
from hub.cli import main
from hub.config import DatabaseConfig, HubConfig
from hub.ingest import Counters, Incoming
from hub.ingest.decode import Verifier, decode
from hub.store.engine import StoreError, open_store
from hub.store.postgres.ingest import PgWriter
from hub.store.postgres.lease import AdvisoryLease
from hub.store.postgres.migrate import apply
from hub.store.postgres.schema import LATEST, MIGRATIONS, PARTITIONED
from hub.store.rows import RECORD_TABLES
from tests.hub.envelopes import T0, Publisher, envelope, visit
from tests.hub.ingest.signed import gateways, genuine
from tests.hub.support import wait_for
from tests.support.mosquitto import free_port

TOPICS = Topics("acme", "brno-1", "gw-1")


def rows(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with closing(psycopg.connect(url)) as conn:
        return conn.execute(sql.encode(), params).fetchall()


def acked(publisher: Publisher) -> set[int]:
    with publisher.got:
        return {s for _, p in publisher.received for s in Ack.decode(p).seqs}


def on_postgres(config: HubConfig, url: str) -> HubConfig:
    return dataclasses.replace(config, database=dataclasses.replace(config.database, url=url))


def test_migrate_creates_the_schema_once_and_records_its_version(pg_url: str) -> None:
    """`migrate` on an empty database applies every migration and records it; run again, it applies
    nothing; the record tables have exactly the columns the wire's record types give (a new wire field
    needs a new migration), and the time-bound ones are partitioned."""
    version, done = apply(pg_url)
    assert (version, [m.version for m in done]) == (LATEST, list(range(1, LATEST + 1)))
    assert apply(pg_url) == (LATEST, [])
    assert rows(pg_url, "SELECT version FROM schema_migrations ORDER BY version") == [
        (v,) for v in range(1, LATEST + 1)]
    for spec in RECORD_TABLES.values():
        got = rows(pg_url, "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
                   " ORDER BY ordinal_position", (spec.table,))
        assert sorted(c for (c,) in got) == sorted(spec.columns), spec.table  # COPY names its columns
    partitioned = rows(pg_url, "SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c"
                       " ON c.oid = p.partrelid ORDER BY 1")
    assert [t for (t,) in partitioned] == sorted(PARTITIONED)


def test_serve_refuses_a_database_behind_its_schema_and_migrate_fixes_it(
    hub_config: HubConfig, pg_url: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A hub pointed at a database without the schema says so in one line with the command to run; after
    `footfall-hub migrate` it starts."""
    config = on_postgres(hub_config, pg_url)
    with pytest.raises(StoreError, match=rf"^the database is at schema version 0, this hub needs {LATEST} "
                       r"\(run: footfall-hub migrate --config hub.yaml\)$"):
        Hub(config).start()
    path = tmp_path / "hub.yaml"
    path.write_text(f"version: 1\ndatabase: {{url: '{pg_url}'}}\n")
    assert main(["migrate", "--config", str(path)]) == 0
    applied = "; ".join(m.name for m in MIGRATIONS)
    assert capsys.readouterr().out == f"{pg_url}: schema version {LATEST} (applied: {applied})\n"
    assert main(["migrate", "--config", str(path)]) == 0
    assert capsys.readouterr().out.endswith(f": schema version {LATEST} (up to date)\n")
    Hub(config).start().stop()


def test_serve_says_in_one_line_when_the_database_is_unreachable(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong host or port in database.url stops `serve` before it connects to the broker, with one
    line naming the database (its password hidden)."""
    port = free_port()
    path = tmp_path / "hub.yaml"
    path.write_text(f"version: 1\ndatabase: {{url: 'postgresql://hub:pw@127.0.0.1:{port}/ff'}}\n"
                    "trust: {require_signatures: false}\nmqtt: {allow_plain_loopback: true}\n")
    assert main(["serve", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("footfall-hub: error: cannot reach the database: connection failed: ")
    assert err.endswith(f" (database postgresql://hub:***@127.0.0.1:{port}/ff)\n")
    assert err.count("\n") == 1 and "pw" not in err


def test_ingest_on_postgres_stores_each_batch_once_in_monthly_partitions(
    hub_config: HubConfig, pg_url: str, publisher: Publisher
) -> None:
    """The same ingest as on SQLite: a resent batch adds nothing, every batch is acknowledged after its
    commit, and visits of two months land in two monthly partitions made on the fly."""
    assert open_store(DatabaseConfig(url=pg_url)).migrate()[0] == LATEST
    publisher.subscribe(TOPICS.ack)
    october = T0 - 30 * 86400  # 2026-10-19 (a later month could be in the future: the wire refuses that)
    with Hub(on_postgres(hub_config, pg_url)) as hub:
        for seq in range(10):
            publisher.send(envelope(seq, [visit(seq * 4 + i, start=T0 if seq < 5 else october)
                                          for i in range(4)]))
        publisher.send(envelope(3, [visit(12 + i) for i in range(4)]), times=2)  # resends
        assert wait_for(lambda: hub.counters["received"] == 12)
        assert hub.wait_idle()
        assert hub.counters["batches_stored"] == 10
        assert hub.counters["duplicates"] == 2
        assert wait_for(lambda: acked(publisher) == set(range(10)))
    assert rows(pg_url, "SELECT count(*), count(DISTINCT (agent, epoch, seq)) FROM batches") == [(10, 10)]
    assert rows(pg_url, "SELECT count(*), count(DISTINCT device_key) FROM visits") == [(40, 40)]
    assert rows(pg_url, "SELECT count(*) FROM visits_y2026m11") == [(20,)]
    assert rows(pg_url, "SELECT count(*) FROM visits_y2026m10") == [(20,)]
    assert rows(pg_url, "SELECT DISTINCT randomized FROM visits") == [(0,)]
    assert rows(pg_url, "SELECT agent, store FROM agents") == [("gw-1", "brno-1")]


def test_a_batch_postgresql_refuses_is_set_aside_and_the_rest_is_stored(
    hub_config: HubConfig, pg_url: str, publisher: Publisher
) -> None:
    """Bad input never stops the hub (docs/reliability.md), on PostgreSQL too: a payload that is no JSON,
    and a batch PostgreSQL refuses (a constraint), go to the dead-letter table with their reason; the
    batches around them are stored and acknowledged."""
    open_store(DatabaseConfig(url=pg_url)).migrate()
    # a value the wire's ranges accept and PostgreSQL refuses (the ranges leave none in the real schema,
    # so the test adds a constraint): its batch is set aside, the rest stored
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE visits ADD CONSTRAINT refuses_one CHECK (key_window <> 'w-refused')")
    publisher.subscribe(TOPICS.ack)
    nul = dataclasses.replace(visit(99), key_window="w-refused")
    with Hub(on_postgres(hub_config, pg_url)) as hub:
        publisher.send(envelope(0, [visit(0)]))
        publisher.publish(TOPICS.data, b"{not json")
        publisher.send(envelope(1, [visit(1), nul]))
        publisher.send(envelope(2, [visit(2)]))
        assert wait_for(lambda: hub.counters["received"] == 4)
        assert hub.wait_idle()
        assert hub.counters.dead_by_reason() == {"bad_json": 1, "store_error": 1}
    assert rows(pg_url, "SELECT seq FROM batches ORDER BY seq") == [(0,), (2,)]
    assert rows(pg_url, "SELECT reason FROM dead_letters ORDER BY 1") == [("bad_json",), ("store_error",)]
    assert rows(pg_url, "SELECT detail FROM dead_letters WHERE reason = 'store_error'") == [
        ("CheckViolation",)]


def test_an_erase_record_deletes_the_device_s_visits_on_postgres_too(
    hub_config: HubConfig, pg_url: str, publisher: Publisher
) -> None:
    """An opt-out erases on PostgreSQL as on SQLite (docs/privacy.md): the gateway's erase record deletes
    that device's visits of its window, and a visit of the erased key that arrives later (a batch in
    flight) is deleted as it is stored; other devices' visits stay."""
    open_store(DatabaseConfig(url=pg_url)).migrate()
    publisher.subscribe(TOPICS.ack)
    gone = visit(7)
    erase = Erase(gone.device_key or "", gone.key_window, iso(T0 + 3600))
    with Hub(on_postgres(hub_config, pg_url)) as hub:
        publisher.send(envelope(0, [visit(6), gone, dataclasses.replace(gone, started_at=iso(T0 + 60))]))
        publisher.send(envelope(1, [erase]))
        publisher.send(envelope(2, [dataclasses.replace(gone, started_at=iso(T0 + 120)), visit(8)]))
        assert wait_for(lambda: hub.counters["received"] == 3)
        assert hub.wait_idle()
    assert rows(pg_url, "SELECT device_key FROM visits ORDER BY 1") == [(f"{6:032x}",), (f"{8:032x}",)]
    assert rows(pg_url, "SELECT device_key FROM erasures") == [(gone.device_key,)]


def test_a_redelivery_is_a_duplicate_and_another_signed_body_under_a_stored_seq_a_replay(
    pg_url: str, tmp_path: Any
) -> None:
    """As on SQLite: the same signed batch again is acknowledged and stored once; another validly signed
    body under a stored (agent, epoch, seq), in a later group or in the same one, is dead-lettered as
    `replay` and never acknowledged."""
    apply(pg_url)
    a, _, _, keys = gateways(tmp_path / "pki")
    acked: list[int] = []
    counters = Counters()
    writer = PgWriter(pg_url, counters, lambda _m, acks: [acked.extend(s) for s in acks.values()],
                      max_wait_ms=200, decoder=lambda t, p: decode(t, p, Verifier(keys)))
    writer.start()
    originals = [genuine(a, seq, 3)[1] for seq in range(30)]
    for payload in originals[:20]:
        writer.submit(Incoming(a.topics.data, payload, time.time()))
    assert writer.wait_idle()
    later = originals[:10] + [genuine(a, seq, 4)[1] for seq in (0, 5)]  # duplicates, replays of stored
    same_group = [originals[25], genuine(a, 25, 4)[1]]  # a new batch and its replay, one group
    for payload in later + same_group:
        writer.submit(Incoming(a.topics.data, payload, time.time()))
    assert writer.wait_idle()
    writer.stop()
    assert (counters["batches_stored"], counters["duplicates"]) == (21, 10)
    assert counters.dead_by_reason() == {"replay": 3}
    assert sorted(acked) == sorted([*range(20), *range(10), 25])
    assert rows(pg_url, "SELECT count(*) FROM visits") == [(63,)]


def test_the_advisory_lease_is_held_once_and_freed_with_its_session(pg_url: str) -> None:
    """One worker leads; when the leader's database session ends (its process died, the server dropped
    it), it learns so at its next poll and another worker takes the lease."""
    first, second = AdvisoryLease(pg_url), AdvisoryLease(pg_url)
    try:
        assert first.acquire()
        assert not second.acquire()
        rows(pg_url, "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
             " AND pid <> pg_backend_pid()")
        assert not first.held()
        assert second.acquire()
    finally:
        first.release()
        second.release()
