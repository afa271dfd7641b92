"""A report's section of members by lifecycle segment, per store (issue 16), k-suppressed always.

The segments are `hub.members.segments`' (computed there, once); a store's members are those with a
member visit at it in the 90 days to the report's last day (`segments.store_counts`). Counts of 1 to
k-1 members are withheld with their complements by the feed's rule (`hub.suppress.protect_named`,
the store's member total taken as known), in every format, suppressed or not: member counts are
people, as in `footfall-hub members`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from hub.config import HubConfig
from hub.members.segments import SEGMENTS, store_counts
from hub.store.sql import Db
from hub.suppress import protect_named


@dataclass(frozen=True)
class SegmentCounts:
    """Members by segment per store on `as_of`; None: withheld (`withheld` says why)."""

    as_of: date
    k: int
    counts: dict[str, dict[str, int | None]]
    withheld: dict[str, dict[str, str]]

    def definition(self) -> str:
        return (f"members of each store (a member visit there in the 90 days to {self.as_of}) by lifecycle"
                f" segment on that day ({', '.join(SEGMENTS)}; footfall-hub members); counts of 1 to"
                f" {self.k - 1} withheld with their complements (k = {self.k}); a member of two stores"
                " counts at both")

    def document(self) -> dict[str, Any]:
        """The json section: counts per store, and a `withheld` list as the feed's."""
        return {"as_of": self.as_of.isoformat(), "k": self.k, "definition": self.definition(),
                "stores": self.counts,
                "withheld": [{"store": s, "field": f, "reason": r}
                             for s, w in self.withheld.items() for f, r in sorted(w.items())]}

    def lines(self) -> list[str]:
        """One line per store, `-` for a withheld count: `brno-1: active 12, normal -, ...`."""
        return [f"{s}: " + ", ".join(f"{g} {'-' if n is None else n}" for g, n in c.items())
                for s, c in self.counts.items()]


def segment_counts(db: Db, config: HubConfig, stores: list[str],
                   as_of: date) -> SegmentCounts | None:
    """The section for `stores` on `as_of`; None when no member has ever been seen (nothing to say)."""
    members_db: Any = db  # hub.members takes a Db once its port lands (issue 17)
    raw = store_counts(members_db, as_of, config.segments, config.default_timezone, stores)
    if not any(any(c.values()) for c in raw.values()):
        return None
    k = config.publish.k
    withheld = {s: protect_named(c, k) if k > 1 else {} for s, c in raw.items()}
    shown = {s: {g: (None if g in withheld[s] else n) for g, n in c.items()} for s, c in raw.items()}
    return SegmentCounts(as_of, k, shown, withheld)
