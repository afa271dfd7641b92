"""The data team's commands in hub/README.md work as pasted, on the broker config the hub writes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from agent.wire.topics import metrics_topic
from hub.publish import metrics_schema
from hub.publish.payload import encode, schema_payload, schema_topic
from tests.hub.pki.support import ORG, STORE, Chain, Peer, TlsBroker
from tests.hub.publish.test_cells import cells, day_of

README = (Path(__file__).resolve().parents[3] / "hub" / "README.md").read_text()


def readme_command(program: str) -> str:
    """The README's line starting `$ <program>` in the data-team section."""
    section = README[README.index("## Metrics for the data team"):]
    (line,) = re.findall(rf"^\$ ({re.escape(program)} .*)$", section, re.MULTILINE)
    return line


def as_here(line: str, chain: Chain, port: int) -> list[str]:
    """The README line with this test's broker and files for the placeholders it names."""
    line = (line.replace("broker.acme.example", "localhost").replace(" 8883 ", f" {port} ")
            .replace("pki/services/data-team.crt", str(chain.data_team.cert))
            .replace("pki/services/data-team.key", str(chain.data_team.key))
            .replace("pki/ca.crt", str(chain.ca_file))
            .replace(".venv/bin/python", sys.executable))
    return [part.strip("'") for part in line.split()]


@pytest.fixture
def published(tmp_path: Path) -> Iterator[tuple[Chain, TlsBroker, dict[str, object]]]:
    """A TLS broker on the broker-config files; the hub identity has published a day and the schema."""
    chain = Chain.make(tmp_path)
    broker = TlsBroker(chain)
    broker.start()
    try:
        _, day = cells(day_of({9: (3, 20, 9)}, (20, 65, 27)))
        hub = Peer("hub", broker.port, chain.ca_file, chain.hub)
        assert hub.publish(schema_topic(ORG), schema_payload(), retain=True) == 0
        assert hub.publish(metrics_topic(ORG, STORE, "day"), encode(day), retain=True) == 0
        hub.close()
        yield chain, broker, day
    finally:
        broker.stop()


@pytest.mark.skipif(shutil.which("mosquitto_sub") is None, reason="mosquitto-clients is not installed")
def test_the_readme_mosquitto_sub_line_reads_metrics_and_schema_over_tls(
    published: tuple[Chain, TlsBroker, dict[str, object]]
) -> None:
    """`mosquitto_sub` with the README's TLS flags, as the data-team identity, gets the retained day
    and the schema (it does not hang: the certificate, CA and topics are right for that identity)."""
    chain, broker, day = published
    cmd = [*as_here(readme_command("mosquitto_sub"), chain, broker.port), "-C", "2", "-W", "15"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=True).stdout
    by_topic = dict(line.split(" ", 1) for line in out.splitlines())
    assert json.loads(by_topic[metrics_topic(ORG, STORE, "day")]) == day
    assert json.loads(by_topic[schema_topic(ORG)]) == metrics_schema()


def test_the_readme_example_consumer_line_prints_payloads_that_validate(
    published: tuple[Chain, TlsBroker, dict[str, object]]
) -> None:
    """The example consumer, run as the README says (TLS, data-team identity), prints the day as one
    JSON line that validates against the schema."""
    chain, broker, day = published
    cmd = [*as_here(readme_command(".venv/bin/python"), chain, broker.port), "--count", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=True)
    (line,) = done.stdout.splitlines()
    jsonschema.Draft202012Validator(metrics_schema()).validate(json.loads(line))
    assert json.loads(line) == day
    assert "retained=True" in done.stderr
