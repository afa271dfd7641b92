"""The hub's MQTT clients (ingest, metrics) are made one way: MQTT 5, a reconnect back-off, and the
hub's certificate when TLS is configured."""

from __future__ import annotations

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from agent.common.tlsfiles import client_context
from hub.config import MqttConfig


def hub_client(config: MqttConfig, client_id: str, *, manual_ack: bool = False) -> mqtt.Client:
    """A paho client for the hub; EnrollError (one line, with the remedy) when the TLS files are bad."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                         manual_ack=manual_ack)
    client.reconnect_delay_set(1, 30)
    if config.tls.ca_file:  # the hub's certificate (CN hub); without a CA file: plain MQTT
        client.tls_set_context(client_context(config.tls.ca_file, config.tls.cert_file, config.tls.key_file,
                                              remedy="make them with footfall-hub pki issue-service hub"))
    return client
