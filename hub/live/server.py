"""The live page over HTTP (stdlib http.server): login, one page per store, server-sent events.

Routes: `GET /login`, `POST /login`, `POST /logout`, `GET /` (the user's stores), `GET /store/S` (the
page), `GET /store/S/events` (text/event-stream: a snapshot at once, then on every change, at least
every `PUSH_S`), `GET /store/S/now.json`, `GET /live.js`, `GET /live.css`.

Safety: sessions are HttpOnly, SameSite=Strict cookies; every POST carries a CSRF token (the login
form's is an HMAC of a pre-login cookie, a session's is random) and a cross-origin `Origin` is
refused; a store the user's role does not grant is 403, its data is never sent; the Content Security
Policy allows only this server (`default-src 'self'`), so the page makes no third-party request.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

from hub.config import HubConfig
from hub.live import page
from hub.live.auth import Session, Sessions, User, Users
from hub.live.state import LiveState
from hub.store.engine import StoreError

log = logging.getLogger(__name__)

PUSH_S = 5.0
MAX_FORM = 4096
HEADERS = {
    "Content-Security-Policy":
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make the forms' Origin "null"
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


class LiveServer:
    """The HTTP server of the live page, on its own threads."""

    def __init__(self, config: HubConfig, state: LiveState, extra: Callable[[str, float], dict[str, Any]],
                 address: tuple[str, int]) -> None:
        self.config, self.state, self.extra = config, state, extra
        self.users = Users(config.database)  # one connection for the HTTP threads, behind its lock
        self.sessions = Sessions(self.users, config.live.session_ttl_s)
        self._key = secrets.token_bytes(32)
        self.stopping = threading.Event()
        self.httpd = ThreadingHTTPServer(address, _handler(self))
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="hub-live-http", daemon=True)
        self._thread.start()
        log.info("live page at http://%s:%d/", *self.httpd.server_address[:2])

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(10)
        self.users.close()

    def login_csrf(self, pre: str) -> str:
        return hmac.new(self._key, pre.encode(), "sha256").hexdigest()

    def snapshot(self, user: User, store: str) -> dict[str, Any]:
        now = time.time()
        snap = self.state.snapshot(store, now, self.extra(store, now))
        if user.role not in self.config.live.arrivals_roles:
            snap["arrivals"] = None
        return snap


def _handler(server: LiveServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "footfall-live"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

        def _cookie(self, name: str) -> str | None:
            jar = SimpleCookie(self.headers.get("Cookie", ""))
            return jar[name].value if name in jar else None

        def _session(self, touch: bool = True) -> Session | None:
            return server.sessions.get(self._cookie("ff_session"), touch=touch)

        def _send(self, status: int, body: bytes, ctype: str = "text/html; charset=utf-8",
                  headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for k, v in {**HEADERS, "Content-Type": ctype, "Content-Length": str(len(body)),
                         **(headers or {})}.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _redirect(self, where: str, cookie: str | None = None) -> None:
            headers = {"Location": where}
            if cookie:
                headers["Set-Cookie"] = cookie
            self._send(HTTPStatus.SEE_OTHER, b"", headers=headers)

        def _same_origin(self) -> bool:
            origin = self.headers.get("Origin")
            return origin is None or origin == f"http://{self.headers.get('Host', '')}"

        def _form(self) -> dict[str, str]:
            n = int(self.headers.get("Content-Length") or 0)
            if n > MAX_FORM:
                return {}
            fields = parse_qs(self.rfile.read(n).decode(errors="replace"))
            return {k: v[0] for k, v in fields.items()}

        def do_GET(self) -> None:
            self._guarded(self._get)

        def do_POST(self) -> None:
            self._guarded(self._post)

        def _guarded(self, handle: Callable[[], None]) -> None:
            """A request while the database is out of reach (sessions are rows): 503, said once per
            request, never a dropped connection; the page's event stream reconnects by itself."""
            try:
                handle()
            except (server.users.db.errors.Error, StoreError) as exc:
                first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
                log.warning("live: the database is out of reach (%s)", first)
                with contextlib.suppress(Exception):  # still out of reach: the next request tries again
                    server.users.reconnect()
                with contextlib.suppress(OSError):
                    self._send(503, page.message_page("Unavailable", "The hub's database is out of reach;"
                                                      " try again in a minute."))

        def _get(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/live.js":
                return self._send(200, page.JS.encode(), "text/javascript; charset=utf-8")
            if path == "/live.css":
                return self._send(200, page.CSS.encode(), "text/css; charset=utf-8")
            if path == "/favicon.ico":  # browsers ask; nothing to show, and no 404 in their console
                return self._send(204, b"", "image/x-icon")
            if path == "/login":
                pre = self._cookie("ff_pre") or secrets.token_urlsafe(16)
                return self._send(200, page.login_page(server.login_csrf(pre)), headers={
                    "Set-Cookie": f"ff_pre={pre}; HttpOnly; SameSite=Strict; Path=/"})
            session = self._session(touch=not path.endswith("/events"))
            if session is None:
                if path.endswith(("/events", ".json")):
                    return self._send(401, b'{"error":"sign in"}', "application/json")
                return self._redirect("/login")
            if path == "/":
                allowed = session.user.stores(server.config)
                stores = sorted(allowed if allowed is not None else set(server.state.stores())
                                | set(server.config.stores))
                if len(stores) == 1:
                    return self._redirect(f"/store/{stores[0]}")
                return self._send(200, page.stores_page(stores, session.csrf))
            parts = [unquote(p) for p in path.split("/")[1:]]
            if len(parts) in (2, 3) and parts[0] == "store":
                store = parts[1]
                if not session.user.may_see(server.config, store):
                    return self._send(403, page.message_page("Not your store",
                                                             f"Your role does not grant store {store}."))
                if len(parts) == 2:
                    arrivals = session.user.role in server.config.live.arrivals_roles
                    return self._send(200, page.store_page(store, session.user.name, session.csrf, arrivals))
                if parts[2] == "now.json":
                    return self._send(200, json.dumps(server.snapshot(session.user, store)).encode(),
                                      "application/json")
                if parts[2] == "events":
                    return self._events(session, store)
            return self._send(404, page.message_page("Not found", "There is no such page."))

        def _events(self, session: Session, store: str) -> None:
            self.send_response(200)
            for k, v in {**HEADERS, "Content-Type": "text/event-stream", "Connection": "close"}.items():
                self.send_header(k, v)
            self.end_headers()
            self.close_connection = True
            version = server.state.version  # read before each snapshot: a change meanwhile is sent again
            checked = time.monotonic()  # the session (a database row) is read again every PUSH_S, not
            try:                        # at every change: a logout or a removed user ends the stream then
                while not server.stopping.is_set():
                    if time.monotonic() - checked >= PUSH_S:
                        if server.sessions.get(session.token, touch=False) is None:
                            return
                        checked = time.monotonic()
                    snap = json.dumps(server.snapshot(session.user, store))
                    self.wfile.write(f"data: {snap}\n\n".encode())
                    self.wfile.flush()
                    version = server.state.wait_change(version, PUSH_S)
            except (BrokenPipeError, ConnectionResetError, server.users.db.errors.Error):
                return  # the page's EventSource reconnects (and gets a 503 while the database is away)

        def _post(self) -> None:
            path = self.path.split("?", 1)[0]
            if not self._same_origin():
                return self._send(403, page.message_page("Refused", "A form from another site was refused."))
            form = self._form()
            if path == "/login":
                pre = self._cookie("ff_pre")
                if not pre or not hmac.compare_digest(form.get("csrf", ""), server.login_csrf(pre)):
                    return self._send(403, page.message_page("Refused",
                                                             "The sign-in form expired: reload it."))
                user = server.users.check(form.get("username", ""), form.get("password", ""))
                if user is None:
                    return self._send(401, page.login_page(server.login_csrf(pre),
                                                           "Wrong user or password (or too many tries)."))
                s = server.sessions.start(user)
                return self._redirect("/", f"ff_session={s.token}; HttpOnly; SameSite=Strict; Path=/;"
                                           f" Max-Age={server.config.live.session_ttl_s}")
            session = self._session()
            if path == "/logout" and session is not None:
                if not hmac.compare_digest(form.get("csrf", ""), session.csrf):
                    return self._send(403, page.message_page("Refused", "The form expired: reload the page."))
                server.sessions.end(session.token)
                return self._redirect("/login", "ff_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
            return self._send(403, page.message_page("Refused", "Sign in first."))

    return Handler
