"""Checks of the hub CLI's arguments that argparse's types cannot make alone: each returns the one line
the CLI prints (exit 1), or None. Kept out of hub/cli.py, which is near its size limit."""

from __future__ import annotations

import argparse
import dataclasses
from datetime import date

from agent.wire.topics import ID_RE
from hub.config import HubConfig

REPORT_YEARS = (2000, 2999)  # the year 9999 has no next day or week to end a report period with
DEMO_SCALE_MAX = 20          # agent/simulate/store_day.py refuses more


def report_dates_problem(args: argparse.Namespace) -> str | None:
    for flag, day in (("--date", args.date), ("--from", args.start), ("--to", args.end)):
        if day is not None and not REPORT_YEARS[0] <= day.year <= REPORT_YEARS[1]:
            return f"{flag} {day} is outside the years {REPORT_YEARS[0]} to {REPORT_YEARS[1]}"
    return None


ROLLUP_DAYS_MAX = 3660  # ten years of closed days


def rollup_days(text: str) -> int:
    """`rollup --days` as given: a whole number of closed days from 1 to ROLLUP_DAYS_MAX; ValueError:
    the one line the CLI prints."""
    if not text.strip().isdigit() or not 1 <= int(text) <= ROLLUP_DAYS_MAX:
        raise ValueError(f"--days {text!r} must be a whole number of closed days from 1 to {ROLLUP_DAYS_MAX}"
                         " (e.g. --days 35)")
    return int(text)


def demo_scale_problem(scale: float) -> str | None:
    if not 0 < scale <= DEMO_SCALE_MAX:  # also false for nan
        return f"--scale {scale} must be in (0, {DEMO_SCALE_MAX}]"
    return None


def date_arg(text: str) -> date:
    """argparse type of --date, --from and --to."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (use YYYY-MM-DD)") from None


def store_arg(text: str) -> str:
    """argparse type of --store."""
    if not ID_RE.match(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a store id (lower-case letters, digits and -)")
    return text


def worker_config(config: HubConfig, worker: str) -> HubConfig:
    """`serve --worker NAME` (systemd/footfall-hub@.service): one of several workers on this machine.
    They need ingest.shared_group: outside a group each would take every batch, and workers sharing
    one session (one client id) would throw each other off the broker. NAME goes into the MQTT client
    ids so that the broker's log tells the workers apart. ValueError: the one line the CLI prints."""
    if not ID_RE.match(worker):
        raise ValueError(f"--worker {worker!r} must be lower-case letters, digits and - (e.g. --worker 1)")
    if not config.ingest.shared_group:
        raise ValueError(f"--worker {worker}: several workers need ingest.shared_group in the config "
                         "(e.g. ingest: {shared_group: hub}; docs/chain.md)")
    return dataclasses.replace(
        config, mqtt=dataclasses.replace(config.mqtt, client_id=f"{config.mqtt.client_id}-{worker}"),
        publish=dataclasses.replace(config.publish, client_id=f"{config.publish.client_id}-{worker}"))
