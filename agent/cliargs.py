"""argparse types of the agent CLI's numbers: each refuses what argparse's own types let through
(nan, 0, a month-long window) with one line. Kept out of agent/cli.py, which is near its size limit."""

from __future__ import annotations

import argparse


def window_arg(text: str) -> int:
    """--window: whole seconds, from 1 to 31 days."""
    try:
        seconds = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds") from None
    if not 1 <= seconds <= 31 * 86400:
        raise argparse.ArgumentTypeError(f"{seconds} is not between 1 and {31 * 86400} seconds")
    return seconds


def seconds_arg(text: str) -> float:
    """A timeout: a finite number of seconds above 0, at most a day."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < seconds <= 86400:  # also false for nan
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 86400 seconds")
    return seconds
