"""The arithmetic of hub.joins.metrics: one MetricsRow per store and period from a loaded StoreData.

Every definition printed with a report is in `definitions.py`; the formulas are here, once: every
grain, store and output (table, csv, json, html, the feed, `--date` and ranges) reads these rows.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, replace
from datetime import date, timedelta
from typing import Any

from hub.config import HubConfig, MetricSettings, StoreConfig, zone
from hub.joins.calendar import HOUR_S, Calendar, Period
from hub.joins.estimates import WIFI_SOURCES, door_factors, traffic_interval, visitors_interval
from hub.joins.metric_data import StoreData, load_many, windows_of
from hub.joins.metrics import COMPARED, ENGAGEMENT_BUCKETS_S, MetricsRow, StoreSettings, weeks_mean
from hub.joins.rollups import serve
from hub.store.sql import Db


def loyalty_limits(window_d: int) -> tuple[int, int]:
    """(weekly from, daily from) visit days in a loyalty window of `window_d` days."""
    return max(window_d // 7, 2), max(math.ceil(window_d * 2 / 3), window_d // 7 + 1)


def _div(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def wifi_factors(data: StoreData, calibrated: float) -> dict[int, tuple[float, str]]:
    """Per day of a store with a door counter: its Wi-Fi factor and source (hub.joins.estimates)."""
    if not data.door_days:  # no door counter: the configured factor, nothing to fit
        return {}
    cal = data.cal
    days = range(len(cal.days))
    door = {i: float(sum(data.door_in.get(k, 0) for k in cal.day_hours(i)))
            for i in days if i in data.door_days}
    people = {i: float(sum(data.entries.get(k, 0) for k in cal.day_hours(i)))
              for i in days if i in data.day_known}
    return door_factors(people, door, calibrated)


class _Rows:
    def __init__(self, data: StoreData, sc: StoreConfig, store: str, grain: str,
                 factors: dict[int, tuple[float, str]] | None = None) -> None:
        self.d, self.sc, self.store, self.grain, self.cal = data, sc, store, grain, data.cal
        self.factors = factors or {}

    def wifi(self, i: int) -> tuple[float, str]:
        """Day i's Wi-Fi factor and the traffic_source of a figure scaled by it."""
        factor, source = self.factors.get(i, (self.sc.calibration_factor, "calibration"))
        return factor, WIFI_SOURCES[source]

    def bounds(self, traffic: float | None, source: str | None) -> tuple[float | None, float | None]:
        """The 80 % interval of a traffic figure of one source (estimates.traffic_interval)."""
        return traffic_interval(traffic, source, self.d.interval)

    def hours(self, p: Period) -> list[int]:
        if p.hour is not None:
            return [p.hour]
        return [k for i in range(p.first, p.last + 1) for k in self.cal.day_hours(i)]

    def day_visitors(self, i: int) -> int:
        """Different visitor phones that came in on day i."""
        keys: set[tuple[str, str]] = set()
        for k in self.cal.day_hours(i):
            keys.update(self.d.visit_keys.get(k, ()))
        return len(keys)

    def day_traffic(self, i: int) -> tuple[float | None, str | None]:
        d = self.d
        hours = self.cal.day_hours(i)
        if i in d.door_days:
            return float(sum(d.door_in.get(k, 0) for k in hours)), "door_counters"
        if i not in d.day_known:
            return None, None
        factor, source = self.wifi(i)
        return sum(d.entries.get(k, 0) for k in hours) * factor, source

    def footfall(self, p: Period) -> tuple[int | None, int | None, float | None, str | None, float | None,
                                           tuple[float | None, float | None]]:
        """visitors, passers-by, traffic in, traffic source, occupancy (hours only), traffic's interval."""
        d = self.d
        if p.hour is not None:
            k = p.hour
            i = self.cal.hour_day[k]
            known = k in d.hour_known
            v = len(d.visit_keys.get(k, ())) if known else None
            ps = d.hour_passersby.get(k)
            factor, wifi_source = self.wifi(i)
            occupancy = len(d.present.get(k, ())) * self.sc.calibration_factor if known else None
            if i in d.door_days:
                traffic: float | None = float(d.door_in.get(k, 0))
                return v, ps, traffic, "door_counters", occupancy, self.bounds(traffic, "door_counters")
            traffic = d.entries.get(k, 0) * factor if known else None
            hour_source = wifi_source if known else None
            return v, ps, traffic, hour_source, occupancy, self.bounds(traffic, hour_source)
        days = range(p.first, p.last + 1)
        known_days = [i for i in days if i in d.day_known]
        v = sum(self.day_visitors(i) for i in known_days) if known_days else None
        counted = [i for i in days if i in d.day_passersby]
        ps = sum(d.day_passersby[i] for i in counted) if counted else None
        by_day = [self.day_traffic(i) for i in days]
        values = [t for t, _ in by_day if t is not None]
        sources = {s for _, s in by_day if s is not None}
        source = None if not sources else sources.pop() if len(sources) == 1 else "mixed"
        day_bounds = [self.bounds(t, s) for t, s in by_day if t is not None]
        lows, highs = [lo for lo, _ in day_bounds], [hi for _, hi in day_bounds]
        interval = ((sum(x for x in lows if x is not None), sum(x for x in highs if x is not None))
                    if values and None not in lows and None not in highs else (None, None))
        return v, ps, (sum(values) if values else None), source, None, interval

    def new_returning(self, p: Period, hours: list[int]) -> tuple[int | None, int | None]:
        if self.sc.settings.linkability_window_d <= 1:
            return None, None
        d, new, ret = self.d, 0, 0
        by_day: dict[int, set[tuple[str, str]]] = {}
        for k in hours:
            by_day.setdefault(self.cal.hour_day[k], set()).update(d.visit_keys.get(k, ()))
        for i, keys in by_day.items():
            r = sum(1 for key in keys if min(d.key_days[key]) < i)
            ret += r
            new += len(keys) - r
        return new, ret

    def members(self, p: Period, hours: list[int]) -> dict[str, Any]:
        """The member fields of MetricsRow; none (all unknown) before any member visit is stored."""
        d = self.d
        if not d.has_members:
            return {}
        keys: set[str] = set()
        buyers: set[str] = set()
        for k in hours:
            keys.update(d.member_hours.get(k, ()))
            buyers.update(d.buyers.get(k, ()))
        window = self.sc.settings.loyalty_window_d
        weekly, daily = loyalty_limits(window)
        last = p.last if p.hour is None else self.cal.hour_day[p.hour]
        first = p.first if p.hour is None else last
        buckets = [0, 0, 0, 0]
        returning = 0
        for key in keys:
            days = [i for i in d.member_days[key] if last - window < i <= last]
            n = len(days)
            buckets[0 if n <= 1 else 1 if n < weekly else 2 if n < daily else 3] += 1
            returning += any(i < first for i in days)
        ids = {d.member_ids[k] for k in keys if k in d.member_ids}
        return {
            "member_visits_n": sum(d.member_visits.get(k, 0) for k in hours),
            "member_visitors_n": len(keys),
            "member_returning_n": returning,
            "member_buyers_n": len(ids & buyers),
            "member_conversion": _div(len(ids & buyers), len(ids)),
            "members_not_bought": tuple(sorted(ids - buyers)),
            "loyalty_first_time_n": buckets[0],
            "loyalty_occasional_n": buckets[1],
            "loyalty_weekly_n": buckets[2],
            "loyalty_daily_n": buckets[3],
        }

    def compared(self, p: Period) -> dict[str, float | None]:
        """Only the COMPARED metrics of a period (an earlier week): counts, doors and sales."""
        v, ps, traffic, *_ = self.footfall(p)
        hours = self.hours(p)
        tx = sum(self.d.transactions.get(k, 0) for k in hours)
        out: dict[str, float | None] = {
            "traffic_in": traffic,
            "visitors": v,
            "capture_rate": _div(v, (v or 0) + (ps or 0)) if v is not None and ps is not None else None,
            "transactions": tx,
            "net_sales_cents": sum(self.d.net_cents.get(k, 0) for k in hours),
            "conversion": _div(tx, traffic),
        }
        assert tuple(out) == COMPARED
        return out

    def row(
        self,
        p: Period,
        last_week: dict[str, float | None] | None = None,
        avg_4_weeks: dict[str, float | None] | None = None,
    ) -> MetricsRow:
        d, cal = self.d, self.cal
        hours = self.hours(p)
        v, ps, traffic, source, occupancy, (traffic_low, traffic_high) = self.footfall(p)
        visitors_low, visitors_high = visitors_interval(v, d.interval)
        dwell = [x for k in hours for x in d.dwell.get(k, ())]
        bounces = sum(d.bounces.get(k, 0) for k in hours)
        engaged = [sum(1 for x in dwell if lo <= x and (hi is None or x < hi))
                   for lo, hi in ENGAGEMENT_BUCKETS_S]
        tx = sum(d.transactions.get(k, 0) for k in hours)
        net = sum(d.net_cents.get(k, 0) for k in hours)
        staffed = [d.labour[k] for k in hours if k in d.labour]
        labour = sum(staffed) if staffed else None
        new, ret = self.new_returning(p, hours)
        last_day = p.last if p.hour is None else cal.hour_day[p.hour]
        if p.hour is not None:
            t_start, t_end = cal.t0 + p.hour * HOUR_S, cal.t0 + (p.hour + 1) * HOUR_S
        else:
            t_start, t_end = cal.bounds[p.first], cal.bounds[p.last + 1]
        row = MetricsRow(
            store=self.store,
            grain=self.grain,
            start=cal.local(t_start),
            end=cal.local(t_end),
            days_n=p.last - p.first + 1,
            traffic_in=traffic,
            traffic_source=source or None,
            occupancy=occupancy,
            sales_known=d.last_sale_at is not None and d.last_sale_at >= cal.bounds[last_day],
            visitors=v,
            passersby=ps,
            capture_rate=_div(v, (v or 0) + (ps or 0)) if v is not None and ps is not None else None,
            visitor_visits_n=len(dwell),
            median_dwell_s=float(statistics.median(dwell)) if dwell else None,
            mean_dwell_s=statistics.fmean(dwell) if dwell else None,
            visitors_low=visitors_low,
            visitors_high=visitors_high,
            traffic_in_low=traffic_low,
            traffic_in_high=traffic_high,
            engaged_5_20_min_n=engaged[0],
            engaged_20_60_min_n=engaged[1],
            engaged_1_6_h_n=engaged[2],
            engaged_6_h_plus_n=engaged[3],
            bounces_n=bounces,
            bounce_rate=_div(bounces, bounces + len(dwell)),
            new_visitors_n=new,
            returning_visitors_n=ret,
            transactions=tx,
            net_sales_cents=net,
            conversion=_div(tx, traffic),
            sales_per_visitor_cents=_div(net, traffic),
            avg_transaction_value_cents=_div(net, tx),
            labour_hours=labour,
            shoppers_per_staff_hour=_div(traffic, labour),
            member_visits_n=None,
            member_visitors_n=None,
            member_returning_n=None,
            member_buyers_n=None,
            member_conversion=None,
            members_not_bought=(),
            loyalty_first_time_n=None,
            loyalty_occasional_n=None,
            loyalty_weekly_n=None,
            loyalty_daily_n=None,
            last_week={} if last_week is None else last_week,
            avg_4_weeks={} if avg_4_weeks is None else avg_4_weeks,
        )
        member_fields = self.members(p, hours)
        return replace(row, **member_fields) if member_fields else row


def stores_rows(  # noqa: PLR0917 -- mirrors store_metrics' positional signature
    db: Db, config: HubConfig, stores: list[str], start: date, end: date,
    grains: tuple[str, ...], *, compare: bool = True, rollups: bool = True,
) -> dict[str, tuple[bool, dict[str, list[MetricsRow]], StoreSettings]]:
    """Per store: (any data in the range, the rows of each grain, the settings used).

    Day rows come from fresh day rollups where every day needed has one (hub/joins/rollups.py; not
    with `rollups=False`, as the rollup job computes them). The other stores with the same time zone
    and windows share one calendar and are loaded together, with one query per table for all of them
    (metric_data.load_many); every grain asked for is computed from that one load (hours and the day of
    `report --date`, or the page's hours, days and table)."""
    out: dict[str, tuple[bool, dict[str, list[MetricsRow]], StoreSettings]] = {}
    if rollups and grains == ("day",):
        out.update(serve(db, config, list(dict.fromkeys(stores)), start, end, compare=compare))
    groups: dict[tuple[str, int, int], list[tuple[str, StoreConfig]]] = {}
    for store in dict.fromkeys(s for s in stores if s not in out):
        sc = config.store(store)
        s = sc.settings
        key = (sc.timezone or config.default_timezone, s.loyalty_window_d, s.linkability_window_d)
        groups.setdefault(key, []).append((store, sc))
    cmp_days = 0 if set(grains) == {"month"} or not compare else 28
    settings_of: dict[MetricSettings, dict[str, Any]] = {}
    for (tz_name, loyalty_d, linkability_d), members in groups.items():
        cal = Calendar(zone(tz_name), start - timedelta(days=cmp_days + max(loyalty_d, linkability_d)), end)
        a = cal.index(start)
        since = (cal.bounds[max(a - linkability_d + 1, 0)], cal.bounds[max(a - loyalty_d, 0)])
        shifts = range(5) if cmp_days else range(1)
        b = cal.index(end) + 1
        spans = [(cal.bounds[a - 7 * w], cal.bounds[b - 7 * w]) for w in shifts if a - 7 * w >= 0]
        datas = load_many(db, [s for s, _ in members], cal, cal.bounds[a], since, windows_of(spans),
                          {s: sc.settings.visit_timeout_s for s, sc in members},
                          hour_counts="hour" in grains)
        periods = {g: cal.periods(g, start, end) for g in grains}
        earlier = {g: {p: [cal.shifted(p, w) for w in range(1, 5)] for p in ps}
                   for g, ps in periods.items() if cmp_days and g != "month"}
        for store, sc in members:
            data = datas[store]
            rows: dict[str, list[MetricsRow]] = {}
            factors = wifi_factors(data, sc.calibration_factor)
            for g, ps in periods.items():
                maker = _Rows(data, sc, store, g, factors)
                rows[g] = [maker.row(p, *_comparisons(maker, earlier[g][p])) if g in earlier else maker.row(p)
                           for p in ps]
            s = sc.settings  # frozen, so hashable: asdict once per distinct settings
            if s not in settings_of:
                settings_of[s] = asdict(s)
            as_map = settings_of[s]
            settings = StoreSettings(store, tz_name, sc.calibration_factor, dict(as_map),
                                     tuple(sorted(data.agents)), sc.currency, sc.locale)
            out[store] = (data.found, rows, settings)
    return out


def _comparisons(maker: _Rows, earlier: list[Period | None]) -> tuple[dict[str, float | None], ...]:
    """(last week, the mean of the last 4 weeks) of the COMPARED metrics, where known."""
    got = [maker.compared(e) if e is not None else None for e in earlier]
    return got[0] or dict.fromkeys(COMPARED), weeks_mean(got)

