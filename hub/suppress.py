"""Small-cell suppression of one total and its parts, that no linear combination can undo.

A table here is a total and the parts it is the sum of: the hours of a day, the days of a week or a
month, the stores of a group. A count from 1 to k-1 singles out fewer than k devices and is withheld
(`BELOW_K`). Withholding alone is not enough: the total minus the published parts gives the sum of
the withheld ones, and with what a reader knows of each withheld cell (a `BELOW_K` cell lies in
[1, k-1]: the `withheld` reasons say which cells are which, and 0 is always published) that sum can
pin a cell down: one hidden hour is the difference itself; two hidden hours summing to 8 at k = 5
are both 4; two summing to 2 are both 1.

The rule, exactly: the reader knows the published values, the reason of every withheld cell and the
one constraint parts = total. For every withheld `BELOW_K` cell, the values consistent with all of
that must be more than one (`exposed` computes each cell's feasible interval: with one equality and
box bounds the interval is exact, every integer in it is reachable). While some `BELOW_K` cell is
pinned, one more cell is withheld (`COMPLEMENTARY`, bounds [0, unbounded)): the smallest published
part above 0 that may still be withheld, else the total. When every cell is withheld already (a day of
2 at k = 3 made of two hours of 1: all are in [1, 2], so all are pinned), a small cell's reason is given
as `COMPLEMENTARY` instead, the total first: its "1 to k-1" was what pinned the others. One such
cell always suffices for k >= 3: a cell of value >= 1 with no upper bound leaves every other withheld
cell at least two values (tests/hub/publish/test_suppress.py checks it by brute force). With k = 2 a
`BELOW_K` cell is 1 by definition, so k is 1 (off) or at least 3 (`hub.config.PublishConfig`).

Cells already published (an hour out before its day closes) are `locked`: they cannot be withheld
any more, so the total is withheld instead; `protect` returns `unresolved` when nothing is left to
withhold, and the caller then does not publish what would expose a cell.

Every suppressed output uses this one rule: the data-team feed (`hub.publish.cells`), exported reports
(`hub.reports.suppression`) and member counts by segment (`hub.members.segments`). It lives outside
`hub.publish` so that those import no publisher.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

BELOW_K = "below_k"  # 1 to k-1 devices
COMPLEMENTARY = "complementary"  # withheld so that no below_k cell can be solved from the others
DERIVED = "derived"  # computed from a withheld count (capture rate, Wi-Fi traffic, conversion)
REASONS = (BELOW_K, COMPLEMENTARY, DERIVED)


@dataclass(frozen=True, slots=True)
class Cell:
    """One count of the table. `value`: the true count (what a reader sees when `reason` is None, i.e.
    published); `reason`: why it is withheld; `locked`: already published, cannot be withheld now."""

    value: int
    reason: str | None = None
    locked: bool = False


@dataclass(frozen=True)
class Pattern:
    """The cells after protection (total last), and whether some BELOW_K cell could not be protected."""

    parts: tuple[Cell, ...]
    total: Cell
    unresolved: bool = False


Interval = tuple[float, float]
INF = float("inf")


def _bounds(cell: Cell, k: int) -> Interval:
    if cell.reason == BELOW_K:
        return 1.0, float(k - 1)
    return 0.0, INF


def feasible(parts: Sequence[Cell], total: Cell, k: int) -> dict[int, Interval]:
    """What a reader can say of each withheld cell (index into parts; len(parts) is the total): the
    interval of values consistent with the published ones, the reasons and parts = total."""
    # sum(hidden parts) - total = -(published parts) [- nothing, if the total is hidden too]
    c = -float(sum(p.value for p in parts if p.reason is None))
    terms: list[tuple[int, Interval]] = []  # variables with their bounds, the total as y = -total
    for i, p in enumerate(parts):
        if p.reason is not None:
            terms.append((i, _bounds(p, k)))
    if total.reason is None:
        c += total.value
    else:
        lo, hi = _bounds(total, k)
        terms.append((len(parts), (-hi, -lo)))
    out: dict[int, Interval] = {}
    # Lows are finite or -inf (a hidden total without bound), highs finite or +inf: the others' sums
    # are all the terms' sums less one's own, O(n) for a table of a thousand stores.
    lo_inf = sum(1 for _, (lo, _) in terms if lo == -INF)
    hi_inf = sum(1 for _, (_, hi) in terms if hi == INF)
    lo_sum = sum(lo for _, (lo, _) in terms if lo != -INF)
    hi_sum = sum(hi for _, (_, hi) in terms if hi != INF)
    for i, (lo, hi) in terms:
        others_lo = -INF if lo_inf - (lo == -INF) else lo_sum - (0.0 if lo == -INF else lo)
        others_hi = INF if hi_inf - (hi == INF) else hi_sum - (0.0 if hi == INF else hi)
        low = max(lo, c - others_hi)
        high = min(hi, c - others_lo)
        out[i] = (-high, -low) if i == len(parts) else (low, high)
    return out


def exposed(parts: Sequence[Cell], total: Cell, k: int) -> list[int]:
    """Indexes of BELOW_K cells pinned to one value (len(parts): the total)."""
    cells = [*parts, total]
    return sorted(i for i, (lo, hi) in feasible(parts, total, k).items()
                  if cells[i].reason == BELOW_K and lo == hi)


def primary(value: int, k: int) -> str | None:
    """BELOW_K for a count from 1 to k-1, else None (0 singles out nobody)."""
    return BELOW_K if 0 < value < k else None


def protect(parts: Sequence[Cell], total: Cell, k: int) -> Pattern:
    """Withhold the small cells (those not locked, and a total not locked) and then as few more as
    it takes for none of them to be pinned (the module's rule)."""
    ps = [p if p.locked or p.reason else Cell(p.value, primary(p.value, k)) for p in parts]
    t = total if total.locked or total.reason else Cell(total.value, primary(total.value, k))
    while exposed(ps, t, k):
        free = [i for i, p in enumerate(ps) if p.reason is None and not p.locked and p.value > 0]
        if free:
            i = min(free, key=lambda j: (ps[j].value, j))
            ps[i] = Cell(ps[i].value, COMPLEMENTARY)
        elif t.reason != COMPLEMENTARY and not t.locked:  # published, or BELOW_K: its reason pins them
            t = Cell(t.value, COMPLEMENTARY)
        elif relabel := [i for i, p in enumerate(ps) if p.reason == BELOW_K and not p.locked]:
            ps[relabel[-1]] = Cell(ps[relabel[-1]].value, COMPLEMENTARY)
        else:
            return Pattern(tuple(ps), t, unresolved=True)
    return Pattern(tuple(ps), t)


def protect_named(counts: dict[str, int], k: int) -> dict[str, str]:
    """name -> reason of the counts to withhold from a table whose total a reader may know (members by
    segment, one row's parts): `protect` with the total locked, the cautious reading."""
    names = list(counts)
    pattern = protect([Cell(counts[n]) for n in names], Cell(sum(counts.values()), locked=True), k)
    return {n: c.reason for n, c in zip(names, pattern.parts, strict=True) if c.reason}
