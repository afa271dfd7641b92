"""The hub's PostgreSQL schema as numbered migrations: the one place where it changes.

Each migration is applied once, in its own transaction, and recorded in `schema_migrations`; `serve`
refuses a database that is behind the code (run `footfall-hub migrate`). A migration is never edited
once released: a change is a new one (tests/hub/store/test_postgres.py checks that a migrated
database's record tables have exactly the columns of hub.store.rows, so a new wire field fails there
until its migration exists).

Migration 1 is the SQLite schema of hub/store/schema.py in PostgreSQL's types. The record tables with a
time column are partitioned by month on it (declarative RANGE partitioning over epoch seconds, UTC
months; hub/store/postgres/partitions.py makes a month's partition when its first row comes), so a
year of a large chain stays fast to query and a month past retention is a DROP TABLE.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.joins.rollup_tables import PG_STATEMENTS

# Record table -> partition column (epoch seconds); device_flags has no time and is not partitioned.
PARTITIONED: dict[str, str] = {
    "visits": "started_epoch_s",
    "minutes": "minute_epoch_s",
    "periods": "start_epoch_s",
    "doors": "minute_epoch_s",
    "presence": "taken_epoch_s",
}


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


_V1 = (
    # exactly-once: a batch's records go in only with its new (agent, epoch, seq) row (docs/reliability.md)
    "CREATE TABLE batches (agent text NOT NULL, org text NOT NULL, store text NOT NULL, epoch text NOT NULL,"
    " seq bigint NOT NULL, sent_at text, received_at text, records_n bigint, digest bytea,"
    " PRIMARY KEY (agent, epoch, seq))",
    "CREATE INDEX batches_store_received_at ON batches (store, received_at)",
    "CREATE TABLE visits (org text NOT NULL, store text NOT NULL, agent text NOT NULL, epoch text NOT NULL,"
    " seq bigint NOT NULL, idx bigint NOT NULL, started_at text, ended_at text, dwell_s bigint,"
    " sightings_n bigint, rssi_max_dbm bigint, kind text, randomized bigint, device_key text,"
    " key_window text, started_epoch_s bigint NOT NULL, ended_epoch_s bigint)"
    " PARTITION BY RANGE (started_epoch_s)",
    "CREATE INDEX visits_store_started ON visits (store, started_epoch_s)",
    "CREATE TABLE minutes (org text NOT NULL, store text NOT NULL, agent text NOT NULL, epoch text NOT NULL,"
    " seq bigint NOT NULL, idx bigint NOT NULL, minute_at text, probe_requests_n bigint, seen_n bigint,"
    " clock_synced bigint, minute_epoch_s bigint NOT NULL) PARTITION BY RANGE (minute_epoch_s)",
    "CREATE INDEX minutes_store_minute ON minutes (store, minute_epoch_s)",
    "CREATE TABLE periods (org text NOT NULL, store text NOT NULL, agent text NOT NULL, epoch text NOT NULL,"
    " seq bigint NOT NULL, idx bigint NOT NULL, period text, start_at text, seen_n bigint,"
    " visitors_n bigint, passersby_n bigint, bounces_n bigint, visits_n bigint,"
    " start_epoch_s bigint NOT NULL) PARTITION BY RANGE (start_epoch_s)",
    "CREATE INDEX periods_store_period_start ON periods (store, period, start_epoch_s)",
    "CREATE TABLE doors (org text NOT NULL, store text NOT NULL, agent text NOT NULL, epoch text NOT NULL,"
    " seq bigint NOT NULL, idx bigint NOT NULL, sensor text, minute_at text, traffic_in_n bigint,"
    " traffic_out_n bigint, minute_epoch_s bigint NOT NULL) PARTITION BY RANGE (minute_epoch_s)",
    "CREATE INDEX doors_store_minute ON doors (store, minute_epoch_s)",
    "CREATE TABLE device_flags (org text NOT NULL, store text NOT NULL, agent text NOT NULL,"
    " epoch text NOT NULL, seq bigint NOT NULL, idx bigint NOT NULL, device_key text, key_window text,"
    " flag text, hours_present_h double precision, days_present_n bigint)",
    "CREATE INDEX device_flags_store_key ON device_flags (store, device_key)",
    "CREATE TABLE dead_letters (id bigserial PRIMARY KEY, received_at text, topic text, reason text,"
    " detail text, payload bytea)",
    "CREATE INDEX dead_letters_reason ON dead_letters (reason)",
    "CREATE TABLE agents (agent text PRIMARY KEY, org text, store text, state text, last_seen text,"
    " backlog_batches bigint, clock_synced bigint, agent_version text, counters text, status_at text)",
    "CREATE TABLE pos_transactions (store text NOT NULL, transaction_id text NOT NULL, at_utc text NOT NULL,"
    " at_epoch_s bigint NOT NULL, net_amount_cents bigint NOT NULL, import_file_sha256 text,"
    " member_id text, voided bigint NOT NULL DEFAULT 0, PRIMARY KEY (store, transaction_id))",
    "CREATE INDEX pos_transactions_store_at ON pos_transactions (store, at_epoch_s)",
    "CREATE TABLE members (member_id text PRIMARY KEY, segment text, tier text, joined_on text,"
    " member_key text UNIQUE, import_file_sha256 text, updated_at text, gateway_key text)",
    "CREATE INDEX members_gateway_key ON members (gateway_key)",
    "CREATE TABLE staff_hours (store text NOT NULL, hour_epoch_s bigint NOT NULL, local_date text NOT NULL,"
    " local_hour bigint NOT NULL, labour_hours double precision NOT NULL, import_file_sha256 text,"
    " PRIMARY KEY (store, hour_epoch_s))",
    "CREATE TABLE member_visits (store text NOT NULL, member_key text NOT NULL,"
    " started_epoch_s bigint NOT NULL, ended_epoch_s bigint NOT NULL, dwell_s bigint NOT NULL, agent text,"
    " PRIMARY KEY (store, started_epoch_s, member_key))",
    "CREATE INDEX member_visits_member_key ON member_visits (member_key)",
    "CREATE TABLE optouts (optout_key text PRIMARY KEY, member_key text UNIQUE, added_at text NOT NULL)",
    "CREATE TABLE imports (sha256 text PRIMARY KEY, kind text, name text, rows_n bigint, added_n bigint,"
    " at text)",
)

_V2 = (
    # people: fragments of one phone linked by the agent (agent/pipeline/link.py)
    "ALTER TABLE visits ADD COLUMN person_key text",
    "ALTER TABLE visits ADD COLUMN person_dwell_s bigint",
    # opt-outs that erase: the gateway names the device's visit key of the current window
    "CREATE TABLE erasures (org text NOT NULL, store text NOT NULL, agent text NOT NULL, epoch text NOT NULL,"
    " seq bigint NOT NULL, idx bigint NOT NULL, device_key text, key_window text, erased_at text,"
    " erased_epoch_s bigint NOT NULL)",
    "CREATE INDEX erasures_store_key ON erasures (store, device_key)",
    # the live view: presence counts every few seconds (many rows: partitioned like the other counts)
    "CREATE TABLE presence (org text NOT NULL, store text NOT NULL, agent text NOT NULL, epoch text NOT NULL,"
    " seq bigint NOT NULL, idx bigint NOT NULL, taken_at text, present_n bigint, entered_n bigint,"
    " new_n bigint, recent_s bigint, taken_epoch_s bigint NOT NULL) PARTITION BY RANGE (taken_epoch_s)",
    "CREATE INDEX presence_store_taken ON presence (store, taken_epoch_s)",
    "CREATE TABLE arrivals (org text NOT NULL, store text NOT NULL, agent text NOT NULL, epoch text NOT NULL,"
    " seq bigint NOT NULL, idx bigint NOT NULL, seen_at text, seen_epoch_s bigint NOT NULL)",
    "CREATE INDEX arrivals_store_seen ON arrivals (store, seen_epoch_s)",
    # agents are (org, store, agent): gw-1 of one store is not gw-1 of another
    "ALTER TABLE agents DROP CONSTRAINT agents_pkey",
    "UPDATE agents SET org = coalesce(org, ''), store = coalesce(store, '')",
    "ALTER TABLE agents ADD PRIMARY KEY (org, store, agent)",
)

_V3 = (
    # members: the daily lifecycle segments (hub/members/segments.py) and who arrived when, for the live
    # page's list and the one-event-per-visit dedupe (hub/members/arrivals.py); SQLite makes them lazily
    "CREATE TABLE member_segments (as_of text NOT NULL, member_id text NOT NULL, segment text NOT NULL,"
    " recency_d bigint, active_days_28d bigint, frequency_90d bigint, visit_days_90d bigint,"
    " purchases_90d bigint, spend_90d double precision, r_score bigint, f_score bigint, m_score bigint,"
    " PRIMARY KEY (as_of, member_id))",
    "CREATE TABLE member_arrivals (store text NOT NULL, member_key text NOT NULL,"
    " seen_epoch_s bigint NOT NULL, member_id text NOT NULL, announced bigint NOT NULL,"
    " PRIMARY KEY (store, member_key, seen_epoch_s))",
)

_V5 = (
    # the live page's accounts (hub/live/auth.py; SQLite makes the same tables on first use): sessions and
    # failed logins in the database, so a login holds and a lockout counts across every worker of a chain
    "CREATE TABLE users (name text PRIMARY KEY, role text NOT NULL, scope text NOT NULL,"
    " password_hash text NOT NULL, created_at text NOT NULL)",
    "CREATE TABLE sessions (token_hash text PRIMARY KEY, csrf text NOT NULL, name text NOT NULL,"
    " expires_epoch_s double precision NOT NULL)",
    "CREATE INDEX sessions_name ON sessions (name)",
    "CREATE TABLE login_failures (name text NOT NULL, at_epoch_s double precision NOT NULL)",
    "CREATE INDEX login_failures_name_at ON login_failures (name, at_epoch_s)",
)

_V6 = (
    # the agent's calibration from its status (issue 19), kept as SQLite's agents.learned is
    "ALTER TABLE agents ADD COLUMN learned text",
)

def _touch_trigger(table: str, touches: str) -> tuple[str, str]:
    """A statement trigger adding the (org, store, first, last, day_only) `touches` of the statement's
    new rows (`new_rows`) to publish_changes, in the writer's transaction (hub/publish/changes.py)."""
    return (f"CREATE FUNCTION publish_touch_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " INSERT INTO publish_changes (org, store, first_epoch_s, last_epoch_s, day_only)"
            f" {touches}; RETURN NULL; END $$",
            f"CREATE TRIGGER publish_touch AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows"
            f" FOR EACH STATEMENT EXECUTE FUNCTION publish_touch_{table}()")


_FEED_VALUES = (  # feed_periods' figures as the views show them (the payload's, withheld ones NULL)
    " visits_n, visitors_n, passersby_n, capture_rate, traffic_in, traffic_source, transactions_n,"
    " net_sales_cents, conversion"
)
_FEED_ABOUT = (  # how each row was published
    " withheld::jsonb AS withheld, k, noise_epsilon, revision, published_at::timestamptz AS published_at"
)

_V4 = (
    # the metrics publisher's state (hub/publish/tables.py makes the same on SQLite)
    "CREATE TABLE publish_marks (name text PRIMARY KEY, value bigint NOT NULL)",
    "CREATE TABLE publish_dirty (org text NOT NULL, store text NOT NULL, day text NOT NULL,"
    " hour bigint NOT NULL, first_touch double precision, last_touch double precision,"
    " PRIMARY KEY (org, store, day, hour))",
    "CREATE TABLE publish_sent (org text NOT NULL, store text NOT NULL, day text NOT NULL,"
    " hour bigint NOT NULL, payload text NOT NULL, counts text NOT NULL, revision bigint NOT NULL,"
    " corrected bigint NOT NULL, PRIMARY KEY (org, store, day, hour))",
    # what changed, marked by triggers in the writer's transaction (several workers commit in any order)
    "CREATE TABLE publish_changes (id bigserial PRIMARY KEY, org text, store text NOT NULL,"
    " first_epoch_s bigint NOT NULL, last_epoch_s bigint, day_only bigint NOT NULL)",
    *_touch_trigger("periods", "SELECT DISTINCT n.org, n.store, n.start_epoch_s, n.start_epoch_s,"
                    " CASE WHEN n.period = 'day' THEN 1 ELSE 0 END FROM new_rows n"),
    *_touch_trigger("visits", "SELECT DISTINCT n.org, n.store,"
                    " n.started_epoch_s - n.started_epoch_s % 900, 0, 0 FROM new_rows n"),
    *_touch_trigger("doors", "SELECT DISTINCT n.org, n.store, n.minute_epoch_s - n.minute_epoch_s % 900,"
                    " 0, 0 FROM new_rows n"),
    *_touch_trigger("device_flags", "SELECT DISTINCT v.org, v.store, v.started_epoch_s, v.ended_epoch_s,"
                    " 0 FROM new_rows f JOIN visits v ON v.store = f.store AND v.device_key = f.device_key"
                    " AND v.key_window = f.key_window"),
    *_touch_trigger("imports", "SELECT DISTINCT (SELECT org FROM batches b WHERE b.store = p.store"
                    " LIMIT 1), p.store, p.at_epoch_s - p.at_epoch_s % 900, 0, 0 FROM new_rows i"
                    " JOIN pos_transactions p ON p.import_file_sha256 = i.sha256"),
    # the feed as published: one row per store-hour and store-day, a column per payload field (schema 3)
    "CREATE TABLE feed_periods (schema bigint NOT NULL, org text NOT NULL, store text NOT NULL,"
    " period text NOT NULL, start_at text NOT NULL, end_at text NOT NULL, local_start text NOT NULL,"
    " timezone text NOT NULL, published_at text NOT NULL, revision bigint NOT NULL, k bigint NOT NULL,"
    " noise_epsilon double precision, visits_n bigint, visitors_n bigint, passersby_n bigint,"
    " capture_rate double precision, traffic_in double precision, traffic_source text NOT NULL,"
    " transactions_n bigint, net_sales_cents bigint, conversion double precision,"
    " members_active_n bigint, members_normal_n bigint, members_lapsing_n bigint,"
    " members_churn_risk_n bigint, members_new_n bigint, withheld text NOT NULL,"
    " PRIMARY KEY (org, store, period, start_at))",
    # the data team's views (docs/chain.md): the feed's values, with the same cells withheld
    "CREATE VIEW v_store_hour AS SELECT org, store, left(local_start, 10)::date AS local_date,"
    " substr(local_start, 12, 2)::integer AS local_hour, local_start, timezone,"
    " start_at::timestamptz AS start_at, end_at::timestamptz AS end_at," + _FEED_VALUES + "," + _FEED_ABOUT
    + " FROM feed_periods WHERE period = 'hour'",
    "CREATE VIEW v_store_day AS SELECT org, store, left(local_start, 10)::date AS local_date, timezone,"
    " start_at::timestamptz AS start_at, end_at::timestamptz AS end_at," + _FEED_VALUES + ","
    " members_active_n, members_normal_n, members_lapsing_n, members_churn_risk_n, members_new_n,"
    + _FEED_ABOUT + " FROM feed_periods WHERE period = 'day'",
    "CREATE VIEW v_member_segments AS SELECT f.org, f.store, left(f.local_start, 10)::date AS local_date,"
    " s.segment, s.members_n, (SELECT w ->> 'reason' FROM jsonb_array_elements(f.withheld::jsonb) w"
    " WHERE w ->> 'field' = 'members_' || s.segment || '_n') AS withheld_reason, f.k, f.revision,"
    " f.published_at::timestamptz AS published_at FROM feed_periods f CROSS JOIN LATERAL (VALUES"
    " (1, 'active', f.members_active_n), (2, 'normal', f.members_normal_n),"
    " (3, 'lapsing', f.members_lapsing_n), (4, 'churn_risk', f.members_churn_risk_n),"
    " (5, 'new', f.members_new_n)) AS s (position, segment, members_n) WHERE f.period = 'day'",
    # the data team's role: the views only (footfall-hub reader adds logins to it). Roles belong to the
    # cluster: made once, and skipped with a notice where the migrating user may not make roles (the
    # reader command grants the same, run by one who may).
    "DO $$ BEGIN"
    " IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'footfall_reader') THEN"
    "  IF NOT (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN"
    "   RAISE NOTICE 'footfall_reader not created: % may not create roles', current_user; RETURN;"
    "  END IF;"
    "  CREATE ROLE footfall_reader NOLOGIN;"
    " END IF;"
    " EXECUTE format('GRANT USAGE ON SCHEMA %I TO footfall_reader', current_schema());"
    " GRANT SELECT ON v_store_hour, v_store_day, v_member_segments TO footfall_reader;"
    " END $$",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "the SQLite schema of hub/store/schema.py v1", _V1),
    Migration(2, "people, erasures, presence and arrivals; agents keyed by (org, store, agent)", _V2),
    Migration(3, "members' daily segments and arrivals (tables SQLite makes lazily)", _V3),
    Migration(4, "the metrics publisher's tables and change triggers; the feed's table, its v_* views"
              " and the footfall_reader role", _V4),
    Migration(5, "the live page's users, sessions and failed logins", _V5),
    Migration(6, "agents.learned: the calibration of the agent's status", _V6),
    Migration(7, "day rollups and the triggers marking what makes them stale (hub/joins/rollup_tables.py)",
              PG_STATEMENTS),
)
LATEST = MIGRATIONS[-1].version
