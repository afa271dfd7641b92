"""A small hand-built day of one store, written through the real ingest writer (no broker needed).

Store brno-1, Europe/Prague (UTC+1 in November), 2026-11-26, calibration factor 1.5, two gateways.
Local 10:00 is 09:00Z. Expected numbers are worked out by hand in the tests that use it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from agent.wire import DoorCounts, Envelope, PeriodCounts, Status, Topics, Visit, encode_envelope
from hub.config import DatabaseConfig, HubConfig
from hub.imports import importer
from hub.ingest import Counters, Incoming, Writer
from hub.store.engine import open_store
from hub.store.sql import open_database

POS = """\
store,timestamp,transaction_id,net_amount
brno-1,2026-11-26T10:10:00+01:00,T1,25.00
brno-1,2026-11-26T10:30:00+01:00,T2,10.50
brno-1,2026-11-26T10:45:00+01:00,T3,-5.00
brno-1,2026-11-26 11:15:00,T4,12.00
brno-1,2026-11-26T10:59:59Z,T5,8.00
brno-1,2026-11-26T12:00:00+01:00,T6,0.00
brno-1,2026-11-27T10:00:00+01:00,T7,99.00
"""


def v(start: str, dwell_s: int, kind: str = "visitor", key: int = 0) -> Visit:
    from agent.wire.records import iso, parse_iso  # noqa: PLC0415

    t = parse_iso(start)
    return Visit(
        started_at=start,
        ended_at=iso(t + dwell_s),
        dwell_s=dwell_s,
        sightings_n=9,
        rssi_max_dbm=-50,
        kind=kind,
        randomized=False,
        device_key=f"{key:032x}" if kind == "visitor" else None,
        key_window="w-26",
    )


def p(period: str, start: str, visitors: int, passersby: int) -> PeriodCounts:
    return PeriodCounts(
        period=period,
        start_at=start,
        seen_n=visitors + passersby,
        visitors_n=visitors,
        passersby_n=passersby,
        bounces_n=0,
        visits_n=visitors,
    )


def footfall() -> list[tuple[str, int, list[Any]]]:
    """(agent, seq, records) of the day."""
    return [
        (
            "gw-1",
            0,
            [
                p("hour", "2026-11-26T09:00:00Z", 4, 6),  # local 10:00
                p("hour", "2026-11-26T10:00:00Z", 3, 1),  # local 11:00, corrected by seq 1 below
                v("2026-11-25T22:30:00Z", 900, key=1),  # local 23:30 on the 25th: not this day
                v("2026-11-25T23:10:00Z", 700, key=2),  # local 00:10 on the 26th: hour 00
                v("2026-11-26T09:05:00Z", 300, key=3),
                v("2026-11-26T09:20:00Z", 900, key=4),
                v("2026-11-26T09:30:00Z", 100, kind="bounce"),
            ],
        ),
        (
            "gw-1",
            1,
            [
                p("hour", "2026-11-26T10:00:00Z", 5, 15),  # the last one received counts
                v("2026-11-26T10:10:00Z", 1200, key=5),
                v("2026-11-26T10:30:00Z", 400, key=6),
                p("day", "2026-11-25T23:00:00Z", 8, 20),  # the local day starts at 23:00Z
            ],
        ),
        (
            "gw-2",
            0,
            [
                p("hour", "2026-11-26T09:00:00Z", 2, 3),
                v("2026-11-26T09:40:00Z", 600, key=7),
                p("day", "2026-11-25T23:00:00Z", 2, 3),
                p("day", "2026-11-26T23:00:00Z", 50, 50),  # the next local day
            ],
        ),
    ]


def doors() -> list[DoorCounts]:
    return [
        DoorCounts("door-a", "2026-11-26T09:00:00Z", 7, 5),
        DoorCounts("door-a", "2026-11-26T09:30:00Z", 3, 4),
        DoorCounts("door-b", "2026-11-26T11:00:00Z", 5, 5),  # local 12:00
    ]


def _writer(config: HubConfig) -> Writer:
    """The hub's own ingest writer for the configured engine (hub.store.engine), started."""
    store = open_store(config.database)
    store.prepare()
    writer = store.writer(Counters(), lambda _m, _a: None, max_wait_ms=0)
    writer.start()
    return writer


def write(config: HubConfig, batches: list[tuple[str, int, list[Any]]], store: str = "brno-1") -> None:
    """Store batches through the hub's own ingest writer."""
    writer = _writer(config)
    for agent, seq, records in batches:
        env = Envelope("acme", store, agent, "e1", seq, "2026-11-26T12:00:00Z", tuple(records))
        writer.submit(Incoming(env.topics.data, encode_envelope(env), time.time()))
    assert writer.wait_idle()
    writer.stop()


def status(config: HubConfig, store: str, agent: str, learned: dict[str, str], state: str = "online") -> None:
    """An agent's retained status (with what its estimates learned: calibration, intervals) through the
    hub's own ingest writer, as MQTT delivers it."""
    writer = _writer(config)
    payload = Status(state=state, agent_version="1", updated_at="2026-11-26T12:00:00Z",
                     learned=learned).encode()
    writer.submit(Incoming(Topics("acme", store, agent).status, payload, time.time(), retained=True))
    assert writer.wait_idle()
    writer.stop()


def import_file(config: HubConfig, kind: str, path: Path) -> None:
    """A business file through the hub's own importer, on the configured engine."""
    with open_database(config.database) as db:
        importer(kind)(db, path, config)


def database_yaml(database: DatabaseConfig) -> str:
    """hub.yaml's `database:` value naming `database` on its engine (a flow mapping)."""
    return f"{{url: '{database.url}'}}" if database.url else f"{{path: '{database.path}'}}"


def build(config: HubConfig, tmp_path: Path, with_doors: bool = False) -> None:
    """The whole day: footfall, optional door counts, POS."""
    batches = footfall()
    if with_doors:
        batches.append(("gw-3", 0, list(doors())))
    write(config, batches)
    pos = tmp_path / "pos.csv"
    pos.write_text(POS)
    import_file(config, "pos", pos)
