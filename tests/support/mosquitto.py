"""The tests' broker is the product's local broker (hub/localbroker.py), under its test name."""

from hub.localbroker import LocalBroker as Mosquitto
from hub.localbroker import free_port

__all__ = ["Mosquitto", "free_port"]
