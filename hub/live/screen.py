"""`footfall-hub live --store S`: the live figures on the back-office PC, refreshed every few seconds.

The same LiveState as the page, fed by reading the database (today's rows at start, then the rows of
the last minutes at each frame: History.poll; the state counts each row once), since this command runs
beside `serve`, in another process, on either engine. Member arrivals come from `member_arrivals`
(announced ones of consenting members).
"""

from __future__ import annotations

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


class Tail:
    """Feeds a LiveState with the presence and door rows committed since the last call."""

    def __init__(self, config: HubConfig, state: LiveState) -> None:
        self.config, self.state = config, state
        self.history = History(config.database, lambda s: config.store(s).timezone,
                               lambda s: config.store(s).settings.loyalty_window_d)
        self.db = self.history.db

    def start(self, now: float) -> None:
        """Today's rows so far."""
        self.history.load_today(self.state, now)

    def poll(self, now: float) -> None:
        """The rows committed since (by any worker): those of the last minutes, each counted once."""
        self.history.poll(self.state, now, self.config.stores)

    def arrivals(self, store: str, since: float) -> list[tuple[int, str]]:
        """(seen epoch s, member id) of announced arrivals of consenting members, newest first."""
        if not self.db.has_table("member_arrivals"):  # no arrival yet: the table is made by serve
            return []
        return [(int(t), str(m)) for t, m in self.db.execute(
            "SELECT a.seen_epoch_s, a.member_id FROM member_arrivals a JOIN members m ON m.member_key ="
            " a.member_key WHERE a.store = ? AND a.announced = 1 AND a.seen_epoch_s >= ?"
            " ORDER BY a.seen_epoch_s DESC LIMIT 10", (store, int(since)))]


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

    if config.database.engine == "sqlite" and not Path(config.database.path).exists():
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
