"""Visitors that mean people and counts that do not drift (issue 19): linking fragments, the near gate's
learning, the calibration's visitors factor and intervals."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from agent.app import AgentApp
from agent.calibrate import Fit, Segment, entries, fit, fit_visitors, ratio_interval, save
from agent.cli import main
from agent.config import AgentConfig
from agent.pipeline import Pipeline
from agent.pipeline.link import link, summarize
from agent.pipeline.occupancy import MIN_NEAR_BOUNDS, OccupancyTally
from agent.pipeline.pseudonymize import Sighting
from agent.pipeline.sessionize import ClosedVisit
from agent.privacy.keychain import KeyChain
from agent.wire import Status
from agent.wire.records import Visit
from tests.support.frames import elements, probe_request

T0 = 1_700_000_000.0


def frag(start: float, end: float, fp: int = 7, rssi: int = -60, dev: int = 0) -> ClosedVisit:
    return ClosedVisit(bytes([dev]) * 16, 0, T0 + start, T0 + end, 10, 5, rssi, True, "visitor", fp)


def test_fragments_of_one_phone_make_one_visitor_with_the_whole_stay() -> None:
    """A phone whose MAC changed twice during a 90-minute stay (each fragment a device visit of its own)
    is one visitor staying 90 minutes, not three visitors of 30."""
    people = link([frag(0, 1800, dev=1), frag(1860, 3600, dev=2), frag(3700, 5400, dev=3)],
                  gap_s=3600, rssi_dbm=-75)
    s = summarize(people, 300)
    assert (s.visitors, s.mean_dwell_s, s.fragments_n) == (1, 5400, 3)


def test_two_phones_heard_at_once_are_two_people() -> None:
    """Two phones of one model in the room at the same time are never joined: a chain is busy while its
    fragment is heard, so the overlapping one starts a second person."""
    people = link([frag(0, 3000, dev=1), frag(600, 2400, dev=2)], gap_s=3600, rssi_dbm=-75)
    assert len(people) == 2


def test_other_models_and_weak_fragments_do_not_join() -> None:
    """A fragment of another fingerprint is another person; a fragment never heard near (someone in the
    corridor) is not linked nor counted."""
    people = link([frag(0, 1800, fp=1, dev=1), frag(1900, 3600, fp=2, dev=2),
                   frag(3700, 5000, fp=1, rssi=-85, dev=3)], gap_s=3600, rssi_dbm=-75)
    assert sorted(p.fingerprint for p in people) == [1, 2]
    assert max(p.ended for p in people) == T0 + 3600


def test_a_gap_longer_than_the_setting_is_a_new_visit() -> None:
    """A phone back after a longer absence than the gap setting counts as a second visit."""
    people = link([frag(0, 1200, dev=1), frag(1200 + 3601, 6000, dev=2)], gap_s=3600, rssi_dbm=-75)
    assert summarize(people, 300).visitors == 2


def sightings(minute: int, n_near: int, n_far: int = 0) -> list[Sighting]:
    ts = T0 + minute * 60
    near = [Sighting(ts, bytes([i]) * 16, True, -50, 6, 0, 1, 0) for i in range(n_near)]
    far = [Sighting(ts, bytes([100 + i]) * 16, True, -85, 6, 0, 1, 0) for i in range(n_far)]
    return near + far


def a_day(tally: OccupancyTally, busy: bool, day: int) -> dict[str, object]:
    for minute in range(0, 24 * 60, 10):
        in_use = busy and 9 * 60 <= minute < 17 * 60
        tally.feed(sightings(day * 1440 + minute, 12 if in_use else 0, 2))
    state = tally.export_state()
    return state


def test_weeks_of_a_closed_store_teach_the_gate_nothing() -> None:
    """After 60 closed days (only far devices heard), the gate is what the open days taught: a closed
    store's nights cannot move what decides whether the room is in use (issue 19: drift)."""
    state: dict[str, object] = {"days": []}
    for day in range(5):
        tally = OccupancyTally()
        tally.import_state(state)
        state = a_day(tally, True, day)
    learned = OccupancyTally()
    learned.import_state(state)
    before = learned.thresholds()
    for day in range(5, 65):
        tally = OccupancyTally()
        tally.import_state(state)
        state = a_day(tally, False, day)
    after = OccupancyTally()
    after.import_state(state)
    assert after.thresholds() == before
    assert after.learned()["days_learned_n"] == 5


def test_a_learned_in_use_count_stays_within_its_bounds() -> None:
    """Even after days with 40 near devices in every busy window, a window counts as in use with at most
    MIN_NEAR_BOUNDS[1] near devices: a busy season cannot turn a quiet day into an empty room."""
    state: dict[str, object] = {"days": []}
    for day in range(4):
        tally = OccupancyTally()
        tally.import_state(state)
        for minute in range(0, 24 * 60, 10):
            busy = 9 * 60 <= minute < 17 * 60
            tally.feed(sightings(day * 1440 + minute, 40 if busy else 1))
        state = tally.export_state()
    tally = OccupancyTally()
    tally.import_state(state)
    assert MIN_NEAR_BOUNDS[0] <= tally.thresholds()[1] <= MIN_NEAR_BOUNDS[1]


def test_a_pinned_gate_says_so() -> None:
    """A calibrated store's gate is pinned, and replay --summary's `learned` says so."""
    assert OccupancyTally(-63, 4).learned()["source"] == "pinned"
    assert OccupancyTally().learned()["source"] == "default"


def test_entries_are_the_sum_of_rises() -> None:
    """Entries from hand-logged occupancy: 0 -> 3 -> 2 -> 5 -> 0 is 3 + 3 = 6 people who came in."""
    segs = [Segment(i, i + 1, o) for i, o in enumerate([0, 3, 2, 5, 0])]
    assert entries(segs) == 6


def test_interval_holds_the_middle_80_percent_of_ratios() -> None:
    """The interval is the 10th to 90th centile of truth / estimate: for ratios 0.5 .. 1.5 in 11 even
    steps it is 0.6 to 1.4."""
    pairs = [(1.0, 0.5 + i / 10) for i in range(11)]
    assert ratio_interval(pairs) == pytest.approx((0.6, 1.4))
    assert ratio_interval(pairs[:3]) == (1.0, 1.0)


def test_visitors_factor_turns_chains_into_entries() -> None:
    """Days where entries are a third of the linked chains give factor 1/3; days with under 3 entries
    (an empty room) do not count."""
    base: Fit = fit([(1.0, 2.0), (2.0, 4.0)], 600, ("a",))
    got = fit_visitors(base, [(30.0, 10.0), (60.0, 20.0), (90.0, 30.0), (5.0, 0.0)])
    assert got.visitors_factor == pytest.approx(1 / 3, abs=1e-4) and got.visitors_days_n == 3


def test_summary_reports_people_stays_and_what_was_learned(brno: Path, capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    """`replay --summary` on a real class day prints visitors (people, with an interval), their mean and
    median stay, the old device count, and the gate it used with its source."""
    assert main(["replay", str(brno / "2022-10-19.pcap"), "--summary"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["visitors_low"] <= s["visitors"] <= s["visitors_high"]
    assert s["linked_visitors"] <= s["linked_fragments"]
    assert s["median_dwell_s"] >= 300 and 300 <= s["mean_dwell_s"] <= 12 * 3600
    assert s["learned"]["gate"]["source"] in ("default", "learned")
    assert s["device_visitors"] > 0


def test_agent_status_shows_the_calibration_it_counts_with(tmp_path: Path) -> None:
    """The agent's retained status carries the store's calibration (factor, visitors factor, pinned gate,
    when it was fitted, the 80 % interval the hub shows), and survives the wire: an operator sees what the
    figures rest on."""
    fitted = replace(fit([(1.0, 2.0), (2.0, 4.0)], 600, ("a",)), near_rssi_dbm=-63, occupied_min_near=4,
                     visitors_q10=0.8, visitors_q90=1.3)
    save(tmp_path, fitted)
    status = AgentApp(replace(AgentConfig(), state_dir=str(tmp_path))).status()
    learned = Status.decode(status.encode()).learned
    assert learned["calibration_factor"] == "2.0" and learned["near_rssi_dbm"] == "-63"
    assert learned["calibrated_at"].endswith("Z")
    assert (learned["visitors_q10"], learned["visitors_q90"]) == ("0.8", "1.3")  # the hub's 80 % intervals


def test_visit_records_of_one_phone_share_a_person_key(tmp_path: Path) -> None:
    """The hub can count people: a phone whose MAC changed mid-stay (two device visits the grouper could
    not join) sends two visitor visits with one person_key, and the later one's person_dwell_s spans the
    whole stay; a phone of another model in the room at the same time has its own person."""
    one = elements(vendor=[bytes.fromhex("0017f20a000104")])
    other = elements(vendor=[bytes.fromhex("506f9a16030103")])
    frames = []
    for minute in range(40):  # 20 minutes on one random MAC, then 20 on another, a burst a minute
        mac = "02:00:00:00:00:01" if minute < 20 else "02:00:00:00:00:02"
        frames.append((T0 + minute * 60, probe_request(mac, -55, minute * 7 % 4096, ies=one)))
        frames.append((T0 + minute * 60 + 5, probe_request("06:00:00:00:00:09", -58, minute, ies=other)))
    cfg = replace(AgentConfig(), grouping=replace(AgentConfig().grouping, enabled=False))
    pipeline = Pipeline(cfg, KeyChain.ephemeral(T0, 1, "UTC"), 127)
    records = pipeline.feed(frames).records + pipeline.close().records
    visits = sorted((r for r in records if isinstance(r, Visit)), key=lambda v: v.started_at)
    assert len(visits) == 3 and all(v.kind == "visitor" for v in visits)
    ours = [v for v in visits if v.dwell_s < 1300]
    assert len({v.person_key for v in ours}) == 1 and ours[0].person_key is not None
    assert max(v.person_dwell_s for v in ours) == 39 * 60
    assert len({v.person_key for v in visits}) == 2
