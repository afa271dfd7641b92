"""Lifecycle segments, the CRM team's lists, k-suppressed counts, and visiting vs buying members."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from hub.cli import main
from hub.config import DatabaseConfig, SegmentConfig
from hub.members import segments
from hub.members.mismatch import mismatch
from hub.members.profile import lifecycle_segment
from hub.store.sql import open_database
from tests.hub.members.chain import agreement, generate

AS_OF = date(2026, 11, 30)


def _yaml(tmp_path: Path, db: DatabaseConfig) -> Path:
    path = tmp_path / "hub.yaml"
    where = f"url: '{db.url}'" if db.engine == "postgresql" else f"path: '{db.path}'"
    path.write_text(f"version: 1\ndatabase: {{{where}}}\ndefault_timezone: UTC\npublish: {{k: 5}}\n")
    return path


def test_segments_agree_with_a_chain_that_behaves_as_planned(hub_database: DatabaseConfig) -> None:
    """On a generated two-month, three-store chain (members who stay active, come now and then, lapse
    or churn on purpose, or just joined), the default thresholds put at least 90 % in their planned
    segment; the thresholds follow the chain's rhythm."""
    truth = generate(hub_database, AS_OF, 400, seed=7)
    conn = open_database(hub_database)
    rows = segments.compute(conn, AS_OF, SegmentConfig(), "UTC")
    segments.store(conn, rows)
    share, got = agreement(conn, truth, AS_OF)
    assert share >= 0.9, share
    for kind in segments.SEGMENTS:  # every segment is found, not only the big ones
        assert any(s == kind for s in got.values()), kind
    th = segments.thresholds(segments.load_activity(conn, segments.ZoneInfo("UTC"), AS_OF), AS_OF,
                             SegmentConfig())
    assert 10 <= th.lapsing_days < th.churn_days <= 45 and 3 <= th.active_days_n <= 10
    conn.close()


def test_configured_thresholds_replace_the_defaults(hub_database: DatabaseConfig) -> None:
    """lapsing_days, churn_days, active_days_n and new_days from hub.yaml decide instead of the chain's
    distribution: a weekly shopper last seen 15 days ago is lapsing by default (twice the chain's usual
    gap, 7 days), normal with lapsing_days 20."""
    conn = db = open_database(hub_database)
    db.execute("INSERT INTO members (member_id, joined_on) VALUES ('M1', '2025-01-01')")
    for d in (1, 8, 15):  # purchases on Nov 1, 8 and 15
        at = int(datetime(2026, 11, d, 12, tzinfo=UTC).timestamp())
        db.execute("INSERT INTO pos_transactions (store, transaction_id, at_utc, at_epoch_s,"
                   " net_amount_cents, member_id) VALUES ('brno-1', ?, '', ?, 1000, 'M1')", (f"t{d}", at))
    row = segments.compute(conn, AS_OF, SegmentConfig(), "UTC")[0]
    assert (row.segment, row.recency_d, row.purchases_90d, row.spend_90d) == ("lapsing", 15, 3, 30.0)
    cfg = SegmentConfig(lapsing_days=20, churn_days=40, active_days_n=4)
    assert segments.compute(conn, AS_OF, cfg, "UTC")[0].segment == "normal"
    assert segments.compute(conn, AS_OF, SegmentConfig(lapsing_days=5, churn_days=12), "UTC")[0].segment == \
        "churn_risk"
    assert segments.compute(conn, date(2026, 11, 16), SegmentConfig(active_days_n=3), "UTC")[0].segment == \
        "active"
    db.close()


def test_small_segment_counts_are_withheld_with_their_complement() -> None:
    """Counts of 1..k-1 are withheld with the feed's rule (hub.suppress): the smallest others too until
    no withheld count can be solved from the total (all members) and the published ones; zeros are
    published. Two segments of 4 at k = 5 (sum 8) are both 4 exactly: one more is withheld."""
    assert segments.suppress({"active": 40, "normal": 12, "lapsing": 2, "churn_risk": 0, "new": 9}, 5) == {
        "active": 40, "normal": 12, "lapsing": None, "churn_risk": 0, "new": None}
    assert segments.suppress({"active": 40, "normal": 6}, 5) == {"active": 40, "normal": 6}
    assert segments.suppress({"active": 40, "normal": 12, "lapsing": 4, "new": 4}, 5) == {
        "active": 40, "normal": None, "lapsing": None, "new": None}


def test_the_crm_team_gets_a_segment_as_csv_and_counts_by_segment(
    tmp_path: Path, hub_database: DatabaseConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    """`members --segment lapsing --format csv` lists that segment's members with their RFM figures;
    plain `members` counts every segment (k-suppressed); the day's run is kept for arrival profiles."""
    config = _yaml(tmp_path, hub_database)
    truth = generate(hub_database, AS_OF, 200, seed=3)
    assert main(["members", "--config", str(config), "--date", AS_OF.isoformat(), "--segment", "lapsing",
                 "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows and {r["segment"] for r in rows} == {"lapsing"}
    assert list(rows[0])[:4] == ["as_of", "member_id", "segment", "recency_d"]
    assert sum(truth[r["member_id"]] == "lapsing" for r in rows) >= 0.8 * len(rows)
    assert main(["members", "--config", str(config), "--date", AS_OF.isoformat(), "--format", "csv"]) == 0
    counts = {r["segment"]: r["members_n"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert set(counts) == set(segments.SEGMENTS)
    assert sum(int(n) for n in counts.values() if n) <= 200
    with open_database(hub_database) as db:
        assert lifecycle_segment(db, rows[0]["member_id"]) == "lapsing"


def test_visiting_versus_buying_members_by_attribute(hub_database: DatabaseConfig) -> None:
    """By CRM tier: members, who came (a member visit), who bought (loyalty id at the till), who came
    and did not buy, who bought with no visit heard, and the share of visitors who bought."""
    db = open_database(hub_database)
    for i in range(12):
        tier = "gold" if i < 6 else "silver"
        db.execute("INSERT INTO members (member_id, tier, member_key) VALUES (?, ?, ?)",
                   (f"M{i}", tier, f"{i:032x}"))
        if i % 6 < 5:  # five of each tier came in
            db.execute("INSERT INTO member_visits VALUES ('brno-1', ?, 1000, 2000, 1000, 'gw')",
                       (f"{i:032x}",))
        if i < 6 and i % 6 != 1:  # five gold members bought: four who came, one who was not heard
            db.execute("INSERT INTO pos_transactions (store, transaction_id, at_utc, at_epoch_s,"
                       " net_amount_cents, member_id) VALUES ('brno-1', ?, '', 1500, 100, ?)",
                       (f"t{i}", f"M{i}"))
    rows = {r["group"]: r for r in mismatch(db, "tier", 0, 10_000, k=1)}
    assert rows["gold"] == {"group": "gold", "members_n": 6, "visiting_n": 5, "buying_n": 5,
                            "visit_no_buy_n": 1, "buy_no_visit_n": 1, "visitors_buying": 0.8}
    assert (rows["silver"]["buying_n"], rows["silver"]["visit_no_buy_n"]) == (0, 5)
    hidden = {r["group"]: r for r in mismatch(db, "tier", 0, 10_000, k=5)}
    assert hidden["gold"]["visit_no_buy_n"] is None and hidden["gold"]["buy_no_visit_n"] is None
    db.close()
