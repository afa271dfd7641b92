"""footfall-hub: the commands, their output, and their one-line errors, word for word."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub.cli import main
from hub.config import DatabaseConfig
from hub.store.sql import connect_postgres
from tests.hub.envelopes import Publisher, envelope, visit
from tests.hub.scenario import POS, database_yaml, footfall, write
from tests.hub.support import scalar, wait_for
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.postgres import LocalPostgres

REPO = Path(__file__).resolve().parents[2]


def hub_yaml(tmp_path: Path, port: int | None = None, extra: str = "",
             database: DatabaseConfig | None = None) -> Path:
    """A hub.yaml in tmp_path; its database `hub.db` beside it, or `database` (either engine)."""
    path = tmp_path / "hub.yaml"
    path.write_text(f"""\
version: 1
mqtt: {{port: {port or free_port()}, client_id: cli-hub, allow_plain_loopback: true}}
trust: {{require_signatures: false}}
database: {database_yaml(database) if database else "{path: hub.db}"}
stores:
  brno-1: {{timezone: Europe/Prague, calibration_factor: 1.5}}
{extra}""")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_config_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """check-config exits 0 and says what it found, without connecting to anything."""
    cfg = hub_yaml(tmp_path)
    assert run(capsys, "check-config", "--config", str(cfg)) == (
        0,
        f"{cfg}: ok (1 store configured, database {tmp_path / 'hub.db'})\n",
        "",
    )


def test_check_config_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad config exits 1 with file:line, key and problem on one line."""
    cfg = tmp_path / "hub.yaml"
    cfg.write_text("version: 1\nmqtt:\n  port: abc\n")
    assert run(capsys, "check-config", "--config", str(cfg)) == (
        1,
        "",
        "footfall-hub: error: hub.yaml:3: mqtt.port: 'abc' is not an integer\n",
    )


def test_check_config_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a config file there is nothing to check: say so and how to name one."""
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "check-config") == (
        1,
        "",
        "footfall-hub: error: hub.yaml: no such file (give the hub's config with --config)\n",
    )


def test_report_without_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Asking for a report before the hub ever ran points at `serve`."""
    cfg = hub_yaml(tmp_path)
    assert run(capsys, "report", "--store", "brno-1", "--date", "2026-11-26", "--config", str(cfg)) == (
        1,
        "",
        f"footfall-hub: error: database {tmp_path / 'hub.db'} does not exist "
        "(is the hub ingesting? see footfall-hub serve)\n",
    )


def test_report_without_data(
    tmp_path: Path, hub_database: DatabaseConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store or day with nothing stored is an error with a remedy, not a table of zeros."""
    cfg = hub_yaml(tmp_path, database=hub_database)
    from hub.config import load_hub_config  # noqa: PLC0415

    write(load_hub_config(cfg), footfall())
    assert run(capsys, "report", "--store", "x", "--date", "2026-11-26", "--config", str(cfg)) == (
        1,
        "",
        "footfall-hub: error: no data for store 'x' on 2026-11-26 "
        "(is the hub ingesting? see footfall-hub serve)\n",
    )


def test_import_then_report_as_json(
    tmp_path: Path, hub_database: DatabaseConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    """import-pos then report: the day's sales show up in the report, on either engine."""
    cfg = hub_yaml(tmp_path, database=hub_database)
    from hub.config import load_hub_config  # noqa: PLC0415

    write(load_hub_config(cfg), footfall())
    pos = tmp_path / "pos.csv"
    pos.write_text(POS)
    code, out, err = run(capsys, "import-pos", str(pos), "--config", str(cfg))
    assert (code, out.splitlines()[0], err) == (0, "pos.csv: 7 rows imported", "")
    assert "  net sales <- 'net_amount'" in out.splitlines()  # and which column fed each field
    assert run(capsys, "import-pos", str(pos), "--config", str(cfg))[1].startswith(
        "pos.csv: nothing imported: this file was already imported at "
    )
    code, out, err = run(
        capsys,
        "report",
        "--store",
        "brno-1",
        "--date",
        "2026-11-26",
        "--format",
        "json",
        "--config",
        str(cfg),
    )
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert (doc["day"]["transactions"], doc["day"]["net_sales_cents"], doc["day"]["visitors"]) == (
        4,
        5050,
        6,
    )


def test_reports_on_a_postgresql_database_behind_say_to_migrate(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """report, stores and agents open a postgresql:// URL like serve does: a database without the hub's
    schema is one line saying to migrate, exit 1, the password masked."""
    cfg = hub_yaml(tmp_path, database=DatabaseConfig(url=pg_url.replace("footfall@", "footfall:pw@")))
    for argv in (["report", "--store", "brno-1", "--date", "2026-11-26"], ["stores"], ["agents"]):
        code, out, err = run(capsys, *argv, "--config", str(cfg))
        assert (code, out) == (1, ""), argv
        assert err.startswith("footfall-hub: error: the database is at schema version 0, this hub needs ")
        assert "(run: footfall-hub migrate --config hub.yaml)" in err and "pw" not in err
        assert err.count("\n") == 1


def test_reports_on_an_unreachable_postgresql_say_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing listening at the URL: one line naming the database, exit 1, no traceback."""
    port = free_port()
    cfg = hub_yaml(tmp_path, database=DatabaseConfig(url=f"postgresql://hub:pw@127.0.0.1:{port}/ff"))
    code, out, err = run(capsys, "report", "--store", "brno-1", "--date", "2026-11-26", "--config", str(cfg))
    assert (code, out) == (1, "")
    assert err.startswith("footfall-hub: error: cannot reach the database: ")
    assert err.endswith(f" (database postgresql://hub:***@127.0.0.1:{port}/ff)\n") and err.count("\n") == 1


def test_a_postgresql_error_mid_report_is_one_line(
    tmp_path: Path, postgres_cluster: LocalPostgres, capsys: pytest.CaptureFixture[str]
) -> None:
    """The server refuses a query half-way (here a table dropped by hand): one line naming the database
    and the server's words, exit 1, no traceback."""
    url = postgres_cluster.create_database(migrated=True)
    try:
        with connect_postgres(url) as db:
            db.execute("DROP TABLE periods")
        cfg = hub_yaml(tmp_path, database=DatabaseConfig(url=url))
        code, out, err = run(capsys, "report", "--store", "brno-1", "--date", "2026-11-26", "--config",
                             str(cfg))
        assert (code, out) == (1, "")
        assert err.startswith(f"footfall-hub: error: database {url}: relation \"periods\" does not exist")
        assert err.count("\n") == 1
    finally:
        postgres_cluster.drop_database(url)


def test_import_bad_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad row: file, line, column, what is wrong, and that nothing was imported."""
    cfg = hub_yaml(tmp_path)
    pos = tmp_path / "pos.csv"
    pos.write_text("store,timestamp,transaction_id,net_amount\nbrno-1,2026-11-26T10:00:00Z,T1,abc\n")
    assert run(capsys, "import-pos", str(pos), "--config", str(cfg)) == (
        1,
        "",
        "footfall-hub: error: pos.csv:2: net_amount: 'abc' is not a decimal amount "
        "(nothing was imported; fix the file and run import-pos again)\n",
    )


def test_import_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A mistyped file name is named back."""
    cfg = hub_yaml(tmp_path)
    assert run(capsys, "import-pos", "nope.csv", "--config", str(cfg)) == (
        1,
        "",
        "footfall-hub: error: nope.csv: no such file (give the path of a POS export in CSV)\n",
    )


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed command line is a usage error (exit 2) naming the argument."""
    with pytest.raises(SystemExit) as exc:
        main(["report", "--store", "brno-1", "--date", "26.11.2026"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.endswith(
        "footfall-hub report: error: argument --date: '26.11.2026' is not a date (use YYYY-MM-DD)\n"
    )


def test_serve_without_broker(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """serve with no broker listening says where it looked and what to check."""
    port = free_port()
    cfg = hub_yaml(tmp_path, port)
    assert run(capsys, "serve", "--config", str(cfg)) == (
        1,
        "",
        f"footfall-hub: error: cannot connect to the MQTT broker at 127.0.0.1:{port}: Connection refused "
        "(is mosquitto running? check mqtt.host and mqtt.port in the config)\n",
    )


class Serve:
    """`footfall-hub serve` as a real process, its log in a file."""

    def __init__(self, config: Path, log: Path) -> None:
        self.log = log
        with log.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hub.cli", "serve", "--config", str(config)],
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=err,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        n = log.read_text().count("hub started")
        assert wait_for(lambda: log.read_text().count("hub started") > n or self.proc.poll() is not None, 30)
        assert self.proc.poll() is None, log.read_text()[-2000:]

    def end(self, sig: int) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(30)


@pytest.mark.slow
def test_serve_killed_mid_stream_loses_and_doubles_nothing(tmp_path: Path, mosquitto: Mosquitto) -> None:
    """kill -9 of the hub while batches stream in: after a restart every batch is stored exactly once,
    and SIGTERM then stops it cleanly (exit 0)."""
    cfg = hub_yaml(tmp_path, mosquitto.port)
    db = str(tmp_path / "hub.db")
    log = tmp_path / "serve.log"
    hub = Serve(cfg, log)
    pub = Publisher(mosquitto.port)
    try:
        infos = [
            pub.client.publish(env.topics.data, env_payload, qos=1) for env, env_payload in _stream(200, 20)
        ]
        assert wait_for(lambda: _count(db, "batches") >= 20, 30)
        assert hub.end(signal.SIGKILL) == -signal.SIGKILL
        for info in infos:
            info.wait_for_publish(10)
        stored_before = _count(db, "batches")
        assert stored_before < 200, "the kill came too late to test anything"
        hub = Serve(cfg, log)
        assert wait_for(lambda: _count(db, "batches") == 200, 60), _count(db, "batches")
        time.sleep(0.5)  # anything redelivered late would show up now
        assert hub.end(signal.SIGTERM) == 0
    finally:
        if hub.proc.poll() is None:
            hub.end(signal.SIGKILL)
        pub.close()
    assert scalar(db, "SELECT count(*) FROM visits") == 200 * 20
    assert scalar(db, "SELECT count(DISTINCT seq || '/' || idx) FROM visits") == 200 * 20
    assert "hub stopped" in log.read_text()


def _count(db: str, table: str) -> int:
    if not Path(db).exists():
        return 0
    try:
        return int(scalar(db, f"SELECT count(*) FROM {table}"))
    except Exception:  # the hub is still creating its schema
        return 0


def _stream(batches: int, records: int) -> list[tuple[object, bytes]]:
    from agent.wire import encode_envelope  # noqa: PLC0415

    out = []
    for seq in range(batches):
        env = envelope(seq, [visit(seq * records + i) for i in range(records)])
        out.append((env, encode_envelope(env)))
    return out
