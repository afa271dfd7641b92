"""Members by lifecycle segment on the data-team feed: day payloads, k-suppressed by the feed's rule."""

from __future__ import annotations

import dataclasses
import random

import jsonschema

from hub.config import PublishConfig
from hub.publish.cells import DAY
from hub.publish.payload import SEGMENT_FIELDS, metrics_schema
from hub.publish.release import release
from hub.publish.revisions import Sent
from tests.hub.publish.test_cells import T, day_of, withheld
from tests.hub.reports.test_suppression import pinned

CFG = PublishConfig(k=5)
SEGMENTS = {"active": 30, "normal": 12, "lapsing": 4, "churn_risk": 4, "new": 9}


def test_day_payloads_carry_members_by_segment_with_small_ones_withheld() -> None:
    """The day payload has the store's members by segment; two segments of 4 at k = 5 are both below k
    and would be both 4 from the total: a third (the smallest other, 9) is withheld too, and no
    withheld one can be solved; hour payloads have them null, not withheld; both are schema-valid."""
    sd = dataclasses.replace(day_of({10: (8, 20, 9)}, (20, 65, 27)), segments=SEGMENTS)
    sent: dict[int, Sent] = {}
    (hour,), _ = release(sd, "acme", [10], sent, CFG, T, random.Random(0))
    (day,), _ = release(sd, "acme", [DAY], sent, CFG, T, random.Random(0))
    validator = jsonschema.Draft202012Validator(metrics_schema())
    assert validator.is_valid(hour) and validator.is_valid(day)
    assert all(hour[f] is None and f not in withheld(hour) for f in SEGMENT_FIELDS)
    assert (day["members_active_n"], day["members_normal_n"]) == (30, 12)
    assert {f: r for f, r in withheld(day).items() if f in SEGMENT_FIELDS} == {
        "members_lapsing_n": "below_k", "members_churn_risk_n": "below_k", "members_new_n": "complementary"}
    cells = [(day[f], withheld(day).get(f)) for f in SEGMENT_FIELDS]
    assert pinned(cells, sum(SEGMENTS.values()), CFG.k) == []
    assert pinned([(None if n < 5 else n, "below_k" if n < 5 else None) for n in SEGMENTS.values()],
                  sum(SEGMENTS.values()), CFG.k) == [2, 3]  # the control: without the complement, both


def test_a_sales_update_keeps_the_segments_as_published() -> None:
    """The next morning's POS import republishes the day with sales: the segment counts stay as first
    published (withheld ones still withheld), not recomputed unsuppressed."""
    sent: dict[int, Sent] = {}
    first = dataclasses.replace(day_of({10: (8, 20, 9)}, (20, 65, 27), pos_known=False), segments=SEGMENTS)
    release(first, "acme", [DAY], sent, CFG, T, random.Random(0))
    later = dataclasses.replace(day_of({10: (8, 20, 9)}, (20, 65, 27)), segments={**SEGMENTS, "lapsing": 6})
    (update,), _ = release(later, "acme", [DAY], sent, CFG, T, random.Random(0))
    assert update["transactions_n"] is not None and update["revision"] == 1
    assert update["members_lapsing_n"] is None and withheld(update)["members_lapsing_n"] == "below_k"
