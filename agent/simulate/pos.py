"""The simulated day's POS export: a purchase near the end of some visitor visits, and a refund or two.

Sales are tied to the visits the truth computed, so conversion measured against the truth is exact.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import random
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

from agent.simulate.truth import US, Sale, Visit

BUY_P = 0.28  # share of visitor visits with a purchase
REFUNDS = 2
POS_HEADER = ("store", "timestamp", "transaction_id", "net_amount")


def make_sales(
    rng: random.Random, date: dt.date, visitor_visits: Sequence[Visit], open_us: int, close_us: int
) -> list[Sale]:
    """Purchases 30 s to 4 min before a visit ends, refunds at random opening times; ids in time order."""
    drafts: list[tuple[int, int]] = []
    for visit in visitor_visits:
        if rng.random() < BUY_P:
            at_us = max(visit.start_us, visit.end_us - int(rng.uniform(30, 240) * US))
            cents = min(40_000, max(150, round(rng.lognormvariate(math.log(2500), 0.75))))
            drafts.append((at_us // US, cents))
    for _ in range(REFUNDS):
        drafts.append((int(rng.uniform(open_us, close_us)) // US, -rng.randint(500, 6000)))
    drafts.sort(key=lambda d: d[0])  # stable: equal seconds keep their generation order
    prefix = f"T-{date:%Y%m%d}-"
    return [Sale(f"{prefix}{i:05d}", at_s, cents) for i, (at_s, cents) in enumerate(drafts, start=1)]


def write_pos(path: Path, store: str, timezone: str, sales: Sequence[Sale]) -> None:
    """`store,timestamp,transaction_id,net_amount`; local time with offset, amounts with 2 decimals."""
    tz = ZoneInfo(timezone)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(POS_HEADER)
        for sale in sales:
            local = dt.datetime.fromtimestamp(sale.at_s, tz).isoformat(timespec="seconds")
            sign = "-" if sale.amount_cents < 0 else ""
            amount = f"{sign}{abs(sale.amount_cents) // 100}.{abs(sale.amount_cents) % 100:02d}"
            out.writerow((store, local, sale.transaction_id, amount))
