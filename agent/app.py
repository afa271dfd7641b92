"""The agent's composition root: recover state, start the sink, run the pipeline on the source; stop
in reverse order. The only module that knows both the stages and where their records go.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from agent import __version__
from agent.buffer.erase import names
from agent.buffer.outbox import Outbox
from agent.buffer.recover import open_outbox
from agent.clock import ClockGate, SyncCheck, floor
from agent.common.sdnotify import Notifier
from agent.common.tlsfiles import write_private
from agent.config import AgentConfig
from agent.doors.service import DoorService
from agent.pipeline import Pipeline
from agent.preflight import preflight
from agent.privacy.keychain import KeyChain, window_of
from agent.sinks.mqtt import MqttSink
from agent.sources import load as load_source
from agent.timegate import AHEAD_S, TimeGate, file_ceiling
from agent.wire import Status, Topics
from agent.wire.records import iso, wire_problem
from agent.wire.settings import AgentSettings

log = logging.getLogger("footfall.agent")
PIPELINE_STATE = "pipeline"
DOORS_STATE = "doors"
OPTOUTS_FILE = "optouts.json"  # the hub's last config (opt-out and member lists), for starts while offline


class DeliveryRefusedError(Exception):
    """The broker kept refusing this gateway for its identity: retrying cannot help (exit non-zero)."""


class AgentApp:
    """One agent process: source -> pipeline -> outbox -> MQTT."""

    def __init__(self, config: AgentConfig, clock: SyncCheck | None = None) -> None:
        self.config = config
        self.clock = clock or SyncCheck()
        self.clock_counters: dict[str, int] = {}  # frames held, re-stamped or dropped for the clock
        self.time_gate: TimeGate | None = None  # frames dropped by time (agent/timegate.py), by reason
        self.refused: dict[str, int] = {}  # records the hub would refuse, never sent, by reason
        self._time_warned_at = float("-inf")
        self.source: object | None = None
        self.topics = Topics(config.org, config.store, config.agent)
        self.state_dir = config.state_path
        self.pipeline: Pipeline | None = None
        self.outbox: Outbox | None = None
        self.sink: MqttSink | None = None
        self.doors: DoorService | None = None  # door counters, when agent.yaml lists sensors
        self._doors_stop = threading.Event()
        self._doors_thread: threading.Thread | None = None
        self.problem: str | None = None
        self.notify = Notifier()  # systemd: READY, WATCHDOG from the frame loop, STOPPING
        self._pending: list[Any] = []  # records waiting to make a batch (at most outbox.coalesce_s)
        self._pending_since = 0.0
        self._lists: tuple[frozenset[bytes], frozenset[bytes]] = (frozenset(), frozenset())  # opt-out and
        # member keys from the hub's retained config

    def status(self) -> Status:
        counters = self.pipeline.counters() if self.pipeline else {}
        counters.update(getattr(self.source, "counters", {}))
        counters.update(self.clock_counters)
        if self.time_gate is not None:
            counters.update(self.time_gate.counters)
        counters.update(self.refused)
        if self.doors is not None:  # rejected pushes by reason, resets, door_stale_<sensor> = 1
            counters.update(self.doors.counters())
        if self.outbox:  # dropped at the cap, corrupt files set aside: the alerts a fleet watches
            counters.update(self.outbox.counters())
        backlog = self.outbox.backlog() if self.outbox else 0
        return Status(state="online", agent_version=__version__, backlog_batches=backlog,
                      clock_synced=self.clock.synced(),
                      counters=counters, updated_at=iso(time.time()), learned=self._learned())

    def _learned(self) -> dict[str, str]:
        """The store's calibration (footfall-agent calibrate) and how many days static devices were
        learned from: what the status shows so that a drifting figure can be traced to its source."""
        out: dict[str, str] = {}
        path = self.state_dir / "calibration.json"  # agent.calibrate.CALIBRATION_FILE (not imported here)
        try:
            fit = json.loads(path.read_text()) if path.exists() else {}
        except (OSError, ValueError):
            fit = {}
        for key in ("factor", "visitors_factor", "calibrated_at", "near_rssi_dbm", "occupied_min_near",
                    "present_q10", "present_q90", "visitors_q10", "visitors_q90"):  # the 80 % intervals
            if fit.get(key) not in (None, 0, 0.0, ""):
                out["calibration_factor" if key == "factor" else key] = str(fit[key])
        if self.pipeline is not None:
            out["static_days_n"] = str(len(self.pipeline.static.days_seen))
        return out

    def run(self, stop: threading.Event, drain_timeout_s: float = 60.0) -> int:
        """Run until the source ends (then drain the outbox) or `stop` is set. Returns an exit code."""
        cfg = self.config
        self.source = self._source()  # a wrong interface or file fails here, before anything connects
        checked = preflight(cfg, source=False)  # what check-config checks too: one line each
        tls_context, signing_key = checked.tls, checked.signing_key
        self.state_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.state_dir, 0o700)
        self._load_optouts()
        # a damaged file (SD card) is moved aside and a new epoch begun here, never a restart loop
        self.outbox = open_outbox(self.state_dir / cfg.outbox.file, cfg.org, cfg.store, cfg.agent,
                                  synchronous=cfg.outbox.synchronous,
                                  max_records_per_batch=cfg.outbox.max_records_per_batch,
                                  cap_bytes=cfg.outbox.cap_bytes, signing_key=signing_key)
        self.sink = MqttSink(self.outbox, self.topics, cfg.mqtt.host, cfg.mqtt.port,
                             cfg.mqtt.client_id or f"footfall-{cfg.org}-{cfg.store}-{cfg.agent}",
                             max_inflight_batches=cfg.mqtt.max_inflight_batches,
                             resend_after_s=cfg.mqtt.resend_after_s, keepalive_s=cfg.mqtt.keepalive_s,
                             status=self.status, tls=tls_context, on_config=self._on_config)
        self.sink.start()
        self.notify.ready(f"delivering to {cfg.mqtt.host}:{cfg.mqtt.port}")
        try:
            self._start_doors()
            finished = self._pump(stop)
            if finished:
                log.info("source ended; waiting for the hub to acknowledge %d batches", self.outbox.backlog())
                deadline = time.monotonic() + drain_timeout_s
                while not self.sink.wait_drained(0.2):  # short waits: SIGTERM ends the wait at once
                    self.notify.watchdog()
                    if stop.is_set() or time.monotonic() > deadline or self.sink.refusals.reason:
                        log.warning("the hub has not acknowledged %d batches yet; they stay in the outbox",
                                    self.outbox.backlog())
                        break
            if self.doors is not None and not stop.is_set():
                log.info("door counters keep the agent running until it is stopped")
                while not stop.wait(self.notify.ping_every_s) and not self.sink.refusals.reason:
                    self.notify.watchdog()
        finally:
            self.notify.stopping()
            self._stop_doors()
            self.sink.stop()
            self.outbox.close()
        if self.sink.refusals.reason:
            raise DeliveryRefusedError(self.sink.refusals.reason)
        return 0

    def _load_optouts(self) -> None:
        path = self.state_dir / OPTOUTS_FILE
        if path.exists():
            settings = AgentSettings.decode(path.read_bytes())
            self._lists = (settings.optout_bytes(), settings.member_bytes())

    def _on_config(self, settings: AgentSettings) -> None:
        """The hub's retained config (MQTT's thread): swap the opt-out and member lists in, keep them for
        offline starts."""
        lists = (settings.optout_bytes(), settings.member_bytes())
        if lists != self._lists:
            write_private(self.state_dir / OPTOUTS_FILE, settings.encode())
        self._lists = lists
        if self.pipeline is not None:
            self.pipeline.pseudonymizer.set_lists(*lists)
        log.info("config from the hub: %d opt-out keys, %d member keys", len(lists[0]), len(lists[1]))

    def _source(self) -> object:
        cfg = self.config.source
        cls = load_source(cfg.type)
        if cfg.type == "live":
            return cls(cfg.interface, cfg.batch_frames, cfg.channels, cfg.dwell_s)
        return cls(Path(cfg.path), cfg.batch_frames)

    def _pump(self, stop: threading.Event) -> bool:
        """Feed the pipeline; True when the source ended by itself."""
        assert self.outbox is not None and self.sink is not None
        source = self.source
        assert source is not None
        # live frames carry this machine's clock: held aside until it is synchronised (agent/clock.py);
        # a file's frames carry their own times, and only those before 2020 are refused
        live = self.config.source.type == "live"
        gate = ClockGate(self.clock) if live else None
        self.clock_counters = gate.counters if gate else {}
        # and in front of the key ratchet: times far from the clock, or from the capture's own timeline
        self.time_gate = times = TimeGate(self._live_ceiling, timeline=False) if live else \
            TimeGate(file_ceiling(self.clock.now),
                     window_of=window_of(self.config.timezone, self.config.privacy.key_window_days))
        for frames in source.batches(stop):  # type: ignore[attr-defined]
            batch, synced = gate.feed(frames) if gate else (floor(frames, self.clock_counters), True)
            self._feed(self._timed(batch, synced), synced, source)
            if self.sink.refusals.reason:  # stop as on SIGTERM (open visits saved), then exit non-zero
                stop.set()
            if stop.is_set():
                break
        if gate is not None:  # at shutdown, frames still held go marked (or counted, when before 2020)
            batch, synced = gate.release()
            self._feed(self._timed(batch, synced), synced, source)
        self._feed(times.close(), True, source)
        self._warn_time(final=True)
        self.problem = getattr(source, "problem", None)
        if self.pipeline is None:
            return not stop.is_set()
        if stop.is_set():
            # open visits resume at the next start; everything closed goes to the outbox now
            self._store([], force=True)
            self.outbox.save_state(PIPELINE_STATE, self.pipeline.export_state())
            return False
        self._store(self.pipeline.close().records, force=True)
        state = self.pipeline.export_state()
        state["sessionizer"] = {}
        self.outbox.save_state(PIPELINE_STATE, state)
        return True

    def _live_ceiling(self) -> float | None:
        return self.clock.now() + AHEAD_S if self.clock.synced() else None

    def _timed(self, batch: list[tuple[float, bytes]], synced: bool) -> list[tuple[float, bytes]]:
        """The time gate: never a frame that would move the key ratchet without a clock to trust."""
        assert self.time_gate is not None
        batch = self.time_gate.feed(batch)
        if not synced and self.pipeline is not None:
            chain = self.pipeline.chain
            batch = self.time_gate.not_ahead(batch, chain.bounds(chain.anchor_index)[1])
        self._warn_time()
        return batch

    def _warn_time(self, final: bool = False) -> None:
        """At most once a minute (and at the end), a warning when frames were dropped for their time."""
        gate = self.time_gate
        if gate is None or not gate.counters or (not final and time.monotonic() - self._time_warned_at < 60):
            return
        self._time_warned_at = time.monotonic()
        log.warning("frames dropped for their time so far: %s (agent/timegate.py; check the clock or the "
                    "capture)", dict(sorted(gate.counters.items())))

    def _feed(self, batch: list[tuple[float, bytes]], synced: bool, source: Any) -> None:
        assert self.outbox is not None
        self.notify.watchdog()  # a live source hands a batch (maybe empty) every 0.5 s
        if not batch:
            if self.pipeline is not None and synced and self.config.source.type == "live":
                self._store(self.pipeline.flush(self.clock.now()).records)  # idle: close quiet visits
            return
        if self.pipeline is None:
            cfg = self.config
            chain_path = self.state_dir / cfg.privacy.keychain_file
            days, tz = cfg.privacy.key_window_days, cfg.timezone
            if not chain_path.exists() and not synced:
                # a chain anchored at an unsynchronised clock's time (2106, say) would, once written, make
                # every later frame key_expired: until the clock syncs, the chain lives in memory only
                log.warning("no key chain installed in %s and the clock is not synchronised: this run's "
                            "keys are held in memory only, none is written", chain_path)
                chain = KeyChain.ephemeral(batch[0][0], days, tz)
            else:
                if not chain_path.exists():
                    log.warning("no key chain installed in %s: made a local one (other gateways of the "
                                "store will not share it; install the enrolment bundle: footfall-agent "
                                "enroll --install)", chain_path)
                chain = KeyChain.open(chain_path, batch[0][0], days, tz)
            self.pipeline = Pipeline(cfg, chain, source.linktype)
            self.pipeline.pseudonymizer.set_lists(*self._lists)
            saved = self.outbox.load_state(PIPELINE_STATE)
            if saved:
                self.pipeline.import_state(saved)
        self.pipeline.aggregator.clock_synced = synced  # minute counts say whether the clock was set
        self._store(self.pipeline.feed(batch).records)

    def _store(self, records: list[Any], force: bool = False) -> None:
        """Hand records to the outbox in batches: a live source yields every half second, and one
        MQTT message per half second of a quiet store would be a message per event (docs/reliability.md)."""
        assert self.outbox is not None and self.sink is not None
        records = self._sendable(records)
        erased = {(r.device_key, r.key_window) for r in records if r.type == "erase"}
        if erased:  # an opt-out (issue 18): its visits leave memory and the outbox; the erase goes at once
            records = [r for r in records if not names(r, erased)]
            self._pending = [r for r in self._pending if not names(r, erased)]
            log.info("opt-out: %d visits and flags erased from the outbox", self.outbox.erase(erased))
        if records and not self._pending:
            self._pending_since = time.monotonic()
        self._pending.extend(records)
        due = force or bool(erased) or len(self._pending) >= self.config.outbox.max_records_per_batch \
            or time.monotonic() - self._pending_since >= self.config.outbox.coalesce_s
        if self._pending and due:
            self.outbox.append(self._pending, time.time())
            self._pending = []
            self.sink.kick()

    def _sendable(self, records: list[Any]) -> list[Any]:
        """The records the hub accepts: one it would refuse would take its whole batch to the dead
        letters, so it is counted (`record_refused_<reason>`) and never sent."""
        kept = []
        for rec in records:
            problem = wire_problem(rec)
            if problem is None:
                kept.append(rec)
            else:
                name = f"record_refused_{problem}"
                self.refused[name] = self.refused.get(name, 0) + 1
        return kept

    def _start_doors(self) -> None:
        """Door counters, after the sink: the listener, pollers and pins, and a thread that moves closed
        minutes to the outbox every `doors.flush_s`."""
        assert self.outbox is not None
        if not self.config.doors.sensors:
            return
        self.doors = DoorService(self.config.doors, self.state_dir)
        saved = self.outbox.load_state(DOORS_STATE)
        if saved:
            self.doors.import_state(saved)
        self.doors.start()
        self._doors_thread = threading.Thread(target=self._flush_doors, name="door-flush", daemon=True)
        self._doors_thread.start()

    def _flush_doors(self) -> None:
        assert self.doors is not None
        while not self._doors_stop.wait(self.config.doors.flush_s):
            records = self.doors.flush(time.time())
            try:
                self._append_doors(records)
            except Exception:  # the outbox refused (disk full?): keep the minutes for the next round
                self.doors.ledger.unflush(records)
                log.exception("door counts could not be stored; retrying in %g s", self.config.doors.flush_s)

    def _append_doors(self, records: list[Any]) -> None:
        assert self.outbox is not None and self.sink is not None
        records = self._sendable(records)
        if records:
            self.outbox.append(records, time.time())
            self.sink.kick()

    def _stop_doors(self) -> None:
        """Before the sink stops: no more counts, then every counted minute (the current one too) and the
        ledger's state go to the outbox, so that a restart neither loses nor repeats a count."""
        if self.doors is None or self.outbox is None:
            return
        self._doors_stop.set()
        if self._doors_thread is not None:
            self._doors_thread.join()
        self.doors.stop()
        self._append_doors(self.doors.close(time.time()))
        self.outbox.save_state(DOORS_STATE, self.doors.export_state())
