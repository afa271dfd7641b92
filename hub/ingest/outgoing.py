"""QoS 1 publishes waiting for the broker's PUBACK, for the hub's two MQTT clients (ingest acks, metrics).

paho returns a handle whose `is_published()` raises RuntimeError for ever when the publish was made
while the connection was down (rc MQTT_ERR_NO_CONN; paho still queues it and sends it on reconnect).
Tracking such a handle made every later publish and flush raise, so after a broker blip the hub stopped
acknowledging other agents (found by tests/faults). Those publishes are counted and not tracked: the
agents resend what stays unacknowledged, and the hub stores it once.
"""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt


class Outgoing:
    """Handles of QoS 1 publishes not yet confirmed; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._infos: list[mqtt.MQTTMessageInfo] = []
        self.untracked_n = 0  # published while disconnected: queued by paho, not awaited

    def add(self, info: mqtt.MQTTMessageInfo) -> None:
        with self._lock:
            self._infos = [i for i in self._infos if not _done(i)]
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                self._infos.append(info)
            else:
                self.untracked_n += 1

    def flush(self, timeout: float) -> bool:
        """True once every tracked publish is confirmed; False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                self._infos = [i for i in self._infos if not _done(i)]
                if not self._infos:
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)


def _done(info: mqtt.MQTTMessageInfo) -> bool:
    try:
        return info.is_published()
    except (RuntimeError, ValueError):  # the connection dropped under it: paho resends or it is lost
        return True
