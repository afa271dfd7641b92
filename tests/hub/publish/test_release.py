"""Revisions a data team sees: final figures once, one correction by k or more, sales filled in later."""

from __future__ import annotations

import random
from typing import Any

from hub.config import PublishConfig
from hub.publish.cells import DAY, StoreDay
from hub.publish.release import release
from hub.publish.revisions import Sent
from tests.hub.publish.test_cells import T, day_of

CFG = PublishConfig(k=5)


def out(sd: StoreDay, wanted: list[int], sent: dict[int, Sent], cfg: PublishConfig = CFG
        ) -> list[dict[str, Any]]:
    docs, _ = release(sd, "acme", wanted, sent, cfg, T, random.Random(0))
    return docs


def test_small_late_changes_are_held_and_a_move_by_k_is_the_one_correction() -> None:
    """+1 visit after an hour went out sends nothing (that revision would time one visit); +5 in every
    changed count is sent once as revision 1; after it nothing more goes out, however large."""
    sent: dict[int, Sent] = {}
    assert out(day_of({10: (8, 20, 9)}, (20, 65, 27)), [10], sent)[0]["revision"] == 0
    assert out(day_of({10: (8, 20, 10)}, (20, 65, 28)), [10], sent) == []
    (fix,) = out(day_of({10: (13, 20, 14)}, (25, 65, 32)), [10], sent)
    assert (fix["revision"], fix["visitors_n"], fix["visits_n"]) == (1, 13, 14)
    assert out(day_of({10: (40, 90, 50)}, (60, 99, 70)), [10], sent) == []


def test_a_correction_waits_until_no_count_moved_by_less_than_k() -> None:
    """Visitors +6 but visits +2: sending it would reveal the 2 visits, so it is held; once visits have
    moved by 5 too, the correction goes out."""
    sent: dict[int, Sent] = {}
    out(day_of({10: (8, 20, 9)}, (20, 65, 27)), [10], sent)
    assert out(day_of({10: (14, 20, 11)}, (26, 65, 29)), [10], sent) == []
    (fix,) = out(day_of({10: (14, 20, 14)}, (26, 65, 32)), [10], sent)
    assert (fix["visitors_n"], fix["visits_n"], fix["revision"]) == (14, 14, 1)


def test_sales_imported_later_fill_in_on_the_published_device_counts() -> None:
    """The POS import of the next morning fills transactions, sales and conversion; it is not the
    device correction, and the device counts stay as published even if they moved by less than k."""
    sent: dict[int, Sent] = {}
    (first,) = out(day_of({10: (8, 20, 9)}, (20, 65, 27), pos_known=False), [10], sent)
    assert first["transactions_n"] is None
    (update,) = out(day_of({10: (9, 20, 9)}, (21, 65, 27)), [10], sent)
    assert (update["revision"], update["transactions_n"], update["net_sales_cents"]) == (1, 1, 999)
    assert update["visitors_n"] == 8 and update["conversion"] == 1 / 8  # on the published traffic
    assert not sent[10].corrected
    (fix,) = out(day_of({10: (14, 25, 14)}, (26, 70, 32)), [10], sent)
    assert (fix["revision"], fix["visitors_n"]) == (2, 14)


def test_an_hour_published_after_its_day_does_not_pin_a_withheld_hour() -> None:
    """Should an hour go out after its day (its data came only after the day was out), it is checked
    against the published day: the day (20) minus hour 10 (8) and hour 11 (9) would give hour 9's
    withheld 3, so hour 11's visitors are withheld as the complement, with what is computed from them."""
    sent: dict[int, Sent] = {}
    sd = day_of({9: (3, 20, 9), 10: (8, 20, 9), 11: (9, 25, 9)}, (20, 65, 27))
    out(sd, [9, 10], sent)
    (day,) = out(sd, [DAY], sent)
    assert day["visitors_n"] == 20  # 20 - 8 = 12 does not fit one withheld hour: the reader needs hour 11
    (h11,) = out(sd, [11], sent)
    reasons = {w["field"]: w["reason"] for w in h11["withheld"]}
    assert h11["visitors_n"] is None and reasons["visitors_n"] == "complementary"
    assert reasons["capture_rate"] == reasons["traffic_in"] == "derived"
    assert h11["passersby_n"] == 25


def test_noisy_counts_go_out_once_and_sales_fill_in_on_them() -> None:
    """With noise, a later change of any size is no correction (a second noisy release would spend the
    budget again); the POS import fills in sales on the noisy counts already out, which stay."""
    cfg = PublishConfig(noise="laplace")
    sent: dict[int, Sent] = {}
    (first,) = out(day_of({10: (8, 20, 9)}, (20, 65, 27), pos_known=False), [10], sent, cfg)
    (update,) = out(day_of({10: (80, 200, 90)}, (200, 650, 270)), [10], sent, cfg)
    assert update["revision"] == 1 and update["transactions_n"] == 1
    assert [update[f] for f in ("visits_n", "visitors_n", "passersby_n", "k", "noise_epsilon")] == [
        first[f] for f in ("visits_n", "visitors_n", "passersby_n", "k", "noise_epsilon")]
    assert out(day_of({10: (90, 200, 90)}, (200, 650, 270)), [10], sent, cfg) == []
