"""The hub's MQTT session: a persistent MQTT 5 session so the broker queues data while the hub is down,
and manual acknowledgement so the broker's PUBACK leaves only after the hub's commit.

paho calls `on_message` on its network thread; it only hands the message on. Acks for messages of an
earlier connection are skipped: the broker redelivers those with the same packet ids anyway.

The hub tells the broker the largest packet it takes (MQTT 5 Maximum Packet Size: the wire's payload
limit plus headers), so that whatever the broker's own config, a larger one never reaches the hub's
memory: the broker drops it for the hub (the decoder would refuse it as too_large anyway).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import cast

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from agent.enroll import EnrollError
from agent.wire.envelope import MAX_PACKET_BYTES
from agent.wire.topics import DATA_FILTER, STATUS_FILTER
from hub.config import MqttConfig
from hub.ingest.outgoing import Outgoing
from hub.ingest.writer import Incoming
from hub.mqttclient import hub_client

log = logging.getLogger(__name__)


class BrokerUnavailableError(ConnectionError):
    """The broker could not be reached or refused the hub at start."""


class MqttSubscriber:
    """Receives data and status messages, acknowledges them on request, publishes the hub's acks."""

    def __init__(self, config: MqttConfig, deliver: Callable[[Incoming], None]) -> None:
        self._config = config
        self._deliver = deliver
        self._open = False
        self._generation = 0
        self._ready = threading.Event()
        self._connect_error: str | None = None
        self._outgoing = Outgoing()
        try:
            self.client = hub_client(config, config.client_id, manual_ack=True)
        except EnrollError as exc:
            raise BrokerUnavailableError(str(exc)) from None
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect

    def start(self, timeout: float = 10.0) -> None:
        """Connect, subscribe, and return once the subscriptions are in place."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho leaves it untyped
        props.SessionExpiryInterval = self._config.session_expiry_s
        props.ReceiveMaximum = self._config.receive_maximum
        props.MaximumPacketSize = MAX_PACKET_BYTES
        self._open = True
        where = f"{self._config.host}:{self._config.port}"
        try:
            self.client.connect(
                self._config.host,
                self._config.port,
                self._config.keepalive_s,
                clean_start=False,
                properties=props,
            )
        except OSError as exc:
            self._close_socket()
            raise BrokerUnavailableError(
                f"cannot connect to the MQTT broker at {where}: {exc.strerror or exc}"
            ) from None
        self.client.loop_start()
        if not self._ready.wait(timeout) or self._connect_error:
            self.stop()
            raise BrokerUnavailableError(
                f"the MQTT broker at {where} did not accept the hub: "
                f"{self._connect_error or f'no answer within {timeout:.0f} s'}"
            )

    def close_intake(self) -> None:
        """Stop handing on messages; those still arriving stay unacknowledged for redelivery."""
        self._open = False

    def ack(self, token: object) -> None:
        """Send the broker's PUBACK for a committed message."""
        generation, mid, qos = cast(tuple[int, int, int], token)
        if generation == self._generation and qos > 0:
            self.client.ack(mid, qos)

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish QoS 1, not retained; `flush` waits for these."""
        self._outgoing.add(self.client.publish(topic, payload, qos=1, retain=False))

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every publish so far is acknowledged by the broker; False on timeout."""
        return self._outgoing.flush(timeout)

    def stop(self) -> None:
        """Disconnect (the session and its queue stay with the broker) and end the network thread."""
        self._open = False
        self.client.disconnect()
        self.client.loop_stop()
        self._close_socket()

    def _close_socket(self) -> None:
        sock = self.client.socket()
        if sock is not None:
            sock.close()

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        _props: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self._connect_error = str(reason_code)
            self._ready.set()
            return
        self._generation += 1
        log.info("connected to the broker (session present: %s)", flags.session_present)
        client.subscribe([(DATA_FILTER, SubscribeOptions(qos=1)), (STATUS_FILTER, SubscribeOptions(qos=1))])

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _mid: int,
        codes: list[ReasonCode],
        _props: Properties | None,
    ) -> None:
        failed = [c for c in codes if c.is_failure]
        if failed:
            self._connect_error = f"subscription refused: {failed[0]}"
        self._ready.set()

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        _props: Properties | None,
    ) -> None:
        if self._open:
            log.warning("disconnected from the broker (%s); reconnecting", reason_code)

    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        if not self._open:
            return
        self._deliver(
            Incoming(
                msg.topic,
                bytes(msg.payload),
                time.time(),
                (self._generation, msg.mid, msg.qos),
                bool(msg.retain),
            )
        )
