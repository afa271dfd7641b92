"""The window-key ratchet (docs/privacy.md)."""

from __future__ import annotations

import stat
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agent.common.ratchet import next_key
from agent.privacy.keychain import KeyChain, KeyExpiredError

NOON = datetime(2026, 11, 26, 12, tzinfo=ZoneInfo("Europe/Prague")).timestamp()


def test_keys_only_go_forward(tmp_path: Path) -> None:
    """A later key derives from an earlier one; once destroyed, an earlier key cannot come back."""
    chain = KeyChain.open(tmp_path / "k.json", NOON, 1, "Europe/Prague")
    today = chain.index_of(NOON)
    k0, k2 = chain.key(today), chain.key(today + 2)
    assert k2 == next_key(next_key(k0))
    chain.destroy_before(today + 1)
    with pytest.raises(KeyExpiredError):
        chain.key(today)
    assert chain.key(today + 2) == k2
    reopened = KeyChain.open(tmp_path / "k.json", NOON, 1, "Europe/Prague")
    assert reopened.anchor_index == today + 1
    assert k0.hex() not in (tmp_path / "k.json").read_text()


def test_key_file_is_private(tmp_path: Path) -> None:
    """The key file is readable by its owner only (mode 0600)."""
    KeyChain.open(tmp_path / "k.json", NOON)
    assert stat.S_IMODE((tmp_path / "k.json").stat().st_mode) == 0o600


def test_windows_are_local_days_across_dst() -> None:
    """A window is a local day of the store, 23 hours long on the spring DST change."""
    chain = KeyChain.ephemeral(NOON, 1, "Europe/Prague")
    spring = datetime(2026, 3, 29, 12, tzinfo=ZoneInfo("Europe/Prague")).timestamp()
    start, end = chain.bounds(chain.index_of(spring))
    assert end - start == 23 * 3600
    assert datetime.fromtimestamp(start, ZoneInfo("Europe/Prague")).hour == 0
    assert chain.window_id(chain.index_of(spring)) == "2026-03-29"


def test_window_setting_is_checked(tmp_path: Path) -> None:
    """Only 1, 7 or 30-day windows exist, and a chain file cannot silently change its window."""
    with pytest.raises(ValueError, match="key window"):
        KeyChain.ephemeral(NOON, 2)
    KeyChain.open(tmp_path / "k.json", NOON, 1)
    with pytest.raises(ValueError, match="config says 7"):
        KeyChain.open(tmp_path / "k.json", NOON, 7)
