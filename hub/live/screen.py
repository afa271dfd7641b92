"""`footfall-hub live --store S`: the live figures on the back-office PC, refreshed every few seconds.

The same LiveState as the page, fed by tailing the database (rows with a rowid above the last one
read), since this command runs beside `serve`, in another process. Member arrivals come from
`member_arrivals` (announced ones of consenting members).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from hub.config import HubConfig
from hub.live.feed import live_state
from hub.live.history import History
from hub.live.state import LiveState
from hub.store.rows import RECORD_TABLES


class Tail:
    """Feeds a LiveState with the presence and door rows committed since the last call."""

    def __init__(self, config: HubConfig, state: LiveState) -> None:
        self.config, self.state = config, state
        self.history = History(config.database.path, lambda s: config.store(s).timezone,
                               lambda s: config.store(s).settings.loyalty_window_d)
        self.conn = self.history.conn
        self._last: dict[str, int] = {}

    def start(self, now: float) -> None:
        """Today's rows, and where the tables end, in one read transaction (one snapshot of the file)."""
        self.conn.execute("BEGIN")
        try:
            self.history.load_today(self.state, now)
            for rtype in ("presence", "door"):
                table = RECORD_TABLES[rtype].table
                (last,) = self.conn.execute(f"SELECT coalesce(max(rowid), 0) FROM {table}").fetchone()
                self._last[rtype] = int(last)
        finally:
            self.conn.execute("COMMIT")

    def poll(self, now: float) -> None:
        for rtype in ("presence", "door"):
            spec = RECORD_TABLES[rtype]
            rows = self.conn.execute(
                f"SELECT rowid, {', '.join(spec.columns)} FROM {spec.table} WHERE rowid > ? ORDER BY rowid",
                (self._last[rtype],)).fetchall()
            if rows:
                self._last[rtype] = int(rows[-1][0])
                by_store: dict[str, list[tuple[Any, ...]]] = {}
                for r in rows:
                    by_store.setdefault(str(r[2]), []).append(tuple(r[1:]))
                for store, store_rows in by_store.items():
                    self.state.feed(store, rtype, store_rows, now)

    def arrivals(self, store: str, since: float) -> list[tuple[int, str]]:
        """(seen epoch s, member id) of announced arrivals of consenting members, newest first."""
        try:
            return [(int(t), str(m)) for t, m in self.conn.execute(
                "SELECT a.seen_epoch_s, a.member_id FROM member_arrivals a JOIN members m ON m.member_key ="
                " a.member_key WHERE a.store = ? AND a.announced = 1 AND a.seen_epoch_s >= ?"
                " ORDER BY a.seen_epoch_s DESC LIMIT 10", (store, since))]
        except sqlite3.OperationalError:  # no arrival yet: the table is made by serve
            return []


def render(snap: dict[str, Any], arrivals: list[tuple[int, str]]) -> Group:
    """The snapshot as a table and the arrivals below."""
    t = Table(title=f"{snap['store']}  {snap['as_of'].replace('T', ' ')}", show_header=False)
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_column("compared")
    p, e, s = snap["present"], snap["entries"], snap["sales"]
    t.add_row("people in the store now", str(p["estimate"]), f"{p['low']}-{p['high']} (95 %)")
    t.add_row("entries this hour", str(e["hour"]), f"same weekday, last weeks: {_v(e['hour_last_weeks'])}")
    t.add_row("entries today", str(e["today"]), f"same weekday, last weeks: {_v(e['today_last_weeks'])}"
              f" ({e['source']})")
    rate = snap["capture_rate_15min"]
    t.add_row("capture rate, last 15 min", "-" if rate is None else f"{rate:.0%}", "")
    t.add_row("new / returning today", f"{snap['visitors_today']['new']} / "
              f"{snap['visitors_today']['returning']}", "returning: members")
    conv = s["conversion"]
    t.add_row("transactions so far", _v(s["transactions_n"]), "conversion " + ("-" if conv is None
                                                                                else f"{conv:.1%}"))
    lines = [f"{time.strftime('%H:%M', time.localtime(at))}  {member}" for at, member in arrivals]
    return Group(t, Panel("\n".join(lines) or "none yet", title="members arriving"))


def _v(value: Any) -> str:
    return "-" if value is None else str(value)


def run(config: HubConfig, store: str, every_s: float, once: bool, stop: threading.Event) -> int:
    """Draw until `stop` (Ctrl-C); `once`: print one frame and return."""
    from rich.console import Console  # noqa: PLC0415 -- only this command draws
    from rich.live import Live  # noqa: PLC0415 -- as above

    if not Path(config.database.path).exists():
        raise FileNotFoundError(config.database.path)
    state = live_state(config)
    tail = Tail(config, state)
    tail.start(time.time())

    def frame() -> Group:
        now = time.time()
        tail.poll(now)
        return render(state.snapshot(store, now, tail.history.extra(store, now)),
                      tail.arrivals(store, now - 12 * 3600))

    console = Console()
    try:
        if once:
            console.print(frame())
            return 0
        with Live(frame(), console=console, refresh_per_second=1, screen=False) as live:
            while not stop.wait(every_s):
                live.update(frame())
    finally:
        tail.history.close()
    return 0
