"""The local HTTP listener door counters push to: `POST /xovis/SENSOR`, `POST /generic`.

stdlib only (http.server, one thread per request) because a gateway has little room for dependencies
and a push is a few requests a minute. Every push carries the store's shared token as
`Authorization: Bearer TOKEN` (compared in constant time). A bad request gets a 4xx status and one line
saying why; it is counted by reason (`door_rejected_<reason>` on the status topic), never logged per
request, and never stops the listener. Bodies are not logged: they are the sensor's business.

A hostile or broken client costs a counter and at most one log line a minute, never a traceback: a slow
or silent one is dropped after `_Handler.timeout` s (`rejected_slow`), a body shorter than its
Content-Length is `rejected_short_body`, and beyond MAX_CONNECTIONS open at once a new connection is
closed at once (`rejected_busy`).
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agent.doors import PushError, PushSource, check_times
from agent.wire.topics import ID_RE

log = logging.getLogger(__name__)

STATUS = {"unauthorized": 401, "unknown_path": 404, "unknown_sensor": 404, "bad_method": 405,
          "no_length": 411, "too_large": 413}  # every other reason is a 400
DRAIN_BYTES = 16 << 20  # a refused body is read and dropped up to this, so that the client gets the reply
MAX_CONNECTIONS = 32    # a door counter pushes a few times a minute: more at once is someone else
LOG_EVERY_S = 60.0      # at most one log line a minute about misbehaving clients


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer with a cap on open connections and errors counted, not printed."""

    daemon_threads = False  # server_close() joins request threads: nothing left running
    request_queue_size = 128  # the kernel's backlog: a crowd is accepted (and closed) at once, not queued
    listener: DoorListener

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.listener.count("rejected_busy")
            self.listener.warn("more than %d connections at once: new ones are closed", MAX_CONNECTIONS)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """socketserver prints a traceback per failed connection; a counter and a rare line instead."""
        self.listener.count("rejected_connection_error")
        self.listener.warn("a client's connection failed (reset, or broken HTTP)")


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
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._warned_at = float("-inf")

    @property
    def port(self) -> int:
        assert self._server is not None, "the listener is not started"
        return int(self._server.server_address[1])

    def start(self) -> None:
        server = _Server((self.host, self.requested_port))
        server.listener = self
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

    def warn(self, message: str, *args: object) -> None:
        """Log about misbehaving clients at most once every LOG_EVERY_S (the counters say how often)."""
        with self._lock:
            now = time.monotonic()
            if now - self._warned_at < LOG_EVERY_S:
                return
            self._warned_at = now
        log.warning("door listener: " + message + " (counted as door_rejected_*; logged once a minute)",
                    *args)

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
        if len(raw) < int(length):
            raise PushError("short_body", "the body is shorter than its Content-Length")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise PushError("bad_json", "body is not valid JSON") from None
        sensor, observations = route.parse(body, parts[1] if len(parts) == 2 else None)
        source = route.sensors.get(sensor)
        if source is None:
            shown = f"'{sensor}'" if ID_RE.match(sensor) else "of that id"
            raise PushError("unknown_sensor", f"no {parts[0]} sensor {shown} in the agent's config")
        now = self.clock()
        check_times(observations, now)
        source.apply(observations, now)
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
        except TimeoutError:  # Content-Length promised more than the client sends
            listener.count("rejected_slow")
            listener.warn("a client sent its body too slowly: dropped after %g s", self.timeout)
            self.close_connection = True
        except OSError:  # the client went away mid-request: nobody to answer
            listener.count("rejected_connection_error")
            self.close_connection = True
        except Exception as exc:  # a bug must not take the listener down; no body in the line
            listener.count("rejected_internal")
            listener.warn("a push failed inside the agent (%s); please report it", type(exc).__name__)
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
