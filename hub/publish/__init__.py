"""Republishing enriched store metrics for the data team (DESIGN section 4: `.../metrics/{hour,day}`).

Not built yet: the topics exist in `agent.wire.topics.metrics_topic`; the payload will be the daily
report's hour and day rows (`hub.joins.daily`), with small cells suppressed (DESIGN section 3).
"""
