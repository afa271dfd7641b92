"""Pseudonyms: keyed, per window, and the only place a raw MAC is turned into a key."""

from __future__ import annotations

import hashlib
import hmac

from agent.config import AgentConfig
from agent.pipeline import Pipeline
from agent.pipeline.parse import RawSighting
from agent.pipeline.pseudonymize import Pseudonymizer
from agent.privacy.keychain import KeyChain
from agent.wire import Erase, Visit
from tests.support.frames import probe_request

T0 = 1_790_000_000.0  # 2026-09-21, midday UTC
MAC = bytes.fromhex("3c2eff112233")
RANDOM_MAC = bytes.fromhex("da11223344aa")


def raw(ts: float, mac: bytes) -> RawSighting:
    return RawSighting(ts, mac, -50, 6, 100, 7, False)


def test_same_mac_same_window_same_key_next_day_another() -> None:
    """Sightings of one MAC link within a window and never across windows."""
    chain = KeyChain.ephemeral(T0)
    p = Pseudonymizer(chain)
    out = p.feed([raw(T0, MAC), raw(T0 + 60, MAC), raw(T0 + 86400, MAC)])
    assert out[0].device == out[1].device != out[2].device
    assert out[0].window + 1 == out[2].window


def test_key_is_truncated_hmac_and_hides_the_mac() -> None:
    """The key is HMAC-SHA256(window key, MAC) to 128 bits; it holds no part of the MAC."""
    chain = KeyChain.ephemeral(T0)
    s = Pseudonymizer(chain).feed([raw(T0, MAC)])[0]
    assert s.device == hmac.digest(chain.key(s.window), MAC, hashlib.sha256)[:16]
    assert MAC not in s.device and MAC.hex() not in s.device.hex()


def test_randomized_flag_follows_the_locally_administered_bit() -> None:
    """Random MACs (bit 0x02 of the first byte) are flagged; vendor MACs are not."""
    out = Pseudonymizer(KeyChain.ephemeral(T0)).feed([raw(T0, MAC), raw(T0, RANDOM_MAC)])
    assert [s.randomized for s in out] == [False, True]


def test_sightings_before_the_chain_are_dropped_and_counted() -> None:
    """Data older than the oldest key held cannot be pseudonymized: dropped, counted by why (before this
    gateway's first key, or after a rotation destroyed its key), never raised."""
    p = Pseudonymizer(KeyChain.ephemeral(T0))
    assert p.feed([raw(T0 - 3 * 86400, MAC), raw(T0, MAC)])[0].ts == T0
    assert p.counters["key_not_yet"] == 1
    assert [s.ts for s in p.feed([raw(T0 + 86400, MAC), raw(T0 + 1, MAC)])] == [T0 + 86400]
    assert (p.counters["key_expired"], p.counters["key_not_yet"]) == (1, 1)


MEMBER_MAC, OTHER_MAC, OPTED_MAC = "00:1b:63:aa:bb:cc", "00:1b:63:11:22:33", "00:1b:63:44:55:66"
GATEWAY_SECRET = b"g" * 32


def _gateway_key(mac: str) -> bytes:
    return hmac.digest(GATEWAY_SECRET, bytes.fromhex(mac.replace(":", "")), "sha256")[:16]


Tags = tuple[dict[str, str | None], list[str | None]]


def _visits(members: set[str], optouts: set[str], macs: list[str]) -> Tags:
    """Each MAC heard strongly every 30 s for 10 minutes: the member_key of its visitor visit by MAC (for
    universally administered MACs), and the member_key of every visitor visit."""
    chain = KeyChain.ephemeral(T0)
    chain.optout_secret = GATEWAY_SECRET
    pipe = Pipeline(AgentConfig(org="acme", store="brno-1", agent="gw-1"), chain, 127)
    pipe.pseudonymizer.set_lists(frozenset(map(_gateway_key, optouts)), frozenset(map(_gateway_key, members)))
    frames = [(T0 + 30 * i, probe_request(mac, rssi=-50, seq=i)) for i in range(21) for mac in macs]
    records = pipe.feed(frames).records + pipe.close().records
    visits = [r for r in records if isinstance(r, Visit) and r.kind == "visitor"]
    keys = {v.device_key: v.member_key for v in visits}
    window_key = chain.key(chain.index_of(T0))
    devices = {mac: hmac.digest(window_key, bytes.fromhex(mac.replace(":", "")), "sha256")[:16].hex()
               for mac in macs}
    return {mac: keys[d] for mac, d in devices.items() if d in keys}, [v.member_key for v in visits]


def test_a_listed_members_visits_carry_its_gateway_key_and_nobody_elses_do() -> None:
    """The hub's member list (gateway keys) tags the visitor visits of that device only; an opted-out
    member is dropped, not tagged; with no list nothing is tagged."""
    by_mac, _ = _visits({MEMBER_MAC, OPTED_MAC}, {OPTED_MAC}, [MEMBER_MAC, OTHER_MAC, OPTED_MAC])
    assert by_mac == {MEMBER_MAC: _gateway_key(MEMBER_MAC).hex(), OTHER_MAC: None}
    assert _visits(set(), set(), [MEMBER_MAC])[0] == {MEMBER_MAC: None}


def test_a_randomized_mac_is_never_matched_to_the_member_list() -> None:
    """Even when its gateway key is on the list, a locally administered MAC is never a member."""
    random_mac = "da:11:22:33:44:aa"
    assert _visits({random_mac}, set(), [random_mac])[1] == [None]  # its one visitor visit, untagged


def test_the_config_coming_again_keeps_a_tag_and_a_member_taken_off_the_list_loses_it() -> None:
    """The retained config arrives at every reconnect: the same list keeps an open visit's tag; a list
    without the member (withdrawn consent) or with it opted out drops the tag."""
    chain = KeyChain.ephemeral(T0)
    chain.optout_secret = GATEWAY_SECRET
    p = Pseudonymizer(chain)
    key = _gateway_key(MEMBER_MAC)
    p.set_lists(frozenset(), frozenset({key}))
    dev = p.feed([raw(T0, bytes.fromhex(MEMBER_MAC.replace(":", "")))])[0].device
    assert p.member_of(dev) == key.hex()
    p.set_lists(frozenset(), frozenset({key}))
    assert p.member_of(dev) == key.hex()
    p.set_lists(frozenset({key}), frozenset({key}))
    assert p.member_of(dev) is None
    p.set_lists(frozenset(), frozenset({key}))  # opt-out withdrawn: tagged again at its next sighting
    p.feed([raw(T0 + 60, bytes.fromhex(MEMBER_MAC.replace(":", "")))])
    assert p.member_of(dev) == key.hex()
    p.set_lists(frozenset(), frozenset())  # consent withdrawn
    assert p.member_of(dev) is None


def _pipe() -> Pipeline:
    chain = KeyChain.ephemeral(T0)
    chain.optout_secret = GATEWAY_SECRET
    return Pipeline(AgentConfig(org="acme", store="brno-1", agent="gw-1"), chain, 127)


def _erase_records(records: list[object]) -> list[Erase]:
    return [r for r in records if isinstance(r, Erase)]


def test_an_opt_out_names_the_devices_visit_key_of_this_window_and_its_open_visit_never_leaves() -> None:
    """A device heard before its opt-out arrives: the next pass yields one erase record with its visit key
    of the current window (only the gateway can compute it), its open visit is dropped unclosed, and no
    visit of it ever leaves; another device's visit is untouched."""
    pipe = _pipe()
    frames = [(T0 + 30 * i, probe_request(mac, rssi=-50, seq=i)) for i in range(21)
              for mac in (OPTED_MAC, OTHER_MAC)]
    assert not _erase_records(pipe.feed(frames).records)
    pipe.pseudonymizer.set_lists(frozenset({_gateway_key(OPTED_MAC)}))
    later = pipe.feed([(T0 + 640, probe_request(OTHER_MAC, rssi=-50, seq=99))]).records
    window_key = pipe.chain.key(pipe.chain.index_of(T0))
    opted = hmac.digest(window_key, bytes.fromhex(OPTED_MAC.replace(":", "")), "sha256")[:16].hex()
    assert [(e.device_key, e.key_window) for e in _erase_records(later)] == [(opted, "2026-09-21")]
    rest = later + pipe.close().records
    assert [v.device_key for v in rest if isinstance(v, Visit)] == [
        hmac.digest(window_key, bytes.fromhex(OTHER_MAC.replace(":", "")), "sha256")[:16].hex()]
    pipe.pseudonymizer.set_lists(frozenset({_gateway_key(OPTED_MAC)}))  # the same list again: no repeat
    assert not _erase_records(pipe.flush(T0 + 700).records)


def test_a_device_not_heard_before_its_opt_out_is_erased_of_nothing() -> None:
    """An opt-out of a device this gateway has not heard in the window yields no erase record: there is
    nothing of it to delete, and its later sightings are dropped."""
    pipe = _pipe()
    pipe.pseudonymizer.set_lists(frozenset({_gateway_key(OPTED_MAC)}))
    out = pipe.feed([(T0 + 30 * i, probe_request(OPTED_MAC, rssi=-50, seq=i)) for i in range(21)])
    assert not _erase_records(out.records + pipe.close().records)
    assert pipe.pseudonymizer.counters["opted_out"] == 21


def test_the_clock_alone_rotates_the_key_at_midnight() -> None:
    """A gateway that hears nothing after midnight still destroys the closed day's key: flush at a time
    of the next window moves the chain's anchor, with no frame needed."""
    pipe = _pipe()
    pipe.feed([(T0, probe_request(OTHER_MAC, rssi=-50, seq=1))])
    today = pipe.chain.index_of(T0)
    pipe.flush(T0 + 86400)
    assert pipe.chain.anchor_index == today + 1


def test_carry_keys_live_one_window_with_data_and_a_quiet_window_does_not_count() -> None:
    """The overlap: on entering a window, only the carry key of the last window with data is kept (the
    state written to disk holds that one); a day without a frame (a closed Sunday) does not push it out."""
    p = Pseudonymizer(KeyChain.ephemeral(T0))
    day = 86400
    for d in range(3):
        p.feed([raw(T0 + d * day, MAC)])
    assert [w for w, _ in p.carry_keys] == [p.chain.index_of(T0 + day)]
    p.rotate(T0 + 3 * day)  # midnight passes with no frame: day 3 is quiet
    p.feed([raw(T0 + 4 * day, MAC)])
    assert [w for w, _ in p.carry_keys] == [p.chain.index_of(T0 + 2 * day)]
    assert len(p.export_state()["carry_keys"]) == 1
