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
import re
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent.common.configfile import ConfigError, load_config, section, setting
from agent.common.tlsfiles import check_plain
from agent.wire.topics import ID_RE, check_id
from hub.locales import locale

__all__ = ["ConfigError", "HubConfig", "StoreConfig", "TrustConfig", "load_hub_config", "zone"]


def zone(name: str) -> ZoneInfo:
    """The time zone `name`; ValueError with a one-line reason when it is not an IANA zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{name!r} is not a known time zone (use an IANA name such as Europe/Prague)"
        ) from None


@dataclass(frozen=True)
class TlsConfig:
    """The hub's identity at the broker (footfall-hub pki issue-service hub); relative to the config."""

    ca_file: str = setting("", "the chain's CA certificate; empty: plain MQTT (loopback development only)")
    cert_file: str = setting("", "the hub's certificate (CN hub)")
    key_file: str = setting("", "the hub's private key (mode 0600)")

    def check(self) -> None:
        if self.ca_file and not (self.cert_file and self.key_file):
            raise ValueError("ca_file needs cert_file and key_file: the broker requires a client certificate")


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
    tls: TlsConfig = section(TlsConfig, "TLS with the hub's certificate; empty ca_file: plain MQTT")
    allow_plain_loopback: bool = setting(
        False, "development only: plain MQTT without tls.ca_file, to a loopback host (never another machine)"
    )

    def check(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is not between 1 and 65535")
        if not self.tls.ca_file:  # to a remote host: refused here; to loopback: needs the flag, at start
            check_plain(self.host, allow_plain_loopback=True)
        if not self.client_id:
            raise ValueError("client_id must not be empty")
        if not 1 <= self.receive_maximum <= 65535:
            raise ValueError("receive_maximum must be between 1 and 65535")


@dataclass(frozen=True)
class TrustConfig:
    """Who may write data: batches signed by a gateway key registered in the chain's PKI folder."""

    pki_dir: str = setting("", "the chain's PKI folder (footfall-hub pki init); relative to the config file")
    require_signatures: bool = setting(
        True, "dead-letter unsigned batches; false accepts them (development only, agents without keys)"
    )

    def problem(self) -> str | None:
        """Why `serve` cannot verify batches with this setting (checked at start: only serve needs it)."""
        if self.require_signatures and not self.pki_dir:
            return ("trust.require_signatures needs trust.pki_dir, the PKI folder whose signing/ holds the "
                    "gateways' keys (or trust.require_signatures: false, for development)")
        return None


@dataclass(frozen=True)
class DatabaseConfig:
    """The hub's store: a SQLite file (one hub), or PostgreSQL by URL (a chain's workers, docs/chain.md)."""

    path: str = setting(
        "footfall-hub.db", "SQLite file; a relative path is taken from the config file's folder"
    )
    url: str = setting(
        "", "sqlite:///PATH (sets path; sqlite:////abs/path) or postgresql://USER@HOST:PORT/DB; empty: path"
    )

    def check(self) -> None:
        if self.url and not self.url.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError(f"url {_masked(self.url)!r} must start with sqlite:/// or postgresql://")

    @property
    def engine(self) -> str:
        """sqlite or postgresql."""
        return "postgresql" if self.url.startswith(("postgresql://", "postgres://")) else "sqlite"

    def where(self) -> str:
        """The store for messages: the SQLite path, or the URL without its password."""
        return self.path if self.engine == "sqlite" else _masked(self.url)


def _masked(url: str) -> str:
    """A database URL without its password."""
    return re.sub(r"(//[^:/@]*):[^@/]*@", r"\1:***@", url)


@dataclass(frozen=True)
class IngestConfig:
    """Group commits: fewer fsyncs, bounded ack latency."""

    max_batches_per_commit: int = setting(64, "data messages written in one transaction at most")
    max_wait_ms: int = setting(20, "longest a received message waits for others to share its commit, ms")
    shared_group: str = setting(
        "", "several serve processes split the agents' data through this MQTT 5 shared subscription group"
        " ($share/GROUP/...); one of them, elected, runs the metrics publisher; empty: a single hub")

    def check(self) -> None:
        if self.max_batches_per_commit < 1:
            raise ValueError("max_batches_per_commit must be at least 1")
        if self.shared_group and not ID_RE.match(self.shared_group):
            raise ValueError(f"shared_group {self.shared_group!r} must match [a-z0-9-]{{1,64}}")
        if self.max_wait_ms < 0:
            raise ValueError("max_wait_ms must not be negative")


@dataclass(frozen=True)
class PublishConfig:
    """Store metrics republished for the data team (hub.publish; docs/privacy.md and docs/wire.md)."""

    enabled: bool = setting(True, "publish .../metrics/hour and .../metrics/day after each hour closes")
    k: int = setting(5, "device counts from 1 to k-1 are withheld, with complementary cells (1: none)")
    delay_s: int = setting(120, "publish an hour this long after it closes, once the agents' counts are in")
    poll_s: float = setting(60.0, "look for POS imports (made by another process) this often, seconds")
    settle_s: float = setting(
        30.0, "late data for a closed hour or day is sent once none has come for it for this long (at "
        "most 10 x this after the first): a draining backlog goes out once in, not per commit, seconds")
    client_id: str = setting("footfall-hub-metrics", "MQTT client id of the publisher's own connection")
    final_wait_s: int = setting(
        14400, "an hour or day whose agents have not all sent their counts goes out this long after it "
        "closed anyway (a gateway offline), seconds")
    noise: str = setting("none", "none, or laplace: differential privacy noise on device counts instead of k")
    epsilon_day: float = setting(
        1.0, "with noise: the privacy budget per store-day (at most 2), split over its counts")

    def check(self) -> None:
        if self.k < 1 or self.k == 2:
            raise ValueError(f"k {self.k} must be 1 (off) or at least 3: a count withheld below 2 is 1")
        if self.noise not in ("none", "laplace"):
            raise ValueError(f"noise {self.noise!r} is not none or laplace")
        if not 0 < self.epsilon_day <= 2:
            raise ValueError(f"epsilon_day {self.epsilon_day} must be above 0 and at most 2 per store-day")
        if self.final_wait_s < 0:
            raise ValueError(f"final_wait_s {self.final_wait_s} must not be negative")
        if self.delay_s < 0 or self.poll_s <= 0 or self.settle_s < 0:
            raise ValueError("delay_s and settle_s must not be negative and poll_s must be positive")
        if not self.client_id:
            raise ValueError("client_id must not be empty")


@dataclass(frozen=True)
class MetricSettings:
    """The thresholds agents classify with (docs/metrics.md); every report states them."""

    visit_timeout_s: int = setting(900, "a gap longer than this ends a visit, seconds")
    min_dwell_s: int = setting(300, "a visitor stays at least this long, seconds")
    visitor_rssi_dbm: int = setting(-70, "a visitor's sightings are at least this strong, dBm")
    visitor_sightings_n: int = setting(3, "a visitor is heard at least this often at visitor RSSI")
    linkability_window_d: int = setting(1, "days a device key links visits (1, 7 or at most 30)")
    loyalty_window_d: int = setting(30, "days of member visits that loyalty and returning members look back")

    def check(self) -> None:
        if self.visit_timeout_s <= 0 or self.min_dwell_s < 0 or self.visitor_sightings_n < 1:
            raise ValueError(
                "visit_timeout_s and visitor_sightings_n must be positive, min_dwell_s not negative"
            )
        if not 1 <= self.linkability_window_d <= 30:
            raise ValueError(f"linkability_window_d {self.linkability_window_d} is not between 1 and 30")
        if not 7 <= self.loyalty_window_d <= 366:
            raise ValueError(f"loyalty_window_d {self.loyalty_window_d} is not between 7 and 366")


@dataclass(frozen=True)
class StoreConfig:
    """One store's overrides; a store not listed uses the defaults."""

    timezone: str | None = setting(None, "the store's IANA time zone (default: default_timezone)")
    calibration_factor: float = setting(
        1.0, "people per visitor device, for traffic when there is no door counter"
    )
    settings: MetricSettings = section(MetricSettings, "thresholds the store's agents classify with")
    currency: str = setting("", "ISO 4217 code of the store's money (EUR, GBP, CZK, CNY, USD, ...)")
    locale: str = setting(
        "en", "how the store writes numbers, in reports and its POS exports: en 1,234.50, de 1.234,50,"
        " fr and cs 1 234,50, ch 1'234.50, zh, ja"
    )

    def check(self) -> None:
        if self.timezone is not None:
            zone(self.timezone)
        if not 0 < self.calibration_factor <= 100:
            raise ValueError(f"calibration_factor {self.calibration_factor} is not between 0 and 100")
        locale(self.locale)
        if self.currency and not (len(self.currency) == 3 and self.currency.isalpha()
                                  and self.currency.isupper()):
            raise ValueError(f"currency {self.currency!r} is not an ISO 4217 code such as EUR")


@dataclass(frozen=True)
class PosConfig:
    """How POS exports are read (hub.imports.pos); unmapped fields are found by their usual names."""

    columns: dict[str, str] = setting(
        {}, "header of each field (transaction_id, timestamp, date, time, net_amount, store, status,"
        " member_id, line_id, gross_amount, tax) where the export's name is not a usual one"
    )
    store: str = setting("", "store id for exports without a store column")
    void_statuses: list[str] = setting(
        ["void", "voided", "cancelled", "canceled"], "status values (any case) that mark a voided transaction"
    )
    decimal_comma: bool = setting(False, "amounts use a decimal comma (12,50); the file then uses ';'")
    locale: str = setting(
        "", "how the export writes amounts (en 1,234.50, de 1.234,50, fr, cs, ch, zh); empty: its stores'"
        " locale (stores.S.locale), or de with decimal_comma"
    )
    timestamp_format: str = setting(
        "", "strptime format of the timestamp, or of date and time joined by a space, such as"
        " '%m/%d/%y %H:%M:%S' or '%d.%m.%Y %H:%M'; empty: ISO 8601"
    )
    locations: dict[str, str] = setting(
        {}, "store ids of the export's location names ('Downtown Brno': brno-1), for a store column"
        " holding names"
    )
    max_amount: float = setting(
        1_000_000.0, "a transaction of more than this (either sign, in the store's money) is refused by line"
    )
    time_range_days: int = setting(
        3650, "a transaction more than this many days before the import, or over a day after it, is"
        " refused by line (0: any time)"
    )

    def check(self) -> None:
        if self.store:
            check_id("store", self.store)
        if self.locale:
            locale(self.locale)
        for name, store in self.locations.items():
            check_id(f"locations[{name!r}]", store)
        if self.max_amount <= 0 or self.time_range_days < 0:
            raise ValueError("max_amount must be positive and time_range_days not negative")
        if self.timestamp_format and "%" not in self.timestamp_format:
            raise ValueError(f"timestamp_format {self.timestamp_format!r} has no % directive (e.g. %m/%d/%y)")


@dataclass(frozen=True)
class LiveConfig:
    """The live page (hub/live): where it listens, how long a login lasts, when an arrival is news."""

    http: str = setting("", "serve the live page at HOST:PORT (127.0.0.1:8080); empty: off (serve --http)")
    session_ttl_s: int = setting(8 * 3600, "a login session ends after this long without a request, seconds")
    arrival_max_age_s: int = setting(
        300, "a member arrival older than this when it reaches the hub is kept but not announced, seconds")
    arrivals_roles: list[str] = setting(["manager", "staff"], "roles whose live page lists member arrivals")

    def check(self) -> None:
        if self.http:
            host, _, port = self.http.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"http {self.http!r} is not HOST:PORT")
        if self.session_ttl_s < 60 or self.arrival_max_age_s < 0:
            raise ValueError("session_ttl_s must be at least 60 and arrival_max_age_s not negative")


@dataclass(frozen=True)
class SegmentConfig:
    """Lifecycle segments (hub/members/segments.py); 0 means: follow the chain's own distribution."""

    new_days: int = setting(30, "a member first active (or joined) this recently is new, days")
    lapsing_days: int = setting(0, "no visit or purchase for this long: lapsing; 0: 2 x the chain's q75 gap")
    churn_days: int = setting(0, "no visit or purchase for this long: churn risk; 0: 4 x the chain's q75 gap")
    active_days_n: int = setting(
        0, "active days (visit or purchase) in the last 28 days to be active; 0: the chain's natural break")

    def check(self) -> None:
        if min(self.new_days, self.lapsing_days, self.churn_days, self.active_days_n) < 0:
            raise ValueError("segment thresholds must not be negative")
        if self.lapsing_days and self.churn_days and self.churn_days <= self.lapsing_days:
            raise ValueError("churn_days must be more than lapsing_days")


@dataclass(frozen=True)
class HubConfig:
    """Everything the hub reads from hub.yaml."""

    mqtt: MqttConfig = section(MqttConfig, "the MQTT broker")
    database: DatabaseConfig = section(DatabaseConfig, "the store: SQLite file or PostgreSQL URL")
    ingest: IngestConfig = section(IngestConfig, "how received batches are committed")
    trust: TrustConfig = section(TrustConfig, "batch signatures and the PKI folder with the gateways' keys")
    publish: PublishConfig = section(PublishConfig, "metrics republished for the data team over MQTT")
    default_timezone: str = setting("UTC", "time zone of stores without their own")
    stores: dict[str, StoreConfig] = setting({}, "per-store settings by store id")
    groups: dict[str, list[str]] = setting({}, "store groups for reports (--group NAME): name -> store ids")
    pos: PosConfig = section(PosConfig, "how POS exports are read")
    live: LiveConfig = section(LiveConfig, "the live page: login, sessions, member arrivals")
    segments: SegmentConfig = section(SegmentConfig, "lifecycle segments of members (footfall-hub members)")
    member_secret_file: str = setting(
        "member.secret", "member-key secret (mode 0600, made on first use); relative: beside the database"
    )

    def check(self) -> None:
        zone(self.default_timezone)
        for store_id in self.stores:
            check_id("store", store_id)
        for name, members in self.groups.items():
            if not members:
                raise ValueError(f"groups: group {name!r} has no stores")
            for store_id in members:
                check_id("store", store_id)

    def member_secret_path(self) -> Path:
        """Where the member secret lives: member_secret_file, relative to the database's folder."""
        return Path(self.database.path).resolve().parent / self.member_secret_file

    def store(self, store_id: str) -> StoreConfig:
        """The settings of `store_id`, with the defaults filled in (timezone never None)."""
        found = self.stores.get(store_id) or StoreConfig()
        return dataclasses.replace(found, timezone=found.timezone or self.default_timezone)


def load_hub_config(path: str | Path | None) -> HubConfig:
    """Load and check hub.yaml (None: every default); a relative database path follows the file."""
    config = load_config(path, HubConfig)
    if config.database.url.startswith("sqlite:///"):  # sqlite:///relative.db, sqlite:////absolute.db
        config = dataclasses.replace(config, database=dataclasses.replace(
            config.database, path=config.database.url[len("sqlite:///"):]))
    if path is not None and not Path(config.database.path).is_absolute():
        db_path = str(Path(path).resolve().parent / config.database.path)
        config = dataclasses.replace(config, database=dataclasses.replace(config.database, path=db_path))
    if path is not None and config.trust.pki_dir:
        pki = Path(path).resolve().parent / config.trust.pki_dir
        config = dataclasses.replace(config, trust=dataclasses.replace(config.trust, pki_dir=str(pki)))
    if path is not None and config.mqtt.tls.ca_file:
        base, tls = Path(path).resolve().parent, config.mqtt.tls
        tls = TlsConfig(*(str(base / f) for f in (tls.ca_file, tls.cert_file, tls.key_file)))
        config = dataclasses.replace(config, mqtt=dataclasses.replace(config.mqtt, tls=tls))
    return config
