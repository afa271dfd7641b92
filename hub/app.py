"""The composition root: the hub's life cycle on one screen (CONVENTIONS rule 2).

start: store (schema) -> writer -> metrics publisher (its own MQTT connection; woken after each commit)
-> MQTT session (subscriptions last, so nothing arrives before there is somewhere to put it). stop: the
reverse: close the intake, commit and ack what was received, publish the metrics of what has closed,
wait for the acks to reach the broker, disconnect (the broker keeps queueing for the session).
Use it in-process:

    with Hub(load_hub_config("hub.yaml")) as hub:
        hub.wait_idle()
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from types import TracebackType

from agent.wire import Ack
from hub.config import HubConfig
from hub.ingest import Counters, Incoming, MqttSubscriber, Writer
from hub.ingest.decode import Verifier, decode
from hub.ingest.mqtt import BrokerUnavailableError
from hub.pki.registry import SigningKeys
from hub.preflight import preflight
from hub.publish import MetricsClient, MetricsPublisher
from hub.store import open_db

log = logging.getLogger(__name__)


class Hub:
    """Ingest from MQTT into the hub's SQLite store until stopped."""

    def __init__(self, config: HubConfig) -> None:
        self.config = config
        self.counters = Counters()
        self._writer: Writer | None = None
        self._subscriber: MqttSubscriber | None = None
        self._metrics_client: MetricsClient | None = None
        self._publisher: MetricsPublisher | None = None

    def start(self) -> Hub:
        """Start every stage; BrokerUnavailableError, everything stopped again, when the broker is down;
        ConfigError (nothing started) for plain MQTT without allow_plain_loopback or trust without pki_dir.
        """
        trust = self.config.trust
        preflight(self.config, tls=False)  # the checks check-config runs too (hub/preflight.py)
        open_db(self.config.database.path).close()
        keys = SigningKeys(Path(trust.pki_dir) if trust.pki_dir else None)
        verifier = Verifier(keys, require_signatures=trust.require_signatures)
        self._writer = Writer(
            self.config.database.path,
            self.counters,
            self._acknowledge,
            max_batches=self.config.ingest.max_batches_per_commit,
            max_wait_ms=self.config.ingest.max_wait_ms,
            decoder=functools.partial(decode, verifier=verifier),
        )
        self._writer.start()
        self._subscriber = MqttSubscriber(self.config.mqtt, self._writer.submit)
        try:
            if self.config.publish.enabled:
                self._metrics_client = MetricsClient(self.config.mqtt, self.config.publish.client_id)
                try:
                    self._metrics_client.start()
                except ConnectionError as exc:
                    self._metrics_client = None
                    raise BrokerUnavailableError(str(exc)) from None
                self._publisher = MetricsPublisher(self.config, self._metrics_client.send)
                self._publisher.start()
            self._subscriber.start()
        except Exception:
            self._subscriber = None
            self.stop()
            raise
        log.info(
            "hub started: database %s, broker %s:%d",
            self.config.database.path,
            self.config.mqtt.host,
            self.config.mqtt.port,
        )
        return self

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once everything received so far is committed and acknowledged; False on timeout."""
        return self._writer.wait_idle(timeout) if self._writer else True

    def wait_published(self, timeout: float = 10.0) -> bool:
        """True once the metrics publisher has looked at everything committed so far."""
        return self._publisher.wait_idle(timeout) if self._publisher else True

    def stop(self) -> None:
        """Stop in reverse order; everything received before is committed and acknowledged."""
        if self._subscriber is not None:
            self._subscriber.close_intake()
        if self._writer is not None:
            self._writer.stop()
            self._writer = None
        if self._publisher is not None:
            self._publisher.stop()
            self._publisher = None
        if self._metrics_client is not None:
            self._metrics_client.stop()
            self._metrics_client = None
        if self._subscriber is not None:
            if not self._subscriber.flush(5.0):
                log.warning("some acks were not confirmed by the broker; agents will resend, stored once")
            self._subscriber.stop()
            self._subscriber = None
        log.info("hub stopped: %s", self.counters.snapshot())

    def _acknowledge(self, messages: list[Incoming], acks: dict[tuple[str, str], list[int]]) -> None:
        """After a commit: the broker's PUBACKs, then the agents' end-to-end acks (DESIGN section 4)."""
        sub = self._subscriber
        if sub is None:
            return
        for msg in messages:
            sub.ack(msg.token)
        for (topic, epoch), seqs in acks.items():
            sub.publish(topic, Ack(epoch, tuple(sorted(set(seqs)))).encode())
        if self._publisher is not None:
            self._publisher.wake()

    def __enter__(self) -> Hub:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
