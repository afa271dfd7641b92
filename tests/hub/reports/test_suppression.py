"""Manager reports that leave the store: csv and json exports apply the feed's small-cell rule.

A generated three-store chain (tests/hub/chain.py) has small hours (the first and last of a day,
quiet stores). The attacker of these tests holds an export and the totals another report gives (each
day of each store, each hour of the chain's stores) and solves for each withheld `below_k` count, by
dynamic programming over every value each withheld cell can take (independent of hub.suppress).
"""

from __future__ import annotations

import io
import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import redirect_stdout
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.cli import main
from hub.config import HubConfig, load_hub_config
from hub.suppress import BELOW_K, primary
from tests.hub.chain import FIRST, STORES, build
from tests.hub.scenario import database_yaml
from tests.support.engines import ENGINES, engine_database

K = 5
DAYS = (FIRST + timedelta(days=3), FIRST + timedelta(days=4))
COUNTS = ("visitors", "passersby", "visitor_visits_n", "bounces_n", "engaged_5_20_min_n",
          "new_visitors_n", "returning_visitors_n", "member_visits_n")
HUB_YAML = """\
version: 1
database: {db}
publish: {{k: {k}}}
stores:
  brno-1: {{timezone: Europe/Prague, settings: {{linkability_window_d: 7}}}}
  leeds-1: {{timezone: Europe/London, calibration_factor: 1.25}}
  praha-2: {{timezone: Europe/Prague}}
"""


@pytest.fixture(scope="module", params=ENGINES)
def chain(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[Path, HubConfig]]:
    """The chain on each engine, and a hub.yaml naming its database."""
    tmp = tmp_path_factory.mktemp("suppression")
    with engine_database(request, tmp) as database:
        build(tmp, database=database)
        path = tmp / "hub.yaml"
        path.write_text(HUB_YAML.format(db=database_yaml(database), k=K))
        yield path, load_hub_config(str(path))


def cli(config: Path, *argv: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["report", "--config", str(config), *argv]) == 0
    return out.getvalue()


def _hours(config: Path, *extra: str) -> list[dict[str, Any]]:
    args = [a for s in STORES for a in ("--store", s)]
    doc = json.loads(cli(config, *args, "--from", str(DAYS[0]), "--to", str(DAYS[1]), "--grain", "hour",
                         "--format", "json", *extra))
    rows: list[dict[str, Any]] = doc["rows"]
    return rows


def possible(cells: Sequence[tuple[int | None, str | None]], total: int, k: int) -> dict[int, set[int]]:
    """Every value each withheld below_k cell can take, given the published ones, the reasons
    (below_k: 1 to k-1; any other: 0 or more) and that the cells add up to `total`."""
    hidden = [i for i, (_, r) in enumerate(cells) if r]
    target = total - sum(v or 0 for v, r in cells if not r)
    options = {i: range(1, k) if cells[i][1] == BELOW_K else range(max(target, 0) + 1) for i in hidden}

    def sums(of: list[int]) -> set[int]:
        reach = {0}
        for i in of:
            reach = {s + v for s in reach for v in options[i] if s + v <= target}
        return reach

    return {i: {v for v in options[i] if target - v in sums([j for j in hidden if j != i])}
            for i in hidden if cells[i][1] == BELOW_K}


def pinned(cells: Sequence[tuple[int | None, str | None]], total: int, k: int) -> list[int]:
    """Indexes of withheld below_k cells with one possible value (see `possible`)."""
    return [i for i, values in possible(cells, total, k).items() if len(values) < 2]


def _tables(exported: list[dict[str, Any]], truth: list[dict[str, Any]]) -> list[tuple[list[int], str]]:
    """(row indexes, field): the hours of each store-day and the stores of each hour (local, and the same
    instant across time zones), per count."""
    groups: dict[tuple[str, object], list[int]] = defaultdict(list)
    for i, r in enumerate(truth):
        groups["day", r["store"] + r["start"][:10]].append(i)
        groups["local hour", r["start"][:16]].append(i)
        groups["instant", datetime.fromisoformat(r["start"]).timestamp()].append(i)
    return [(rows, f) for rows in groups.values() for f in COUNTS
            if all(truth[i][f] is not None for i in rows)]


def _attack(exported: list[dict[str, Any]], truth: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """Every withheld below_k count recovered from one table and its total (which the attacker knows,
    or knows to be below k when another report withheld it)."""
    found = []
    for rows, f in _tables(exported, truth):
        reasons = [{w["field"]: w["reason"] for w in exported[i]["withheld"]} for i in rows]
        cells = [(exported[i][f], reasons[n].get(f)) for n, i in enumerate(rows)]
        total = sum(truth[i][f] for i in rows)
        if primary(total, K):
            continue  # withheld wherever it is printed: the attacker has no total
        found += [(truth[rows[j]]["store"], truth[rows[j]]["start"], f) for j in pinned(cells, total, K)]
    return found


def test_an_hourly_export_leaves_no_withheld_count_solvable(chain: tuple[Path, HubConfig]) -> None:
    """A data team given `report --grain hour --format json` (suppressed by default) cannot solve any
    withheld small count from the day's total or the stores' total and the published hours; withheld
    cells are null and named with their reason, and the exact export differs only there."""
    exported, truth = _hours(chain[0]), _hours(chain[0], "--no-suppress")
    withheld = [(i, w) for i, r in enumerate(exported) for w in r["withheld"]]
    assert any(w["reason"] == "below_k" for _, w in withheld)
    assert any(w["reason"] == "complementary" for _, w in withheld)
    for i, w in withheld:
        name = w["field"]
        got = exported[i][name.split(".")[0]]
        assert (got.get(name.split(".")[1]) if "." in name else got) in (None, [])
    for e, t in zip(exported, truth, strict=True):
        gone = {w["field"] for w in e["withheld"]} | {"withheld", "last_week", "avg_4_weeks"}
        assert {f: v for f, v in e.items() if f not in gone} == {f: v for f, v in t.items() if f not in gone}
    assert all(not (0 < (r[f] or 0) < K) for r in exported for f in COUNTS)
    assert _attack(exported, truth) == []


def test_the_attack_recovers_counts_when_only_small_cells_are_withheld(chain: tuple[Path, HubConfig]) -> None:
    """The control: the same attack on the export with only the counts below k withheld (no
    complementary cells) recovers some of them, so the attack above is shown to work."""
    truth = _hours(chain[0], "--no-suppress")
    naive = [{**r, "withheld": [{"field": f, "reason": BELOW_K} for f in COUNTS if primary(r[f] or 0, K)]}
             for r in truth]
    for r in naive:
        for w in r["withheld"]:
            r[w["field"]] = None
    assert _attack(naive, truth)


def test_a_daily_export_protects_its_hours_against_its_own_day(chain: tuple[Path, HubConfig]) -> None:
    """`report --date` as json: the day row is in the export, so the hours and the day are one table:
    no withheld small hour can be solved from them (counts whose hours add up to the day: visits);
    `suppression` says it is applied, with k."""
    doc = json.loads(cli(chain[0], "--store", "praha-2", "--date", str(DAYS[0]), "--format", "json"))
    assert doc["suppression"]["applied"] is True and doc["suppression"]["k"] == K
    exact = json.loads(cli(chain[0], "--store", "praha-2", "--date", str(DAYS[0]), "--format", "json",
                           "--no-suppress"))
    assert any(r["withheld"] for r in doc["hours"])
    for f in ("visitor_visits_n", "bounces_n", "engaged_5_20_min_n", "member_visits_n"):  # hours add up
        hours = [(r[f], {w["field"]: w["reason"] for w in r["withheld"]}.get(f)) for r in doc["hours"]]
        day = {w["field"]: w["reason"] for w in doc["day"]["withheld"]}.get(f)
        totals = ([doc["day"][f]] if day is None else range(1, K) if day == BELOW_K
                  else range(exact["day"][f] + 2 * K))  # what a reader can say of the day
        seen: dict[int, set[int]] = defaultdict(set)
        for t in totals:
            for i, values in possible(hours, t, K).items():
                seen[i] |= values
        assert all(len(v) >= 2 for v in seen.values()), (f, seen)


def test_the_table_is_exact_by_default_csv_is_suppressed_and_says_so(chain: tuple[Path, HubConfig]) -> None:
    """A manager at the terminal sees exact counts (no suppression line); csv leaves the store
    suppressed by default: a `# suppressed with k = 5` line, empty cells and a `withheld` column;
    `--no-suppress` gives the exact csv and says so; `--suppress` suppresses the table too."""
    args = ("--store", "praha-2", "--date", str(DAYS[0]))
    table = cli(chain[0], *args)
    assert "Suppressed" not in table
    csv_text = cli(chain[0], *args, "--format", "csv")
    assert f"# suppressed with k = {K}: counts of devices or members from 1 to {K - 1} are" in csv_text
    header = next(line for line in csv_text.splitlines() if not line.startswith("#"))
    assert header.endswith(",withheld") and ":below_k" in csv_text
    exact = cli(chain[0], *args, "--format", "csv", "--no-suppress")
    assert "# not suppressed: exact counts" in exact and ":below_k" not in exact
    assert cli(chain[0], *args, "--suppress").startswith(f"Suppressed: suppressed with k = {K}")


def test_the_html_says_whether_it_is_suppressed_and_with_which_k(chain: tuple[Path, HubConfig]) -> None:
    """The HTML page states plainly under its title: exact counts by default, or suppressed with k."""
    args = ("--store", "praha-2", "--from", str(DAYS[0]), "--to", str(DAYS[1]), "--format", "html")
    plain = cli(chain[0], *args)
    assert 'data-suppressed="no"' in plain and "Not suppressed: exact counts" in plain
    page = cli(chain[0], *args, "--suppress")
    assert f'data-suppressed="yes" data-k="{K}">Suppressed with k = {K}: counts of devices or members' in page
