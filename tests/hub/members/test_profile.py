"""The store's view of an arriving member: what the assistant at the till sees, and nothing more."""

from __future__ import annotations

from hub.config import DatabaseConfig
from hub.members.profile import profile, spend_band
from hub.store.sql import open_database

KEY = "ab" * 16


def test_the_profile_holds_visits_here_purchases_a_spend_band_and_campaigns(
    hub_database: DatabaseConfig,
) -> None:
    """Last visits at this store (newest first), last purchases under her loyalty id (voided ones never),
    a lifetime spend band rather than the sum, the CRM's segment and tier, and the CRM's campaign columns
    when an import added some; no key of her phone."""
    db = open_database(hub_database)
    db.execute("ALTER TABLE members ADD COLUMN campaign_spring TEXT")
    db.execute("INSERT INTO members (member_id, segment, tier, member_key, campaign_spring) VALUES"
               " ('M1', 'family', 'gold', ?, 'opened coupon')", (KEY,))
    for start, store in ((1_795_000_000, "brno-1"), (1_795_600_000, "brno-1"), (1_795_700_000, "brno-2")):
        db.execute("INSERT INTO member_visits VALUES (?, ?, ?, ?, 900, 'gw')",
                   (store, KEY, start, start + 900))
    for i, (cents, voided) in enumerate(((12_000, 0), (30_050, 0), (99_900, 1))):
        db.execute("INSERT INTO pos_transactions (store, transaction_id, at_utc, at_epoch_s,"
                   " net_amount_cents, member_id, voided) VALUES ('brno-1', ?, '', ?, ?, 'M1', ?)",
                   (f"t{i}", 1_795_000_000 + i, cents, voided))
    got = profile(db, "brno-1", "M1", KEY)
    db.close()
    assert got == {
        "member_id": "M1", "crm_segment": "family", "tier": "gold", "lifecycle_segment": None,
        "last_visits": [{"date": "2026-11-25", "dwell_s": 900}, {"date": "2026-11-18", "dwell_s": 900}],
        "last_purchases": [{"date": "2026-11-18", "net_amount": 300.5, "store": "brno-1"},
                           {"date": "2026-11-18", "net_amount": 120.0, "store": "brno-1"}],
        "lifetime_spend_band": "100-500", "campaigns": {"campaign_spring": "opened coupon"},
    }
    assert KEY not in str(got)
    assert [spend_band(c) for c in (0, 9_999, 10_000, 199_999, 200_000)] == [
        "under 100", "under 100", "100-500", "500-2000", "2000+"]
