"""The composition root: the hub's life cycle on one screen (CONVENTIONS rule 2).

start: store (schema) -> live feed (hub/live: figures, member arrivals; fed after each commit) -> writer
-> metrics publisher (its own MQTT connection; woken after each commit; with `ingest.shared_group`, only
in the worker that holds the leader lease: hub/leader.py) -> MQTT session (subscriptions last, so nothing
arrives before there is somewhere to put it) -> the live page's HTTP server when live.http is set -> the
store-key ratchet (key custody). stop: the reverse: close the intake, commit and ack what was received,
publish the metrics of what has closed, wait for the acks to reach the broker, disconnect (the broker
keeps queueing for the session).
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
from hub.config import ConfigError, HubConfig
from hub.ingest import Counters, Incoming, MqttSubscriber, Writer
from hub.ingest.decode import Verifier, decode
from hub.ingest.mqtt import BrokerUnavailableError
from hub.joins.rollup_job import RollupKeeper
from hub.leader import Elector
from hub.live.feed import LiveFeed, live_state
from hub.live.server import LiveServer
from hub.pki.chains import ChainRatchet
from hub.pki.registry import SigningKeys
from hub.preflight import preflight
from hub.publish import MetricsClient, MetricsPublisher
from hub.store.engine import open_store

log = logging.getLogger(__name__)


class Hub:
    """Ingest from MQTT into the hub's database until stopped."""

    def __init__(self, config: HubConfig) -> None:
        self.config = config
        self.counters = Counters()
        self._writer: Writer | None = None
        self._subscriber: MqttSubscriber | None = None
        self._metrics_client: MetricsClient | None = None
        self._publisher: MetricsPublisher | None = None
        self._rollups: RollupKeeper | None = None
        self._ratchet: ChainRatchet | None = None  # keeps the hub's store keys in the future (key custody)
        self._elector: Elector | None = None
        self._publishes = False
        self.live = live_state(config)  # the live figures (hub/live), fed after each commit
        self.live_feed: LiveFeed | None = None
        self.live_server: LiveServer | None = None

    def start(self) -> Hub:
        """Start every stage; BrokerUnavailableError, everything stopped again, when the broker is down;
        ConfigError (nothing started) for plain MQTT without allow_plain_loopback or trust without pki_dir;
        StoreError (nothing started) when the database is unreachable or its schema is behind (migrate).
        """
        trust = self.config.trust
        preflight(self.config, tls=False)  # the checks check-config runs too (hub/preflight.py)
        store = open_store(self.config.database)
        store.prepare()  # StoreError: unreachable, or its schema is behind (footfall-hub migrate)
        keys = SigningKeys(Path(trust.pki_dir) if trust.pki_dir else None)
        verifier = Verifier(keys, require_signatures=trust.require_signatures)
        self.live_feed = LiveFeed(self.config, self.live, self._publish,  # either engine (hub/store/sql.py)
                                  runs_singletons=self._runs_singletons)
        self.live_feed.start()
        self._writer = store.writer(
            self.counters,
            self._acknowledge,
            max_batches=self.config.ingest.max_batches_per_commit,
            max_wait_ms=self.config.ingest.max_wait_ms,
            decoder=functools.partial(decode, verifier=verifier),
            on_outage=self._database_outage,
            on_stored=self.live_feed.on_stored if self.live_feed is not None else None,
        )
        self._writer.start()
        group = self.config.ingest.shared_group
        # on either engine; with several workers only the leader publishes (its marks are in the database)
        self._publishes = self.config.publish.enabled
        try:
            # TLS files load here: a failure stops the writer again (nothing left running)
            self._subscriber = MqttSubscriber(self.config.mqtt, self._writer.submit, shared_group=group)
            if group:  # one of several workers: the elected one runs the singletons
                self._elector = Elector(store.lease(), self._start_singletons, self._stop_singletons).start()
            else:
                self._start_singletons()
            self._subscriber.start()
            if self.config.live.http and self.live_feed is not None:
                host, _, port = self.config.live.http.rpartition(":")
                try:
                    self.live_server = LiveServer(self.config, self.live, self.live_feed.extra,
                                                  (host, int(port)))
                except OSError as exc:
                    raise ConfigError(f"live.http {self.config.live.http}: {exc.strerror} (is another"
                                      " program on that port? choose another)") from None
                self.live_server.start()
        except Exception:
            self._subscriber = None
            self.stop()
            raise
        if trust.pki_dir:  # last: nothing above can fail now (a store enrolled later is ratcheted too)
            self._ratchet = ChainRatchet(Path(trust.pki_dir)).start()
        log.info(
            "hub started: database %s, broker %s:%d%s",
            self.config.database.where(),
            self.config.mqtt.host,
            self.config.mqtt.port,
            f", shared group {group} ({'leader' if self.leader else 'follower'})" if group else "",
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
        if self._ratchet is not None:
            self._ratchet.stop()
            self._ratchet = None
        if self.live_server is not None:
            self.live_server.stop()
            self.live_server = None
        if self._subscriber is not None:
            self._subscriber.close_intake()
        if self._writer is not None:
            self._writer.stop()
            self._writer = None
        if self._elector is not None:
            self._elector.stop()
            self._elector = None
        if self.live_feed is not None:
            self.live_feed.stop()
            self.live_feed = None
        self._stop_singletons()
        if self._subscriber is not None:
            if not self._subscriber.flush(5.0):
                log.warning("some acks were not confirmed by the broker; agents will resend, stored once")
            self._subscriber.stop()
            self._subscriber = None
        log.info("hub stopped: %s", self.counters.snapshot())

    @property
    def leader(self) -> bool:
        """True when this process runs the singletons (always, for a single hub with publish enabled)."""
        return self._elector.leader if self._elector is not None else self._rollups is not None

    def _runs_singletons(self) -> bool:
        """The daily jobs run here: a single hub, or the elected one of a shared group."""
        if not self.config.ingest.shared_group:
            return True
        return self._elector is not None and self._elector.leader

    def _start_singletons(self) -> None:
        """The day rollups' job, and the metrics publisher with its own MQTT connection when publishing
        (BrokerUnavailableError when refused)."""
        if not self._publishes:
            self._start_rollups()
            return
        self._metrics_client = MetricsClient(self.config.mqtt, self.config.publish.client_id)
        try:
            self._metrics_client.start()
        except ConnectionError as exc:
            self._metrics_client = None
            raise BrokerUnavailableError(str(exc)) from None
        publisher = MetricsPublisher(self.config, self._metrics_client.send)
        publisher.start()
        self._publisher = publisher
        self._start_rollups()  # after the publisher has its watermarks: the job's passes take the write lock

    def _start_rollups(self) -> None:
        if self._rollups is None:
            self._rollups = RollupKeeper(self.config).start()

    def _stop_singletons(self) -> None:
        if self._rollups is not None:
            self._rollups.stop()
            self._rollups = None
        if self._publisher is not None:
            self._publisher.stop()
            self._publisher = None
        if self._metrics_client is not None:
            self._metrics_client.stop()
            self._metrics_client = None

    def _database_outage(self, out: bool) -> None:
        """One of several workers whose database is out of reach leaves the shared group until it is back
        (docs/chain.md); a single hub keeps its subscription: the broker queues for its session."""
        sub = self._subscriber
        if sub is None or not self.config.ingest.shared_group:
            return
        if out:
            log.warning("the database is out of reach: leaving the shared group until it is back")
            sub.pause()
        else:
            log.info("the database is back: joining the shared group again")
            sub.resume()

    def _acknowledge(self, messages: list[Incoming], acks: dict[tuple[str, str], list[int]]) -> None:
        """After a commit: the broker's PUBACKs, then the agents' end-to-end acks (docs/wire.md)."""
        sub = self._subscriber
        if sub is None:
            return
        for msg in messages:
            sub.ack(msg.token)
        for (topic, epoch), seqs in acks.items():
            sub.publish(topic, Ack(epoch, tuple(sorted(set(seqs)))).encode())
        publisher = self._publisher  # read once: the elector's thread may stop it meanwhile
        if publisher is not None:
            publisher.wake()

    def _publish(self, topic: str, payload: bytes) -> None:
        """Member arrival events go out on the ingest session (QoS 1, not retained)."""
        if self._subscriber is not None:
            self._subscriber.publish(topic, payload)

    def __enter__(self) -> Hub:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
