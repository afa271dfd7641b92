"""Where the feed gets its figures: the one boundary between the feed and the metrics engine.

Everything the feed publishes comes from `store_day`, which reads `hub.joins.metrics.store_metrics`
(every metric defined once, there) and adds what the engine does not give: whether a POS import
covers the day yet, and the store's members by lifecycle segment (`hub.members.segments`).
Repoint this function, nothing else, when the engine changes.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from hub.config import HubConfig, zone
from hub.joins.metrics import store_metrics
from hub.members.segments import store_counts
from hub.publish.cells import StoreDay
from hub.store.sql import Db


def pos_known(db: Db, store: str, day: date, tz_name: str) -> bool:
    """Sales of a local day are known once a POS import holds a transaction of the store on that day
    or later (an export runs up to its end): before, "no sales" and "not imported yet" look the same."""
    t0 = int(datetime.combine(day, time(0), zone(tz_name)).timestamp())
    return db.execute(
        "SELECT 1 FROM pos_transactions WHERE store = ? AND at_epoch_s >= ? LIMIT 1", (store, t0)
    ).fetchone() is not None


def store_day(db: Db, config: HubConfig, store: str, day: date,
              segments: dict[str, int] | None = None) -> StoreDay:
    """The store-day the payloads are made of (NoMetricsError: nothing stored). `segments`: the store's
    members by segment when the caller computed them for several stores at once (one pass over the
    members per day, not one per store)."""
    hours = store_metrics(db, config, [store], day, day, "hour")
    (total,) = store_metrics(db, config, [store], day, day, "day").rows
    settings = hours.store_settings[0]
    if segments is None:
        members_db: Any = db  # hub.members takes a Db once its port lands (issue 17)
        segments = store_counts(members_db, day, config.segments, config.default_timezone, [store])[store]
    # the feed's two sources: counted at the doors, or derived from Wi-Fi devices (suppressed like them),
    # whichever factor scaled them (wifi_door_fit, wifi_carried: hub.joins.estimates)
    source = "door_counters" if total.traffic_source == "door_counters" else "wifi_visitors"
    return StoreDay(store, settings.timezone, source, hours.rows, total,
                    pos_known(db, store, day, settings.timezone), settings.calibration_factor, segments)
