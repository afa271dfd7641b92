"""Differential privacy for the feed (`publish.noise: laplace`, off by default; docs/privacy.md).

Each device count of a store-day (`visits_n`, `visitors_n`, `passersby_n` of every hour and of the
day) gets discrete Laplace noise (the two-sided geometric distribution: Laplace's integer twin, so no
floating-point rounding leaks the true value) with scale 1/eps, eps = `publish.epsilon_day` / the
number of counts published for the store-day (3 fields x (hours + 1)). A device changes each count
by at most one (docs/privacy.md: each device counts at most once per metric and day), so by sequential
composition the whole store-day costs at most `epsilon_day` per device: 1 by default, at most 2 by
docs/privacy.md. With noise on, counts are released once (no correction: a second release would spend the
budget again), nothing is withheld below k, and the derived figures are computed from the noisy
counts (post-processing costs no privacy). Noise is drawn fresh from the operating system's random
source, never from a seed an attacker could know; tests pass their own generator.
"""

from __future__ import annotations

import math
import random

COUNT_FIELDS_N = 3  # visits_n, visitors_n, passersby_n


def epsilon_per_count(epsilon_day: float, hours_n: int) -> float:
    """The share of a store-day's budget each of its published device counts gets."""
    return epsilon_day / (COUNT_FIELDS_N * (hours_n + 1))


def _geometric(rng: random.Random, alpha: float) -> int:
    """Failures before the first success, success probability 1 - alpha."""
    u = 1.0 - rng.random()  # (0, 1]
    return math.floor(math.log(u) / math.log(alpha))


def discrete_laplace(rng: random.Random, epsilon: float) -> int:
    """An integer with P(x) proportional to exp(-epsilon |x|): mean 0, variance 2a / (1 - a)^2, a = e^-eps."""
    alpha = math.exp(-epsilon)
    return _geometric(rng, alpha) - _geometric(rng, alpha)


def variance(epsilon: float) -> float:
    """The theoretical variance of discrete_laplace(epsilon)."""
    alpha = math.exp(-epsilon)
    return 2 * alpha / (1 - alpha) ** 2


def noisy(value: int, rng: random.Random, epsilon: float) -> int:
    """`value` plus noise, clamped at 0 (a count is never negative; clamping is post-processing)."""
    return max(0, value + discrete_laplace(rng, epsilon))


def system_rng() -> random.Random:
    """The operating system's random source (not reproducible, by design)."""
    return random.SystemRandom()
