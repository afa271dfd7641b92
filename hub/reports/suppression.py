"""Reports that leave the store: the feed's small-cell rule (`hub.suppress`) on a report's counts.

`footfall-hub report --suppress` (the default for csv and json) withholds every count of devices or
members from 1 to k-1 (`below_k`), the cells that would let one be solved (`complementary`) and what
is computed from a withheld count (`derived`); member ids are left out (`member_ids`). k is the
feed's (`publish.k`). The tables a reader can add up, each protected by `hub.suppress.protect` until
nothing changes:

- the report's grain: the hours of each local day, the days of each ISO week and of each month, all
  the weeks or months of the range; each table's total counts as known (another report or the feed
  prints it), withheld only if it is below k itself (the cautious reading);
- the stores of the report at each period, by instant and by local time (a group's totals);
- within a row: new + returning = visitors, the four loyalty classes = member visitors;
- `report --date`: the hours and the day, the day a cell of the export.

Door counts (people at a door) and POS figures are not withheld. Comparisons with earlier weeks of
device figures (visitors, capture rate; traffic and conversion when traffic is Wi-Fi visitors) are
withheld (`derived`): those periods' own tables are not in the export to protect them.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hub.joins.daily import DailyReport
from hub.joins.metrics import COMPARED, MetricsReport, MetricsRow
from hub.suppress import BELOW_K, DERIVED, Cell, primary, protect

MEMBER_IDS = "member_ids"  # a list of member ids: never in a suppressed export
COUNTS = ("visitors", "passersby", "visitor_visits_n", "engaged_5_20_min_n", "engaged_20_60_min_n",
          "engaged_1_6_h_n", "engaged_6_h_plus_n", "bounces_n", "new_visitors_n", "returning_visitors_n",
          "member_visits_n", "member_visitors_n", "member_returning_n", "member_buyers_n",
          "loyalty_first_time_n", "loyalty_occasional_n", "loyalty_weekly_n", "loyalty_daily_n")
DERIVED_FROM = {  # figure -> the counts it is computed from
    "capture_rate": ("visitors", "passersby"),
    "median_dwell_s": ("visitor_visits_n",),
    "mean_dwell_s": ("visitors",),  # the people's stays
    "visitors_low": ("visitors",),  # its 80 % interval
    "visitors_high": ("visitors",),
    "bounce_rate": ("bounces_n", "visitor_visits_n"),
    "member_conversion": ("member_buyers_n", "member_visitors_n"),
    "occupancy": ("visitors",),
}
WIFI = ("visitors", "visitor_visits_n")  # traffic from Wi-Fi is visitor arrivals x a published factor
BY_TRAFFIC = ("traffic_in", "traffic_in_low", "traffic_in_high", "conversion", "sales_per_visitor_cents",
              "shoppers_per_staff_hour")
IN_ROW = ((("new_visitors_n", "returning_visitors_n"), "visitors"),
          (("loyalty_first_time_n", "loyalty_occasional_n", "loyalty_weekly_n", "loyalty_daily_n"),
           "member_visitors_n"))

Address = tuple[int, str]  # row index, field


@dataclass(frozen=True)
class Suppression:
    """What an export withheld: per row of the report (a DailyReport: its hours, then the day), field
    -> reason; comparisons are named `last_week.visitors`, `avg_4_weeks.capture_rate`."""

    k: int
    rows: tuple[dict[str, str], ...]

    def withheld(self, i: int) -> list[dict[str, str]]:
        """The row's `withheld` list, as the feed writes it."""
        return [{"field": f, "reason": r} for f, r in sorted(self.rows[i].items())]

    def note(self) -> str:
        return (f"suppressed with k = {self.k}: counts of devices or members from 1 to {self.k - 1} are "
                "withheld (below_k), with the cells that would let one be solved (complementary), what is "
                "computed from them (derived) and member ids (member_ids); door counts and sales are not")


def chosen_k(suppress: bool | None, fmt: str, k: int) -> int | None:
    """The k a report is suppressed with (None: exact): `--suppress`/`--no-suppress` if given, else
    csv and json (exports, meant to leave the store) are suppressed and table and html are not."""
    return k if (suppress if suppress is not None else fmt in {"csv", "json"}) else None


def _wifi(row: MetricsRow) -> bool:
    return row.traffic_source != "door_counters"


def _tables(rows: Sequence[MetricsRow], day_total: int | None) -> list[tuple[list[int], int | None]]:
    """(row indexes of the parts, index of the total row or None: a total known elsewhere)."""
    if day_total is not None:
        return [(list(range(day_total)), day_total)]
    groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        if r.grain == "hour":
            groups["day", r.store, r.start.date()].append(i)
        elif r.grain == "day":
            groups["week", r.store, r.start.isocalendar()[:2]].append(i)
            groups["month", r.store, r.start.year, r.start.month].append(i)
        else:
            groups["range", r.store].append(i)
        groups["stores", r.start].append(i)  # the same instant (aware datetimes compare so)
        groups["stores, local", r.start.replace(tzinfo=None)].append(i)  # the same local period
    distinct = {tuple(parts) for parts in groups.values()}
    return [(list(parts), None) for parts in sorted(distinct)]


def _protect_all(rows: Sequence[MetricsRow], k: int, day_total: int | None) -> dict[Address, str]:
    """Every table of the module docstring through `protect`, again until no reason changes."""
    reasons: dict[Address, str] = {}
    tables: list[tuple[list[Address], Address | None]] = []
    for members, whole in _tables(rows, day_total):
        for f in COUNTS:
            known = [i for i in members if getattr(rows[i], f) is not None]
            if known and (whole is None or getattr(rows[whole], f) is not None):
                tables.append(([(i, f) for i in known], None if whole is None else (whole, f)))
    for i, r in enumerate(rows):
        for fields, of in IN_ROW:
            if all(getattr(r, f) is not None for f in (*fields, of)):
                tables.append(([(i, f) for f in fields], (i, of)))

    def value(a: Address) -> int:
        return int(getattr(rows[a[0]], a[1]))

    changed = True
    while changed:
        changed = False
        for parts, total in tables:
            cells = [Cell(value(a), reasons.get(a)) for a in parts]
            if total is None:
                s = sum(c.value for c in cells)
                pattern = protect(cells, Cell(s, primary(s, k), locked=True), k)
            else:
                pattern = protect(cells, Cell(value(total), reasons.get(total)), k)
            for a, c in [*zip(parts, pattern.parts, strict=True), (total, pattern.total)]:
                if a is not None and c.reason and reasons.get(a) != c.reason:
                    reasons[a] = c.reason
                    changed = True
    for i, r in enumerate(rows):  # counts in no table (all unknown elsewhere): the primary rule
        for f in COUNTS:
            v = getattr(r, f)
            if v is not None and (i, f) not in reasons and primary(int(v), k):
                reasons[i, f] = BELOW_K
    return reasons


def _row_reasons(row: MetricsRow, counts: dict[str, str], k: int, factor: float) -> dict[str, str]:
    """A row's withheld counts with what derives from them, its comparisons and member ids."""
    out = dict(counts)
    if row.occupancy is not None and primary(round(row.occupancy / (factor or 1.0)), k):
        out["occupancy"] = BELOW_K  # people present: a device count x the factor
    for figure, sources in DERIVED_FROM.items():
        if any(s in counts for s in sources):
            out.setdefault(figure, DERIVED)
    if _wifi(row) and any(s in counts for s in WIFI):
        for figure in BY_TRAFFIC:
            out.setdefault(figure, DERIVED)
    device = ["visitors", "capture_rate", *(("traffic_in", "conversion") if _wifi(row) else ())]
    for which in ("last_week", "avg_4_weeks"):
        for m in COMPARED:
            if m in device and getattr(row, which).get(m) is not None:
                out[f"{which}.{m}"] = DERIVED
    if row.members_not_bought:
        out["members_not_bought"] = MEMBER_IDS
    return out


def _blank(row: MetricsRow, reasons: dict[str, str]) -> MetricsRow:
    """The row with every withheld figure None (member ids: empty)."""
    changes: dict[str, Any] = {f: None for f in reasons if "." not in f}
    if "members_not_bought" in reasons:
        changes["members_not_bought"] = ()
    for which in ("last_week", "avg_4_weeks"):
        gone = {f.split(".")[1] for f in reasons if f.startswith(which + ".")}
        if gone:
            changes[which] = {m: (None if m in gone else v) for m, v in getattr(row, which).items()}
    return dataclasses.replace(row, **changes)


def suppress_rows(rows: Sequence[MetricsRow], k: int, factors: dict[str, float],
                  day_total: int | None = None) -> tuple[list[MetricsRow], Suppression]:
    """The rows with their withheld figures None, and what was withheld (`day_total`: the index of the
    row that is the total of all those before it, a `report --date`)."""
    counts = _protect_all(rows, k, day_total) if k > 1 else {}
    per_row: list[dict[str, str]] = [{} for _ in rows]
    for (i, f), reason in counts.items():
        per_row[i][f] = reason
    reasons = [_row_reasons(r, per_row[i], k, factors.get(r.store, 1.0)) if k > 1 else {}
               for i, r in enumerate(rows)]
    return [_blank(r, x) for r, x in zip(rows, reasons, strict=True)], Suppression(k, tuple(reasons))


def suppress_report(report: MetricsReport | DailyReport, k: int) -> tuple[MetricsReport | DailyReport,
                                                                          Suppression]:
    """The report as it may leave the store, and what it withholds."""
    if isinstance(report, DailyReport):
        rows, how = suppress_rows([*report.hours, report.day], k,
                                  {report.store: report.calibration_factor}, day_total=len(report.hours))
        return dataclasses.replace(report, hours=tuple(rows[:-1]), day=rows[-1]), how
    return suppress_metrics(report, k)


def suppress_metrics(report: MetricsReport, k: int) -> tuple[MetricsReport, Suppression]:
    """suppress_report of a MetricsReport."""
    factors = {s.store: s.calibration_factor for s in report.store_settings}
    rows, how = suppress_rows(report.rows, k, factors)
    return dataclasses.replace(report, rows=tuple(rows)), how


def suppress_totals(totals: dict[str, Any], k: int, wifi: bool) -> dict[str, Any]:
    """A totals row (hub.joins.totals) of a suppressed report: counts below k withheld, with what
    derives from them (the totals are the tables' totals, known apart from that)."""
    counts = {f: BELOW_K for f in COUNTS if isinstance(totals.get(f), int) and primary(totals[f], k)}
    out = dict(totals)
    for figure, sources in DERIVED_FROM.items():
        if any(s in counts for s in sources):
            out[figure] = None
    if wifi and any(s in counts for s in WIFI):
        for figure in BY_TRAFFIC:
            out[figure] = None
    for f in counts:
        out[f] = None
    return out


def suppressed_total(rows: Sequence[MetricsRow], reasons: Sequence[dict[str, str]], k: int) -> dict[str, Any]:
    """The totals row (hub.joins.totals) of suppressed rows: a sum over a withheld cell is withheld too
    (with what derives from it), the rest as `suppress_totals`."""
    from hub.joins.totals import total  # noqa: PLC0415 -- only the table and html show totals

    t = total(rows)
    gone = {f for r in reasons for f in r if f in COUNTS or f == "traffic_in"}
    for f in gone:
        t[f] = None
    for figure, sources in DERIVED_FROM.items():
        if any(t.get(s) is None and s in gone for s in sources):
            t[figure] = None
    wifi = any(_wifi(r) for r in rows)
    if "traffic_in" in gone:
        for figure in BY_TRAFFIC:
            t[figure] = None
    return suppress_totals(t, k, wifi)
