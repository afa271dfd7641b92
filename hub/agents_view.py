"""`footfall-hub agents`: the fleet at a glance, as a rich table or JSON (the model is hub.joins.agents).

The gaps cell reads `missing: epoch ranges` with the first GAP_RANGES_SHOWN ranges (`7: 5f0c1d2e 2,
6-8, 10, ...`), epochs shortened to 8 characters; JSON holds every range with the full epoch.
"""

from __future__ import annotations

import json
from typing import TextIO

from rich.console import Console
from rich.table import Table

from hub.joins.agents import AgentSummary, Gap

GAP_RANGES_SHOWN = 3
PIPE_WIDTH = 160
DASH = "-"
COLUMNS = ("Org", "Store", "Agent", "State", "Last seen", "Backlog", "Clock", "Epochs", "Batches", "Gaps")
RIGHT = {"Backlog", "Epochs", "Batches"}


def gap_text(gaps: list[Gap], missing_n: int) -> str:
    """`0`, or the missing seqs and the first ranges by epoch: `7: 5f0c1d2e 2, 6-8, 10, ...`."""
    if not gaps:
        return "0"
    text, epoch = "", None
    for g in gaps[:GAP_RANGES_SHOWN]:
        seqs = f"{g.first}" if g.first == g.last else f"{g.first}-{g.last}"
        if g.epoch == epoch:
            text += f", {seqs}"
        else:
            text += ("; " if text else "") + f"{g.epoch[:8]} {seqs}"
            epoch = g.epoch
    return f"{missing_n}: {text}" + (", ..." if len(gaps) > GAP_RANGES_SHOWN else "")


def clock_text(synced: bool | None) -> str:
    return DASH if synced is None else ("synced" if synced else "unsynced")


def cells(a: AgentSummary) -> list[str]:
    return [a.org, a.store, a.agent, a.state, a.last_seen or DASH,
            DASH if a.backlog_batches is None else f"{a.backlog_batches:,}", clock_text(a.clock_synced),
            str(len(a.epochs)), f"{a.batches:,}", gap_text(a.gaps, a.missing_n)]


def render_table(agents: list[AgentSummary], out: TextIO) -> None:
    # a terminal's own width (Gaps wraps first); 160 columns into a file or a pipe, so nothing wraps there
    console = Console(file=out, width=None if out.isatty() else PIPE_WIDTH, highlight=False)
    table = Table()
    for name in COLUMNS:
        table.add_column(name, justify="right" if name in RIGHT else "left", no_wrap=name != "Gaps")
    for a in agents:
        table.add_row(*cells(a))
    console.print(table)


def render_json(agents: list[AgentSummary], out: TextIO) -> None:
    json.dump({"agents": [a.to_dict() for a in agents]}, out, indent=2)
    out.write("\n")


FORMATS = {"table": render_table, "json": render_json}
