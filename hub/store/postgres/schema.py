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

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "the SQLite schema of hub/store/schema.py v1", _V1),
    Migration(2, "people, erasures, presence and arrivals; agents keyed by (org, store, agent)", _V2),
    Migration(3, "members' daily segments and arrivals (tables SQLite makes lazily)", _V3),
    Migration(5, "the live page's users, sessions and failed logins", _V5),
    Migration(6, "agents.learned: the calibration of the agent's status", _V6),
)
LATEST = MIGRATIONS[-1].version
