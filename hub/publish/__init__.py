"""Republishing enriched store metrics for the data team (docs/wire.md: `.../metrics/{hour,day}`).

`publisher.MetricsPublisher` (started by `hub.app` after the writer) finds what changed
(`changes`), waits until a period is final (`final`), computes the store-day (`source`, the one
boundary with the metrics engine), withholds small cells (`cells`, `suppress`) or adds noise (`noise`),
decides what may go out again (`revisions`, `release`) and sends the payloads documented in `payload`
(the JSON Schema: `metrics_schema()`, also `schema/metrics.schema.json`) over `client.MetricsClient`,
keeping each period's latest in `feed_periods` (`feed`; the data team's SQL views read it). Its tables:
`tables` (SQLite), migration 4 (PostgreSQL).
A data-team consumer to start from: `python -m hub.publish.example_consumer --help`.
"""

from hub.publish.client import MetricsClient
from hub.publish.payload import SCHEMA_VERSION, field_table, metrics_schema
from hub.publish.publisher import MetricsPublisher

__all__ = ["SCHEMA_VERSION", "MetricsClient", "MetricsPublisher", "field_table", "metrics_schema"]
