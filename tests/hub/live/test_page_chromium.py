"""The live page in headless chromium: a store manager signs in, watches the counts move as a real
agent hears phones walk in (agent -> mosquitto -> hub -> server-sent events), sees a member arrive, and
is refused another store's page. No request leaves the hub's own address."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hub.app import Hub
from hub.config import HubConfig
from hub.live.auth import Users
from tests.hub.envelopes import Publisher, envelope
from tests.hub.live.agent import TestAgent
from tests.hub.live.support import arrival, import_members, live_config
from tests.hub.reports.chromium import Page, browser, screenshot

PASSWORD = "till-tablet-2026"
SHOT = Path("/tmp/footfall-live-manager.png")


def _wait_js(page: Page, expression: str, timeout: float = 30.0) -> float:
    """Poll a JS expression in the page until it is true; the time it became true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.evaluate(expression):
            return time.time()
        time.sleep(0.1)
    raise AssertionError(f"not true within {timeout} s: {expression}; page: "
                         f"{page.evaluate('document.body.innerText')!r}")


def _goto(page: Page, url: str) -> None:
    page.events.clear()
    page.call("Page.navigate", url=url)
    page.wait_event("Page.loadEventFired")


def _sign_in(page: Page, base: str, user: str) -> None:
    _goto(page, f"{base}/store/brno-1")
    assert page.evaluate("location.pathname") == "/login"
    page.events.clear()
    page.evaluate(f"document.querySelector('input[name=username]').value = '{user}';"
                  f"document.querySelector('input[name=password]').value = '{PASSWORD}';"
                  "document.querySelector('form').submit(); true")
    page.wait_event("Page.loadEventFired")


@pytest.mark.slow
def test_a_store_manager_sees_her_store_live_and_not_another(
    hub_config: HubConfig, publisher: Publisher, tmp_path: Path
) -> None:
    """Signed in as brno-1's manager: the page shows people now and entries, and they move within
    seconds as phones walk in; a member's arrival appears in the list; brno-2 is 403 (page and data)."""
    config = live_config(hub_config, tmp_path)
    import_members(config, tmp_path)
    users = Users(config.database)
    users.add(config, "anna", "manager", "brno-1", PASSWORD)
    users.close()
    agent = TestAgent(tmp_path / "agent", config.mqtt.port)
    with Hub(config) as hub:
        assert hub.live_server is not None
        base = f"http://127.0.0.1:{hub.live_server.port}"
        agent.start()
        try:
            with browser(tmp_path) as page:
                _sign_in(page, base, "anna")
                assert page.evaluate("location.pathname") == "/store/brno-1"
                _wait_js(page, "document.getElementById('status').textContent === 'live'")
                came = agent.add("00:1b:63:00:00:01", "00:1b:63:00:00:02", "00:1b:63:00:00:03",
                                 "00:1b:63:00:00:04")
                shown = _wait_js(page, "document.getElementById('entries-today').textContent === '4'")
                expected = str(round(4 * 1.5))  # the store's calibration factor
                _wait_js(page, f"document.getElementById('present').textContent === '{expected}'")
                first_latency = shown - came
                agent.add("00:1b:63:00:00:05", "00:1b:63:00:00:06")
                _wait_js(page, "document.getElementById('entries-today').textContent === '6'")
                _wait_js(page, f"document.getElementById('present').textContent === '{round(6 * 1.5)}'")
                publisher.send(envelope(0, [arrival(config, "M1")], agent="gw-9"))
                _wait_js(page, "document.getElementById('arrival-list').textContent.includes('M1')")
                SHOT.write_bytes(screenshot(page))
                assert page.problems() == []
                foreign = [u for u in page.requests() if not u.startswith(base)]
                assert foreign == []
                got = page.call("Runtime.evaluate", expression="fetch('/store/brno-2/now.json')"
                                ".then(r => r.status)", awaitPromise=True, returnByValue=True)
                assert got["result"]["value"] == 403
                _goto(page, f"{base}/store/brno-2")
                assert "Not your store" in page.evaluate("document.body.innerText")
                assert "present" not in page.evaluate("document.documentElement.outerHTML")
        finally:
            agent.stop()
    print(f"\nlive page: 4 phones shown {first_latency:.1f} s after they walked in; screenshot {SHOT}")
    assert first_latency < 15
