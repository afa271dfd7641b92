"""Every command of both CLIs, given what a careless or hostile operator gives it: one line, exit 1.

Each row runs the real console script (a process, as an operator would) with a bad argument, a bad
file (Ethernet or NULL link types, corrupt pcapng timestamps, a date of 9999, binary or non-UTF-8
YAML) or a missing path, and asserts: exit 1, exactly one line on stderr, starting with the program's
`error:` and naming the place, and never a traceback. (Usage errors, a missing required option, are
argparse's: exit 2 with the usage, CONVENTIONS rule 6; they are not in this table.) The rows run in
parallel, a few at a time, so the table costs seconds.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.frames import pcap_bytes, pcapng_bytes, probe_request

BIN = Path(sys.executable).parent
T = 1_790_000_000.0  # 2026-09-21


@dataclass(frozen=True)
class Row:
    """One command line and the words its one error line must hold ({d} is the row's folder)."""

    name: str
    argv: tuple[str, ...]
    says: str


def _files(d: Path) -> None:
    """The bad (and a few good) files the rows point at."""
    (d / "binary.yaml").write_bytes(bytes(range(256)) * 4)
    (d / "latin1.yaml").write_bytes("version: 1\norg: demo\nstore: caf\xe9\n".encode("latin-1"))
    (d / "a-file").write_text("not a folder\n")
    (d / "notes.txt").write_text("hello\n")
    (d / "empty-state").mkdir()
    (d / "good.pcap").write_bytes(pcap_bytes([(T + i, probe_request()) for i in range(5)]))
    (d / "ethernet.pcap").write_bytes(pcap_bytes([(T, b"\xff" * 14 + b"\x08\x00" + b"E" * 20)], 1))
    (d / "null.pcap").write_bytes(pcap_bytes([(T, b"\x02\0\0\0" + b"E" * 20)], 0))
    # if_tsresol of 1 s with a timestamp of 2^63: far beyond any clock
    (d / "corrupt-ts.pcapng").write_bytes(pcapng_bytes([(2.0**63 - 1 - i, probe_request()) for i in range(5)],
                                                       tsresol=0))
    (d / "y9999.pcapng").write_bytes(pcapng_bytes([(253402300000.0 + i, probe_request()) for i in range(5)]))
    (d / "state-is-a-file.yaml").write_text(
        f"version: 1\nstate_dir: {d / 'a-file'}\nsource: {{path: {d / 'good.pcap'}}}\n"
        "mqtt: {allow_plain_loopback: true, signing_key_file: ''}\n")
    (d / "no-signing-key.yaml").write_text(
        f"version: 1\nstate_dir: {d / 'empty-state'}\nsource: {{path: {d / 'good.pcap'}}}\n"
        "mqtt: {allow_plain_loopback: true}\n")
    (d / "not-a-capture.yaml").write_text(
        f"version: 1\nstate_dir: {d / 'empty-state'}\nsource: {{path: {d / 'notes.txt'}}}\n"
        "mqtt: {allow_plain_loopback: true, signing_key_file: ''}\n")
    (d / "hub-db-is-text.yaml").write_text(
        f"version: 1\ndatabase: {{path: {d / 'notes.txt'}}}\nmqtt: {{allow_plain_loopback: true}}\n"
        "trust: {require_signatures: false}\n")
    (d / "hub-no-pki.yaml").write_text(
        f"version: 1\ndatabase: {{path: {d / 'hub.db'}}}\nmqtt: {{allow_plain_loopback: true}}\n")
    (d / "hub-no-db.yaml").write_text(
        f"version: 1\ndatabase: {{path: {d / 'never.db'}}}\nmqtt: {{allow_plain_loopback: true}}\n"
        "trust: {require_signatures: false}\n")
    (d / "huge.yaml").write_text("version: 1\noutbox: {cap_bytes: 1000000000000000000000000000}\n")
    (d / "nan.yaml").write_text("version: 1\nmqtt: {keepalive_s: 30}\ndefault_timezone: UTC\n"
                                "ingest: {max_wait_ms: 100000000000000000000}\n")
    (d / "hub-ok.yaml").write_text(
        f"version: 1\ndatabase: {{path: {d / 'hub.db'}}}\nmqtt: {{allow_plain_loopback: true}}\n"
        "trust: {require_signatures: false}\n")


A, H = "footfall-agent", "footfall-hub"
ROWS = [
    # the agent
    Row("agent check-config binary", (A, "check-config", "--config", "{d}/binary.yaml"),
        "binary.yaml:2: byte 0x80 is not UTF-8"),
    Row("agent check-config latin-1", (A, "check-config", "--config", "{d}/latin1.yaml"),
        "latin1.yaml:3: byte 0xe9 is not UTF-8"),
    Row("agent check-config missing", (A, "check-config", "--config", "{d}/nowhere.yaml"), "nowhere.yaml"),
    Row("agent check-config a folder", (A, "check-config", "--config", "{d}/empty-state"), "empty-state"),
    Row("agent check-config state_dir a file", (A, "check-config", "--config", "{d}/state-is-a-file.yaml"),
        "a-file is a file, not a folder"),
    Row("agent check-config no signing key", (A, "check-config", "--config", "{d}/no-signing-key.yaml"),
        "gateway-sign.key is missing"),
    Row("agent check-config not a capture", (A, "check-config", "--config", "{d}/not-a-capture.yaml"),
        "notes.txt: not a pcap or pcapng file"),
    Row("agent check-config 10^27", (A, "check-config", "--config", "{d}/huge.yaml"),
        "huge.yaml:2: outbox.cap_bytes: '1000000000000000000000000000' is not a finite number up to 2^53"),
    Row("agent run binary config", (A, "run", "--config", "{d}/binary.yaml"),
        "binary.yaml:2: byte 0x80 is not UTF-8"),
    Row("agent run state_dir a file", (A, "run", "--config", "{d}/state-is-a-file.yaml"),
        "a-file is a file, not a folder"),
    Row("agent run no signing key", (A, "run", "--config", "{d}/no-signing-key.yaml"),
        "gateway-sign.key is missing"),
    Row("agent run missing pcap", (A, "run", "--config", "{d}/no-signing-key.yaml", "--pcap",
        "{d}/gone.pcap"),
        "gone.pcap"),
    Row("agent run ethernet pcap", (A, "run", "--config", "{d}/state-is-a-file.yaml", "--pcap",
                                    "{d}/ethernet.pcap"), "link type 1 (Ethernet)"),
    Row("agent replay missing", (A, "replay", "{d}/gone.pcap"), "gone.pcap: cannot open"),
    Row("agent replay a folder", (A, "replay", "{d}/empty-state"), "empty-state: cannot open"),
    Row("agent replay text", (A, "replay", "{d}/notes.txt"), "notes.txt: not a pcap or pcapng file"),
    Row("agent replay ethernet", (A, "replay", "{d}/ethernet.pcap"), "link type 1 (Ethernet)"),
    Row("agent replay null", (A, "replay", "{d}/null.pcap"), "link type 0 (NULL/loopback)"),
    Row("agent replay corrupt pcapng timestamps", (A, "replay", "{d}/corrupt-ts.pcapng", "--summary"),
        "5 of 5 frames dropped for their time (time_future 5)"),
    Row("agent replay year 9999", (A, "replay", "{d}/y9999.pcapng"), "5 of 5 frames dropped"),
    Row("agent replay binary config", (A, "replay", "{d}/good.pcap", "--config", "{d}/binary.yaml"),
        "binary.yaml:2: byte 0x80 is not UTF-8"),
    Row("agent replay state a file", (A, "replay", "{d}/good.pcap", "--state", "{d}/a-file"), "a-file"),
    Row("agent calibrate missing truth", (A, "calibrate", "--pair", "{d}/good.pcap", "{d}/gone.csv"),
        "gone.csv"),
    Row("agent calibrate binary truth", (A, "calibrate", "--pair", "{d}/good.pcap", "{d}/binary.yaml"),
        "binary.yaml"),
    Row("agent calibrate ethernet", (A, "calibrate", "--pair", "{d}/ethernet.pcap", "{d}/notes.txt"),
        "notes.txt"),
    Row("agent doctor binary config", (A, "doctor", "--config", "{d}/binary.yaml"),
        "binary.yaml:2: byte 0x80 is not UTF-8"),
    Row("agent enroll into a file", (A, "enroll", "--dir", "{d}/a-file", "--org", "o", "--store", "s",
                                     "--agent", "a"), "a-file: a file is in the way"),
    Row("agent enroll bad ids", (A, "enroll", "--dir", "{d}/enrol", "--org", "Bad Org", "--store", "s",
                                 "--agent", "a"), "org"),
    Row("agent enroll missing bundle", (A, "enroll", "--dir", "{d}/empty-state", "--install",
        "{d}/gone.bundle"),
        "gone.bundle"),
    Row("agent enroll binary bundle", (A, "enroll", "--dir", "{d}/empty-state", "--install",
        "{d}/binary.yaml"),
        "binary.yaml"),
    Row("agent simulate date 9999", (A, "simulate", "--out", "{d}/sim", "--date", "9999-99-99"),
        "9999-99-99"),
    Row("agent simulate scale 0", (A, "simulate", "--out", "{d}/sim0", "--scale", "0"),
        "scale 0.0 must be in (0, 20] (nothing was written)"),
    Row("agent simulate time zone", (A, "simulate", "--out", "{d}/sim1", "--timezone", "Mars/Base"),
        "--timezone 'Mars/Base' is not an IANA time zone"),
    Row("agent simulate into a file", (A, "simulate", "--out", "{d}/a-file"), "a-file: a file is in the way"),
    # the hub
    Row("hub check-config binary", (H, "check-config", "--config", "{d}/binary.yaml"),
        "binary.yaml:2: byte 0x80 is not UTF-8"),
    Row("hub check-config latin-1", (H, "check-config", "--config", "{d}/latin1.yaml"), "latin1.yaml:3:"),
    Row("hub check-config 10^20", (H, "check-config", "--config", "{d}/nan.yaml"),
        "nan.yaml:4: ingest.max_wait_ms: '100000000000000000000' is not a finite number up to 2^53"),
    Row("hub check-config missing", (H, "check-config", "--config", "{d}/nowhere.yaml"), "nowhere.yaml"),
    Row("hub check-config db not sqlite", (H, "check-config", "--config", "{d}/hub-db-is-text.yaml"),
        "notes.txt is not an SQLite database"),
    Row("hub check-config no pki", (H, "check-config", "--config", "{d}/hub-no-pki.yaml"), "trust.pki_dir"),
    Row("hub serve binary config", (H, "serve", "--config", "{d}/binary.yaml"),
        "binary.yaml:2: byte 0x80 is not UTF-8"),
    Row("hub serve db not sqlite", (H, "serve", "--config", "{d}/hub-db-is-text.yaml"),
        "notes.txt is not an SQLite database"),
    Row("hub import-pos missing", (H, "import-pos", "{d}/gone.csv", "--config", "{d}/hub-ok.yaml"),
        "gone.csv"),
    Row("hub import-pos binary", (H, "import-pos", "{d}/binary.yaml", "--config", "{d}/hub-ok.yaml"),
        "binary.yaml"),
    Row("hub import-crm missing", (H, "import-crm", "{d}/gone.csv", "--config", "{d}/hub-ok.yaml"),
        "gone.csv"),
    Row("hub import-crm binary", (H, "import-crm", "{d}/binary.yaml", "--config", "{d}/hub-ok.yaml"),
        "binary.yaml"),
    Row("hub import-staff binary", (H, "import-staff", "{d}/binary.yaml", "--config", "{d}/hub-ok.yaml"),
        "binary.yaml"),
    Row("hub import-pos db not sqlite", (H, "import-pos", "{d}/notes.txt", "--config",
        "{d}/hub-db-is-text.yaml"),
        "notes.txt"),
    Row("hub report no database", (H, "report", "--store", "s", "--date", "2026-11-26", "--config",
                                   "{d}/hub-no-db.yaml"), "never.db does not exist"),
    Row("hub report db not sqlite", (H, "report", "--store", "s", "--date", "2026-11-26", "--config",
                                     "{d}/hub-db-is-text.yaml"), "notes.txt"),
    Row("hub stores db not sqlite", (H, "stores", "--config", "{d}/hub-db-is-text.yaml"), "notes.txt"),
    Row("hub agents db not sqlite", (H, "agents", "--config", "{d}/hub-db-is-text.yaml"), "notes.txt"),
    Row("hub optout bad mac", (H, "optout", "add", "--mac", "zz:zz", "--config", "{d}/hub-ok.yaml"),
        "nothing was stored"),
    Row("hub report year 9999", (H, "report", "--store", "s", "--date", "9999-12-31", "--config",
                                 "{d}/hub-ok.yaml"), "--date 9999-12-31 is outside the years 2000 to 2999"),
    Row("hub demo scale", (H, "demo", "--scale", "99"), "--scale 99.0 must be in (0, 20]"),
    Row("hub demo into a file", (H, "demo", "--out", "{d}/a-file"), "a-file: a file is in the way"),
    Row("hub pki init into a file", (H, "pki", "init", "--dir", "{d}/a-file", "--org", "acme"),
        "a-file: File exists"),
    Row("hub pki issue missing csr", (H, "pki", "issue", "--dir", "{d}/pki", "{d}/gone.csr"), "pki"),
    Row("hub pki list missing", (H, "pki", "list", "--dir", "{d}/gone-pki"), "gone-pki"),
    Row("hub broker-config missing pki", (H, "broker-config", "--pki", "{d}/gone-pki", "--out", "{d}/broker"),
        "gone-pki"),
]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, str]]:
    """Every row run once, four at a time: name -> (exit code, stderr, the folder)."""
    d = tmp_path_factory.mktemp("bad-input")
    _files(d)

    def run(row: Row) -> tuple[str, tuple[int, str, str]]:
        argv = [str(BIN / row.argv[0]), *(a.replace("{d}", str(d)) for a in row.argv[1:])]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=d, check=False)
        return row.name, (done.returncode, done.stderr, str(d))

    with ThreadPoolExecutor(4) as pool:
        got = dict(pool.map(run, ROWS))
    one_line = sum(1 for code, err, _ in got.values() if code == 1 and len(err.splitlines()) == 1)
    tracebacks = sum(1 for _, err, _ in got.values() if "Traceback" in err)
    print(f"\nfaults/bad-input-cli: sent {len(ROWS)} command lines, refused with one line and exit 1: "
          f"{one_line}, tracebacks {tracebacks}, lost 0")
    return got


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_bad_input_is_one_line_exit_1_and_no_traceback(row: Row, results: dict[str, tuple[int, str,
str]]) -> None:
    """What an operator gets for a bad argument, file or path: one line on stderr that names the place
    (and the fix), exit code 1, never a Python traceback."""
    code, err, d = results[row.name]
    lines = err.splitlines()
    assert "Traceback" not in err, err
    assert code == 1, err
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{row.argv[0]}: error: "), err
    assert row.says.replace("{d}", d) in lines[0], err
