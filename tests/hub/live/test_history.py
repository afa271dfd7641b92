"""The live view's comparisons: the same weekday of the last weeks, and POS sales so far today."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from agent.wire.records import iso
from hub.config import DatabaseConfig
from hub.live.history import History
from hub.live.state import LiveState
from hub.store.sql import open_database
from tests.hub.live.support import insert

TZ = "Europe/Prague"
PRESENCE = (
    "INSERT INTO presence (org, store, agent, epoch, seq, idx, taken_at, present_n, entered_n, new_n,"
    " recent_s, taken_epoch_s) VALUES ('acme', 'brno-1', 'gw-1', 'e', ?, 0, ?, 3, ?, 0, 300, ?)"
)
VISIT = (
    "INSERT INTO visits (org, store, agent, epoch, seq, idx, started_at, ended_at, dwell_s, sightings_n,"
    " rssi_max_dbm, kind, randomized, device_key, key_window, started_epoch_s, ended_epoch_s) VALUES"
    " ('acme', 'brno-1', 'gw-1', 'e', ?, 0, '', '', 600, 5, -50, 'visitor', 0, NULL, 'w', ?, ?)"
)
SALE = (
    "INSERT INTO pos_transactions (store, transaction_id, at_utc, at_epoch_s, net_amount_cents, voided)"
    " VALUES ('brno-1', ?, '', ?, 2500, ?)"
)


def test_entries_compare_with_the_same_weekday_to_the_same_time(hub_database: DatabaseConfig) -> None:
    """Entries today stand next to the mean of the same weekday in the last weeks, counted to the same
    time of day (later entries of those days do not count); a week from before presence records uses
    its visits. Sales so far count today's transactions, never voided ones, and give the conversion.
    The same on both engines."""
    db = open_database(hub_database)
    now = datetime(2026, 12, 2, 12, 0, tzinfo=ZoneInfo(TZ)).timestamp()  # a Wednesday noon, far from midnight
    week = 7 * 86400  # no DST change in the four weeks before
    presence = []
    for back, entered in ((1, 10), (2, 20)):
        for offset in (-60, +3600 * 3):  # one before "now" on that day, one after it (not counted)
            t = now - back * week + offset
            presence.append((len(presence) + 1, iso(t), entered, int(t)))
    presence.append((99, iso(now - 5), 8, int(now - 5)))
    insert(db, "presence", PRESENCE, presence)
    # three weeks back: no presence then, six visitor visits before the time
    times = [int(now - 3 * week - 60 - i) for i in range(6)]
    insert(db, "visits", VISIT, [(100 + i, t, t + 600) for i, t in enumerate(times)], epoch_at=1)
    insert(db, "pos_transactions", SALE, [(f"t{i}", int(now - 30), v) for i, v in enumerate((0, 0, 1))])
    db.close()
    state = LiveState(lambda _s: TZ, lambda _s: 1.0)
    history = History(hub_database, lambda _s: TZ, lambda _s: 30)
    history.load_today(state, now)
    extra = history.extra("brno-1", now)
    history.close()
    assert extra["weeks_n"] == 3
    assert extra["today_last_weeks"] == round((10 + 20 + 6) / 3, 1)
    snap = state.snapshot("brno-1", now, extra)
    assert snap["entries"]["today"] == 8 and snap["entries"]["today_last_weeks"] == 12.0
    assert snap["sales"] == {"transactions_n": 2, "net_sales": 50.0, "conversion": 0.25}


BATCH = (
    "INSERT INTO batches (agent, org, store, epoch, seq, sent_at, received_at, records_n)"
    " VALUES ('gw-1', 'acme', 'brno-1', 'e', ?, ?, ?, 1)"
)


def test_a_drained_backlog_stored_by_another_worker_reaches_the_figures(hub_database: DatabaseConfig) -> None:
    """The page's worker reads the rows other workers committed in the last minutes, each once; rows
    of a gateway's backlog (sent long before they were received, stored by another worker) are older
    than that window: their batch has the store's day read again, and nothing is counted twice."""
    db = open_database(hub_database)
    now = datetime(2026, 12, 2, 12, 0, tzinfo=ZoneInfo(TZ)).timestamp()
    insert(db, "presence", PRESENCE, [(1, iso(now - 60), 3, int(now - 60))])
    state = LiveState(lambda _s: TZ, lambda _s: 1.0)
    history = History(hub_database, lambda _s: TZ, lambda _s: 30)
    history.load_today(state, now)
    insert(db, "presence", PRESENCE, [(2, iso(now + 5), 4, int(now + 5))])  # another worker's, now
    history.poll(state, now + 10, ["brno-1"])
    history.poll(state, now + 12, ["brno-1"])
    assert state.snapshot("brno-1", now + 12)["entries"]["today"] == 7
    insert(db, "presence", PRESENCE, [(3, iso(now - 1800), 5, int(now - 1800))])  # a backlog's
    insert(db, "batches", BATCH, [(3, iso(now - 1790), iso(now + 20))])
    history.poll(state, now + 30, ["brno-1"])  # the day was read at `now`: once a minute at most
    assert state.snapshot("brno-1", now + 30)["entries"]["today"] == 7
    for t in (now + 61, now + 63, now + 130):
        history.poll(state, t, ["brno-1"])
        assert state.snapshot("brno-1", t)["entries"]["today"] == 12
    history.close()
    db.close()
