"""Small cells are withheld before the data team sees them (docs/privacy.md), and nothing else is."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.config import PublishConfig
from hub.publish import metrics_schema
from hub.publish.cells import DAY, StoreDay
from hub.publish.payload import encode
from hub.publish.release import release

PRAGUE = ZoneInfo("Europe/Prague")
MIDNIGHT = datetime(2026, 11, 26, tzinfo=PRAGUE)
T = 1_795_000_000.0


@dataclass(frozen=True)
class R:
    """A period row as the metrics engine gives it."""

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


def day_of(hours: dict[int, tuple[int, int, int]], day: tuple[int, int, int], source: str = "wifi_visitors",
           pos_known: bool = True) -> StoreDay:
    """24 hours (visitors, passers-by, visits; None where not given) and the day's figures."""
    rows = [R(MIDNIGHT + timedelta(hours=h), *(hours[h][:2] if h in hours else (None, None)),
              visitor_visits_n=hours.get(h, (0, 0, 0))[2], transactions=1, net_sales_cents=999)
            for h in range(24)]
    return StoreDay("brno-1", "Europe/Prague", source, rows, R(MIDNIGHT, day[0], day[1], day[2], 24, 23976),
                    pos_known)


def cells(sd: StoreDay, k: int = 5) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every hour released as it closed, then the day (what the publisher does over a day)."""
    sent: dict[int, Any] = {}
    cfg = PublishConfig(k=k)
    hours = [release(sd, "acme", [h], sent, cfg, T, random.Random(0))[0][0] for h in range(24)]
    (day,), _ = release(sd, "acme", [DAY], sent, cfg, T, random.Random(0))
    return hours, day


def withheld(cell: dict[str, Any]) -> dict[str, str]:
    return {w["field"]: w["reason"] for w in cell["withheld"]}


def test_counts_below_k_are_null_and_named_zero_and_k_are_published() -> None:
    """A count from 1 to k-1 is withheld (null, `below_k` in `withheld`), the figures computed from it
    too (`derived`); 0 and k single out nobody."""
    hours, _ = cells(day_of({9: (4, 0, 5), 10: (5, 12, 6)}, (30, 40, 30)))
    assert (hours[9]["visitors_n"], hours[9]["passersby_n"], hours[9]["visits_n"]) == (None, 0, 5)
    assert withheld(hours[9]) == {"visitors_n": "below_k", "capture_rate": "derived", "traffic_in": "derived",
                                  "conversion": "derived"}
    assert (hours[10]["visitors_n"], hours[10]["passersby_n"], hours[10]["withheld"]) == (5, 12, [])
    assert hours[10]["capture_rate"] == 5 / 17


def test_sales_and_door_traffic_are_never_suppressed() -> None:
    """POS figures are not devices, and door counts count people: with door counters, a small visitor
    count hides the capture rate but leaves traffic and conversion."""
    hours, _ = cells(day_of({9: (2, 20, 2)}, (30, 40, 30), source="door_counters"))
    h = hours[9]
    assert (h["transactions_n"], h["net_sales_cents"], h["traffic_in"]) == (1, 999, 2.0)
    assert withheld(h) == {"capture_rate": "derived", "visitors_n": "below_k", "visits_n": "below_k"}


def test_sales_not_imported_yet_are_null_not_zero() -> None:
    """Before a POS import covers the day, transactions, sales and conversion are null (not known),
    and not listed as withheld: a data team can tell "no sales" (0) from "not imported yet"."""
    hours, day = cells(day_of({10: (8, 20, 9)}, (20, 65, 27), pos_known=False))
    for cell in (hours[10], day):
        assert (cell["transactions_n"], cell["net_sales_cents"], cell["conversion"]) == (None, None, None)
        assert cell["withheld"] == []


def test_one_suppressed_hour_withholds_the_day_figure_too() -> None:
    """Day total minus the published hours would give back a lone withheld hour: the day's figure of
    that field (and what is computed from it) is withheld as its complement."""
    hours, day = cells(day_of({9: (3, 20, 9), 10: (8, 20, 9), 11: (9, 25, 9)}, (20, 65, 27)))
    assert hours[9]["visitors_n"] is None
    assert day["visitors_n"] is None and day["passersby_n"] == 65 and day["visits_n"] == 27
    assert withheld(day) == {"visitors_n": "complementary", "capture_rate": "derived",
                             "traffic_in": "derived", "conversion": "derived"}


def test_two_hidden_hours_of_four_withhold_the_day_at_k_5() -> None:
    """The auditor's case: hours of 4 and 4 sum to 8 >= k, but a withheld count is at most 4, so the
    day minus the published hours (8) gives both: the day is withheld."""
    _, day = cells(day_of({9: (4, 20, 9), 10: (4, 20, 9), 11: (9, 25, 9)}, (17, 65, 27)))
    assert withheld(day)["visitors_n"] == "complementary"


def test_suppressed_hours_that_cannot_be_solved_leave_the_day_published() -> None:
    """Hours of 3 and 4 sum to 7: 3+4, 4+3 fit, so neither is pinned and the day stays published."""
    _, day = cells(day_of({9: (3, 20, 9), 10: (4, 20, 9), 11: (9, 25, 9)}, (16, 65, 27)))
    assert (day["visitors_n"], day["withheld"]) == (16, [])


def test_a_small_day_is_withheld_and_k_1_turns_suppression_off() -> None:
    """The day itself below k is withheld; k = 1 withholds nothing (a chain may choose differential
    privacy or no feed instead)."""
    _, day = cells(day_of({}, (4, 3, 4)))
    below = {f for f, r in withheld(day).items() if r == "below_k"}
    assert below == {"passersby_n", "visitors_n", "visits_n"}
    hours, day = cells(day_of({9: (1, 1, 1)}, (1, 1, 1)), k=1)
    assert hours[9]["withheld"] == day["withheld"] == []


def test_noise_replaces_suppression_and_derived_figures_follow_the_noisy_counts() -> None:
    """With publish.noise laplace nothing is withheld, counts are noisy integers >= 0, capture rate and
    Wi-Fi traffic are computed from the noisy counts, and noise_epsilon says how much budget each used."""
    sd = day_of({9: (3, 20, 9)}, (20, 65, 27))
    sent: dict[int, Any] = {}
    cfg = PublishConfig(noise="laplace", epsilon_day=1.0)
    (h9,), _ = release(sd, "acme", [9], sent, cfg, T, random.Random(7))
    assert h9["withheld"] == [] and h9["noise_epsilon"] == 1 / 75
    v, p = h9["visitors_n"], h9["passersby_n"]
    assert isinstance(v, int) and v >= 0 and isinstance(p, int) and p >= 0
    assert (v, p, h9["visits_n"]) != (3, 20, 9)  # scale 75: equal by chance about 1 in 10^5
    assert h9["traffic_in"] == float(v) * sd.calibration_factor
    assert h9["capture_rate"] == (v / (v + p) if v + p else None)


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


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([3, 5, 10]),
       st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12), st.integers(0, 12)),
                min_size=24, max_size=24))
def test_no_payload_set_of_a_day_lets_a_withheld_hour_be_solved(
    k: int, table: list[tuple[int, int, int]],
) -> None:
    """Random store-days whose hours add up to the day (the cautious case), released hour by hour and
    then the day: the attack harness's solver pins no withheld hour or day, in any field."""
    from tests.attacks.test_feed_differencing import solve_with_k  # noqa: PLC0415 -- the attacker's own code

    hours = {h: row for h, row in enumerate(table)}
    day = tuple(sum(row[i] for row in table) for i in range(3))
    docs, day_doc = cells(day_of(hours, (day[0], day[1], day[2])), k=k)
    snap = {**dict(enumerate(docs)), DAY: day_doc}
    for f in ("visits_n", "visitors_n", "passersby_n"):
        assert all(v is None for v in solve_with_k(snap, f, k).values()), (f, snap)
