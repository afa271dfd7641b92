"""A seeded multi-week chain for metric tests, written as the agents and the business systems would.

Three stores, five weeks from Monday 2026-10-12 to Sunday 2026-11-15 (the EU clocks go back on
2026-10-25, a 25-hour day): `brno-1` (Prague, door counters, line-item POS export, 7-day linkability),
`leeds-1` (London, no doors, calibration 1.25, per-transaction export with mixed time forms) and
`praha-2` (Prague, no doors). A pool of people per store visit on some days; each visit becomes a
`visit` record (the device key links a person within their key window only), hourly and daily
`period` counts, door entries, and sometimes a sale (some refunds, some voids, loyalty ids at the till).
Members consent (or not) to their phone's MAC in the CRM export; consenting members' visits go into
`member_visits` directly (the agent does not tag member visits yet). A staff rota covers opening hours.

`Chain.truth` keeps what happened (people, times, amounts) so that tests compute the expected metrics
from it on their own, never from the hub's code.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from agent.wire import DoorCounts, PeriodCounts, Visit
from agent.wire.records import iso
from hub.config import DatabaseConfig, HubConfig, MetricSettings, StoreConfig
from hub.store.sql import open_database
from tests.hub.scenario import import_file, write

FIRST = date(2026, 10, 12)
DAYS = 35
STORES = {
    "brno-1": ("Europe/Prague", 1.0, 7, True),  # time zone, calibration, linkability days, doors
    "leeds-1": ("Europe/London", 1.25, 1, False),
    "praha-2": ("Europe/Prague", 1.0, 1, False),
}
PEOPLE = 40
MEMBERS = 12  # the first MEMBERS people of each pool are members; the even ones consent


@dataclass
class Truth:
    """What happened in one store."""

    tz: ZoneInfo
    visits: list[tuple[int, int, int, int]] = field(default_factory=list)  # person, start, end, dwell
    bounces: list[int] = field(default_factory=list)  # start times
    hour_counts: dict[int, tuple[int, int]] = field(default_factory=dict)  # UTC hour start: (vis, pas)
    day_counts: dict[date, tuple[int, int]] = field(default_factory=dict)
    doors: list[tuple[int, int]] = field(default_factory=list)  # minute, entries
    sales: list[tuple[int, int, bool, str | None]] = field(default_factory=list)  # at, cents, void, member
    staff: dict[int, float] = field(default_factory=dict)  # UTC hour start: labour hours
    member_of: dict[int, str] = field(default_factory=dict)  # person -> member id
    consenting: set[int] = field(default_factory=set)  # persons

    def local_day(self, t: int) -> date:
        return datetime.fromtimestamp(t, self.tz).date()


def config(tmp: Path, database: DatabaseConfig | None = None) -> HubConfig:
    """The chain's stores and group; `database` on either engine (default: an SQLite file in `tmp`)."""
    return HubConfig(
        database=database or DatabaseConfig(path=str(tmp / "hub.db")),
        default_timezone="UTC",
        stores={
            s: StoreConfig(timezone=tz, calibration_factor=f, settings=MetricSettings(linkability_window_d=w))
            for s, (tz, f, w, _) in STORES.items()
        },
        groups={"czechia": ["brno-1", "praha-2"]},
    )


def mac_of(store: str, person: int) -> bytes:
    return bytes([0x00, 0x1B, 0x63, list(STORES).index(store), 0, person])


def _at(day: date, hour: int, minute: int, tz: ZoneInfo) -> int:
    return int(datetime.combine(day, time(hour, minute), tz).timestamp())


def generate(store: str, seed: int) -> tuple[Truth, list[list[Any]], list[list[str]], list[str]]:
    """(truth, record batches, POS rows, CRM rows) of one store."""
    tz_name, _, window_d, has_doors = STORES[store]
    tz = ZoneInfo(tz_name)
    rng = random.Random(seed)
    truth = Truth(tz)
    truth.member_of = {p: f"M-{store}-{p:02d}" for p in range(MEMBERS)}
    truth.consenting = {p for p in range(MEMBERS) if p % 2 == 0}
    batches: list[list[Any]] = []
    for d in range(DAYS):
        day = FIRST + timedelta(days=d)
        records: list[Any] = []
        visitors = [p for p in range(PEOPLE) if rng.random() < (0.5 if p < MEMBERS else 0.25)]
        spans: list[tuple[int, int, int]] = []
        for p in visitors:
            kind = rng.choices([0, 1, 2, 3], weights=[55, 30, 12, 3])[0]
            dwell = [
                rng.randint(300, 1199),
                rng.randint(1200, 3599),
                rng.randint(3600, 21599),
                rng.randint(21600, 25000),
            ][kind]
            start = _at(day, rng.randint(9, 12 if kind == 3 else 19), rng.randint(0, 59), tz)
            spans.append((p, start, start + dwell))
            truth.visits.append((p, start, start + dwell, dwell))
            key = hashlib.sha256(f"{store}/{p}/{d // window_d}".encode()).hexdigest()[:32]
            records.append(
                Visit(
                    iso(start),
                    iso(start + dwell),
                    dwell,
                    12,
                    -50,
                    "visitor",
                    False,
                    key,
                    f"{store}-w{d // window_d}",
                )
            )
            if has_doors:
                truth.doors.append((start - start % 60, 1 + (rng.random() < 0.3)))
            if rng.random() < 0.45:
                void = rng.random() < 0.05
                member = truth.member_of.get(p) if rng.random() < 0.8 else None
                truth.sales.append((start + dwell - 60, rng.randint(500, 15000), void, member))
        for _ in range(rng.randint(2, 6)):
            t = _at(day, rng.randint(9, 19), rng.randint(0, 59), tz)
            truth.bounces.append(t)
            records.append(Visit(iso(t), iso(t + 100), 100, 4, -60, "bounce", False, None, f"{store}-w{d}"))
        if rng.random() < 0.5:  # a refund
            truth.sales.append((_at(day, 15, rng.randint(0, 59), tz), -rng.randint(100, 3000), False, None))
        t0, t1 = _at(day, 0, 0, tz), _at(day + timedelta(days=1), 0, 0, tz)
        for h in range(t0, t1, 3600):
            v = len({p for p, s, e in spans if s < h + 3600 and e >= h})
            pas = rng.randint(0, 30) if 7 * 3600 <= h - t0 < 21 * 3600 else 0
            if v or pas:
                truth.hour_counts[h] = (v, pas)
                records.append(PeriodCounts("hour", iso(h), v + pas, v, pas, 0, v))
            if 9 * 3600 <= h - t0 < 20 * 3600:
                truth.staff[h] = rng.choice([1.5, 2.0, 2.5, 3.0])
        truth.day_counts[day] = (len(visitors), rng.randint(100, 300))
        records.append(
            PeriodCounts(
                "day",
                iso(t0),
                sum(truth.day_counts[day]),
                len(visitors),
                truth.day_counts[day][1],
                0,
                len(visitors),
            )
        )
        minutes: dict[int, int] = {}
        for m, n in truth.doors:
            if t0 <= m < t1:
                minutes[m] = minutes.get(m, 0) + n
        records.extend(DoorCounts("door-a", iso(m), n, n) for m, n in sorted(minutes.items()))
        batches.append(records)
    members = [
        [
            m,
            rng.choice(["family", "student", "pro"]),
            rng.choice(["silver", "gold"]),
            "2025-03-01",
            "yes" if p in truth.consenting else "no",
            _mac_text(mac_of(store, p), p),
        ]
        for p, m in truth.member_of.items()
    ]
    return truth, batches, _pos_rows(store, truth, rng), [",".join(r) for r in members]


def _mac_text(mac: bytes, i: int) -> str:
    forms = [":".join(f"{b:02x}" for b in mac), "-".join(f"{b:02X}" for b in mac), mac.hex()]
    return forms[i % 3]


def _pos_rows(store: str, truth: Truth, rng: random.Random) -> list[list[str]]:
    rows: list[list[str]] = []
    for n, (at, cents, void, member) in enumerate(truth.sales):
        local = datetime.fromtimestamp(at, truth.tz)
        status = "VOID" if void else "completed"
        txn = f"{store[:2].upper()}{n:05d}"
        if store == "brno-1":  # line items: Receipt No,Date,Time,Store ID,Line Total,Status,Loyalty ID,SKU
            parts = [cents] if abs(cents) < 1000 else [cents // 3, cents - cents // 3]
            rows.extend(
                [
                    txn,
                    local.date().isoformat(),
                    local.strftime("%H:%M:%S"),
                    store,
                    f"{c / 100:.2f}",
                    status,
                    member or "",
                    f"SKU{i}",
                ]
                for i, c in enumerate(parts)
            )
        else:  # location,timestamp,ticket,net_total,status,customer_id with three forms of time
            form = n % 3
            stamp = (
                local.strftime("%Y-%m-%d %H:%M:%S")
                if form == 0
                else local.isoformat()
                if form == 1
                else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            )
            rows.append([store, stamp, txn, f"{cents / 100:.2f}", status, member or ""])
    if store == "brno-1":
        rng.shuffle(rows)  # lines of one receipt need not be adjacent
    return rows


HEADERS = {
    "brno-1": "Receipt No,Date,Time,Store ID,Line Total,Status,Loyalty ID,SKU",
    "other": "location,timestamp,ticket,net_total,status,customer_id",
}


def member_key(secret: bytes, mac: bytes) -> str:
    """docs/privacy.md's member key, computed here on its own (not with the hub's function)."""
    return hmac.new(secret, mac, hashlib.sha256).digest()[:16].hex()


def build(
    tmp: Path, seed: int = 7, database: DatabaseConfig | None = None
) -> tuple[HubConfig, dict[str, Truth]]:
    """Generate every store, write the records through the ingest writer, import POS, CRM and staff
    through the importers, and store consenting members' visits."""
    cfg = config(tmp, database)
    truths: dict[str, Truth] = {}
    crm = ["member_id,segment,tier,join_date,consent,device_mac"]
    staff = ["store,date,hour,labour_hours"]
    files: list[Path] = []
    for i, store in enumerate(STORES):
        truth, batches, pos, members = generate(store, seed * 100 + i)
        truths[store] = truth
        write(cfg, [(f"{store}-gw", seq, recs) for seq, recs in enumerate(batches)], store=store)
        header = HEADERS.get(store, HEADERS["other"])
        path = tmp / f"{store}-pos.csv"
        path.write_text("\n".join([header, *(",".join(r) for r in pos)]) + "\n")
        files.append(path)
        crm.extend(members)
        for h, hours in truth.staff.items():
            local = datetime.fromtimestamp(h, truth.tz)
            staff.append(f"{store},{local.date().isoformat()},{local.hour},{hours}")
    (tmp / "crm.csv").write_text("\n".join(crm) + "\n")
    (tmp / "staff.csv").write_text("\n".join(staff) + "\n")
    for path in files:
        import_file(cfg, "pos", path)
    import_file(cfg, "crm", tmp / "crm.csv")
    import_file(cfg, "staff", tmp / "staff.csv")
    secret = cfg.member_secret_path().read_bytes()
    with open_database(cfg.database) as db, db.transaction():
        for store, truth in truths.items():
            db.executemany(
                "INSERT INTO member_visits (store, member_key, started_epoch_s, ended_epoch_s, dwell_s,"
                " agent) VALUES (?, ?, ?, ?, ?, 'gw-1')",
                [
                    (store, member_key(secret, mac_of(store, p)), s, e, dw)
                    for p, s, e, dw in truth.visits
                    if p in truth.consenting
                ],
            )
    return cfg, truths
