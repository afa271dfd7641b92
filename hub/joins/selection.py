"""What a `footfall-hub report` asks for: stores (or a group), a local date range and a grain.

Kept apart from the CLI so that the HTML report and tests resolve a request the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from hub.config import HubConfig
from hub.joins.metrics import GRAINS, Grain


@dataclass(frozen=True)
class Selection:
    stores: tuple[str, ...]
    start: date
    end: date  # included
    grain: Grain
    daily: bool  # one store and --date without --grain: the classic daily report (hours + day)


def select(
    config: HubConfig,
    *,
    stores: list[str] | None,
    group: str | None,
    on: date | None,
    start: date | None,
    end: date | None,
    grain: str | None,
) -> Selection:
    """Resolve the options; ValueError with a one-line remedy when they do not make a request."""
    if group is not None:
        if stores:
            raise ValueError("give --store or --group, not both")
        if group not in config.groups:
            known = ", ".join(sorted(config.groups)) or "none configured"
            raise ValueError(f"no store group {group!r} in the config (groups: {known}; see hub.yaml groups)")
        chosen = tuple(config.groups[group])
    elif stores:
        chosen = tuple(dict.fromkeys(stores))
    else:
        raise ValueError("say which stores: --store S (repeatable) or --group NAME")
    if on is not None:
        if start is not None or end is not None:
            raise ValueError("give --date, or --from and --to, not both")
        start = end = on
    elif start is None:
        raise ValueError("say when: --date D, or --from D [--to D]")
    end = end or start
    if end < start:
        raise ValueError(f"--to {end.isoformat()} is before --from {start.isoformat()}")
    daily = on is not None and grain is None and len(chosen) == 1 and group is None
    chosen_grain = next((g for g in GRAINS if g == grain), "hour" if on is not None else "day")
    if grain is not None and chosen_grain != grain:
        raise ValueError(f"--grain {grain!r} is not one of {', '.join(GRAINS)}")
    return Selection(chosen, start, end, chosen_grain, daily)
