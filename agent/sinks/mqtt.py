"""Delivers the outbox to the hub over MQTT 5, QoS 1, and deletes a batch only on the hub's ack.

Two threads: paho's network thread (loop_start: connects, reconnects with backoff forever, runs the
callbacks) and our pump thread, the only one that touches the outbox or decides what to publish. The
callbacks only queue what happened (a PUBACK's mid, an ack payload, a connect) and wake the pump, so
a slow fsync never stalls the network thread, and several acks are deleted in one transaction.

Why the pump never calls paho while holding its own lock: paho calls on_publish while holding its
outbound-message lock, and `publish()` takes that same lock, so holding ours around `publish()` could
deadlock. Hence PUBACK mids are queued unresolved and matched to seqs by the pump afterwards.

In flight is bounded by us (max_inflight_batches) and paho's queue is capped too: beyond 65,535 queued
QoS 1 messages paho reuses message ids and silently loses messages (paho.mqtt.python issue 377).
paho keeps unconfirmed publishes across a reconnect and resends them, so in-flight entries survive a
disconnect; one with no PUBACK after resend_after_s while connected is given up and published again.

The agent's retained config topic (opt-out keys) is decoded on the network thread and handed to
`on_config`, which must be quick (the app swaps a set).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from agent import __version__
from agent.buffer.outbox import Outbox
from agent.sinks.refusal import Refusals
from agent.wire import Ack, Status, Topics, WireError
from agent.wire.records import iso
from agent.wire.settings import AgentSettings

log = logging.getLogger(__name__)

QOS = 1
# The broker keeps our session (and queues the hub's acks) this long while we are away.
SESSION_EXPIRY_S = 3600
COUNTERS = ("published", "resent", "acked", "bad_ack", "stale_ack", "puback_error", "publish_refused",
            "inflight_expired", "connects", "disconnects", "configs", "bad_config")


class MqttSink:
    """Publishes due outbox batches, bounded in flight, and deletes them when the hub acks."""

    def __init__(self, outbox: Outbox, topics: Topics, host: str, port: int, client_id: str, *,
                 max_inflight_batches: int = 32, resend_after_s: float = 30.0, keepalive_s: int = 30,
                 status: Callable[[], Status] | None = None, clock: Callable[[], float] = time.time,
                 status_interval_s: float = 30.0, status_min_interval_s: float = 5.0,
                 reconnect_min_s: int = 1, reconnect_max_s: int = 60,
                 tls: ssl.SSLContext | None = None,
                 on_config: Callable[[AgentSettings], None] | None = None) -> None:
        if max_inflight_batches < 1:
            raise ValueError("max_inflight_batches must be at least 1")
        self.outbox = outbox
        self.topics = topics
        self.host, self.port, self.keepalive_s = host, port, keepalive_s
        self.max_inflight = max_inflight_batches
        self.resend_after_s = resend_after_s
        self.status_interval_s = status_interval_s
        self.status_min_interval_s = status_min_interval_s
        self._status_fn = status
        self._on_config_fn = on_config
        self._clock = clock
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.refusals = Refusals(topics.base.split("/", 2)[2])  # identity refusals: run stops on them

        # Shared between the network thread and the pump, guarded by _cond.
        self._cond = threading.Condition()
        self._wake = False
        self._stopping = False
        self._connected = False
        self._connect_gen = 0
        self._step_gen = 0  # bumped after every pump round, for wait_drained()
        self._puback_mids: list[tuple[int, bool]] = []  # (mid, broker refused it)
        self._ack_payloads: list[bytes] = []

        # Owned by the pump thread alone.
        self._inflight: dict[int, tuple[int, float]] = {}  # mid -> (seq, monotonic time published)
        self._inflight_seqs: set[int] = set()
        self._seen_gen = 0
        self._last_status: tuple[Any, ...] | None = None
        self._last_status_at = float("-inf")
        self._status_dirty = False

        self._pump: threading.Thread | None = None
        self._gone = threading.Event()  # set by on_disconnect: stop() knows the socket is closed
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if tls is not None:  # the gateway's certificate (common.tlsfiles.client_context); None: plain MQTT
            self._client.tls_set_context(tls)
        self._client.reconnect_delay_set(reconnect_min_s, reconnect_max_s)
        self._client.max_inflight_messages_set(max_inflight_batches + 4)  # + status and subscribe
        self._client.max_queued_messages_set(2 * max_inflight_batches + 16)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.on_subscribe = self._on_subscribe
        self._client.on_log = lambda _c, _u, _level, buf: self.refusals.note_log(buf)
        self._client.message_callback_add(topics.ack, self._on_ack)
        self._client.message_callback_add(topics.config, self._on_config)

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background; returns at once even when the broker is down."""
        if self._pump is not None or self._stopping:
            raise RuntimeError("an MQTT sink starts once; make a new one to start again")
        will = self._status("offline", with_stats=False)
        self._client.will_set(self.topics.status, will.encode(), qos=QOS, retain=True)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho leaves it untyped
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        self._client.connect_async(self.host, self.port, self.keepalive_s,
                                   clean_start=mqtt.MQTT_CLEAN_START_FIRST_ONLY, properties=props)
        self._client.loop_start()
        self._pump = threading.Thread(target=self._run, name="mqtt-sink-pump", daemon=True)
        self._pump.start()
        log.info("MQTT sink started for %s:%d", self.host, self.port)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop publishing, leave a retained offline status, disconnect, join both threads."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._stopping = True
            connected = self._connected
            self._cond.notify_all()
        if self._pump is not None:
            self._pump.join(max(0.0, deadline - time.monotonic()))
        if connected:
            info = self._client.publish(self.topics.status, self._status("offline").encode(), qos=QOS,
                                        retain=True)
            try:
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            except (ValueError, RuntimeError) as exc:
                log.warning("offline status not confirmed: %s", exc)
        self._client.disconnect()
        if connected and not self._gone.wait(max(0.0, deadline - time.monotonic())):
            # A stalled broker never closes its end: close ours, or loop_stop() would wait for the
            # keepalive to expire (1.5 x keepalive_s).
            sock = self._client.socket()
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self._client.loop_stop()
        self._pump = None
        log.info("MQTT sink stopped; %d batches not yet acked", self.outbox.backlog())

    def kick(self) -> None:
        """Wake the pump: new batches are in the outbox."""
        with self._cond:
            self._wake = True
            self._cond.notify_all()

    def wait_drained(self, timeout: float) -> bool:
        """True once every batch in the outbox has been acked by the hub; False after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                gen = self._step_gen
            if self.outbox.backlog() == 0:  # read outside the lock: no fsync ever blocks a callback
                return True
            with self._cond:
                while gen == self._step_gen:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._cond.wait(remaining)

    @property
    def connected(self) -> bool:
        """The broker connection is up (as far as paho knows)."""
        return self._connected

    @property
    def inflight(self) -> int:
        """Batches published and not yet confirmed by the broker."""
        return len(self._inflight)

    # -- paho callbacks (network thread): record and wake, nothing more -------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: mqtt.ConnectFlags, reason: ReasonCode,
                    properties: Properties | None) -> None:
        if reason.is_failure:
            log.warning("broker refused the connection: %s", reason)
            self.refusals.note("CONNACK", reason.value)
            return
        # Subscribe before the pump may publish: the broker handles packets in order, so the ack
        # subscription exists before the hub can see (and ack) any batch of this connection.
        client.subscribe([(self.topics.ack, QOS), (self.topics.config, QOS)])
        self._gone.clear()
        with self._cond:
            self._connected = True
            self._connect_gen += 1
            self.counters["connects"] += 1
            self._cond.notify_all()
        log.info("connected to the broker (session present: %s)", flags.session_present)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: mqtt.DisconnectFlags,
                       reason: ReasonCode, properties: Properties | None) -> None:
        self._gone.set()
        with self._cond:
            was = self._connected
            self._connected = False
            if was:
                self.counters["disconnects"] += 1
            self._cond.notify_all()
        if was and not self._stopping:
            log.warning("lost the broker connection: %s; reconnecting", reason)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: list[ReasonCode],
                      properties: Properties) -> None:
        if any(r.is_failure for r in reasons):  # no acks will come: batches are resent until fixed
            log.error("broker refused the ack subscription: %s", ", ".join(str(r) for r in reasons))
            for r in reasons:
                self.refusals.note("SUBACK", r.value)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode,
                    properties: Properties) -> None:
        # Called with paho's outbound lock held: only queue the mid (see the module docstring).
        if reason.is_failure:
            self.refusals.note("PUBACK", reason.value)
        with self._cond:
            self._puback_mids.append((mid, reason.is_failure))
            self._cond.notify_all()

    def _on_ack(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._cond:
            self._ack_payloads.append(bytes(message.payload))
            self._cond.notify_all()

    def _on_config(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if not message.payload:  # a retained config being cleared
            return
        try:
            settings = AgentSettings.decode(bytes(message.payload))
        except WireError:
            self.counters["bad_config"] += 1
            return
        if self._on_config_fn is not None:
            try:
                self._on_config_fn(settings)
            except Exception:
                log.exception("applying the hub's config failed")
        self.counters["configs"] += 1  # after it is applied: a reader of the counter may rely on that

    # -- the pump -----------------------------------------------------------------------------------

    def _run(self) -> None:
        timeout = 0.0
        while True:
            with self._cond:
                if not (self._wake or self._stopping or self._puback_mids or self._ack_payloads
                        or self._connect_gen != self._seen_gen):
                    self._cond.wait(timeout)
                stopping = self._stopping
                self._wake = False
                mids, self._puback_mids = self._puback_mids, []
                acks, self._ack_payloads = self._ack_payloads, []
                connected, gen = self._connected, self._connect_gen
            try:
                # Stopping: still record the PUBACKs and acks that came in, but publish nothing more.
                timeout = self._step(mids, acks, connected and not stopping, gen)
            except Exception:  # a full disk or a broken file must not kill delivery for good
                log.exception("MQTT sink pump step failed; retrying")
                timeout = 1.0
            with self._cond:
                self._step_gen += 1
                self._cond.notify_all()  # wait_drained() re-checks the backlog
            if stopping:
                return

    def _step(self, mids: list[tuple[int, bool]], acks: list[bytes], connected: bool, gen: int) -> float:
        """One round: record PUBACKs and acks, fill the in-flight window, publish status; next wait."""
        now, mono = self._clock(), time.monotonic()
        if gen != self._seen_gen:  # a new connection: paho resends what is in flight, restart the clocks
            self._seen_gen = gen
            self._inflight = {m: (s, mono) for m, (s, _) in self._inflight.items()}
            self._last_status = None
        sent = []
        for mid, refused in mids:
            entry = self._inflight.pop(mid, None)
            if entry is None:
                continue  # a status publish, or one given up on
            self._inflight_seqs.discard(entry[0])
            sent.append(entry[0])
            if refused:  # counted as sent so it waits resend_after_s rather than looping at once
                self.counters["puback_error"] += 1
        self.outbox.mark_sent(sent, now)
        self._apply_acks(acks)
        if connected:
            self._expire_inflight(mono)
            self._fill(now, mono)
            self._maybe_status(mono)
        return self._next_wait(mono, connected)

    def _apply_acks(self, payloads: list[bytes]) -> None:
        by_epoch: dict[str, list[int]] = {}
        for payload in payloads:
            try:
                ack = Ack.decode(payload)
            except (WireError, ValueError, TypeError, AttributeError):
                self.counters["bad_ack"] += 1
                continue
            if ack.epoch != self.outbox.epoch:
                self.counters["stale_ack"] += 1
                continue
            by_epoch.setdefault(ack.epoch, []).extend(ack.seqs)
        for epoch, seqs in by_epoch.items():
            self.counters["acked"] += self.outbox.acked(epoch, seqs)
            self.refusals.ok()

    def _expire_inflight(self, mono: float) -> None:
        for mid, (seq, since) in list(self._inflight.items()):
            if mono - since > self.resend_after_s:
                del self._inflight[mid]
                self._inflight_seqs.discard(seq)
                self.counters["inflight_expired"] += 1

    def _fill(self, now: float, mono: float) -> None:
        free = self.max_inflight - len(self._inflight)
        if free <= 0:
            return
        # Ask for enough rows that `free` remain after skipping those already in flight.
        for batch in self.outbox.due_batches(now, free + len(self._inflight_seqs), self.resend_after_s):
            if free <= 0:
                break
            if batch.seq in self._inflight_seqs:
                continue
            info = self._client.publish(self.topics.data, batch.payload, qos=QOS)
            if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                # paho kept nothing (queue full): try again on the next round.
                self.counters["publish_refused"] += 1
                break
            # NO_CONN: paho keeps the message and sends it after the reconnect, like any in flight.
            self._inflight[info.mid] = (batch.seq, mono)
            self._inflight_seqs.add(batch.seq)
            self.counters["published"] += 1
            if batch.attempts:
                self.counters["resent"] += 1
            free -= 1

    def _status(self, state: str, with_stats: bool = True) -> Status:
        base = Status(state=state, agent_version=__version__)
        if self._status_fn is not None:
            try:
                base = self._status_fn()
            except Exception:
                log.exception("status provider failed; publishing the sink's status only")
        if not with_stats:
            return dataclasses.replace(base, state=state, backlog_batches=0, counters={}, updated_at="")
        counters = {**base.counters, **{f"mqtt_{k}": v for k, v in self.counters.items()}}
        return dataclasses.replace(base, state=state, backlog_batches=self.outbox.backlog(),
                                   counters=counters, updated_at=iso(self._clock()))

    def _maybe_status(self, mono: float) -> None:
        """Publish online status on connect, when something changed (rate-limited), and as a heartbeat."""
        key = (self.outbox.backlog(), tuple(self.counters.values()))
        since = mono - self._last_status_at
        self._status_dirty = self._last_status is not None and key != self._last_status
        due = (self._last_status is None or since >= self.status_interval_s
               or (self._status_dirty and since >= self.status_min_interval_s))
        if not due:
            return
        self._client.publish(self.topics.status, self._status("online").encode(), qos=QOS, retain=True)
        self._last_status, self._last_status_at, self._status_dirty = key, mono, False

    def _next_wait(self, mono: float, connected: bool) -> float:
        """Seconds until something is due without a wake-up: a status, an expiry, a resend.

        Disconnected, only a connect (which wakes us) can make progress; with the window full, only a
        PUBACK (which wakes us) or an expiry can. Never a short poll.
        """
        since = mono - self._last_status_at
        waits = [self.status_interval_s - since]
        if not connected:
            return max(waits[0], 0.01)
        if self._status_dirty:
            waits.append(self.status_min_interval_s - since)
        if self._inflight:
            waits.append(min(t for _, t in self._inflight.values()) + self.resend_after_s - mono)
        if len(self._inflight) < self.max_inflight:
            resend_at = self.outbox.next_resend_at(self.resend_after_s, exclude=self._inflight_seqs)
            if resend_at is not None:
                waits.append(resend_at - self._clock())
        return min(max(w, 0.01) for w in waits)
