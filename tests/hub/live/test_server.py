"""The live page's login, sessions, CSRF and roles over real HTTP (no browser needed for these), on both
engines; accounts and sessions are rows of the hub database, so they hold across workers."""

from __future__ import annotations

import http.client
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from hub.config import DatabaseConfig, HubConfig, LiveConfig
from hub.live.auth import MAX_FAILURES, Sessions, User, Users, verify_password
from hub.live.server import LiveServer
from hub.live.state import LiveState
from hub.store.sql import open_database
from tests.hub.support import query

PASSWORD = "a-long-password"


@pytest.fixture
def config(hub_database: DatabaseConfig) -> HubConfig:
    open_database(hub_database).close()
    return HubConfig(database=hub_database, live=LiveConfig(session_ttl_s=60),
                     groups={"south": ["brno-1", "brno-2"]})


def _server(config: HubConfig) -> LiveServer:
    state = LiveState(lambda _s: "Europe/Prague", lambda _s: 1.0)
    srv = LiveServer(config, state, lambda _s, _n: {}, ("127.0.0.1", 0))
    srv.start()
    return srv


@pytest.fixture
def server(config: HubConfig) -> Iterator[LiveServer]:
    srv = _server(config)
    for name, role, scope in (("anna", "manager", "brno-1"), ("tom", "staff", "brno-1"),
                              ("olga", "area", "south"), ("root", "admin", "")):
        srv.users.add(config, name, role, scope, PASSWORD)
    try:
        yield srv
    finally:
        srv.stop()


class Browser:
    """A tiny cookie-keeping HTTP client."""

    def __init__(self, port: int) -> None:
        self.port, self.cookies = port, {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None,
                origin: str | None = None) -> tuple[int, dict[str, str], str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = urlencode(form).encode() if form is not None else None
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if origin:
            headers["Origin"] = origin
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        for value in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name] = rest.split(";")[0]
        out = (resp.status, dict(resp.headers), resp.read().decode())
        conn.close()
        return out

    def sign_in(self, user: str, password: str = PASSWORD) -> int:
        _, _, page = self.request("GET", "/login")
        csrf = re.search(r"name=csrf value='([^']+)'", page)
        assert csrf
        status, _, _ = self.request("POST", "/login", {"csrf": csrf.group(1), "username": user,
                                                       "password": password})
        return status


def test_passwords_are_kept_as_scrypt_hashes_only(config: HubConfig, server: LiveServer) -> None:
    """The users table holds a salted scrypt hash, never the password; two users with one password
    get different hashes; a wrong password does not verify; the sessions table holds no usable token."""
    hashes = [str(r[0]) for r in query(config.database, "SELECT password_hash FROM users")]
    assert all(h.startswith("scrypt$16384$8$1$") for h in hashes) and len(set(hashes)) == len(hashes)
    if config.database.engine == "sqlite":
        assert PASSWORD.encode() not in Path(config.database.path).read_bytes()
    assert verify_password(PASSWORD, hashes[0]) and not verify_password("a-long-passworD", hashes[0])
    s = Sessions(server.users, 60).start(User("anna", "manager", "brno-1"))
    assert query(config.database, "SELECT count(*) FROM sessions WHERE token_hash = ? OR csrf = ?",
                 (s.token, s.token)) == [(0,)]


def test_a_session_ends_after_its_idle_time(config: HubConfig) -> None:
    """A session lives ttl seconds after its last request, then is gone for good."""
    users = Users(config.database)
    users.add(config, "anna", "manager", "brno-1", PASSWORD)
    sessions = Sessions(users, ttl_s=60)
    s = sessions.start(User("anna", "manager", "brno-1"), now=1000)
    got = sessions.get(s.token, now=1059)  # a request moves the end on
    assert got is not None and (got.user, got.csrf, got.expires) == (s.user, s.csrf, 1119)
    assert sessions.get(s.token, now=1118) is not None
    assert sessions.get(s.token, now=1179) is None
    assert sessions.get(s.token, now=1100) is None  # and it does not come back
    users.close()


def test_repeated_wrong_passwords_lock_the_name_on_every_worker(config: HubConfig) -> None:
    """After MAX_FAILURES wrong passwords the name is refused, even with the right one, for a while;
    the failures are counted in the database, so tries spread over two workers lock the name too."""
    users, other = Users(config.database), Users(config.database)
    users.add(config, "anna", "manager", "brno-1", PASSWORD)
    for i in range(MAX_FAILURES):
        assert (users if i % 2 else other).check("anna", "wrong-password", now=1000) is None
    assert users.check("anna", PASSWORD, now=1001) is None
    assert other.check("anna", PASSWORD, now=1001) is None
    assert users.check("anna", PASSWORD, now=1000 + 301) == User("anna", "manager", "brno-1")
    users.close()
    other.close()


def test_a_login_holds_on_every_worker_and_a_removed_user_is_signed_out(
    config: HubConfig, server: LiveServer
) -> None:
    """Two workers' live servers on one database (a load balancer in front): a session started on one
    is good on the other, a logout on the other ends it on both; removing a user (`footfall-hub users
    remove`) signs her out at once."""
    other = _server(config)
    try:
        b = Browser(server.port)
        assert b.sign_in("anna") == 303
        on_other = Browser(other.port)
        on_other.cookies = dict(b.cookies)
        status, _, page = on_other.request("GET", "/store/brno-1")
        assert status == 200
        csrf = re.search(r"name=csrf value='([^']+)'", page)
        assert csrf
        assert on_other.request("POST", "/logout", {"csrf": csrf.group(1)})[0] == 303
        assert b.request("GET", "/store/brno-1")[0] == 303
        assert b.sign_in("tom") == 303
        assert b.request("GET", "/store/brno-1/now.json")[0] == 200
        assert other.users.remove("tom")
        assert b.request("GET", "/store/brno-1/now.json")[0] == 401
    finally:
        other.stop()


def test_pages_need_a_login_and_a_store_the_role_grants(server: LiveServer) -> None:
    """Without a session: the page redirects to the login, the data is 401. A store manager gets her
    store (page and data) and 403 for any other; the area manager gets the group's stores; the admin all."""
    b = Browser(server.port)
    status, headers, _ = b.request("GET", "/store/brno-1")
    assert (status, headers["Location"]) == (303, "/login")
    assert b.request("GET", "/store/brno-1/now.json")[0] == 401
    assert b.sign_in("anna", "wrong-password!") == 401
    assert b.sign_in("anna") == 303
    status, headers, _ = b.request("GET", "/")
    assert (status, headers["Location"]) == (303, "/store/brno-1")
    status, headers, page = b.request("GET", "/store/brno-1")
    assert status == 200 and "data-store='brno-1'" in page and "arrival-list" in page
    assert headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert json.loads(b.request("GET", "/store/brno-1/now.json")[2])["store"] == "brno-1"
    for path in ("/store/brno-2", "/store/brno-2/now.json", "/store/brno-2/events"):
        status, _, body = b.request("GET", path)
        assert status == 403 and "present" not in body
    area = Browser(server.port)
    area.sign_in("olga")
    assert [area.request("GET", f"/store/{s}/now.json")[0] for s in ("brno-1", "brno-2", "praha-1")] == [
        200, 200, 403]
    assert json.loads(area.request("GET", "/store/brno-1/now.json")[2])["arrivals"] is None
    admin = Browser(server.port)
    admin.sign_in("root")
    assert admin.request("GET", "/store/praha-1/now.json")[0] == 200


def test_forms_without_their_csrf_token_or_from_another_site_are_refused(server: LiveServer) -> None:
    """A login or logout POST without the form's token, or from another origin, is refused; the
    session survives a forged logout."""
    b = Browser(server.port)
    b.request("GET", "/login")
    assert b.request("POST", "/login", {"username": "anna", "password": PASSWORD})[0] == 403
    assert b.sign_in("anna") == 303
    assert b.request("POST", "/logout", {"csrf": "forged"})[0] == 403
    _, _, page = b.request("GET", "/store/brno-1")
    csrf = re.search(r"name=csrf value='([^']+)'", page)
    assert csrf
    assert b.request("POST", "/logout", {"csrf": csrf.group(1)}, origin="http://evil.example")[0] == 403
    assert b.request("GET", "/store/brno-1")[0] == 200
    assert b.request("POST", "/logout", {"csrf": csrf.group(1)})[0] == 303
    assert b.request("GET", "/store/brno-1")[0] == 303


def test_the_event_stream_sends_a_snapshot_at_once_and_on_change(server: LiveServer) -> None:
    """`/store/S/events` is text/event-stream: the current figures first, then again when they move."""
    b = Browser(server.port)
    b.sign_in("tom")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/store/brno-1/events", headers={"Cookie": f"ff_session={b.cookies['ff_session']}"})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.headers["Content-Type"] == "text/event-stream"
    first = json.loads(resp.readline().decode().removeprefix("data: "))
    resp.readline()
    assert first["present"]["devices_n"] == 0
    row = ("acme", "brno-1", "gw-1", "e1", 0, 0, "", 3, 2, 4, 300, int(time.time()))
    server.state.feed("brno-1", "presence", [row], time.time())
    second = json.loads(resp.readline().decode().removeprefix("data: "))
    assert second["present"]["devices_n"] == 3 and second["arrivals"] == []
    conn.close()


def test_the_page_survives_a_lost_database_connection(config: HubConfig, server: LiveServer) -> None:
    """PostgreSQL: a restarted database server closes the live page's connection; the next request is
    a 503 that says so (no dropped connection), the one after works on a new connection, and the
    session, a row of the database, is still good."""
    if config.database.engine != "postgresql":
        pytest.skip("a local SQLite file has no connection to lose")
    b = Browser(server.port)
    assert b.sign_in("anna") == 303
    query(config.database, "SELECT pg_terminate_backend(?)", (server.users.db.raw.info.backend_pid,))
    status, _, page = b.request("GET", "/store/brno-1/now.json")
    assert status == 503 and "out of reach" in page
    assert b.request("GET", "/store/brno-1/now.json")[0] == 200
