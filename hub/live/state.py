"""The live figures of each store, kept in memory and fed row by row as the hub commits batches.

One interface (`feed` rows, `snapshot` a store) for two feeders: the hub's writer hands over each
commit's new batches (hub/live/feed.py), and `footfall-hub live` tails the database
(hub/live/screen.py).
The "so far today" parts (entries, sales, conversion) are computed here until the metrics engine in
hub/joins offers them; the figures of earlier weeks and POS sales come from `History` (SQL).

How the figures are made (README "Live in the store"):
- people in the store now: devices heard at visitor RSSI in the last `recent_s` (the agents' presence
  records), the largest count among the store's gateways (each hears the whole shop floor), times the
  store's calibration factor; the interval is a Poisson 95 % interval on the device count, scaled;
- entries: door counters' traffic in when the store has them today, else Wi-Fi entries (devices first
  heard at visitor RSSI), by local hour; with several gateways, the largest count per hour;
- capture rate now: entries / devices first heard (any RSSI) over the last 15 minutes;
- new vs returning today: returning are members seen today with a member visit here on an earlier day
  within the loyalty window (a non-member's key lives one day, so every other entry is new).
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agent.wire.records import iso
from hub.store.rows import RECORD_TABLES

CAPTURE_WINDOW_S = 900
# Rows of the last LOOKBACK_S are read again by every worker's poll (hub/live/history.py `poll`); a row's
# batch key is kept KEEP_KEYS_S, longer, so that one reaching a state twice (its own worker's hand-over,
# then the poll; two polls) counts once. An older row is never polled, so its key need not be kept.
LOOKBACK_S = 150
KEEP_KEYS_S = LOOKBACK_S + 120
STALE_S = 600  # a gateway's presence older than this no longer says who is in the store
ARRIVALS_KEPT = 20


def _index(rtype: str, name: str) -> int:
    return list(RECORD_TABLES[rtype].columns).index(name)


_P_AGENT, _P_TAKEN, _P_PRESENT, _P_ENTERED, _P_NEW = (
    _index("presence", n) for n in ("agent", "taken_epoch_s", "present_n", "entered_n", "new_n"))
_D_MINUTE, _D_IN = _index("door", "minute_epoch_s"), _index("door", "traffic_in_n")


@dataclass
class StoreLive:
    """One store's running figures for its current local day."""

    day_start: float = 0.0
    presence: dict[str, tuple[float, int]] = field(default_factory=dict)  # agent -> (taken, present)
    wifi_hours: dict[float, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    door_hours: dict[float, int] = field(default_factory=lambda: defaultdict(int))
    recent: deque[tuple[float, str, int, int]] = field(default_factory=deque)  # taken, agent, entered, new
    members_today: set[str] = field(default_factory=set)
    returning_today: set[str] = field(default_factory=set)
    arrivals: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=ARRIVALS_KEPT))
    last_data: float = 0.0
    seen: dict[tuple[Any, ...], float] = field(default_factory=dict)  # recent rows' keys -> their time
    pruned: float = 0.0


class LiveState:
    """Thread-safe live figures of every store; `wait_change` lets a page block until they move."""

    def __init__(self, timezone_of: Any, factor_of: Any) -> None:
        """`timezone_of(store) -> str` and `factor_of(store) -> float` come from the hub config."""
        self._tz_of, self._factor_of = timezone_of, factor_of
        self._stores: dict[str, StoreLive] = {}
        self._lock = threading.Condition()
        self.version = 0

    def _store(self, store: str, now: float) -> StoreLive:
        tz = ZoneInfo(self._tz_of(store))
        day_start = day_start_of(now, tz)
        st = self._stores.get(store)
        if st is None or st.day_start != day_start:
            st = self._stores[store] = StoreLive(day_start=day_start)
        return st

    def feed(self, store: str, rtype: str, rows: list[tuple[Any, ...]], now: float) -> None:
        """Rows of one record table (batch key first, as hub.store.rows lays them out); a recent row
        this state already has (by its batch key) is skipped."""
        if rtype not in ("presence", "door") or not rows:
            return
        with self._lock:
            st = self._store(store, now)
            if now - st.pruned > 60:
                st.seen = {k: t for k, t in st.seen.items() if t >= now - KEEP_KEYS_S}
                st.pruned = now
            if self._feed(st, ZoneInfo(self._tz_of(store)), rtype, rows, now):
                self._changed()  # a poll that found nothing new wakes no page

    def reload(self, store: str, rows: dict[str, list[tuple[Any, ...]]], now: float) -> None:
        """Replace the store's counts by those of `rows` (every presence and door row of its day so far,
        read again: History.resync); its members and arrivals stay."""
        with self._lock:
            st = self._store(store, now)
            fresh = StoreLive(day_start=st.day_start, members_today=st.members_today,
                              returning_today=st.returning_today, arrivals=st.arrivals, pruned=now)
            tz = ZoneInfo(self._tz_of(store))
            for rtype in ("presence", "door"):
                self._feed(fresh, tz, rtype, rows.get(rtype, []), now)
            self._stores[store] = fresh
            self._changed()

    def _feed(self, st: StoreLive, tz: ZoneInfo, rtype: str, rows: list[tuple[Any, ...]], now: float) -> int:
        """Count the rows `st` does not have yet; how many."""
        at_col = _P_TAKEN if rtype == "presence" else _D_MINUTE
        fed = 0
        for row in rows:
            at = float(row[at_col])
            if at >= now - KEEP_KEYS_S:
                key = (rtype, row[0], *row[2:6])  # org, agent, epoch, seq, idx: the row's batch key
                if key in st.seen:
                    continue
                st.seen[key] = at
            fed += 1
            if rtype == "presence":
                self._presence(st, tz, row)
            elif at >= st.day_start:
                st.door_hours[hour_start_of(at, tz)] += int(row[_D_IN])
        return fed

    def _presence(self, st: StoreLive, tz: ZoneInfo, row: tuple[Any, ...]) -> None:
        agent, taken = str(row[_P_AGENT]), float(row[_P_TAKEN])
        if taken < st.day_start:
            return
        if taken >= st.presence.get(agent, (-1.0, 0))[0]:
            st.presence[agent] = (taken, int(row[_P_PRESENT]))
        hour = st.wifi_hours[hour_start_of(taken, tz)]
        hour[agent] = hour.get(agent, 0) + int(row[_P_ENTERED])
        st.recent.append((taken, agent, int(row[_P_ENTERED]), int(row[_P_NEW])))
        st.last_data = max(st.last_data, taken)

    def member_seen(self, store: str, member_key: str, returning: bool, now: float) -> None:
        """A consenting member was seen today at `store` (an arrival or a member visit)."""
        with self._lock:
            st = self._store(store, now)
            st.members_today.add(member_key)
            if returning:
                st.returning_today.add(member_key)
            self._changed()

    def arrived(self, store: str, arrival: dict[str, Any], now: float) -> bool:
        """A member's arrival event, for the staff's list (newest first); False when the list has it
        (the same member and time: announced here, then read back from `member_arrivals`)."""
        with self._lock:
            st = self._store(store, now)
            if self._has_arrival(st, arrival.get("_member_key"), arrival.get("seen_at")):
                return False
            st.arrivals.appendleft(arrival)
            self._changed()
            return True

    def has_arrival(self, store: str, member_key: str, seen_at: str, now: float) -> bool:
        with self._lock:
            return self._has_arrival(self._store(store, now), member_key, seen_at)

    @staticmethod
    def _has_arrival(st: StoreLive, member_key: Any, seen_at: Any) -> bool:
        return any(a.get("_member_key") == member_key and a.get("seen_at") == seen_at for a in st.arrivals)

    def forget_members(self, keep: set[str]) -> None:
        """Drop arrivals and member marks of members not in `keep` (consent withdrawn, opted out)."""
        with self._lock:
            for st in self._stores.values():
                st.members_today &= keep
                st.returning_today &= keep
                kept = [a for a in st.arrivals if a.get("_member_key") in keep]
                st.arrivals.clear()
                st.arrivals.extend(kept)
            self._changed()

    def known_members(self, store: str) -> set[str]:
        with self._lock:
            st = self._stores.get(store)
            return set(st.members_today) if st else set()

    def _changed(self) -> None:
        self.version += 1
        self._lock.notify_all()

    def wait_change(self, version: int, timeout: float) -> int:
        """Block until the version passes `version` (or `timeout`); the version now."""
        with self._lock:
            self._lock.wait_for(lambda: self.version != version, timeout)
            return self.version

    def stores(self) -> list[str]:
        with self._lock:
            return sorted(self._stores)

    def snapshot(self, store: str, now: float, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """The store's figures at `now` (JSON-ready); `extra`: History's baselines and sales."""
        tz = ZoneInfo(self._tz_of(store))
        factor = float(self._factor_of(store))
        with self._lock:
            st = self._store(store, now)
            fresh = [(a, p) for a, (t, p) in st.presence.items() if now - t <= STALE_S]
            devices = max((p for _a, p in fresh), default=0)
            hour_now = hour_start_of(now, tz)
            door = bool(st.door_hours)
            hours = dict(st.door_hours) if door else {h: max(a.values(), default=0)
                                                        for h, a in st.wifi_hours.items()}
            while st.recent and st.recent[0][0] < now - CAPTURE_WINDOW_S:
                st.recent.popleft()
            by_agent: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            for _t, agent, entered, new in st.recent:
                by_agent[agent][0] += entered
                by_agent[agent][1] += new
            entered15, new15 = max(by_agent.values(), key=lambda v: v[1], default=[0, 0])
            returning = len(st.returning_today)
            arrivals = [{k: v for k, v in a.items() if not k.startswith("_")} for a in st.arrivals]
            last_data = st.last_data
        today = sum(hours.values())
        low, high = poisson_interval(devices)
        extra = extra or {}
        tx = extra.get("transactions_n")
        return {
            "store": store,
            "as_of": datetime.fromtimestamp(now, tz).isoformat(timespec="seconds"),
            "last_data_at": iso(last_data) if last_data else None,
            "present": {"estimate": round(devices * factor), "low": math.floor(low * factor),
                        "high": math.ceil(high * factor), "devices_n": devices, "gateways_n": len(fresh)},
            "entries": {"source": "door" if door else "wifi", "hour": hours.get(hour_now, 0),
                        "today": today, "hour_last_weeks": extra.get("hour_last_weeks"),
                        "today_last_weeks": extra.get("today_last_weeks")},
            "capture_rate_15min": round(entered15 / new15, 3) if new15 else None,
            "visitors_today": {"new": max(today - returning, 0), "returning": returning},
            "sales": {"transactions_n": tx, "net_sales": extra.get("net_sales"),
                      "conversion": round(tx / today, 3) if tx is not None and today else None},
            "arrivals": arrivals,
        }


def poisson_interval(n: int) -> tuple[float, float]:
    """An approximate 95 % interval for a count of `n` (normal approximation, one more on top for small n)."""
    if n <= 0:
        return 0.0, 3.0
    return max(0.0, n - 1.96 * math.sqrt(n)), n + 1.96 * math.sqrt(n) + 1


def day_start_of(ts: float, tz: ZoneInfo) -> float:
    """Epoch seconds of local midnight of the day holding `ts`."""
    return datetime.fromtimestamp(ts, tz).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def hour_start_of(ts: float, tz: ZoneInfo) -> float:
    """Epoch seconds of the start of the local hour holding `ts` (DST: each real hour is its own)."""
    return ts - (datetime.fromtimestamp(ts, tz).minute * 60 + datetime.fromtimestamp(ts, tz).second) - ts % 1


def weeks_back(ts: float, tz: ZoneInfo, weeks: int) -> float:
    """The same local wall-clock time `weeks` weeks before `ts`."""
    local = datetime.fromtimestamp(ts, tz).replace(tzinfo=None) - timedelta(weeks=weeks)
    return local.replace(tzinfo=tz).timestamp()
