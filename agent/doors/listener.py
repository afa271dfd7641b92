"""The local HTTP listener door counters push to: `POST /xovis/SENSOR`, `POST /generic`.

stdlib only (http.server, one thread per request) because a gateway has little room for dependencies
and a push is a few requests a minute. Every push carries the store's shared token as
`Authorization: Bearer TOKEN` (compared in constant time). A bad request gets a 4xx status and one line
saying why; it is counted by reason (`door_rejected_<reason>` on the status topic), never logged per
request, and never stops the listener. Bodies are not logged: they are the sensor's business.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agent.doors import PushError, PushSource
from agent.wire.topics import ID_RE

log = logging.getLogger(__name__)

STATUS = {"unauthorized": 401, "unknown_path": 404, "unknown_sensor": 404, "bad_method": 405,
          "no_length": 411, "too_large": 413}  # every other reason is a 400
DRAIN_BYTES = 16 << 20  # a refused body is read and dropped up to this, so that the client gets the reply


class Route:
    """The sensors of one push kind, by id, and the kind's parser."""

    def __init__(self, parse: Callable[[Any, str | None], tuple[str, list[Any]]]) -> None:
        self.parse = parse
        self.sensors: dict[str, PushSource] = {}


class DoorListener:
    """Serves pushes until stopped; `port` is the bound one (config port 0 picks a free one)."""

    def __init__(self, host: str, port: int, token: str, sources: list[PushSource], *, max_body_bytes: int,
                 clock: Callable[[], float]) -> None:
        self.host, self.requested_port = host, port
        self.token = token.encode()
        self.max_body_bytes = max_body_bytes
        self.clock = clock
        self.counters: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.routes: dict[str, Route] = {}
        for src in sources:
            assert src.route is not None
            self.routes.setdefault(src.route, Route(type(src).parse)).sensors[src.sensor] = src
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "the listener is not started"
        return int(self._server.server_address[1])

    def start(self) -> None:
        server = ThreadingHTTPServer((self.host, self.requested_port), _Handler)
        server.daemon_threads = False  # server_close() joins request threads: nothing left running
        server.listener = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="door-listener", daemon=True)
        self._thread.start()
        log.info("door listener on %s:%d for %s", self.host, self.port,
                 ", ".join(f"/{r}" for r in sorted(self.routes)))

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None

    def count(self, name: str) -> None:
        with self._lock:
            self.counters[name] += 1

    def handle(self, path: str, auth: str | None, length: str | None, read: Callable[[int], bytes]) -> str:
        """One push: the reply line, or PushError naming the reason. Checks before reading the body."""
        if auth is None or not auth.startswith("Bearer ") or \
                not hmac.compare_digest(auth[7:].strip().encode(), self.token):
            raise PushError("unauthorized", "missing or wrong token (send Authorization: Bearer TOKEN)")
        parts = path.split("?", 1)[0].strip("/").split("/")
        route = self.routes.get(parts[0])
        if route is None or len(parts) > 2:
            kinds = " or ".join(f"/{r}" + ("/SENSOR" if r == "xovis" else "") for r in sorted(self.routes))
            raise PushError("unknown_path", f"unknown path (push to {kinds or 'nothing: no sensors'})")
        if length is None or not length.isdigit():
            raise PushError("no_length", "Content-Length is required")
        if int(length) > self.max_body_bytes:
            raise PushError("too_large", f"body is larger than {self.max_body_bytes} bytes")
        raw = read(int(length))
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise PushError("bad_json", "body is not valid JSON") from None
        sensor, observations = route.parse(body, parts[1] if len(parts) == 2 else None)
        source = route.sensors.get(sensor)
        if source is None:
            shown = f"'{sensor}'" if ID_RE.match(sensor) else "of that id"
            raise PushError("unknown_sensor", f"no {parts[0]} sensor {shown} in the agent's config")
        source.apply(observations, self.clock())
        self.count(f"accepted_{parts[0]}")
        return f"accepted {len(observations)} counts"


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.0, one request per connection; a silent client is dropped after `timeout` seconds."""

    timeout = 10
    server_version = "footfall-agent"

    def do_POST(self) -> None:
        listener: DoorListener = self.server.listener  # type: ignore[attr-defined]
        consumed = False

        def read(n: int) -> bytes:
            nonlocal consumed
            consumed = True
            return self.rfile.read(n)

        try:
            line = listener.handle(self.path, self.headers.get("Authorization"),
                                   self.headers.get("Content-Length"), read)
            self._reply(200, line)
        except PushError as exc:
            listener.count(f"rejected_{exc.reason}")
            if not consumed:
                self._drain()
            self._reply(STATUS.get(exc.reason, 400), str(exc))
        except Exception:  # a bug must not take the listener down; the traceback holds no body
            listener.count("rejected_internal")
            log.exception("door push failed")
            self._reply(500, "internal error")

    def _drain(self) -> None:
        """Read an unread body (up to DRAIN_BYTES) so that the client sees our reply, not a reset."""
        length = self.headers.get("Content-Length", "")
        left = min(int(length), DRAIN_BYTES) if length.isdigit() else 0
        try:
            while left > 0 and (chunk := self.rfile.read(min(left, 65536))):
                left -= len(chunk)
        except OSError:
            pass

    def _not_allowed(self) -> None:
        self.server.listener.count("rejected_bad_method")  # type: ignore[attr-defined]
        self._reply(405, "use POST")

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = _not_allowed  # noqa: N815 (http.server's names)

    def _reply(self, code: int, line: str) -> None:
        data = (line + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Nothing per request: rejections are counted instead (CONVENTIONS rule 6)."""
