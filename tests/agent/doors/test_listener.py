"""The push listener over real loopback HTTP: each format's counts, and bad requests refused with a reason."""

from __future__ import annotations

import os
import stat
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from agent.doors import DoorStartError
from agent.doors.service import DoorService, read_token
from agent.wire.records import DoorCounts
from tests.agent.doors.conftest import T0, Clock, ServiceFactory, post, token_of


def _rows(recs: list[DoorCounts]) -> list[tuple[str, str, int, int]]:
    return [(r.sensor, r.minute_at, r.traffic_in_n, r.traffic_out_n) for r in recs]


def _xovis_v5(minute: str, fw: int, bw: int, package_id: int = 1) -> dict[str, Any]:
    """A firmware 5 LOGICS push of one minute: a line logic and a zone logic (which is not counted)."""
    rec = {"from": f"2026-11-26T10:{minute}:00Z", "to": f"2026-11-26T10:{minute}:59.999Z",
           "samples": 1, "samples_expected": 1}
    return {"logics_data": {
        "package_info": {"version": "5.0", "id": package_id, "agent_id": 1000},
        "sensor_info": {"serial_number": "00:6E:02:00:00:01", "type": "SINGLE_SENSOR", "name": "entrance"},
        "logics": [
            {"id": 1, "name": "Entrance", "records": [
                {**rec, "counts": [{"id": 1001, "name": "fw", "value": fw},
                                   {"id": 1002, "name": "bw", "value": bw}]}]},
            {"id": 2, "name": "Shop floor", "records": [
                {**rec, "counts": [{"id": 2001, "name": "balance", "value": 17}]}]},
        ]}}


def test_xovis_firmware5_push_counts_fw_in_and_bw_out_per_minute_once(doors: ServiceFactory,
                                                                      tmp_path: Path) -> None:
    """A Xovis LOGICS push becomes one record per minute (fw in, bw out); the sensor's retry of the
    same package does not count twice; zone logics are not door traffic."""
    svc = doors([{"id": "door-main", "type": "xovis"}], grace_s=0)
    port, token = svc.listener.port, token_of(tmp_path)  # type: ignore[union-attr]
    assert post(port, "/xovis/door-main", _xovis_v5("15", 4, 1), token) == (200, "accepted 1 counts\n")
    assert post(port, "/xovis/door-main", _xovis_v5("15", 4, 1), token)[0] == 200  # the retry
    assert post(port, "/xovis/door-main", [_xovis_v5("16", 2, 3, 2)], token)[0] == 200
    assert _rows(svc.flush(T0 + 300)) == [("door-main", "2026-11-26T10:15:00Z", 4, 1),
                                          ("door-main", "2026-11-26T10:16:00Z", 2, 3)]


def test_xovis_legacy_fw_bw_push_is_counted_with_string_values_and_single_objects(
        doors: ServiceFactory, tmp_path: Path) -> None:
    """The older count push (XML v2 data as JSON: element -> measurement -> value labelled fw/bw) counts
    too, including the XML-to-JSON quirks: digits as strings, one element not in a list."""
    svc = doors([{"id": "door-side", "type": "xovis", "swap": True}], grace_s=0)
    body = {"sensor-info": {"serial-number": "00:6E:02:00:00:02"}, "content": {"element": {
        "element-id": "0", "element-name": "Line 0", "data-type": "LINE", "measurement": [
            {"from": "2026-11-26T11:15:00+01:00", "to": "2026-11-26T11:16:00+01:00",
             "value": [{"label": "fw", "value": "7"}, {"label": "bw", "value": "2"}]}]}}}
    assert post(svc.listener.port, "/xovis/door-side", body, token_of(tmp_path))[0] == 200  # type: ignore[union-attr]
    # swap: true (mounted facing inwards) turns fw into out
    assert _rows(svc.flush(T0 + 300)) == [("door-side", "2026-11-26T10:15:00Z", 2, 7)]


def test_generic_push_of_running_totals(doors: ServiceFactory, tmp_path: Path) -> None:
    """`{"sensor","time","in","out"}` carries running totals: the first is the baseline, then each push
    counts the difference in the minute of its time (UTC, whatever offset it was sent with)."""
    svc = doors([{"id": "door-back", "type": "generic"}], grace_s=0)
    port, token = svc.listener.port, token_of(tmp_path)  # type: ignore[union-attr]
    for t, n_in, n_out in [("2026-11-26T10:14:30Z", 500, 480), ("2026-11-26T11:15:10+01:00", 503, 480),
                           (T0 + 70, 509, 484)]:
        body = {"sensor": "door-back", "time": t, "in": n_in, "out": n_out}
        assert post(port, "/generic", body, token)[0] == 200
    assert _rows(svc.flush(T0 + 300)) == [("door-back", "2026-11-26T10:15:00Z", 3, 0),
                                          ("door-back", "2026-11-26T10:16:00Z", 6, 4)]


GOOD = {"sensor": "door-back", "time": "2026-11-26T10:15:00Z", "in": 1, "out": 0}
NO_TOKEN = "missing or wrong token (send Authorization: Bearer TOKEN)"


@pytest.mark.parametrize("case", [
    ("/generic", GOOD, "wrong-token-wrong-token", 401, NO_TOKEN, "unauthorized"),
    ("/generic", GOOD, None, 401, NO_TOKEN, "unauthorized"),
    ("/generic", b"{not json", "", 400, "body is not valid JSON", "bad_json"),
    ("/generic", {"sensor": "door-back", "time": "2026-11-26T10:15:00Z", "in": 1}, "", 400,
     "missing field 'out'", "missing_field"),
    ("/generic", {**GOOD, "in": -3}, "", 400, "field 'in' is not a non-negative integer", "bad_field"),
    ("/generic", {**GOOD, "time": "2026-11-26 10:15"}, "", 400,
     "field 'time' has no time zone (add Z or an offset)", "bad_field"),
    ("/generic", {**GOOD, "time": 0}, "", 400,
     "field 'time' is before 2020: the sensor's clock is not set", "bad_time"),
    ("/generic", {**GOOD, "sensor": "door-9"}, "", 404,
     "no generic sensor 'door-9' in the agent's config", "unknown_sensor"),
    ("/xovis/door-main", {"logics_data": {"logics": [{"name": "L", "records": [
        {"from": "2026-11-26T10:15:00Z", "counts": [{"name": "fw", "value": 1}]}]}]}}, "", 400,
     "missing field 'logics_data.logics[0].records[0].to'", "missing_field"),
    ("/xovis/door-main", {"live_data": {}}, "", 400,
     "live_data is not counted: add a LOGICS push agent (JSON, resolution ONE_MINUTE)", "unsupported"),
    ("/xovis", {"connection_test": {}}, "", 404, "a Xovis push goes to /xovis/SENSOR", "unknown_path"),
    ("/counts", GOOD, "", 404, "unknown path (push to /generic or /xovis/SENSOR)", "unknown_path"),
    ("/generic", b"x" * 2048, "", 413, "body is larger than 1024 bytes", "too_large"),
])
def test_a_bad_push_gets_a_4xx_with_one_line_saying_why_and_the_listener_keeps_serving(
        doors: ServiceFactory, tmp_path: Path, case: tuple[str, Any, str | None, int, str, str]) -> None:
    """Every refusal names its cause in one line (what an installer sees in the sensor's push log), is
    counted by reason for the status topic, and the next good push is still accepted."""
    path, body, token, status, line, reason = case
    svc = doors([{"id": "door-back", "type": "generic"}, {"id": "door-main", "type": "xovis"}],
                max_body_bytes=1024)
    port, good = svc.listener.port, token_of(tmp_path)  # type: ignore[union-attr]
    raw = body if isinstance(body, bytes) else None
    assert post(port, path, body, good if token == "" else token, raw=raw) == (status, line + "\n")
    assert svc.counters()[f"door_rejected_{reason}"] == 1
    assert post(port, "/generic", GOOD, good)[0] == 200
    assert svc.counters()["door_accepted_generic"] == 1


def test_get_is_refused_and_a_connection_test_is_a_sign_of_life(doors: ServiceFactory, tmp_path: Path,
                                                                 clock: Clock) -> None:
    """Only POST is served; a Xovis connection test (no counts) is accepted and keeps the sensor fresh."""
    svc = doors([{"id": "door-main", "type": "xovis"}], stale_s=60)
    port = svc.listener.port  # type: ignore[union-attr]
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/xovis/door-main", timeout=10)
    assert err.value.code == 405
    err.value.close()
    clock.t += 50
    assert post(port, "/xovis/door-main", {"connection_test": {}}, token_of(tmp_path)) == (
        200, "accepted 0 counts\n")
    clock.t += 50
    assert svc.alerts() == []


def test_the_token_file_is_made_private_and_a_readable_one_is_refused(tmp_path: Path) -> None:
    """The first start makes a random token readable by the agent only; a token file others can read
    stops the start with the command that fixes it (the token itself is never printed)."""
    path = tmp_path / "door-token"
    token = read_token(path)
    assert len(token) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_token(path) == token
    os.chmod(path, 0o644)
    with pytest.raises(DoorStartError) as err:
        read_token(path)
    assert str(err.value) == f"{path} is readable by others (mode 644); run chmod 600 {path}"
    assert token not in str(err.value)


def test_a_silent_sensor_raises_a_status_alert_until_it_reports_again(doors: ServiceFactory,
                                                                      tmp_path: Path, clock: Clock) -> None:
    """A counter that stops pushing (unplugged, pushes misconfigured) shows on the status topic as
    door_stale_<sensor> = 1 and as an alert line, and clears itself when it pushes again."""
    svc: DoorService = doors([{"id": "door-back", "type": "generic"}], stale_s=600)
    assert svc.alerts() == [] and "door_stale_door-back" not in svc.counters()
    clock.t += 601
    assert svc.alerts() == ["door sensor door-back has not reported for 601 s (stale after 600 s)"]
    assert svc.counters()["door_stale_door-back"] == 1
    assert post(svc.listener.port, "/generic", GOOD, token_of(tmp_path))[0] == 200  # type: ignore[union-attr]
    assert svc.alerts() == [] and "door_stale_door-back" not in svc.counters()
