"""agent.yaml: every setting with its default and why; unknown keys and bad values are errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent.common.configfile import load_config, section, setting
from agent.common.ratchet import ALLOWED_WINDOW_DAYS
from agent.common.tlsfiles import check_plain
from agent.doors import REGISTRY as DOOR_TYPES
from agent.sources import REGISTRY
from agent.wire.topics import check_id


@dataclass(frozen=True)
class SourceConfig:
    type: str = setting("pcap", "where frames come from: a key of agent.sources.REGISTRY (pcap, live)")
    path: str = setting("", "the capture file, for type pcap")
    interface: str = setting("", "the monitor-mode interface, for type live (e.g. mon0)")
    batch_frames: int = setting(4096, "frames handed to the pipeline at once (batches keep the path fast)")
    channels: list[int] = setting([], "type live: hop over these channels (e.g. [1, 6, 11]); empty stays put")
    dwell_s: float = setting(1.0, "type live: seconds on each channel when hopping")

    def check(self) -> None:
        if self.type not in REGISTRY:
            raise ValueError(f"type {self.type!r} is not one of {', '.join(sorted(REGISTRY))}")
        if self.batch_frames < 1:
            raise ValueError("batch_frames must be at least 1")
        if self.type == "live" and not self.interface:
            raise ValueError("type live needs interface: the monitor-mode interface, such as mon0")
        if any(not 1 <= c <= 233 for c in self.channels):
            raise ValueError(f"channels {self.channels} must be Wi-Fi channel numbers between 1 and 233")
        if self.dwell_s < 0.1:
            raise ValueError(f"dwell_s {self.dwell_s} is under 0.1 s (iw cannot retune that often)")


@dataclass(frozen=True)
class CountingConfig:
    visit_timeout_s: float = setting(900.0, "a gap longer than this ends a visit (docs/metrics.md)")
    min_dwell_s: float = setting(300.0, "a visitor stays at least this long")
    visitor_rssi_dbm: int = setting(-70, "sightings at or above this signal count toward visitor level")
    min_strong_sightings: int = setting(3, "strong sightings a visitor (or a bounce) needs")
    min_bounce_s: float = setting(60.0, "a bounce stays at least this long, less than min_dwell_s")
    calibration_factor: float = setting(1.0, "people per present visitor device (footfall-agent calibrate)")
    occupancy: str = setting("rate",
                             "replay's present: rate (devices heard per window, near-gated) or visits")
    near_rssi_dbm: int = setting(0, "near the gateway at or above this signal; 0 learns it"
                                    " (3-class split, earlier days)")
    occupied_min_near: int = setting(0, "a window is occupied with this many near devices; 0 learns it"
                                        " (2-class split)")
    count_rssi_dbm: int = setting(-120, "rate occupancy counts devices heard at or above this signal")
    smooth_s: float = setting(5400.0, "rate occupancy: centred running median over this long (0: none)")
    people_gap_s: float = setting(60.0, "visitors (people): a fragment continues a chain of its fingerprint"
                                        " that ended at most this long before (agent.pipeline.link; brno-lab:"
                                        " 90 % of next MACs within 69 s); longer joins same-model customers")
    people_rssi_dbm: int = setting(-75, "visitors (people): only fragments heard this strong are linked")
    people_min_dwell_s: float = setting(300.0, "visitors (people): a chain this long is a visitor")
    presence_every_s: float = setting(2.0, "live view: presence counts go out at most this often, seconds")
    presence_recent_s: float = setting(300.0, "live view: a device heard this recently is present, seconds")

    def check(self) -> None:
        if self.visit_timeout_s <= 0 or self.min_dwell_s < 0:
            raise ValueError("visit_timeout_s must be positive and min_dwell_s not negative")
        if not -120 <= self.visitor_rssi_dbm <= 0:
            raise ValueError(f"visitor_rssi_dbm {self.visitor_rssi_dbm} is not between -120 and 0")
        if self.occupancy not in ("rate", "visits"):
            raise ValueError(f"occupancy {self.occupancy!r} is not rate or visits")
        if self.occupied_min_near < 0 or self.smooth_s < 0:
            raise ValueError("occupied_min_near and smooth_s must not be negative")


@dataclass(frozen=True)
class GroupingConfig:
    enabled: bool = setting(True, "link random MACs of one phone into one device (issue 10)")
    seq_window: int = setting(256, "a new MAC continues a track when its sequence number follows"
                                   " by 1 to this")
    busy_s: float = setting(1.0, "two MACs of one fingerprint heard within this are two devices")
    rssi_tol_db: float = setting(12.0, "signal difference allowed when linking without sequence continuity")
    restart_gap_s: float = setting(900.0, "linking without sequence continuity: only to a track heard within"
                                          " this (issue 19)")
    restart_weak_s: float = setting(900.0, "... or within this when the track is weaker than the visitor RSSI"
                                           " (someone walking past: a stranger minutes later is not them)")
    restart_test_seq: int = setting(64, "a fingerprint keeps its sequence counter across MACs if most changes"
                                        " continue it within this (else: link by recency and signal)")

    def check(self) -> None:
        if not 1 <= self.seq_window < 4096:
            raise ValueError("seq_window must be between 1 and 4095")


@dataclass(frozen=True)
class StaticConfig:
    hours_n: float = setting(6.0, "heard for more than this many hours in a day:"
                                  " present all day, static today")
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
    coalesce_s: float = setting(5.0, "records wait at most this long to share a batch"
                                     " (fewer, larger messages)")
    cap_bytes: int = setting(256 * 1024 * 1024,
                             "disk cap of db + wal + shm; at it the oldest raw data is dropped first")

    def check(self) -> None:
        if self.synchronous not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError(f"synchronous {self.synchronous!r} is not FULL, NORMAL or EXTRA")
        if self.cap_bytes < 1024 * 1024:
            raise ValueError(f"cap_bytes {self.cap_bytes} is below 1 MiB (1048576)")


@dataclass(frozen=True)
class TlsConfig:
    ca_file: str = setting("", "the chain's CA certificate (ca.crt); empty: plain MQTT (loopback only)")
    cert_file: str = setting("gateway.crt", "this gateway's certificate from footfall-hub pki issue")
    key_file: str = setting("gateway.key", "this gateway's key from footfall-agent enroll (mode 0600)")

    def check(self) -> None:
        if self.ca_file and not (self.cert_file and self.key_file):
            raise ValueError("ca_file needs cert_file and key_file: the broker requires a client certificate")

    def paths(self, state_dir: Path) -> tuple[Path, Path, Path] | None:
        """(ca, cert, key), relative paths taken from `state_dir`; None when TLS is off."""
        if not self.ca_file:
            return None
        ca, cert, key = (state_dir / f for f in (self.ca_file, self.cert_file, self.key_file))
        return ca, cert, key


@dataclass(frozen=True)
class MqttConfig:
    host: str = setting("127.0.0.1", "broker host")
    port: int = setting(1883, "broker port")
    client_id: str = setting("", "MQTT client id; empty means footfall-{org}-{store}-{agent}"
                                 " (unique on a shared broker)")
    max_inflight_batches: int = setting(32, "batches published and not yet acknowledged by the hub")
    resend_after_s: float = setting(30.0, "resend a batch the hub has not acknowledged after this long")
    keepalive_s: int = setting(30, "MQTT keepalive")
    tls: TlsConfig = section(TlsConfig, "TLS with this gateway's certificate (footfall-agent enroll)")
    allow_plain_loopback: bool = setting(False, "development only: plain MQTT without tls.ca_file, to a"
                                                " loopback host (never to another machine)")
    signing_key_file: str = setting("gateway-sign.key", "Ed25519 key signing every batch (footfall-agent"
                                    " enroll), in state_dir; empty: unsigned, for a hub with"
                                    " require_signatures: false")

    def check(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is not between 1 and 65535")
        if not self.tls.ca_file:  # to a remote host: refused here; to loopback: needs the flag, at start
            check_plain(self.host, allow_plain_loopback=True)


@dataclass(frozen=True)
class DoorSensorConfig:
    id: str = setting("", "sensor id on the wire, [a-z0-9-]{1,64}; pushes name it")
    type: str = setting("generic", "agent.doors.REGISTRY key: xovis, generic (pushed), axis (polled), gpio")
    swap: bool = setting(False, "swap in and out (a sensor mounted facing the other way)")
    lines: list[str] = setting([], "xovis: names of the line logics to count (empty: every logic with fw/bw)")
    url: str = setting("", "axis: the live-sum.json URL to poll")
    poll_s: float = setting(60.0, "axis: seconds between polls")
    credentials_file: str = setting("", "axis: file holding user:password (mode 0600); empty: no login")
    pin_in: int = setting(-1, "gpio: BCM pin whose pulses count entries")
    pin_out: int = setting(-1, "gpio: BCM pin whose pulses count exits (-1: none)")
    pull_up: bool = setting(True, "gpio: pull the pin up (a contact to ground pulses low)")
    bounce_s: float = setting(0.05, "gpio: edges closer than this are one pulse (contact bounce)")

    def check(self) -> None:
        check_id("sensor", self.id)
        if self.type not in DOOR_TYPES:
            raise ValueError(f"type {self.type!r} is not one of {', '.join(sorted(DOOR_TYPES))}")
        if self.type == "axis" and not self.url.startswith(("http://", "https://")):
            raise ValueError("url must be the counter's http(s) live-sum.json URL for type axis")
        if self.type == "gpio" and self.pin_in < 0:
            raise ValueError("pin_in must be a BCM pin number for type gpio")
        if self.poll_s <= 0 or self.bounce_s < 0:
            raise ValueError("poll_s must be positive and bounce_s not negative")


@dataclass(frozen=True)
class DoorsConfig:
    sensors: list[DoorSensorConfig] = setting([], "door counters (none: no listener, no door records)")
    listen_host: str = setting("127.0.0.1", "address the push listener binds (the LAN address for sensors)")
    listen_port: int = setting(8780, "port of the push listener (0: any free port)")
    token_file: str = setting("door-token", "shared token pushes send as Bearer (mode 0600), in state_dir")
    max_body_bytes: int = setting(1048576, "larger pushes are refused with 413")
    stale_s: float = setting(900.0, "a sensor silent this long raises a status alert (not gpio)")
    grace_s: float = setting(90.0, "a minute is reported this long after it ends, for late pushes")
    flush_s: float = setting(15.0, "how often closed minutes go to the outbox")

    def check(self) -> None:
        ids = [s.id for s in self.sensors]
        if len(set(ids)) != len(ids):
            raise ValueError("sensors: every sensor id must be different")
        if not 0 <= self.listen_port < 65536:
            raise ValueError(f"listen_port {self.listen_port} is not between 0 and 65535")
        if self.stale_s <= 0 or self.grace_s < 0 or self.flush_s <= 0 or self.max_body_bytes < 1:
            raise ValueError("stale_s, flush_s and max_body_bytes must be positive, grace_s not negative")


@dataclass(frozen=True)
class AgentConfig:
    org: str = setting("demo", "chain id, [a-z0-9-]{1,64}")
    store: str = setting("demo-store", "store id, [a-z0-9-]{1,64}")
    agent: str = setting("gw-1", "this gateway's id, [a-z0-9-]{1,64}")
    timezone: str = setting("UTC", "the store's time zone (IANA name): days and hours are local")
    state_dir: str = setting("/var/lib/footfall-agent", "where the outbox, keys and key chain live (the"
                                                           " systemd unit's StateDirectory)")
    source: SourceConfig = section(SourceConfig, "frame source")
    counting: CountingConfig = section(CountingConfig, "visit and visitor definitions")
    grouping: GroupingConfig = section(GroupingConfig, "random-MAC device grouping")
    static: StaticConfig = section(StaticConfig, "static devices (fixtures, staff phones)")
    privacy: PrivacyConfig = section(PrivacyConfig, "pseudonym keys")
    outbox: OutboxConfig = section(OutboxConfig, "the store-and-forward buffer")
    mqtt: MqttConfig = section(MqttConfig, "the broker")
    doors: DoorsConfig = section(DoorsConfig, "door counters (traffic in and out)")

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
