"""`footfall-hub report` over stores, groups and periods; `stores`; `import-crm` and `import-staff`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.cli import main
from hub.config import DatabaseConfig
from tests.hub.chain import build
from tests.hub.scenario import database_yaml
from tests.support.engines import ENGINES, engine_database

HUB_YAML = """\
version: 1
database: {db}
stores:
  brno-1: {{timezone: Europe/Prague, settings: {{linkability_window_d: 7}}}}
  leeds-1: {{timezone: Europe/London, calibration_factor: 1.25}}
  praha-2: {{timezone: Europe/Prague}}
groups:
  czechia: [brno-1, praha-2]
"""


@pytest.fixture(scope="module", params=ENGINES)
def cfg(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The chain on each engine; its hub.yaml names the database by path or URL."""
    tmp = tmp_path_factory.mktemp("cli-chain")
    with engine_database(request, tmp) as database:
        build(tmp, database=database)
        path = tmp / "hub.yaml"
        path.write_text(HUB_YAML.format(db=database_yaml(database)))
        yield path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_group_by_week_as_json(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A group and a range by week: both stores' weeks, with settings, definitions and the window."""
    code, out, _ = run(
        capsys,
        "report",
        "--group",
        "czechia",
        "--from",
        "2026-11-02",
        "--to",
        "2026-11-15",
        "--grain",
        "week",
        "--format",
        "json",
        "--config",
        str(cfg),
    )
    doc = json.loads(out)
    assert code == 0
    assert (doc["report"], doc["stores"], doc["grain"]) == ("metrics", ["brno-1", "praha-2"], "week")
    assert [(r["store"], r["start"]) for r in doc["rows"]] == [
        ("brno-1", "2026-11-02T00:00:00+01:00"),
        ("brno-1", "2026-11-09T00:00:00+01:00"),
        ("praha-2", "2026-11-02T00:00:00+01:00"),
        ("praha-2", "2026-11-09T00:00:00+01:00"),
    ]
    assert doc["settings"]["brno-1"]["linkability_window_d"] == 7
    assert doc["linkability_window"].startswith("1, 7 day(s)") and "loyalty" in doc["definitions"]


def test_repeated_store_by_day_as_csv_and_table(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--store twice, --from/--to by day: one CSV row per store-day after '#' definition lines; the
    table names the linkability window."""
    args = [
        "report",
        "--store",
        "brno-1",
        "--store",
        "leeds-1",
        "--from",
        "2026-11-09",
        "--to",
        "2026-11-10",
        "--config",
        str(cfg),
    ]
    code, out, _ = run(capsys, *args, "--format", "csv")
    lines = [line for line in out.splitlines() if not line.startswith("#")]
    assert code == 0 and len(lines) == 1 + 4
    assert lines[0].startswith("store,grain,start,end,days_n,traffic_in,traffic_source,visitors")
    assert "# setting leeds-1 calibration_factor: 1.25" in out
    code, out, _ = run(capsys, *args)
    assert code == 0 and "Linkability window: 1, 7 day(s)" in out


def test_date_alone_keeps_the_daily_report(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One store and --date: the daily report by hour, as before."""
    code, out, _ = run(
        capsys,
        "report",
        "--store",
        "brno-1",
        "--date",
        "2026-11-10",
        "--format",
        "json",
        "--config",
        str(cfg),
    )
    assert code == 0 and json.loads(out)["report"] == "daily"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--date", "2026-11-10"], "say which stores: --store S (repeatable) or --group NAME"),
        (
            ["--group", "moravia", "--date", "2026-11-10"],
            "no store group 'moravia' in the config (groups: czechia; see hub.yaml groups)",
        ),
        (["--store", "brno-1"], "say when: --date D, or --from D [--to D]"),
        (
            ["--store", "brno-1", "--from", "2026-11-10", "--to", "2026-11-01"],
            "--to 2026-11-01 is before --from 2026-11-10",
        ),
        (
            ["--store", "brno-1", "--date", "2026-11-10", "--from", "2026-11-10"],
            "give --date, or --from and --to, not both",
        ),
    ],
)
def test_report_options_errors(
    cfg: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """A request that does not say what or when is one line with the remedy, exit 1."""
    assert run(capsys, "report", *argv, "--config", str(cfg)) == (1, "", f"footfall-hub: error: {message}\n")


def test_stores_lists_config_and_data(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`stores` shows each store with its time zone, last data, agents and groups."""
    code, out, _ = run(capsys, "stores", "--format", "json", "--config", str(cfg))
    doc = {s["store"]: s for s in json.loads(out)}
    assert code == 0 and sorted(doc) == ["brno-1", "leeds-1", "praha-2"]
    assert (doc["brno-1"]["agents"], doc["brno-1"]["groups"]) == (["brno-1-gw"], ["czechia"])
    assert doc["leeds-1"]["timezone"] == "Europe/London" and doc["leeds-1"]["last_data_at"]


def test_import_crm_and_staff_from_the_cli(
    tmp_path: Path, hub_database: DatabaseConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    """import-crm and import-staff print one summary line; a bad row is one error line naming file,
    line and column, with the remedy."""
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(HUB_YAML.format(db=database_yaml(hub_database)))
    crm = tmp_path / "crm.csv"
    crm.write_text("member_id,consent,device_mac\nM1,yes,00:1b:63:00:00:01\n")
    assert run(capsys, "import-crm", str(crm), "--config", str(cfg)) == (
        0,
        "crm.csv: 1 row imported (1 with a consented device)\n",
        "",
    )
    staff = tmp_path / "staff.csv"
    staff.write_text("store,date,hour,labour_hours\nbrno-1,2026-11-10,25,2\n")
    assert run(capsys, "import-staff", str(staff), "--config", str(cfg)) == (
        1,
        "",
        "footfall-hub: error: staff.csv:2: hour: '25' is not an hour from 0 to 23 (nothing was imported;"
        " fix the file and run import-staff again)\n",
    )
