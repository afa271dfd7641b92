"""agent.yaml: every setting with its default and why; unknown keys and bad values are errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent.configfile import describe, load_config, section, setting
from agent.privacy.keychain import ALLOWED_WINDOW_DAYS
from agent.sources import REGISTRY
from agent.wire.topics import check_id


@dataclass(frozen=True)
class SourceConfig:
    type: str = setting("pcap", "where frames come from: a key of agent.sources.REGISTRY (pcap)")
    path: str = setting("", "the capture file, for type pcap")
    interface: str = setting("", "the monitor-mode interface, for type live")
    batch_frames: int = setting(4096, "frames handed to the pipeline at once (batches keep the frame path fast)")

    def check(self) -> None:
        if self.type not in REGISTRY:
            raise ValueError(f"type {self.type!r} is not one of {', '.join(sorted(REGISTRY))}")
        if self.batch_frames < 1:
            raise ValueError("batch_frames must be at least 1")


@dataclass(frozen=True)
class CountingConfig:
    visit_timeout_s: float = setting(900.0, "a gap longer than this ends a visit (DESIGN section 2)")
    min_dwell_s: float = setting(300.0, "a visitor stays at least this long")
    visitor_rssi_dbm: int = setting(-70, "sightings at or above this signal count toward visitor level")
    min_strong_sightings: int = setting(3, "strong sightings a visitor (or a bounce) needs")
    min_bounce_s: float = setting(60.0, "a bounce stays at least this long, less than min_dwell_s")
    calibration_factor: float = setting(1.0, "people per present visitor device (footfall-agent calibrate)")

    def check(self) -> None:
        if self.visit_timeout_s <= 0 or self.min_dwell_s < 0:
            raise ValueError("visit_timeout_s must be positive and min_dwell_s not negative")
        if not -120 <= self.visitor_rssi_dbm <= 0:
            raise ValueError(f"visitor_rssi_dbm {self.visitor_rssi_dbm} is not between -120 and 0")


@dataclass(frozen=True)
class GroupingConfig:
    enabled: bool = setting(True, "link random MACs of one phone into one device (issue 10)")
    seq_window: int = setting(256, "a new MAC continues a track when its sequence number follows by 1 to this")
    busy_s: float = setting(1.0, "two MACs of one fingerprint heard within this are two devices")
    rssi_tol_db: float = setting(12.0, "signal difference allowed when linking without sequence continuity")

    def check(self) -> None:
        if not 1 <= self.seq_window < 4096:
            raise ValueError("seq_window must be between 1 and 4095")


@dataclass(frozen=True)
class StaticConfig:
    hours_n: float = setting(6.0, "heard for more than this many hours in a day: present all day, static today")
    days_m: int = setting(3, "present all day on this many ...")
    days_d: int = setting(7, "... of the last this many days with data: static")
    all_day_share: float = setting(0.8, "or heard in this share of the day's 10-minute slots with data")

    def check(self) -> None:
        if not 1 <= self.days_m <= self.days_d:
            raise ValueError("days_m must be between 1 and days_d")
        if not 0 < self.all_day_share <= 1:
            raise ValueError("all_day_share must be in (0, 1]")


@dataclass(frozen=True)
class PrivacyConfig:
    key_window_days: int = setting(1, "linkability window: 1, 7 or 30 days (over 1 day needs a legal basis)")
    keychain_file: str = setting("keychain.json", "the store's window-key chain (mode 0600), in state_dir")

    def check(self) -> None:
        if self.key_window_days not in ALLOWED_WINDOW_DAYS:
            raise ValueError(f"key_window_days {self.key_window_days} is not one of {ALLOWED_WINDOW_DAYS}")


@dataclass(frozen=True)
class OutboxConfig:
    file: str = setting("outbox.db", "the SQLite outbox, in state_dir")
    synchronous: str = setting("FULL", "SQLite synchronous mode: FULL survives power loss, NORMAL is faster")
    max_records_per_batch: int = setting(500, "records per MQTT message")

    def check(self) -> None:
        if self.synchronous not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError(f"synchronous {self.synchronous!r} is not FULL, NORMAL or EXTRA")


@dataclass(frozen=True)
class MqttConfig:
    host: str = setting("127.0.0.1", "broker host")
    port: int = setting(1883, "broker port")
    client_id: str = setting("", "MQTT client id; empty means footfall-agent-{agent}")
    max_inflight_batches: int = setting(32, "batches published and not yet acknowledged by the hub")
    resend_after_s: float = setting(30.0, "resend a batch the hub has not acknowledged after this long")
    keepalive_s: int = setting(30, "MQTT keepalive")

    def check(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is not between 1 and 65535")


@dataclass(frozen=True)
class AgentConfig:
    org: str = setting("demo", "chain id, [a-z0-9-]{1,64}")
    store: str = setting("demo-store", "store id, [a-z0-9-]{1,64}")
    agent: str = setting("gw-1", "this gateway's id, [a-z0-9-]{1,64}")
    timezone: str = setting("UTC", "the store's time zone (IANA name): days and hours are local")
    state_dir: str = setting("footfall-agent-state", "where the outbox and the key chain live")
    source: SourceConfig = section(SourceConfig, "frame source")
    counting: CountingConfig = section(CountingConfig, "visit and visitor definitions")
    grouping: GroupingConfig = section(GroupingConfig, "random-MAC device grouping")
    static: StaticConfig = section(StaticConfig, "static devices (fixtures, staff phones)")
    privacy: PrivacyConfig = section(PrivacyConfig, "pseudonym keys")
    outbox: OutboxConfig = section(OutboxConfig, "the store-and-forward buffer")
    mqtt: MqttConfig = section(MqttConfig, "the broker")

    def check(self) -> None:
        for kind in ("org", "store", "agent"):
            check_id(kind, getattr(self, kind))
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone {self.timezone!r} is not a known IANA time zone") from None

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir)


def load(path: str | Path | None) -> AgentConfig:
    """Load agent.yaml (or the defaults when `path` is None)."""
    return load_config(path, AgentConfig)


def defaults_table() -> list[tuple[str, str, str]]:
    return describe(AgentConfig)
