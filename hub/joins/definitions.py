"""What every metric means, in plain words, with the values of the settings it was computed with.

One definition per metric (CONVENTIONS rule 11): every format (table, csv, json, html) and the feed
print these. A setting appears as its value ("5 min", "-70 dBm"), never as its config key; where the
stores of a report differ, each value is followed by its stores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol


class Settings(Protocol):
    """What a report knows of one store's settings (hub.joins.metrics.StoreSettings)."""

    @property
    def store(self) -> str: ...
    @property
    def calibration_factor(self) -> float: ...
    @property
    def settings(self) -> dict[str, Any]: ...


DEFAULTS: dict[str, Any] = {  # hub.config.MetricSettings' defaults: the words of a report with no store
    "visit_timeout_s": 900, "min_dwell_s": 300, "visitor_rssi_dbm": -70, "visitor_sightings_n": 3,
    "linkability_window_d": 1, "loyalty_window_d": 30,
}


def duration(seconds: float) -> str:
    """300 -> '5 min', 5400 -> '1 h 30 min', 45 -> '45 s'."""
    s = round(seconds)
    if s < 60 or s % 60:
        return f"{s} s"
    h, m = divmod(s // 60, 60)
    return f"{h} h {m} min" if h and m else f"{h} h" if h else f"{m} min"


def _value(stores: Sequence[Settings], get: Callable[[Settings], Any], fmt: Callable[[Any], str]) -> str:
    values: dict[str, list[str]] = {}
    for s in stores:
        values.setdefault(fmt(get(s)), []).append(s.store)
    if len(values) <= 1:
        return next(iter(values), "")
    return "; ".join(f"{v} ({', '.join(names)})" for v, names in values.items())


def definitions(stores: Sequence[Settings] = ()) -> dict[str, str]:
    """Term -> meaning, with the settings of `stores` (the defaults when none is given)."""

    def setting(key: str, fmt: Callable[[Any], str] = str) -> str:
        if not stores:
            return fmt(DEFAULTS[key])
        return _value(stores, lambda s: s.settings[key], fmt)

    factor = "1" if not stores else _value(stores, lambda s: s.calibration_factor, lambda f: f"{f:g}")
    timeout, dwell = setting("visit_timeout_s", duration), setting("min_dwell_s", duration)
    rssi = setting("visitor_rssi_dbm", lambda v: f"{v} dBm")
    sightings = setting("visitor_sightings_n")
    loyalty_d = setting("loyalty_window_d", lambda v: f"{v} days")
    return {
        "period": "local hours, days, weeks (Monday to Sunday) and months in each store's own time zone;"
        " a week or month cut by the report's dates covers only the days inside them (days_n)",
        "visitor": f"a phone that stayed at least {dwell} (a gap of more than {timeout} ends a stay), heard"
        f" at least {sightings} times at {rssi} or stronger; fixtures and staff phones (heard for hours"
        " every day) are left out. A phone heard by several gateways of the store counts once",
        "traffic in": "people who came in: on days with door counters, the doors' entries; otherwise the"
        f" visitors' arrivals x the store's Wi-Fi factor: the calibration factor ({factor}), or where the"
        " store has a door counter, the median of door entries / Wi-Fi arrivals over the last 14 days the"
        " counter counted normally (3 days at least). Each person counts in the hour they came in, so the"
        " hours add up to the day and the days to the week",
        "traffic source": "where a traffic figure came from: door_counters (counted), wifi_visitors (the"
        " calibration factor), wifi_door_fit (the factor fitted to the door counter), wifi_carried (the"
        " counter out: its last good fit), mixed (a period with days of several sources)",
        "visitors": "different people who came in during the period (by hour: arrived in that hour): a"
        " phone that changes its MAC is one person where its gateway linked the fragments, and a person"
        " heard by several gateways counts once; a week or month adds up its days (one person on three"
        " days counts three times)",
        "interval": "visitors and traffic in carry an 80 % interval (_low, _high; shown as 15 (12-18)): the"
        " figure x the 10th and 90th centile of true / estimated people over the days the store was"
        " calibrated (footfall-agent calibrate, sent in the gateways' status); a door count is as counted;"
        " empty where the store was never calibrated. A period adds up its days' bounds",
        "occupancy": "people in the store at some time during the hour (a 40-minute stay across two hours"
        f" counts in both), visitor phones x the calibration factor ({factor}); hour rows only",
        "passer-by": "a phone heard in the period that did not come in; with several gateways in a store,"
        " the largest gateway's count (a passer-by's key never leaves its gateway)",
        "capture rate": "visitors / (visitors + passers-by): the share of phones heard that came in",
        "median dwell": "the middle length of stay of the visitors who arrived in the period; a person's"
        " stay runs from the first sighting of any of their phone's MACs to the last",
        "mean dwell": "the mean length of stay of the visitors who arrived in the period",
        "engagement": "visitor stays that began in the period, by length: 5-20 min, 20-60 min, 1-6 h, 6 h+",
        "bounce rate": f"bounces / (bounces + visitor stays); a bounce is a phone close by for less than"
        f" {dwell}",
        "new, returning visitors": "per day, visitors whose phone came in on an earlier day of the same key"
        " window (returning) or not (new); not known (empty) when the key window is 1 day",
        "transactions": "POS sales above zero; voided sales never count, refunds are not transactions",
        "net sales": "POS net amounts (before tax), refunds subtracted, voided sales left out",
        "sales known": "a POS export has been imported up to the period's last day (a sale is stored on"
        " that day or later); until then its transactions and sales are not known yet, whatever they show",
        "conversion": "transactions / traffic in, for the hour, day or period alike",
        "sales per visitor": "net sales / traffic in",
        "average transaction value": "net sales / transactions",
        "shopper-to-staff ratio": "traffic in / labour hours of the imported staff schedule (empty without"
        " one)",
        "member visit": "a visit by the phone of a CRM member who consented; the gateways recognise it by"
        " the member's key (never a MAC) and the hub stores it once per stay",
        "member conversion": "members who came in and bought in the period (loyalty id at the till) /"
        " members who came in; members_not_bought lists the others by member id",
        "returning member": "a member who came in during the period and on an earlier day within"
        f" {loyalty_d}",
        "loyalty": f"members who came in, by their visit days in the {loyalty_d} ending with the period's"
        " last day: first-time 1, occasional 2 or more, weekly about one day a week or more, daily on two"
        " thirds of the days or more (30 days: 1, 2-3, 4-19, 20+)",
        "comparisons": "last week: the same period 7 days earlier (the same weekday and local hour);"
        " 4-week average: the mean of the same period 1 to 4 weeks earlier, where known; not for months",
        "money": "integer cents in csv and json (net_sales_cents); the table and the page show amounts",
        "unknown": "empty (null in json): no gateway reported the period, which is not the same as zero",
        "times": "shown in each store's local time; stored in UTC",
    }
