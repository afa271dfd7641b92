"""Joins: footfall (the agents' records) with business data (POS imports), per store and local time.

One metrics engine (CONVENTIONS rule 11), which every output reads (table, csv, json, html, the feed,
`report --date` and ranges, every grain):

    metrics.py      the API: store_metrics(db, config, stores, start, end, grain) -> MetricsReport
    daily.py        a store-day, hours and day: daily_report(...) (report --date, the feed, live views)
    metric_data.py  loading, one query per table; visits.py makes people of a store's visits (linked MAC
                    fragments, several gateways); estimates.py the calibration interval and door fit
    metric_rows.py  every formula, once; definitions.py what each means, with the settings' values
    totals.py       a totals row: sums, and ratios of the sums
    calendar.py     local hours, days, weeks and months of a store's time zone
    rollups.py      closed store-days' day rows kept (a chain's day is a row per store); rollup_job.py
                    keeps them fresh, rollup_tables.py their tables and the triggers marking changes

A join returns a plain report model; formatting is `hub.reports`' business.
"""

from hub.joins.daily import DailyReport, NoDataError, PeriodRow, daily_report

__all__ = ["DailyReport", "NoDataError", "PeriodRow", "daily_report"]
