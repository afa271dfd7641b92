"""Ingest: MQTT in, SQLite out, exactly once, acknowledged only after the commit (docs/reliability.md).

    paho network thread          writer thread
    on_message -> Incoming ----> decode(topic, payload): rows, status or dead letter
                                 group, one transaction, COMMIT -> after_commit: PUBACKs, Acks

`mqtt.py` knows MQTT, `decode.py` knows the wire, `writer.py` knows SQLite; `hub/app.py` wires them.
There is one input (MQTT); a second one (say HTTP upload) would be another file feeding `Writer.submit`.
"""

from hub.ingest.counters import Counters
from hub.ingest.decode import DataBatch, DeadLetter, StatusUpdate, decode
from hub.ingest.mqtt import MqttSubscriber
from hub.ingest.writer import Incoming, Writer

__all__ = [
    "Counters",
    "DataBatch",
    "DeadLetter",
    "Incoming",
    "MqttSubscriber",
    "StatusUpdate",
    "Writer",
    "decode",
]
