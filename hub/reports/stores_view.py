"""`footfall-hub stores` as a rich table or JSON (the model is hub.joins.stores)."""

from __future__ import annotations

import dataclasses
import json
from typing import TextIO

from rich.console import Console
from rich.table import Table

from hub.joins.stores import StoreSummary


def render_table(stores: list[StoreSummary], out: TextIO) -> None:
    table = Table(title="Stores")
    for name in ("Store", "Configured", "Time zone", "Last data (UTC)", "Last sale (UTC)", "Agents",
                 "Online", "Groups"):
        table.add_column(name)
    for s in stores:
        table.add_row(s.store, "yes" if s.configured else "no (defaults)", s.timezone, s.last_data_at or "-",
                      s.last_sale_at or "-", ", ".join(s.agents) or "-", str(s.online_agents),
                      ", ".join(s.groups) or "-")
    Console(file=out, width=140, highlight=False).print(table)


def render_json(stores: list[StoreSummary], out: TextIO) -> None:
    json.dump([dataclasses.asdict(s) for s in stores], out, indent=2)
    out.write("\n")


FORMATS = {"table": render_table, "json": render_json}
