"""Differential privacy noise: the distribution the privacy claim rests on, and the budget split."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from hub.publish.noise import discrete_laplace, epsilon_per_count, noisy, variance

SAMPLES = 200_000


@pytest.mark.parametrize("epsilon", [1 / 75, 0.2, 1.0])
def test_noise_mean_and_spread_match_the_discrete_laplace_within_5_percent(epsilon: float) -> None:
    """The noise has mean 0 and standard deviation sqrt(2a)/(1-a), a = e^-eps, within 5 % of that
    deviation (200,000 draws, fixed seed): a wrong scale (eps off by 10 % moves the spread ~10 %) fails."""
    rng = random.Random(20261207)
    draws = [discrete_laplace(rng, epsilon) for _ in range(SAMPLES)]
    sd = math.sqrt(variance(epsilon))
    assert abs(statistics.fmean(draws)) < 0.05 * sd
    assert abs(statistics.pstdev(draws) - sd) < 0.05 * sd
    wrong = math.sqrt(variance(epsilon * 1.1))
    assert abs(statistics.pstdev(draws) - wrong) > 0.05 * wrong  # the test can tell a wrong scale
    # the shape, not just two moments: P(0) = (1 - a) / (1 + a)
    a = math.exp(-epsilon)
    assert abs(draws.count(0) / SAMPLES - (1 - a) / (1 + a)) < 0.05 * (1 - a) / (1 + a) + 0.002


def test_a_store_day_budget_of_1_is_split_over_every_count_it_publishes() -> None:
    """24 hours and the day, 3 device counts each: eps 1/75 per count, so a device changing every count
    by one costs the store-day at most the configured epsilon (1)."""
    assert epsilon_per_count(1.0, 24) == pytest.approx(1 / 75)
    assert 3 * (24 + 1) * epsilon_per_count(1.0, 24) == pytest.approx(1.0)
    assert epsilon_per_count(2.0, 23) == pytest.approx(2 / 72)  # the spring DST day has 23 hours


def test_noisy_counts_are_never_negative() -> None:
    """A data team never sees a negative count: noise is clamped at 0."""
    rng = random.Random(1)
    assert min(noisy(0, rng, 0.1) for _ in range(2000)) == 0
