"""The wire contract, once, for both ends (docs/wire.md).

Imported by the agent and by the hub. It must stay light: it imports neither scapy, paho nor sqlite3,
so that the hub and tests can use it without the agent's capture stack.
"""

from agent.wire.envelope import (
    SCHEMA_VERSION,
    Ack,
    Envelope,
    Status,
    WireError,
    decode_envelope,
    decode_signed,
    encode_envelope,
)
from agent.wire.records import (
    RECORD_TYPES,
    Arrival,
    DeviceFlag,
    DoorCounts,
    Erase,
    MinuteCounts,
    PeriodCounts,
    Presence,
    Record,
    Visit,
)
from agent.wire.topics import Topics, parse_agent_topic

__all__ = [
    "RECORD_TYPES",
    "SCHEMA_VERSION",
    "Ack",
    "Arrival",
    "DeviceFlag",
    "DoorCounts",
    "Envelope",
    "Erase",
    "MinuteCounts",
    "PeriodCounts",
    "Presence",
    "Record",
    "Status",
    "Topics",
    "Visit",
    "WireError",
    "decode_envelope",
    "decode_signed",
    "encode_envelope",
    "parse_agent_topic",
]
