"""Fixtures: a chain's PKI in tmp_path and a real mosquitto on the config broker-config writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hub.pki.support import Chain


@pytest.fixture
def chain(tmp_path: Path) -> Chain:
    """CA of org acme, the broker's certificate, hub and data team, gateways acme/brno-1/gw-a and gw-b."""
    return Chain.make(tmp_path)
