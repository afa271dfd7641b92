"""A real agent (AgentApp: pipeline, outbox, MQTT sink) whose radio is a list of phones the test edits.

Every 0.5 s it hears one probe request of each phone in `phones` at -50 dBm (in the store) and one of a
passer-by at -90 dBm, stamped with the current time, as a live capture would.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from agent.app import AgentApp
from agent.config import AgentConfig, MqttConfig, SourceConfig
from agent.privacy.keychain import KeyChain
from tests.support.frames import probe_request

PASSER = "02:00:00:00:00:99"


class _Radio:
    linktype = 127

    def __init__(self) -> None:
        self.phones: list[str] = []
        self.first_heard: dict[str, float] = {}
        self.counters: dict[str, int] = {"frames": 0}
        self.problem = None
        self._frames: dict[tuple[str, int], bytes] = {}

    def _frame(self, mac: str, rssi: int) -> bytes:
        if (mac, rssi) not in self._frames:
            self._frames[(mac, rssi)] = probe_request(mac, rssi=rssi)
        return self._frames[(mac, rssi)]

    def batches(self, stop: threading.Event) -> Iterator[list[tuple[float, bytes]]]:
        while not stop.is_set():
            now = time.time()
            batch = [(now, self._frame(PASSER, -90))]
            for mac in list(self.phones):
                self.first_heard.setdefault(mac, now)
                batch.append((now, self._frame(mac, -50)))
            yield batch
            stop.wait(0.5)


class TestAgent:
    """Runs on its own thread until `stop`."""

    __test__ = False  # not a pytest class

    def __init__(self, state_dir: Path, port: int, store: str = "brno-1", agent: str = "gw-1",
                 optout_secret: bytes | None = None) -> None:
        """`optout_secret`: the chain's gateway secret, as the enrolment bundle installs it (members and
        opt-outs are matched with it); None: a local key chain without it."""
        if optout_secret is not None:
            state_dir.mkdir(parents=True, exist_ok=True)
            chain = KeyChain(0, secrets.token_bytes(32), 1, "Europe/Prague", state_dir / "keychain.json",
                             optout_secret=optout_secret)
            chain._anchor = chain._last = (chain.index_of(time.time()), chain._anchor[1])  # as open() does
            chain.save()
        cfg = replace(AgentConfig(org="acme", store=store, agent=agent, state_dir=str(state_dir),
                                  timezone="Europe/Prague"),
                      source=SourceConfig(type="pcap", path="unused"),
                      mqtt=MqttConfig(port=port, allow_plain_loopback=True, signing_key_file=""))
        self.app = AgentApp(cfg)
        self.radio = _Radio()
        self.app._source = lambda: self.radio  # type: ignore[method-assign]  # the stub radio
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.app.run, args=(self._stop, 2.0), daemon=True)

    def start(self) -> TestAgent:
        self._thread.start()
        return self

    def add(self, *macs: str) -> float:
        """Phones walking in now; the time they came."""
        self.radio.phones.extend(macs)
        return time.time()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
