"""Issue 18's attacks (1)-(3) and the no-past-key proof, run on a week replayed through the product.

Each test asserts that its attack recovers nothing and that its control, the same search holding one
secret the attacker should not have, recovers something: so a harness that "finds nothing" is shown
able to find. `pytest -s` prints the summary lines; `python -m tests.attacks` prints the same.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from agent.common.bundle import ChainSecrets, build_bundle, write_bundle
from agent.common.tlsfiles import CERT_FILE
from hub.localbroker import LocalBroker
from tests.attacks.harness import (
    brute_force_hashes,
    hub_derives_nothing,
    no_past_key_derivable,
    stolen_gateway,
)
from tests.attacks.world import AGENT, ORG, STORE, World, build


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The week: one gateway enrolled as its store's first, seven days through agent, mosquitto, hub."""
    root = tmp_path_factory.mktemp("attacks")
    (root / "broker").mkdir()
    broker = LocalBroker(root / "broker").start()
    try:
        built = build(root / "world", broker)
    finally:
        broker.stop()
    yield built


def test_no_plain_salted_or_guessable_hmac_hash_of_any_captured_mac_is_stored_anywhere(world: World) -> None:
    """(1) Every MAC of the week's captures, hashed with MD5/SHA-1/SHA-256 plain, salted with guessable
    salts, and HMACed under guessable keys, matches no value stored by the hub or the gateway; the real
    window keys find the visitors' device keys (the control)."""
    result = brute_force_hashes(world)
    print(f"\n{result.line}")
    assert result.found == 0
    assert result.control_found >= len(world.regulars) * len(world.days)


def test_the_hubs_files_yield_no_window_key_and_link_no_device_across_days(world: World) -> None:
    """(2) Every secret of the hub's files (its kept future key, opt-out secret, CA key), ratcheted forward
    and turned into carry keys, inverts no stored device key over the vendor space, equals no window key
    of the week, and no device key links two days; a leaked window key links the regulars (the control)."""
    result = hub_derives_nothing(world)
    print(f"\n{result.line}")
    assert result.found == 0
    assert result.control_found >= len(world.regulars)


def test_a_stolen_gateway_recomputes_no_past_days_device_keys(world: World) -> None:
    """(3) After the last rotation, every secret of the gateway's state folder, against the candidate MACs,
    recomputes none of the past days' device keys, but does recompute the current window's (the
    control: the folder does hold the live key, as it must)."""
    result = stolen_gateway(world)
    print(f"\n{result.line}")
    assert result.found == 0
    assert result.control_found >= len(world.regulars)


def test_no_file_of_gateway_or_hub_holds_or_derives_a_past_window_key(world: World) -> None:
    """Every file of the gateway's state folder and of the hub, SQLite cells included: no past window key
    in any spelling, none reachable from any secret by the ratchet; the current key is both (control)."""
    result = no_past_key_derivable(world)
    print(f"\n{result.line}")
    assert result.found == 0
    assert result.control_found == 2


def test_the_harness_catches_a_hub_that_keeps_the_enrolment_key(world: World, tmp_path: Path) -> None:
    """The design this issue replaced: a hub chain file at the enrolment key. Planted in a copy of the
    hub's PKI folder, attack (2) derives the week's keys from it and inverts the stored device keys."""
    pki = shutil.copytree(world.hub_files[0], tmp_path / "pki")
    (pki / "chains" / "old.json").write_text(json.dumps(
        {"window_days": 1, "anchor_index": 0, "anchor_key": world.window_keys[world.days[0]].hex()}))
    result = hub_derives_nothing(replace(world, hub_files=[pki, *world.hub_files[1:]]))
    assert result.found > len(world.regulars) * len(world.days)


def test_the_harness_catches_a_gateway_that_keeps_its_enrolment_bundle(world: World, tmp_path: Path) -> None:
    """The design this issue replaced: `enroll --install` left gateway.bundle beside gateway.key. With the
    week's first key sealed in it, planted in a copy of the state folder, attack (3) opens it with the
    gateway's own key and recomputes the past days' device keys."""
    state = shutil.copytree(world.state, tmp_path / "state")
    secrets = ChainSecrets(1, 0, world.window_keys[world.days[0]], b"o" * 32)
    cert = (state / CERT_FILE).read_bytes()
    write_bundle(state / "gateway.bundle", build_bundle(f"{ORG}/{STORE}/{AGENT}", cert, cert, secrets))
    result = stolen_gateway(replace(world, state=state))
    assert result.found >= len(world.regulars) * (len(world.days) - 1)
