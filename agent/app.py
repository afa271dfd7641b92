"""The agent's composition root: recover state, start the sink, run the pipeline on the source; stop
in reverse order. The only module that knows both the stages and where their records go.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from agent import __version__
from agent.buffer.outbox import Outbox
from agent.config import AgentConfig
from agent.pipeline import Pipeline
from agent.privacy.keychain import KeyChain
from agent.sinks.mqtt import MqttSink
from agent.sources import load as load_source
from agent.wire import Status, Topics
from agent.wire.records import iso

log = logging.getLogger("footfall.agent")
PIPELINE_STATE = "pipeline"


class AgentApp:
    """One agent process: source -> pipeline -> outbox -> MQTT."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.topics = Topics(config.org, config.store, config.agent)
        self.state_dir = config.state_path
        self.pipeline: Pipeline | None = None
        self.outbox: Outbox | None = None
        self.sink: MqttSink | None = None
        self.problem: str | None = None

    def status(self) -> Status:
        counters = self.pipeline.counters() if self.pipeline else {}
        backlog = self.outbox.backlog() if self.outbox else 0
        return Status(state="online", agent_version=__version__, backlog_batches=backlog, clock_synced=True,
                      counters=counters, updated_at=iso(time.time()))

    def run(self, stop: threading.Event, drain_timeout_s: float = 60.0) -> int:
        """Run until the source ends (then drain the outbox) or `stop` is set. Returns an exit code."""
        cfg = self.config
        self.state_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.state_dir, 0o700)
        self.outbox = Outbox(self.state_dir / cfg.outbox.file, cfg.org, cfg.store, cfg.agent,
                             synchronous=cfg.outbox.synchronous,
                             max_records_per_batch=cfg.outbox.max_records_per_batch)
        self.sink = MqttSink(self.outbox, self.topics, cfg.mqtt.host, cfg.mqtt.port,
                             cfg.mqtt.client_id or f"footfall-agent-{cfg.agent}",
                             max_inflight_batches=cfg.mqtt.max_inflight_batches,
                             resend_after_s=cfg.mqtt.resend_after_s, keepalive_s=cfg.mqtt.keepalive_s,
                             status=self.status)
        self.sink.start()
        try:
            finished = self._pump(stop)
            if finished:
                log.info("source ended; waiting for the hub to acknowledge %d batches", self.outbox.backlog())
                deadline = time.monotonic() + drain_timeout_s
                while not self.sink.wait_drained(0.2):  # short waits: SIGTERM ends the wait at once
                    if stop.is_set() or time.monotonic() > deadline:
                        log.warning("the hub has not acknowledged %d batches yet; they stay in the outbox",
                                    self.outbox.backlog())
                        break
        finally:
            self.sink.stop()
            self.outbox.close()
        return 0

    def _source(self) -> object:
        cfg = self.config.source
        cls = load_source(cfg.type)
        return cls(Path(cfg.path), cfg.batch_frames)

    def _pump(self, stop: threading.Event) -> bool:
        """Feed the pipeline; True when the source ended by itself."""
        assert self.outbox is not None and self.sink is not None
        cfg = self.config
        source = self._source()
        for batch in source.batches(stop):  # type: ignore[attr-defined]
            if self.pipeline is None:
                chain = KeyChain.open(self.state_dir / cfg.privacy.keychain_file, batch[0][0],
                                      cfg.privacy.key_window_days, cfg.timezone)
                self.pipeline = Pipeline(cfg, chain, source.linktype)  # type: ignore[attr-defined]
                saved = self.outbox.load_state(PIPELINE_STATE)
                if saved:
                    self.pipeline.import_state(saved)
            out = self.pipeline.feed(batch)
            if out.records:
                self.outbox.append(out.records, time.time())
                self.sink.kick()
            if stop.is_set():
                break
        self.problem = getattr(source, "problem", None)
        if self.pipeline is None:
            return not stop.is_set()
        if stop.is_set():
            # open visits resume at the next start; everything closed is already in the outbox
            self.outbox.save_state(PIPELINE_STATE, self.pipeline.export_state())
            return False
        out = self.pipeline.close()
        if out.records:
            self.outbox.append(out.records, time.time())
            self.sink.kick()
        state = self.pipeline.export_state()
        state["sessionizer"] = {}
        self.outbox.save_state(PIPELINE_STATE, state)
        return True
