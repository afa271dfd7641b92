"""Who comes in versus who buys: members by segment or CRM attribute, visiting and buying in a period.

For each group (lifecycle segment of the last daily run, the CRM's segment, or its tier): members,
members who visited (a member visit at any store), members who bought (a purchase under their loyalty
id), visited without buying, bought without a visit heard (a phone left at home, no consent for the
device), and the share of visiting members who bought. Counts of 1..k-1 members are withheld with
their complements (hub/members/segments.py `suppress`), column by column.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hub.members.segments import suppress
from hub.store.sql import Db

BY = {"segment": "lifecycle segment", "crm_segment": "CRM segment", "tier": "CRM tier"}
COLUMNS = ("members_n", "visiting_n", "buying_n", "visit_no_buy_n", "buy_no_visit_n")


def mismatch(db: Db, by: str, start_s: int, end_s: int, k: int) -> list[dict[str, Any]]:
    """Rows by group for [start_s, end_s), k-suppressed; `by` is a key of BY."""
    if by == "segment":
        latest = (db.execute("SELECT max(as_of) FROM member_segments").fetchone()[0]
                  if db.has_table("member_segments") else None)
        groups = {str(m): str(s) for m, s in db.execute(
            "SELECT member_id, segment FROM member_segments WHERE as_of = ?", (latest,))} if latest else {}
        members = {str(m): groups.get(str(m), "unknown")
                   for (m,) in db.execute("SELECT member_id FROM members")}
    else:
        column = {"crm_segment": "segment", "tier": "tier"}[by]
        members = {str(m): str(g or "unknown") for m, g in db.execute(
            f"SELECT member_id, {column} FROM members")}
    visiting = {str(m) for (m,) in db.execute(
        "SELECT DISTINCT m.member_id FROM member_visits v JOIN members m ON m.member_key = v.member_key"
        " WHERE v.started_epoch_s >= ? AND v.started_epoch_s < ?", (start_s, end_s))}
    buying = {str(m) for (m,) in db.execute(
        "SELECT DISTINCT member_id FROM pos_transactions WHERE member_id IS NOT NULL AND voided = 0"
        " AND at_epoch_s >= ? AND at_epoch_s < ?", (start_s, end_s))}
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COLUMNS, 0))
    for member, group in members.items():
        c = counts[group]
        came, bought = member in visiting, member in buying
        c["members_n"] += 1
        c["visiting_n"] += came
        c["buying_n"] += bought
        c["visit_no_buy_n"] += came and not bought
        c["buy_no_visit_n"] += bought and not came
    shown: dict[str, dict[str, int | None]] = {g: {} for g in counts}
    for col in COLUMNS:
        for g, n in suppress({g: c[col] for g, c in counts.items()}, k).items():
            shown[g][col] = n
    rows = []
    for g in sorted(shown):
        row: dict[str, Any] = {"group": g, **shown[g]}
        v, b = shown[g]["visiting_n"], shown[g]["visit_no_buy_n"]
        row["visitors_buying"] = round(1 - b / v, 3) if v and b is not None else None
        rows.append(row)
    return rows
