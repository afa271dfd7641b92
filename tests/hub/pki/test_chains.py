"""Key custody on the hub (issue 18): it keeps only the key of a window that has begun nowhere."""

from __future__ import annotations

import json
import stat
from datetime import UTC, date, datetime
from pathlib import Path

from agent.common.ratchet import next_key
from hub.app import Hub
from hub.config import DatabaseConfig, HubConfig, MqttConfig, PublishConfig, TrustConfig
from hub.pki.chains import advance_chains, chain_secrets, future_index
from tests.support.mosquitto import Mosquitto


def test_the_kept_window_is_the_first_that_has_begun_nowhere_on_earth() -> None:
    """At 09:59Z it is still 2 March in UTC+14, so 3 March has begun nowhere; a minute later it has
    begun on the Line Islands and the kept key must be 4 March's."""
    assert future_index(1, datetime(2026, 3, 2, 9, 59, tzinfo=UTC)) == date(2026, 3, 3).toordinal()
    assert future_index(1, datetime(2026, 3, 2, 10, 0, tzinfo=UTC)) == date(2026, 3, 4).toordinal()
    assert future_index(7, datetime(2026, 3, 2, 10, 0, tzinfo=UTC)) == date(2026, 3, 3).toordinal() // 7 + 1


def test_a_first_gateways_key_is_forgotten_and_the_file_follows_the_clock(tmp_path: Path) -> None:
    """The store's first gateway gets a fresh key for its first day; the hub's file (0600) holds that
    chain only from the future window on, and moves forward as days pass, never back."""
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    first = chain_secrets(tmp_path, "brno-1", keys_from=date(2026, 3, 1), now=now)
    path = tmp_path / "chains" / "brno-1.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    kept = json.loads(path.read_text())
    assert first.anchor_key.hex() not in path.read_text()
    key = first.anchor_key
    for _ in range(kept["future_index"] - first.anchor_index):
        key = next_key(key)
    assert (kept["future_index"], kept["future_key"]) == (date(2026, 3, 4).toordinal(), key.hex())
    assert advance_chains(tmp_path, datetime(2026, 3, 5, 12, tzinfo=UTC)) == ["brno-1"]
    moved = json.loads(path.read_text())
    assert (moved["future_index"], moved["future_key"]) == (date(2026, 3, 7).toordinal(),
                                                            next_key(next_key(next_key(key))).hex())
    assert advance_chains(tmp_path, now) == []  # a clock gone back moves nothing


def test_a_chain_file_of_the_old_layout_is_ratcheted_past_its_enrolment_key(tmp_path: Path) -> None:
    """A hub upgraded from the version that kept the enrolment anchor: the first advance rewrites the
    file to the future window's key, and the anchor key is gone from it."""
    (tmp_path / "chains").mkdir()
    anchor = bytes(range(32))
    path = tmp_path / "chains" / "brno-1.json"
    path.write_text(json.dumps({"window_days": 1, "anchor_index": date(2026, 3, 1).toordinal(),
                                "anchor_key": anchor.hex()}))
    assert advance_chains(tmp_path, datetime(2026, 3, 2, 12, tzinfo=UTC)) == ["brno-1"]
    kept = json.loads(path.read_text())
    assert kept["future_index"] == date(2026, 3, 4).toordinal() and "anchor_key" not in kept
    assert kept["future_key"] == next_key(next_key(next_key(anchor))).hex()


def test_a_starting_hub_moves_a_stale_kept_key_to_the_future_window(tmp_path: Path,
                                                                     mosquitto: Mosquitto) -> None:
    """A hub that was switched off for days holds a key whose window has begun; `footfall-hub run`
    (the Hub app) ratchets it to the current future window as it starts."""
    chain_secrets(tmp_path / "pki", "brno-1", keys_from=date(2026, 3, 1),
                  now=datetime(2026, 3, 2, tzinfo=UTC))
    config = HubConfig(mqtt=MqttConfig(port=mosquitto.port, allow_plain_loopback=True),
                       database=DatabaseConfig(path=str(tmp_path / "hub.db")),
                       trust=TrustConfig(pki_dir=str(tmp_path / "pki"), require_signatures=False),
                       publish=PublishConfig(enabled=False))
    with Hub(config):
        kept = json.loads((tmp_path / "pki" / "chains" / "brno-1.json").read_text())
    assert kept["future_index"] == future_index(1, datetime.now(UTC))
