"""The day rollups' two tables and the triggers that keep them honest (hub/joins/rollups.py says why).

- `day_rollups`: one store-day's day-grain metrics row as the engine computed it, with the local day's
  end (epoch s), the settings it was computed with (`signature`), the agents and whether anything was
  there.
- `rollup_changes`: what the writers changed since the rollup job last looked, one row per store and
  change: `first_epoch_s`, the earliest data time the change touched, and `window_day`, the first local
  day of the device-key window it touched (visits of one key merge within their window, so a visit
  changes its window's earlier days too). A rollup is stale while a change of its store touches it:
  `first_epoch_s < end_epoch_s OR window_day <= day`. Unused halves hold sentinels.

Triggers add the changes in the writer's own transaction, whichever process writes (the ingest workers,
a POS, staff or CRM import, an opt-out or erasure), so a report never takes a stale rollup for a fresh
one: a change is either not committed (and its data not visible) or visible with its data. SQLite has
row triggers only (a change's slot is floored to 15 min and not marked twice, so a batch adds a row or
two); PostgreSQL's are statement triggers over the transition table, one row per store.
"""

from __future__ import annotations

NO_EPOCH = 1 << 62  # first_epoch_s of a change dated by its key window only
NO_DAY = "9999-12-31"  # window_day of a change without a key window
SLOT_S = 900  # SQLite: changes floored to 15 min (every zone offset is a multiple of it)

ALL_DAYS = "0000-01-01"  # window_day of a change that may touch any day of its store


def _window(r: str, none: str) -> str:
    """The key window's first local day (the agents' window id, agent/privacy/keychain.py), as a
    template over the row `{r}` and the engine's date test `{is_date}`: a window named otherwise may have
    begun any day (ALL_DAYS); none (a bounce, with no key): `none`."""
    return (f"CASE WHEN {r}.key_window IS NULL THEN '{none}' WHEN {{is_date}} THEN {r}.key_window"
            f" ELSE '{ALL_DAYS}' END")


# table -> [(event, the changed rows' first_epoch_s over `{r}`, window_day over `{r}`)]
_MARKS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "periods": (("INSERT", "{r}.start_epoch_s", f"'{NO_DAY}'"),),
    "visits": (("INSERT", "{r}.started_epoch_s", _window("{r}", NO_DAY)),
               ("DELETE", "{r}.started_epoch_s", _window("{r}", NO_DAY))),
    "doors": (("INSERT", "{r}.minute_epoch_s", f"'{NO_DAY}'"),),
    # a device found static leaves the counts of its key window (a flag without a window: everything)
    "device_flags": (("INSERT", str(NO_EPOCH), _window("{r}", ALL_DAYS)),),
    "pos_transactions": tuple((e, "{r}.at_epoch_s", f"'{NO_DAY}'") for e in ("INSERT", "UPDATE", "DELETE")),
    "staff_hours": tuple((e, "{r}.hour_epoch_s", f"'{NO_DAY}'") for e in ("INSERT", "UPDATE", "DELETE")),
    "member_visits": tuple((e, "{r}.started_epoch_s", f"'{NO_DAY}'") for e in ("INSERT", "UPDATE", "DELETE")),
}
# a window id that is a date, per engine ({r}: the row)
_IS_DATE = {"sqlite": "{r}.key_window GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'",
            "postgresql": "{r}.key_window ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$'"}


def _day(template: str, r: str, engine: str) -> str:
    return template.replace("{is_date}", _IS_DATE[engine]).format(r=r)


# members: a member's id or key changing changes every day of the stores the member visited (member ids
# name the members who bought nothing and count the buyers)
_MEMBER_STORES = ("SELECT DISTINCT m.store, 0, '" + NO_DAY + "' FROM member_visits m"
                  " WHERE m.member_key = {r}.member_key")

SQLITE_DDL: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS day_rollups (store TEXT NOT NULL, day TEXT NOT NULL,"
    " end_epoch_s INTEGER NOT NULL, signature TEXT NOT NULL, found INTEGER NOT NULL, agents TEXT NOT NULL,"
    " row TEXT NOT NULL, computed_at REAL NOT NULL, PRIMARY KEY (store, day)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS rollup_changes (store TEXT NOT NULL, first_epoch_s INTEGER NOT NULL,"
    " window_day TEXT NOT NULL, PRIMARY KEY (store, first_epoch_s, window_day)) WITHOUT ROWID",
)


def _sqlite_mark(store: str, epoch: str, day: str) -> str:
    """A change unless the same is marked already. Not INSERT OR IGNORE: a trigger's conflict clause
    gives way to the firing statement's (an upsert's ABORT would fail the writer's statement)."""
    return (f" INSERT INTO rollup_changes (store, first_epoch_s, window_day) SELECT {store}, {epoch}, {day}"
            f" WHERE NOT EXISTS (SELECT 1 FROM rollup_changes WHERE store = {store}"
            f" AND first_epoch_s = {epoch} AND window_day = {day});")


def _sqlite_triggers() -> dict[str, str]:
    out = {}
    for table, marks in _MARKS.items():
        for event, epoch, day in marks:
            rows = ("NEW",) if event == "INSERT" else ("OLD",) if event == "DELETE" else ("OLD", "NEW")
            body = "".join(_sqlite_mark(f"{r}.store", f"({e}) - ({e}) % {SLOT_S}", _day(day, r, "sqlite"))
                           for r in rows for e in [epoch.format(r=r)])
            name = f"rollup_mark_{table}_{event.lower()}"
            out[name] = f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN{body} END"
    for event, rows in (("INSERT", ("NEW",)), ("UPDATE", ("OLD", "NEW")), ("DELETE", ("OLD",))):
        when = (" WHEN OLD.member_key IS NOT NEW.member_key OR OLD.member_id IS NOT NEW.member_id"
                if event == "UPDATE" else "")
        body = "".join(f" INSERT INTO rollup_changes (store, first_epoch_s, window_day)"
                       f" {_MEMBER_STORES.format(r=r)} AND NOT EXISTS (SELECT 1 FROM rollup_changes c"
                       f" WHERE c.store = m.store AND c.first_epoch_s = 0 AND c.window_day = '{NO_DAY}');"
                       for r in rows)
        name = f"rollup_mark_members_{event.lower()}"
        out[name] = f"CREATE TRIGGER {name} AFTER {event} ON members{when} BEGIN{body} END"
    return out


SQLITE_TRIGGERS: dict[str, str] = _sqlite_triggers()


def sqlite_schema(triggers_now: dict[str, str]) -> list[str]:
    """The SQLite statements that bring a database whose rollup triggers are `triggers_now` (name: SQL, from
    sqlite_master) to this version: the tables, and each trigger missing or defined otherwise made again
    (run in the caller's write transaction, so no writer ever goes without it)."""
    out = list(SQLITE_DDL)
    for name, sql in SQLITE_TRIGGERS.items():
        if triggers_now.get(name) != sql:
            out += [f"DROP TRIGGER IF EXISTS {name}", sql]
    return out


TRIGGERS_NOW = "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'rollup_mark_%'"


def _pg_trigger(table: str, event: str, select: str, refs: str) -> tuple[str, str]:
    name = f"rollup_mark_{table}_{event.lower()}"
    return (f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            f" INSERT INTO rollup_changes (store, first_epoch_s, window_day) {select}; RETURN NULL; END $$",
            f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {refs}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {name}()")


_SIDES = {"INSERT": ("new_rows",), "UPDATE": ("old_rows", "new_rows"), "DELETE": ("old_rows",)}


def _pg_statements() -> list[str]:
    out = [
        "CREATE TABLE day_rollups (store text NOT NULL, day text NOT NULL, end_epoch_s bigint NOT NULL,"
        " signature text NOT NULL, found boolean NOT NULL, agents text NOT NULL, row text NOT NULL,"
        " computed_at double precision NOT NULL, PRIMARY KEY (store, day))",
        # an id per change: several workers commit in any order, and the job deletes exactly what it read
        "CREATE TABLE rollup_changes (id bigserial PRIMARY KEY, store text NOT NULL,"
        " first_epoch_s bigint NOT NULL, window_day text NOT NULL)",
        "CREATE INDEX rollup_changes_store ON rollup_changes (store)",
    ]
    for table, marks in _MARKS.items():
        for event, epoch, day in marks:
            sides = _SIDES[event]
            refs = " ".join(f"{'NEW' if s == 'new_rows' else 'OLD'} TABLE AS {s}" for s in sides)
            first, window = epoch.format(r="r"), _day(day, "r", "postgresql")
            parts = " UNION ALL ".join(f"SELECT r.store, {first} AS t, {window} AS d FROM {s} r"
                                       for s in sides)
            select = f"SELECT store, min(t), min(d) FROM ({parts}) AS c GROUP BY store"
            out += _pg_trigger(table, event, select, refs)
    for event, sides in _SIDES.items():
        refs = " ".join(f"{'NEW' if s == 'new_rows' else 'OLD'} TABLE AS {s}" for s in sides)
        keys = " UNION ".join(f"SELECT member_key FROM {s}" for s in sides)
        if event == "UPDATE":  # only members whose key changed (an import rewrites every member's row)
            keys = ("SELECT k FROM old_rows o JOIN new_rows n USING (member_id),"
                    " LATERAL (VALUES (o.member_key), (n.member_key)) AS v (k)"
                    " WHERE o.member_key IS DISTINCT FROM n.member_key")
        select = (f"SELECT DISTINCT m.store, 0, '{NO_DAY}' FROM member_visits m"
                  f" WHERE m.member_key IN ({keys})")
        out += _pg_trigger("members", event, select, refs)
    return out


PG_STATEMENTS: tuple[str, ...] = tuple(_pg_statements())
