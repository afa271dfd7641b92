"""Members by lifecycle segment in every report format, per store, k-suppressed (issue 16)."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

from hub.config import DatabaseConfig, HubConfig, PublishConfig, SegmentConfig, load_hub_config
from hub.members import segments
from hub.publish.cells import DAY
from hub.publish.release import release
from hub.publish.source import store_day
from hub.reports.segment_counts import segment_counts
from hub.store.sql import open_database
from tests.hub.members.chain import STORES, generate
from tests.hub.reports.test_suppression import DAYS, K, chain, cli, pinned

AS_OF = date(2026, 11, 30)
__all__ = ["chain"]  # the fixture, shared with test_suppression


def test_each_store_counts_its_recent_members_in_their_segment(tmp_path: Path) -> None:
    """A store's members are those with a member visit there in the 90 days to the day, each in the
    segment `footfall-hub members` gives her; the report's section says so, with small counts withheld
    so that none can be solved from the store's total and the published ones."""
    db = tmp_path / "hub.db"
    generate(db, AS_OF, 60, seed=5)
    conn = open_database(DatabaseConfig(path=str(db)))  # the members' generator writes SQLite
    config = HubConfig(default_timezone="UTC", publish=PublishConfig(k=K), segments=SegmentConfig())
    seg = {r.member_id: r.segment for r in segments.compute(conn, AS_OF, SegmentConfig(), "UTC")}
    since = datetime(2026, 9, 2).timestamp()  # 90 days to AS_OF, UTC
    raw = segments.store_counts(conn, AS_OF, SegmentConfig(), "UTC", list(STORES))
    for store in STORES:
        members = {m for (m,) in conn.execute(
            "SELECT DISTINCT m.member_id FROM member_visits v JOIN members m USING (member_key)"
            " WHERE v.store = ? AND v.started_epoch_s >= ?", (store, since))}
        assert raw[store] == {s: Counter(seg[m] for m in members)[s] for s in segments.SEGMENTS}
    section = segment_counts(conn, config, list(STORES), AS_OF)
    assert section is not None and any(section.withheld.values())
    for store in STORES:
        cells = [(section.counts[store][s], section.withheld[store].get(s)) for s in segments.SEGMENTS]
        assert pinned(cells, sum(raw[store].values()), K) == []
        assert all(n is None or not 0 < n < K for n, _ in cells)
    assert "90 days to 2026-11-30" in section.definition()
    conn.close()


def test_every_report_format_has_the_section(chain: tuple[Path, HubConfig]) -> None:
    """json (`member_segments`, with a `withheld` list), csv (`# members by segment` lines), the
    terminal table and the HTML page (a card per segment) all show members by segment per store."""
    args = ("--store", "brno-1", "--store", "praha-2", "--from", str(DAYS[0] - timedelta(days=1)),
            "--to", str(DAYS[0]))
    doc = json.loads(cli(chain[0], *args, "--format", "json"))["member_segments"]
    assert set(doc["stores"]) == {"brno-1", "praha-2"} and doc["k"] == K and doc["as_of"] == str(DAYS[0])
    assert set(doc["stores"]["brno-1"]) == set(segments.SEGMENTS)
    assert all(doc["stores"][w["store"]][w["field"]] is None for w in doc["withheld"])
    assert "# members by segment brno-1: active " in cli(chain[0], *args, "--format", "csv")
    assert "Members by lifecycle segment on" in cli(chain[0], *args)
    page = cli(chain[0], *args, "--format", "html")
    assert 'data-segment="churn_risk"' in page and "Members by lifecycle segment on" in page


def test_no_member_seen_means_no_section(tmp_path: Path) -> None:
    """A chain without member visits gets no section (nothing to say), not a row of zeros."""
    db = tmp_path / "hub.db"
    generate(db, AS_OF, 0, seed=1)
    conn = open_database(DatabaseConfig(path=str(db)))
    assert segment_counts(conn, HubConfig(publish=PublishConfig(k=K)), list(STORES), AS_OF) is None
    conn.close()


def test_the_feed_and_the_report_give_a_store_day_the_same_segment_counts(
        chain: tuple[Path, HubConfig]) -> None:
    """The data team's day payload and the manager's report of that day show the same members by
    segment, withheld alike: one computation (hub.members.segments), one rule (hub.suppress)."""
    config = load_hub_config(str(chain[0]))
    with open_database(config.database, readonly=True) as db:
        sd = store_day(db, config, "brno-1", DAYS[0])
    (day,), _ = release(sd, "acme", [DAY], {}, config.publish, 0.0, random.Random(0))
    report = json.loads(cli(chain[0], "--store", "brno-1", "--date", str(DAYS[0]), "--format", "json"))
    section = report["member_segments"]
    assert {s: day[f"members_{s}_n"] for s in segments.SEGMENTS} == section["stores"]["brno-1"]
    feed_reasons = {w["field"]: w["reason"] for w in day["withheld"] if w["field"].startswith("members_")}
    assert feed_reasons == {f"members_{w['field']}_n": w["reason"] for w in section["withheld"]}
    assert sd.segments and sum(sd.segments.values()) > 0  # the chain has members at brno-1
