"""Hostile and careless input against a real `footfall-hub serve` process and a real mosquitto.

Each test sends bad payloads and then a good one, and prints one line:

    faults/bad-input-<class>: sent N, refused {reason: n}, stored after N, lost 0

`stored after` counts the good batches sent after the bad ones that the hub stored and acknowledged;
`lost` those it did not. The hub process must still be alive at the end.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import zlib
from collections import Counter
from pathlib import Path

from agent.wire import Ack, encode_envelope
from tests.faults.support import rss_kib
from tests.faults.test_kill_hub import HubProc
from tests.hub.envelopes import Publisher, envelope, visit
from tests.hub.support import query, wait_for
from tests.support.frames import pcap_bytes
from tests.support.mosquitto import Mosquitto

HUB_RSS_LIMIT_KIB = 200 * 1024


class AckWatch:
    """The agent's ack topic, as the agent would read it."""

    def __init__(self, publisher: Publisher, topic: str) -> None:
        self.seqs: set[int] = set()
        self._lock = threading.Condition()
        publisher.subscribe(topic)
        publisher.client.on_message = self._on_message

    def _on_message(self, _c: object, _u: object, msg: object) -> None:
        ack = Ack.decode(msg.payload)  # type: ignore[attr-defined]
        with self._lock:
            self.seqs.update(ack.seqs)
            self._lock.notify_all()

    def wait(self, seq: int, timeout: float = 15.0) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: seq in self.seqs, timeout)


def _raw(seq: int) -> bytes:
    """A good batch of one visit, uncompressed, for editing one value in its bytes."""
    return encode_envelope(envelope(seq, [visit(seq)]), compress=False)


def _report(name: str, sent: int, refused: dict[str, int], stored_after: int, lost: int) -> None:
    print(f"\nfaults/bad-input-{name}: sent {sent}, refused {dict(sorted(refused.items()))}, "
          f"stored after {stored_after}, lost {lost}")


def _dead_letters(db: Path) -> Counter[str]:
    return Counter(r for (r,) in query(str(db), "SELECT reason FROM dead_letters"))


def test_out_of_range_batches_are_dead_lettered_and_the_next_good_batch_is_stored_and_acked(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    """A batch with an integer of 2^64 (or 10^30, a seq of 2^63, a MAC for a device key, a visit in
    2106) used to kill the hub's writer: nothing stored afterwards from any store, nothing acked, the
    same death at every restart. Now each is dead-lettered by name and the good batch sent right after
    is stored and acknowledged, by the same hub process."""
    hub = HubProc(tmp_path, mosquitto.port)
    hub.start()
    topic = envelope(0, []).topics
    pub = Publisher(mosquitto.port)
    try:
        acks = AckWatch(pub, topic.ack)
        bad = [
            _raw(1).replace(b'"dwell_s":600', b'"dwell_s":' + str(2**64).encode()),
            _raw(2).replace(b'"sightings_n":12', b'"sightings_n":1' + b"0" * 30),
            _raw(3).replace(b'"seq":3', b'"seq":' + str(2**63).encode()),
            _raw(4).replace(f'"device_key":"{4:032x}"'.encode(), b'"device_key":"a4:5e:60:01:02:03"'),
            _raw(5).replace(b'"ended_at":"2026', b'"ended_at":"2106'),
            _raw(6).replace(b'"rssi_max_dbm":-55', b'"rssi_max_dbm":-1' + b"0" * 20),
        ]
        for payload in bad:
            pub.publish(topic.data, payload)
        good = envelope(7, [visit(7)])
        pub.send(good)
        assert acks.wait(7), hub.log.read_text()[-2000:]
        db = tmp_path / "hub.db"
        assert wait_for(lambda: sum(_dead_letters(db).values()) == len(bad))
        assert hub.proc is not None and hub.proc.poll() is None, "the hub process died"
        refused = _dead_letters(db)
        stored = query(str(db), "SELECT seq FROM batches")
        _report("wire-ranges", len(bad) + 1, refused, len(stored), 1 - len(stored))
        assert stored == [(7,)]
        assert refused == {"out_of_range": 5, "mac_shaped": 1}
        # the MAC-shaped key never reaches the hub's disk, not even in the dead letter
        kept = query(str(db), "SELECT length(payload) FROM dead_letters WHERE reason = 'mac_shaped'")
        assert kept == [(0,)]
        assert "Traceback" not in hub.log.read_text()
    finally:
        pub.close()
        hub.terminate()


def _bomb(expanded_bytes: int, level: int) -> bytes:
    """A zlib stream of `expanded_bytes` zeros, made a chunk at a time (never held expanded)."""
    deflate = zlib.compressobj(level)
    chunk = b"\0" * (16 << 20)
    parts = [deflate.compress(chunk) for _ in range(expanded_bytes // len(chunk))]
    parts.append(deflate.flush())
    return b"".join(parts)


def test_zlib_bombs_on_a_data_topic_cost_the_hub_at_most_its_payload_limit(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    """A 10 MB payload (expanding to about 2 GB) and a 1 GB-expanding bomb of about 5 MB used to grow
    the hub from 44 MB to 2.1 GB before it gave up. Now, on a broker without a packet cap (the test's),
    the 10 MB one never reaches the hub (it told the broker its Maximum Packet Size at connect), and
    decompression of the other stops at the wire's limit while it inflates (`too_large`): the real hub
    process's peak RSS stays under 200 MB, and the good batch after them is stored and acked."""
    big = _bomb(2400 << 20, 1)
    gigabyte = _bomb(1 << 30, 1)
    assert len(big) >= 10_000_000 and len(gigabyte) < 8 << 20  # one refused by size, one while inflating
    hub = HubProc(tmp_path, mosquitto.port)
    hub.start()
    topic = envelope(0, []).topics
    pub = Publisher(mosquitto.port)
    try:
        acks = AckWatch(pub, topic.ack)
        assert hub.proc is not None
        before = rss_kib(hub.proc.pid)
        pub.publish(topic.data, big)
        pub.publish(topic.data, gigabyte)
        pub.send(envelope(1, [visit(1)]))
        assert acks.wait(1, 30), hub.log.read_text()[-2000:]
        db = tmp_path / "hub.db"
        assert wait_for(lambda: sum(_dead_letters(db).values()) == 1)
        peak = _peak_rss_kib(hub.proc.pid)
        refused = _dead_letters(db)
        stored = query(str(db), "SELECT seq FROM batches")
        _report("bombs", 3, {**refused, "over_packet_size_never_delivered": 1}, len(stored), 1 - len(stored))
        print(f"faults/bad-input-bombs: hub RSS {before // 1024} MB before, peak {peak // 1024} MB "
              f"(payloads {len(big) >> 20} MB and {len(gigabyte) >> 20} MB)")
        assert refused == {"too_large": 1}
        assert stored == [(1,)]
        assert peak < HUB_RSS_LIMIT_KIB
        kept = query(str(db), "SELECT max(length(payload)) FROM dead_letters")[0][0]
        assert kept <= 64 << 10  # a refused bomb does not fill the hub's disk either
    finally:
        pub.close()
        hub.terminate()
    assert "{'received': 2, " in hub.log.read_text()  # the 10 MB packet never reached the hub


def _peak_rss_kib(pid: int) -> int:
    """The process's peak resident memory (VmHWM), KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmHWM for {pid}")


def test_a_writer_thread_that_dies_ends_the_hub_process_with_exit_1(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    """Should the writer thread die anyway (a bug no test foresaw, injected here), `serve` must not live on
    storing nothing: it logs the death on one line and exits 1, so that systemd restarts it."""
    hub = HubProc(tmp_path, mosquitto.port)
    script = ("import sys, hub.ingest.writer as w, hub.cli\n"
              "def boom(self, conn, group):\n    raise RuntimeError('injected writer bug')\n"
              "w.Writer._write_with_retry = boom\n"
              f"sys.exit(hub.cli.main(['serve', '--config', {str(hub.config)!r}]))\n")
    log = tmp_path / "patched-hub.log"
    with log.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-c", script], stderr=err, cwd=Path(__file__).parents[2])
    try:
        assert wait_for(lambda: "hub started" in log.read_text(), 15), log.read_text()
        pub = Publisher(mosquitto.port)
        try:
            pub.send(envelope(1, [visit(1)]))
        finally:
            pub.close()
        code = proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    text = log.read_text()
    print(f"\nfaults/bad-input-thread-death: exit {code}; last line: {text.strip().splitlines()[-1]}")
    assert code == 1
    assert "thread hub-writer died (RuntimeError: injected writer bug)" in text
    assert text.strip().splitlines()[-1].startswith("footfall-hub: error: thread hub-writer died")
    assert "Traceback" not in text


AGENT = Path(sys.executable).with_name("footfall-agent")
Y2106 = 4_294_000_000.0


def _agent_run(tmp_path: Path, port: int, agent: str, pcap: Path) -> subprocess.CompletedProcess[str]:
    """`footfall-agent run --pcap` as an operator would, its state folder kept per agent id."""
    config = tmp_path / f"{agent}.yaml"
    config.write_text(f"version: 1\norg: acme\nstore: brno-1\nagent: {agent}\ntimezone: Europe/Prague\n"
                      f"state_dir: {tmp_path / agent}\nmqtt: {{port: {port}, allow_plain_loopback: true, "
                      "signing_key_file: ''}\n")
    return subprocess.run([str(AGENT), "run", "--config", str(config), "--pcap", str(pcap),
                           "--drain-timeout", "30"], capture_output=True, text=True, timeout=120, check=False)


def _counts(db: Path, agent: str) -> dict[str, object]:
    """What the hub holds of one agent: the figures a report is made of."""
    def one(sql: str) -> object:
        return query(str(db), sql, (agent,))[0][0]
    return {
        "visits": one("SELECT count(*) FROM visits WHERE agent = ?"),
        "visitors": one("SELECT count(*) FROM visits WHERE agent = ? AND kind = 'visitor'"),
        "dwell_s": one("SELECT coalesce(sum(dwell_s), 0) FROM visits WHERE agent = ?"),
        "probe_requests": one("SELECT coalesce(sum(probe_requests_n), 0) FROM minutes WHERE agent = ?"),
        "minutes": one("SELECT count(*) FROM minutes WHERE agent = ?"),
        "periods": query(str(db), "SELECT period, start_at, seen_n, visitors_n, passersby_n, bounces_n, "
                         "visits_n FROM periods WHERE agent = ? ORDER BY period, start_at", (agent,)),
    }


def test_a_2106_frame_then_a_normal_day_counts_the_day_as_alone_through_mqtt_and_the_hub(
        tmp_path: Path, mosquitto: Mosquitto, brno: Path) -> None:
    """Through a real mosquitto and hub: an agent whose capture held one frame stamped 2106 used to
    ratchet its key chain to 2106 and drop every later frame, exit 0, silently. Now that run drops the
    frame (`time_future`, warned in its log), and the real day it captures next, in the same state
    folder, reaches the hub with exactly the figures of the same day run by a fresh agent."""
    from agent.sources.pcap_file import PcapFileSource  # noqa: PLC0415 -- this test only

    day = brno / "2023-02-23.pcap"
    source = PcapFileSource(day)
    first = next(iter(source.batches(threading.Event())))[0]
    bad = tmp_path / "2106.pcap"
    bad.write_bytes(pcap_bytes([(Y2106, first[1])], source.linktype))
    hub = HubProc(tmp_path, mosquitto.port)
    hub.start()
    try:
        alone = _agent_run(tmp_path, mosquitto.port, "gw-alone", day)
        assert alone.returncode == 0, alone.stderr[-2000:]
        future = _agent_run(tmp_path, mosquitto.port, "gw-after", bad)
        assert future.returncode == 0, future.stderr[-2000:]
        assert "frames dropped for their time so far: {'time_future': 1}" in future.stderr
        after = _agent_run(tmp_path, mosquitto.port, "gw-after", day)
        assert after.returncode == 0, after.stderr[-2000:]
        assert "dropped for their time" not in after.stderr
    finally:
        hub.terminate()
    db = tmp_path / "hub.db"
    got, want = _counts(db, "gw-after"), _counts(db, "gw-alone")
    print(f"\nfaults/bad-input-time: sent 1 frame in 2106 + {want['probe_requests']} probe requests, refused "
          f"{{'time_future': 1}}, stored after {got['probe_requests']} probe requests, {got['visits']} "
          "visits, "
          f"{len(got['periods'])} periods (alone: {want['probe_requests']}, {want['visits']}, "
          f"{len(want['periods'])}), lost {int(want['probe_requests']) - int(got['probe_requests'])}")
    assert got == want
    assert int(want["probe_requests"]) > 1000  # the real day reached the hub (minute counts of 1694 frames)


def test_an_agent_thread_that_dies_ends_run_with_exit_1(tmp_path: Path, mosquitto: Mosquitto,
                                                        brno: Path) -> None:
    """The agent's MQTT delivery thread dying (a bug, injected here) used to leave `run` capturing into an
    outbox nobody sends: now the death is one log line and `run` stops everything and exits 1."""
    config = tmp_path / "agent.yaml"
    config.write_text(f"version: 1\norg: acme\nstore: brno-1\nagent: gw-1\nstate_dir: {tmp_path / 'state'}\n"
                      f"source: {{path: {brno / '2023-02-23.pcap'}}}\n"
                      f"mqtt: {{port: {mosquitto.port}, allow_plain_loopback: true, signing_key_file: ''}}\n")
    script = ("import sys, agent.sinks.mqtt as m, agent.cli\n"
              "def boom(self):\n    raise RuntimeError('injected sink bug')\n"
              "m.MqttSink._run = boom\n"
              f"sys.exit(agent.cli.main(['run', '--config', {str(config)!r}, '--drain-timeout', '60']))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=90,
                          cwd=Path(__file__).parents[2], check=False)
    last = done.stderr.strip().splitlines()[-1]
    print(f"\nfaults/bad-input-agent-thread-death: exit {done.returncode}; last line: {last}")
    assert done.returncode == 1, done.stderr[-2000:]
    assert "thread mqtt-sink-pump died (RuntimeError: injected sink bug)" in done.stderr
    assert last.startswith("footfall-agent: error: thread mqtt-sink-pump died")
    assert "Traceback" not in done.stderr
