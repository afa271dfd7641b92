"""The feed's settings in hub.yaml: privacy choices are checked before anything connects."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import ConfigError, load_hub_config


def load(tmp_path: Path, publish: str) -> object:
    path = tmp_path / "hub.yaml"
    path.write_text(f"version: 1\npublish:\n{publish}")
    return load_hub_config(path)


@pytest.mark.parametrize(
    ("publish", "message"),
    [
        ("  k: 2\n",
         "hub.yaml:3: publish.k: k 2 must be 1 (off) or at least 3: a count withheld below 2 is 1"),
        ("  noise: gaussian\n", "hub.yaml:3: publish.noise: noise 'gaussian' is not none or laplace"),
        ("  noise: laplace\n  epsilon_day: 0\n",
         "hub.yaml:4: publish.epsilon_day: epsilon_day 0.0 must be above 0 and at most 2 per store-day"),
        ("  noise: laplace\n  epsilon_day: 8\n",
         "hub.yaml:4: publish.epsilon_day: epsilon_day 8.0 must be above 0 and at most 2 per store-day"),
    ],
)
def test_a_k_or_noise_that_protects_nothing_is_refused(tmp_path: Path, publish: str, message: str) -> None:
    """k = 2 would make every withheld count 1 by definition, an unknown noise or an epsilon of 0 is
    a typo, an epsilon above 2 per device-day breaks docs/privacy.md's promise: the hub refuses to start,
    saying why, rather than publish something else."""
    with pytest.raises(ConfigError) as err:
        load(tmp_path, publish)
    assert str(err.value) == message


def test_noise_is_off_by_default_and_a_budget_of_1_per_store_day() -> None:
    """Differential privacy is opt-in; when on, the default budget is epsilon 1 per store-day, and an
    hour is waited for 4 h at most when a gateway's counts are missing."""
    cfg = load_hub_config(None)
    assert (cfg.publish.noise, cfg.publish.epsilon_day, cfg.publish.final_wait_s) == ("none", 1.0, 14400)
