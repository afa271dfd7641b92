"""Small cells are withheld before the data team sees them (DESIGN section 3), and nothing else is."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema

from hub.publish import metrics_schema
from hub.publish.cells import StoreDay, store_day_cells
from hub.publish.payload import encode

PRAGUE = ZoneInfo("Europe/Prague")
MIDNIGHT = datetime(2026, 11, 26, tzinfo=PRAGUE)
T = 1_795_000_000.0


@dataclass(frozen=True)
class R:
    """A period row as the joins give it."""

    start: datetime
    visitors: int | None
    passersby: int | None
    visitor_visits_n: int = 0
    transactions: int = 0
    net_sales_cents: int = 0

    @property
    def capture_rate(self) -> float | None:
        v, p = self.visitors, self.passersby
        return v / (v + p) if v is not None and p is not None and v + p else None

    @property
    def traffic_in(self) -> float | None:
        return None if self.visitors is None else float(self.visitors)

    @property
    def conversion(self) -> float | None:
        return self.transactions / self.traffic_in if self.traffic_in else None


def day_of(hours: dict[int, tuple[int, int, int]], day: tuple[int, int, int], source: str = "wifi_visitors"
           ) -> StoreDay:
    """24 hours (visitors, passers-by, visits; None where not given) and the day's figures."""
    rows = [R(MIDNIGHT + timedelta(hours=h), *(hours[h][:2] if h in hours else (None, None)),
              visitor_visits_n=hours.get(h, (0, 0, 0))[2], transactions=1, net_sales_cents=999)
            for h in range(24)]
    return StoreDay("brno-1", "Europe/Prague", source, rows, R(MIDNIGHT, day[0], day[1], day[2], 24, 23976))


def cells(sd: StoreDay, k: int = 5) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    return store_day_cells(sd, "acme", k, T)


def test_counts_below_k_are_null_and_named_zero_and_k_are_published() -> None:
    """A count from 1 to k-1 is withheld (null, listed in `suppressed`); 0 and k single out nobody."""
    hours, _ = cells(day_of({9: (4, 0, 5), 10: (5, 12, 6)}, (30, 40, 30)))
    assert (hours[9]["visitors_n"], hours[9]["passersby_n"], hours[9]["visits_n"]) == (None, 0, 5)
    assert hours[9]["suppressed"] == ["capture_rate", "conversion", "traffic_in", "visitors_n"]
    assert (hours[10]["visitors_n"], hours[10]["passersby_n"], hours[10]["suppressed"]) == (5, 12, [])
    assert hours[10]["capture_rate"] == 5 / 17


def test_sales_and_door_traffic_are_never_suppressed() -> None:
    """POS figures are not devices, and door counts count people: with door counters, a small visitor
    count hides the capture rate but leaves traffic and conversion."""
    hours, _ = cells(day_of({9: (2, 20, 2)}, (30, 40, 30), source="door_counters"))
    h = hours[9]
    assert (h["transactions_n"], h["net_sales_cents"], h["traffic_in"]) == (1, 999, 2.0)
    assert h["suppressed"] == ["capture_rate", "visitors_n", "visits_n"]


def test_one_suppressed_hour_withholds_the_day_figure_too() -> None:
    """Day total minus the published hours would give back a lone suppressed hour: the day's figure
    of that field (and what is computed from it) is withheld as its complement."""
    hours, day = cells(day_of({9: (3, 20, 9), 10: (8, 20, 9), 11: (9, 25, 9)}, (20, 65, 27)))
    assert hours[9]["suppressed"] == ["capture_rate", "conversion", "traffic_in", "visitors_n"]
    assert day["visitors_n"] is None and day["passersby_n"] == 65 and day["visits_n"] == 27
    assert day["suppressed"] == ["capture_rate", "conversion", "traffic_in", "visitors_n"]


def test_suppressed_hours_adding_up_to_k_leave_the_day_published() -> None:
    """Hours withheld together sum to at least k: the day reveals only their sum, which is safe."""
    _, day = cells(day_of({9: (3, 20, 9), 10: (4, 20, 9), 11: (9, 25, 9)}, (20, 65, 27)))
    assert (day["visitors_n"], day["suppressed"]) == (20, [])


def test_a_small_day_is_withheld_and_k_1_turns_suppression_off() -> None:
    """The day itself below k is withheld; k = 1 withholds nothing (a chain may choose differential
    privacy or no feed instead)."""
    _, day = cells(day_of({}, (4, 3, 4)))
    assert day["suppressed"] == ["capture_rate", "conversion", "passersby_n", "traffic_in", "visitors_n",
                                 "visits_n"]
    hours, day = cells(day_of({9: (1, 1, 1)}, (1, 1, 1)), k=1)
    assert hours[9]["suppressed"] == day["suppressed"] == []


def test_every_cell_is_a_valid_payload_with_utc_and_local_times() -> None:
    """Each hour and the day validate against the published schema; times in UTC and local."""
    hours, day = cells(day_of({9: (3, 20, 9)}, (20, 65, 27)))
    validator = jsonschema.Draft202012Validator(metrics_schema())
    for cell in [*hours, day]:
        validator.validate(json.loads(encode(cell)))
    assert (hours[9]["start_at"], hours[9]["end_at"], hours[9]["local_start"]) == (
        "2026-11-26T08:00:00Z", "2026-11-26T09:00:00Z", "2026-11-26T09:00:00+01:00")
    assert (day["start_at"], day["end_at"], day["period"]) == (
        "2026-11-25T23:00:00Z", "2026-11-26T23:00:00Z", "day")
