"""Joins: footfall (the agents' records) with business data (POS imports), per store and local time.

A join returns a plain report model (`daily.DailyReport`); formatting is `hub.reports`' business.
"""

from hub.joins.daily import DailyReport, NoDataError, PeriodRow, daily_report

__all__ = ["DailyReport", "NoDataError", "PeriodRow", "daily_report"]
