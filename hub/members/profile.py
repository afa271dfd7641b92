"""The store's own view of a member, for the assistant at the till when she arrives.

Last visits here, last purchases (loyalty id at the till), a lifetime spend band rather than the exact
sum, the lifecycle segment of the last daily run (hub/members/segments.py), the CRM's segment and tier,
and any campaign columns a CRM import added to `members` (columns named `campaign*`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub.store.sql import Db

VISITS_SHOWN = 5
PURCHASES_SHOWN = 5
# lifetime net spend bands, in the currency's main unit: (lower bound, label)
SPEND_BANDS = ((0, "under 100"), (100, "100-500"), (500, "500-2000"), (2000, "2000+"))


def spend_band(cents: int) -> str:
    """The band of a lifetime net spend given in cents."""
    label = SPEND_BANDS[0][1]
    for low, name in SPEND_BANDS:
        if cents >= low * 100:
            label = name
    return label


def _day(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%d")


def profile(db: Db, store: str, member_id: str, member_key: str) -> dict[str, Any]:
    """Everything the arrival event says about the member (no device key, no MAC)."""
    crm = db.execute("SELECT segment, tier FROM members WHERE member_id = ?", (member_id,)).fetchone()
    visits = db.execute(
        "SELECT started_epoch_s, dwell_s FROM member_visits WHERE member_key = ? AND store = ?"
        " ORDER BY started_epoch_s DESC LIMIT ?", (member_key, store, VISITS_SHOWN)).fetchall()
    purchases = db.execute(
        "SELECT at_epoch_s, net_amount_cents, store FROM pos_transactions WHERE member_id = ? AND voided = 0"
        " ORDER BY at_epoch_s DESC LIMIT ?", (member_id, PURCHASES_SHOWN)).fetchall()
    (lifetime,) = db.execute(
        "SELECT coalesce(sum(net_amount_cents), 0) FROM pos_transactions WHERE member_id = ? AND voided = 0",
        (member_id,)).fetchone()
    return {
        "member_id": member_id,
        "crm_segment": crm[0] if crm else None,
        "tier": crm[1] if crm else None,
        "lifecycle_segment": lifecycle_segment(db, member_id),
        "last_visits": [{"date": _day(int(t)), "dwell_s": int(d)} for t, d in visits],
        "last_purchases": [{"date": _day(int(t)), "net_amount": round(int(c) / 100, 2), "store": s}
                           for t, c, s in purchases],
        "lifetime_spend_band": spend_band(int(lifetime)),
        "campaigns": campaigns(db, member_id),
    }


def lifecycle_segment(db: Db, member_id: str) -> str | None:
    """The member's segment of the latest daily run, or None before the first run."""
    if not db.has_table("member_segments"):  # SQLite before the first daily run
        return None
    row = db.execute("SELECT segment FROM member_segments WHERE member_id = ? ORDER BY as_of DESC"
                     " LIMIT 1", (member_id,)).fetchone()
    return str(row[0]) if row else None


def campaigns(db: Db, member_id: str) -> dict[str, Any]:
    """The CRM's campaign columns of the member, when an import added any."""
    cols = [c for c in db.columns("members") if c.startswith("campaign")]
    if not cols:
        return {}
    row = db.execute(f"SELECT {', '.join(cols)} FROM members WHERE member_id = ?", (member_id,)).fetchone()
    return {c: v for c, v in zip(cols, row or (), strict=False) if v not in (None, "")}
