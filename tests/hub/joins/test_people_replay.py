"""The hub counts the people `footfall-agent replay --summary` counts (issue 19: "the hub's metrics use the
same definitions").

A simulated store-day with phones that randomize their MACs as measured on brno-lab (agent.simulate,
phones="real") goes once through replay (its summary), once through the live pipeline into the hub's
ingest writer (the wire records a gateway sends: visits with person keys). The hub's stays are replay's
linked people, within the few chains that never reached visitor level on any fragment (their fragments
never leave the gateway); without linking, the hub would count the phones' MAC fragments instead.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from agent import replay
from agent.config import AgentConfig, SourceConfig
from agent.simulate import generate_day
from agent.sources.pcap_file import PcapFileSource
from agent.wire import Visit
from hub.config import DatabaseConfig, HubConfig, StoreConfig
from hub.joins.metrics import store_metrics
from hub.store.sql import open_database
from tests.hub.scenario import write

DAY, STORE, TZ = date(2026, 11, 26), "demo-store", "Europe/Prague"


def test_hub_stays_are_replay_s_linked_people(tmp_path: Path, hub_database: DatabaseConfig) -> None:
    """Stays (entries), mean and median stay of the hub's day agree with replay --summary's linked people
    within 3 %, while the MAC fragments on the wire are 10 % more: a manager's visitors no longer grow
    with how often phones change their MAC."""
    files = generate_day(tmp_path / "data", DAY, seed=4, store=STORE, timezone=TZ, scale=0.3, phones="real")
    cfg = replace(AgentConfig(org="demo", store=STORE, agent="gw-1", timezone=TZ, state_dir=str(tmp_path)),
                  source=SourceConfig(type="pcap", path=str(files.pcap)))
    summary = replay.summary(replay.run(files.pcap, cfg))
    source = PcapFileSource(files.pcap, cfg.source.batch_frames)
    pipeline, records = None, []
    for batch in source.batches(threading.Event()):
        if pipeline is None:
            pipeline = replay._pipeline(cfg, None, batch[0][0], source.linktype)  # replay's own chain
        records.extend(pipeline.feed(batch).records)
    assert pipeline is not None
    records.extend(pipeline.close().records)
    hub = HubConfig(database=hub_database,
                    stores={STORE: StoreConfig(timezone=TZ)})
    write(hub, [("gw-1", i, records[i : i + 500]) for i in range(0, len(records), 500)], store=STORE)
    with open_database(hub.database) as db:
        day = store_metrics(db, hub, [STORE], DAY, DAY, "day").rows[0]
    fragments = [v for v in records if isinstance(v, Visit) and v.kind == "visitor"]
    print(f"\nreplay --summary: {summary['linked_visitors']} people, mean {summary['mean_dwell_s']} s, median"
          f" {summary['median_dwell_s']} s; hub: {day.visitor_visits_n} stays of {day.visitors} people, mean"
          f" {day.mean_dwell_s:.0f} s, median {day.median_dwell_s} s; {len(fragments)} MAC fragments")
    assert day.visitor_visits_n == pytest.approx(summary["linked_visitors"], rel=0.03)
    assert day.mean_dwell_s == pytest.approx(summary["mean_dwell_s"], rel=0.03)
    assert day.median_dwell_s == pytest.approx(summary["median_dwell_s"], rel=0.03)
    assert len(fragments) > 1.1 * day.visitor_visits_n
    assert day.traffic_in == day.visitor_visits_n  # factor 1: traffic in is the people's arrivals
