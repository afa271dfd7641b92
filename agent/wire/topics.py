"""MQTT topic names (docs/wire.md). Ids are `[a-z0-9-]{1,64}` so a topic can never be ambiguous."""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "footfall/v1"
ID_RE = re.compile(r"^[a-z0-9-]{1,64}$")


def check_id(kind: str, value: str) -> str:
    """Return `value` if it is a valid org, store or agent id, else raise ValueError naming the rule."""
    if not ID_RE.match(value):
        raise ValueError(f"{kind} id {value!r} must match [a-z0-9-]{{1,64}}")
    return value


@dataclass(frozen=True, slots=True)
class Topics:
    """The topics of one agent, and of its store's metrics."""

    org: str
    store: str
    agent: str

    def __post_init__(self) -> None:
        check_id("org", self.org)
        check_id("store", self.store)
        check_id("agent", self.agent)

    @property
    def base(self) -> str:
        return f"{PREFIX}/{self.org}/{self.store}/{self.agent}"

    @property
    def data(self) -> str:
        return f"{self.base}/data"

    @property
    def status(self) -> str:
        return f"{self.base}/status"

    @property
    def config(self) -> str:
        return f"{self.base}/config"

    @property
    def ack(self) -> str:
        return f"{self.base}/ack"



def metrics_topic(org: str, store: str, period: str) -> str:
    """Enriched store metrics for the data team: period is `hour` or `day`."""
    if period not in ("hour", "day"):
        raise ValueError(f"metrics period must be hour or day, not {period!r}")
    return f"{PREFIX}/{check_id('org', org)}/{check_id('store', store)}/metrics/{period}"


def arrivals_topic(org: str, store: str) -> str:
    """A consenting member arrived at a store (hub -> store staff; QoS 1, not retained)."""
    return f"{PREFIX}/{check_id('org', org)}/{check_id('store', store)}/members/arrived"


# Subscriptions of the hub: every agent's data and status.
DATA_FILTER = f"{PREFIX}/+/+/+/data"
STATUS_FILTER = f"{PREFIX}/+/+/+/status"


def parse_agent_topic(topic: str) -> tuple[Topics, str]:
    """Split `footfall/v1/{org}/{store}/{agent}/{kind}` into its Topics and kind; ValueError otherwise."""
    parts = topic.split("/")
    if len(parts) != 6 or "/".join(parts[:2]) != PREFIX:
        raise ValueError(f"not a footfall agent topic: {topic!r}")
    return Topics(parts[2], parts[3], parts[4]), parts[5]
