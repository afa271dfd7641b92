"""The hub's MQTT session: a persistent MQTT 5 session so the broker queues data while the hub is down,
and manual acknowledgement so the broker's PUBACK leaves only after the hub's commit.

paho calls `on_message` on its network thread; it only hands the message on. Acks for messages of an
earlier connection are skipped: the broker redelivers those with the same packet ids anyway.

With a `shared_group` (several workers, docs/chain.md) the session is a clean one under a client id
of its own: mosquitto 2.0 deals a shared subscription's messages round-robin to every member session,
connected or not, and keeps a disconnected member's unacknowledged ones for that session only. A
persistent member that died would go on collecting its share of new batches that nobody reads; a clean
member's session, subscription and in-flight messages end with its connection, so new batches go to
the live workers and the agents resend the dropped ones (unacked after resend_after_s), stored once.
The hub tells the broker the largest packet it takes (MQTT 5 Maximum Packet Size: the wire's payload
limit plus headers), so that whatever the broker's own config, a larger one never reaches the hub's
memory: the broker drops it for the hub (the decoder would refuse it as too_large anyway).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from typing import cast

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from agent.common.tlsfiles import EnrollError
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

    def __init__(
        self, config: MqttConfig, deliver: Callable[[Incoming], None], shared_group: str = ""
    ) -> None:
        self._config = config
        self._deliver = deliver
        self._shared = shared_group
        self._paused = False
        client_id = config.client_id
        if shared_group:  # one session per worker process: see the module's docstring
            client_id = f"{client_id}-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"
            self.filters = [f"$share/{shared_group}/{f}" for f in (DATA_FILTER, STATUS_FILTER)]
        else:
            self.filters = [DATA_FILTER, STATUS_FILTER]
        self._open = False
        self._generation = 0
        self._ready = threading.Event()
        self._connect_error: str | None = None
        self._outgoing = Outgoing()
        try:
            self.client = hub_client(config, client_id, manual_ack=True)
        except EnrollError as exc:
            raise BrokerUnavailableError(str(exc)) from None
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect

    def start(self, timeout: float = 10.0) -> None:
        """Connect, subscribe, and return once the subscriptions are in place."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho leaves it untyped
        props.SessionExpiryInterval = 0 if self._shared else self._config.session_expiry_s
        props.ReceiveMaximum = self._config.receive_maximum
        props.MaximumPacketSize = MAX_PACKET_BYTES
        self._open = True
        where = f"{self._config.host}:{self._config.port}"
        try:
            self.client.connect(
                self._config.host,
                self._config.port,
                self._config.keepalive_s,
                clean_start=bool(self._shared),
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

    def pause(self) -> None:
        """Leave the shared group (unsubscribe) while this worker cannot commit: the broker then deals new
        batches to the other workers; what this one holds stays unacknowledged, for redelivery."""
        if self._shared and not self._paused:
            self._paused = True
            self.client.unsubscribe(self.filters)

    def resume(self) -> None:
        """Join the shared group again."""
        if self._paused:
            self._paused = False
            self.client.subscribe([(f, SubscribeOptions(qos=1)) for f in self.filters])

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
        if self._paused:  # a clean session: nothing to unsubscribe; join again at resume
            return
        client.subscribe([(f, SubscribeOptions(qos=1)) for f in self.filters])

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
