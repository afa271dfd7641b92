"""The sink stage: delivers the buffer's batches to the hub. Only the composition root knows a sink.

`SINKS` is the registry: import strings, so paho is imported only when the MQTT sink is chosen.
"""

from __future__ import annotations

from typing import Protocol

SINKS: dict[str, str] = {
    "mqtt": "agent.sinks.mqtt:MqttSink",  # MQTT 5, QoS 1, deletes a batch on the hub's ack
}


class Sink(Protocol):
    """What the composition root relies on from a sink."""

    counters: dict[str, int]

    def start(self) -> None: ...
    def stop(self, timeout: float = 5.0) -> None: ...
    def wait_drained(self, timeout: float) -> bool: ...
    def kick(self) -> None: ...
