"""The hub's side of an opt-out that erases (issue 18): what an erase record names is deleted, and
stays deleted when an older batch with the same visit arrives afterwards."""

from __future__ import annotations

from agent.wire import DeviceFlag, Erase, Visit
from hub.config import DatabaseConfig, HubConfig
from tests.hub.scenario import write
from tests.hub.support import query

OPTED, OTHER = "aa" * 16, "bb" * 16


def visit(key: str, start: str = "2026-11-26T09:00:00Z") -> Visit:
    return Visit(start, "2026-11-26T09:10:00Z", 600, 20, -50, "visitor", False, key, "2026-11-26")


def _keys(db: DatabaseConfig, table: str) -> list[str]:
    return [k for (k,) in query(db, f"SELECT device_key FROM {table} ORDER BY 1")]


def test_an_erase_deletes_the_devices_visits_and_flags_of_its_window_only(
        hub_database: DatabaseConfig) -> None:
    """Visits and the static flag of the named key in the named window go; another device's visit, and
    the same key string in another window (another device: keys mean nothing across windows), stay."""
    config = HubConfig(database=hub_database)
    elsewhere = Visit("2026-11-27T09:00:00Z", "2026-11-27T09:10:00Z", 600, 20, -50, "visitor", False,
                      OPTED, "2026-11-27")
    flag = DeviceFlag(OPTED, "2026-11-26", "static", 7.5, 3)
    write(config, [("gw-1", 0, [visit(OPTED), visit(OTHER), elsewhere, flag])])
    write(config, [("gw-1", 1, [Erase(OPTED, "2026-11-26", "2026-11-26T12:00:00Z")])])
    assert _keys(hub_database, "visits") == [OPTED, OTHER]  # the 27th's OPTED, and OTHER
    assert query(hub_database, "SELECT key_window FROM visits WHERE device_key = ?", (OPTED,)) == [
        ("2026-11-27",)]
    assert _keys(hub_database, "device_flags") == []


def test_a_visit_arriving_after_its_erase_is_not_kept(hub_database: DatabaseConfig) -> None:
    """A batch that was in flight when the gateway erased (so it still carries the visit) lands after the
    erase record: the visit is deleted as it is stored."""
    config = HubConfig(database=hub_database)
    write(config, [("gw-1", 5, [Erase(OPTED, "2026-11-26", "2026-11-26T12:00:00Z")])])
    write(config, [("gw-1", 4, [visit(OPTED), visit(OTHER)])])
    assert _keys(hub_database, "visits") == [OTHER]
