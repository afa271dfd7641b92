"""hub.yaml: typed settings with defaults, checked before anything connects (CONVENTIONS rule 5).

```yaml
version: 1
mqtt: {host: 127.0.0.1, port: 1883, client_id: footfall-hub}
database: {path: footfall-hub.db}        # relative to the config file's folder
default_timezone: Europe/Prague
stores:
  brno-1: {timezone: Europe/Prague, calibration_factor: 1.25, settings: {min_dwell_s: 300}}
```
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent.configfile import ConfigError, load_config, section, setting
from agent.wire.topics import check_id

__all__ = ["ConfigError", "HubConfig", "StoreConfig", "load_hub_config", "zone"]


def zone(name: str) -> ZoneInfo:
    """The time zone `name`; ValueError with a one-line reason when it is not an IANA zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{name!r} is not a known time zone (use an IANA name such as Europe/Prague)"
        ) from None


@dataclass(frozen=True)
class MqttConfig:
    """Where the broker is and how the hub's session survives its restarts."""

    host: str = setting("127.0.0.1", "broker host name or address")
    port: int = setting(1883, "broker TCP port")
    client_id: str = setting("footfall-hub", "MQTT client id; the broker keeps this id's session and queue")
    keepalive_s: int = setting(30, "MQTT keepalive, seconds")
    session_expiry_s: int = setting(
        7 * 86400, "how long the broker keeps queueing data for the hub while it is down, seconds"
    )
    receive_maximum: int = setting(100, "data messages the broker may have in flight to the hub, unacked")

    def check(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is not between 1 and 65535")
        if not self.client_id:
            raise ValueError("client_id must not be empty")
        if not 1 <= self.receive_maximum <= 65535:
            raise ValueError("receive_maximum must be between 1 and 65535")


@dataclass(frozen=True)
class DatabaseConfig:
    """The hub's SQLite file."""

    path: str = setting(
        "footfall-hub.db", "SQLite file; a relative path is taken from the config file's folder"
    )


@dataclass(frozen=True)
class IngestConfig:
    """Group commits: fewer fsyncs, bounded ack latency."""

    max_batches_per_commit: int = setting(64, "data messages written in one transaction at most")
    max_wait_ms: int = setting(20, "longest a received message waits for others to share its commit, ms")

    def check(self) -> None:
        if self.max_batches_per_commit < 1:
            raise ValueError("max_batches_per_commit must be at least 1")
        if self.max_wait_ms < 0:
            raise ValueError("max_wait_ms must not be negative")


@dataclass(frozen=True)
class MetricSettings:
    """The thresholds agents classify with (DESIGN section 2); every report states them."""

    visit_timeout_s: int = setting(900, "a gap longer than this ends a visit, seconds")
    min_dwell_s: int = setting(300, "a visitor stays at least this long, seconds")
    visitor_rssi_dbm: int = setting(-70, "a visitor's sightings are at least this strong, dBm")
    visitor_sightings_n: int = setting(3, "a visitor is heard at least this often at visitor RSSI")
    linkability_window_d: int = setting(1, "days a device key links visits (1, 7 or at most 30)")

    def check(self) -> None:
        if self.visit_timeout_s <= 0 or self.min_dwell_s < 0 or self.visitor_sightings_n < 1:
            raise ValueError(
                "visit_timeout_s and visitor_sightings_n must be positive, min_dwell_s not negative"
            )
        if not 1 <= self.linkability_window_d <= 30:
            raise ValueError(f"linkability_window_d {self.linkability_window_d} is not between 1 and 30")


@dataclass(frozen=True)
class StoreConfig:
    """One store's overrides; a store not listed uses the defaults."""

    timezone: str | None = setting(None, "the store's IANA time zone (default: default_timezone)")
    calibration_factor: float = setting(
        1.0, "people per visitor device, for traffic when there is no door counter"
    )
    settings: MetricSettings = section(MetricSettings, "thresholds the store's agents classify with")

    def check(self) -> None:
        if self.timezone is not None:
            zone(self.timezone)
        if not 0 < self.calibration_factor <= 100:
            raise ValueError(f"calibration_factor {self.calibration_factor} is not between 0 and 100")


@dataclass(frozen=True)
class HubConfig:
    """Everything the hub reads from hub.yaml."""

    mqtt: MqttConfig = section(MqttConfig, "the MQTT broker")
    database: DatabaseConfig = section(DatabaseConfig, "the SQLite store")
    ingest: IngestConfig = section(IngestConfig, "how received batches are committed")
    default_timezone: str = setting("UTC", "time zone of stores without their own")
    stores: dict[str, StoreConfig] = setting({}, "per-store settings by store id")

    def check(self) -> None:
        zone(self.default_timezone)
        for store_id in self.stores:
            check_id("store", store_id)

    def store(self, store_id: str) -> StoreConfig:
        """The settings of `store_id`, with the defaults filled in (timezone never None)."""
        found = self.stores.get(store_id) or StoreConfig()
        return dataclasses.replace(found, timezone=found.timezone or self.default_timezone)


def load_hub_config(path: str | Path | None) -> HubConfig:
    """Load and check hub.yaml (None: every default); a relative database path follows the file."""
    config = load_config(path, HubConfig)
    if path is not None and not Path(config.database.path).is_absolute():
        db_path = str(Path(path).resolve().parent / config.database.path)
        config = dataclasses.replace(config, database=DatabaseConfig(path=db_path))
    return config
