"""A loopback TCP proxy that can cut every connection through it on demand: a flapping uplink for tests.

Clients connect to `proxy.port`; each accepted connection gets its own upstream connection to the
target and two threads copying bytes, one per direction. `cut()` shuts down both sockets of every
open connection at once, so each side sees its peer go away mid-stream (what a store's router does
when its DSL line drops); new connections are accepted as before. While `refusing` is set, new
connections are closed at once (the uplink is down, not merely flapping).

    with Proxy(broker.port) as proxy:
        sink = MqttSink(..., port=proxy.port)
        proxy.cut()
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

__all__ = ["Proxy"]

CHUNK = 64 * 1024


class _Pair:
    """One client connection and its upstream; closed once, by whichever side sees the end first."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self._lock = threading.Lock()
        self._closed = False
        self._ended = 0  # directions finished; the sockets close when both are

    def shutdown(self) -> None:
        """Wake both copying threads (their recv returns 0), which then close the sockets."""
        with self._lock:
            if self._closed:
                return
            for s in (self.client, self.upstream):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def end(self) -> bool:
        """One direction finished; True when this call closed the pair."""
        with self._lock:
            self._ended += 1
            if self._ended < 2 or self._closed:
                return False
            self._closed = True
        self.client.close()
        self.upstream.close()
        return True


class Proxy:
    """Forwards 127.0.0.1:port to target_host:target_port; `cut()` drops every open connection."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1", port: int = 0) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(128)
        self._listener.settimeout(0.2)  # the accept loop notices stop() within this
        self.port = int(self._listener.getsockname()[1])
        self.refusing = False
        self.accepted = 0
        self.cuts = 0  # connections cut by cut()
        self._pairs: set[_Pair] = set()
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._acceptor = threading.Thread(target=self._accept_loop, name="proxy-accept", daemon=True)

    def start(self) -> Proxy:
        self._acceptor.start()
        return self

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def cut(self) -> int:
        """Drop every open connection now; how many were cut."""
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            pair.shutdown()
        self.cuts += len(pairs)
        return len(pairs)

    def stop(self) -> None:
        """Stop accepting, cut everything, join every thread."""
        self._stopping.set()
        self._acceptor.join(5)
        self._listener.close()
        self.cut()
        with self._lock:
            threads = list(self._threads)
        for t in threads:
            t.join(5)

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            if self.refusing:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:  # the target is down: the client sees its connection refused, as it would
                client.close()
                continue
            upstream.settimeout(None)
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pair = _Pair(client, upstream)
            with self._lock:
                self._pairs.add(pair)
                self.accepted += 1
            for src, dst, name in ((client, upstream, "up"), (upstream, client, "down")):
                t = threading.Thread(target=self._copy, args=(pair, src, dst), name=f"proxy-{name}",
                                     daemon=True)
                with self._lock:
                    self._threads.add(t)
                t.start()

    def _copy(self, pair: _Pair, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(CHUNK)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            pair.shutdown()  # one direction ended: end the other too, as a dropped line would
            if pair.end():
                with self._lock:
                    self._pairs.discard(pair)
            with self._lock:
                self._threads.discard(threading.current_thread())

    def __enter__(self) -> Proxy:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
