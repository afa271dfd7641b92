"""The publisher's own MQTT connection: QoS 1, clean session, the hub's TLS identity when configured.

A second connection rather than the ingest session's: that one is a persistent session with manual
acks, tuned for receiving; this one only sends, and its outgoing queue must not hold up the acks.
paho keeps QoS 1 messages published while disconnected and sends them on reconnect.
"""

from __future__ import annotations

import logging
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from agent.common.tlsfiles import EnrollError
from hub.config import MqttConfig
from hub.ingest.outgoing import Outgoing
from hub.mqttclient import hub_client

log = logging.getLogger(__name__)


class MetricsClient:
    """Connects on `start`, publishes on `send`, waits for the broker's PUBACKs on `stop`."""

    def __init__(self, config: MqttConfig, client_id: str) -> None:
        self._config = config
        self._connected = threading.Event()
        self._pending = Outgoing()
        try:
            self.client = hub_client(config, client_id)
        except EnrollError as exc:
            raise ConnectionError(str(exc)) from None
        self.client.on_connect = self._on_connect
        self.client.max_queued_messages_set(100_000)

    def start(self, timeout: float = 10.0) -> None:
        """Connect; ConnectionError when the broker does not accept within `timeout`."""
        where = f"{self._config.host}:{self._config.port}"
        try:
            self.client.connect(self._config.host, self._config.port, self._config.keepalive_s)
        except OSError as exc:
            sock = self.client.socket()
            if sock is not None:
                sock.close()
            raise ConnectionError(
                f"cannot connect to the MQTT broker at {where}: {exc.strerror or exc}"
            ) from None
        self.client.loop_start()
        if not self._connected.wait(timeout):
            self.stop(0)
            raise ConnectionError(f"the MQTT broker at {where} did not accept the metrics publisher")

    def send(self, topic: str, payload: bytes, retain: bool) -> None:
        """Publish at QoS 1 (queued by paho while the connection is down)."""
        self._pending.add(self.client.publish(topic, payload, qos=1, retain=retain))

    def flush(self, timeout: float) -> bool:
        """True once the broker acknowledged everything sent so far."""
        return self._pending.flush(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        if timeout and not self.flush(timeout):
            log.warning("some metrics were not confirmed by the broker before stopping")
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(
        self, _c: mqtt.Client, _u: object, _f: mqtt.ConnectFlags, code: ReasonCode, _p: Properties | None
    ) -> None:
        if not code.is_failure:
            self._connected.set()
        else:
            log.warning("the broker refused the metrics publisher: %s", code)
