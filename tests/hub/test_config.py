"""hub.yaml: checked before anything connects, never half-accepted, errors with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import ConfigError, HubConfig, load_hub_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hub.yaml"
    path.write_text(text)
    return path


def test_full_config_is_read(tmp_path: Path) -> None:
    """Every documented setting can be given; a store's settings override the defaults."""
    path = write(
        tmp_path,
        """\
version: 1
mqtt:
  host: broker.local
  port: 8883
  client_id: hub-a
  tls: {ca_file: ca.crt, cert_file: hub.crt, key_file: hub.key}
trust: {pki_dir: pki, require_signatures: true}
database: {path: data/hub.db}
ingest: {max_batches_per_commit: 10, max_wait_ms: 5}
default_timezone: Europe/London
stores:
  brno-1:
    timezone: Europe/Prague
    calibration_factor: 1.25
    settings: {min_dwell_s: 240, linkability_window_d: 7}
  leeds-2: {}
""",
    )
    cfg = load_hub_config(path)
    assert (cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.client_id) == ("broker.local", 8883, "hub-a")
    assert cfg.database.path == str(tmp_path / "data" / "hub.db")
    assert (cfg.ingest.max_batches_per_commit, cfg.ingest.max_wait_ms) == (10, 5)
    brno = cfg.store("brno-1")
    assert (brno.timezone, brno.calibration_factor) == ("Europe/Prague", 1.25)
    assert (brno.settings.min_dwell_s, brno.settings.visit_timeout_s, brno.settings.linkability_window_d) == (
        240,
        900,
        7,
    )
    assert cfg.store("leeds-2").timezone == "Europe/London"
    assert cfg.store("not-listed").calibration_factor == 1.0


def test_defaults_without_a_file() -> None:
    """No config file means the documented defaults."""
    cfg = load_hub_config(None)
    assert cfg == HubConfig()
    assert (cfg.database.path, cfg.mqtt.port, cfg.default_timezone) == ("footfall-hub.db", 1883, "UTC")
    s = cfg.store("x").settings
    assert (
        s.visit_timeout_s,
        s.min_dwell_s,
        s.visitor_rssi_dbm,
        s.visitor_sightings_n,
        s.linkability_window_d,
    ) == (900, 300, -70, 3, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 1\nmqtt:\n  port: abc\n", "hub.yaml:3: mqtt.port: 'abc' is not an integer"),
        (
            "version: 1\nmqtt:\n  prot: 1883\n",
            "hub.yaml:3: mqtt.prot: unknown setting (known: allow_plain_loopback, client_id, host,"
            " keepalive_s, port, receive_maximum, session_expiry_s, tls)",
        ),
        (
            "version: 1\nstores:\n  brno-1:\n    timezone: Mars/Olympus\n",
            "hub.yaml:4: stores.brno-1: 'Mars/Olympus' is not a known time zone (use an IANA name such as "
            "Europe/Prague)",
        ),
        (
            "version: 1\nstores:\n  brno-1:\n    settings: {colour: red}\n",
            "hub.yaml:4: stores.brno-1.settings.colour: unknown setting (known: linkability_window_d, "
            "loyalty_window_d, "
            "min_dwell_s, visit_timeout_s, visitor_rssi_dbm, visitor_sightings_n)",
        ),
        ("version: 2\n", "hub.yaml:1: version: '2' is not supported (use 1)"),
        (
            "version: 1\ningest:\n  shared_group: Hub/1\n",
            "hub.yaml:3: ingest.shared_group: shared_group 'Hub/1' must match [a-z0-9-]{1,64}",
        ),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    """A wrong setting is reported where it is, word for word, and nothing of the file is used."""
    with pytest.raises(ConfigError) as err:
        load_hub_config(write(tmp_path, text))
    assert str(err.value) == message


def test_example_config_is_valid() -> None:
    """The sample hub.yaml shipped beside the code is accepted as it is."""
    cfg = load_hub_config(Path(__file__).resolve().parents[2] / "hub" / "hub.example.yaml")
    assert cfg.store("brno-1").calibration_factor == 1.25


def test_database_url_names_sqlite_or_postgresql(tmp_path: Path) -> None:
    """`database.url` picks the engine: sqlite:///FILE is the SQLite path (relative to the config, as
    `path`), postgresql://... the chain's server, shown without its password; another scheme is an error
    at its line."""
    cfg = load_hub_config(write(tmp_path, "version: 1\ndatabase: {url: 'sqlite:///data/hub.db'}\n"))
    assert (cfg.database.engine, cfg.database.path) == ("sqlite", str(tmp_path / "data" / "hub.db"))
    cfg = load_hub_config(write(tmp_path, "version: 1\ndatabase: {url: 'sqlite:////var/lib/hub.db'}\n"))
    assert cfg.database.path == "/var/lib/hub.db"
    cfg = load_hub_config(write(tmp_path, "version: 1\ndatabase:\n  url: postgresql://hub:pw@db:5432/ff\n"))
    assert (cfg.database.engine, cfg.database.where()) == ("postgresql", "postgresql://hub:***@db:5432/ff")
    with pytest.raises(ConfigError) as err:
        load_hub_config(write(tmp_path, "version: 1\ndatabase:\n  url: mysql://db/ff\n"))
    assert str(err.value) == ("hub.yaml:3: database.url: url 'mysql://db/ff' must start with sqlite:/// or "
                              "postgresql://")
