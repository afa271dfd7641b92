"""Footfall agent: runs on a store gateway, turns probe requests and door counts into visits and counts."""

__version__ = "0.1.0"
