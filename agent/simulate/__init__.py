"""A seeded, realistic store-day (probe-request pcap, POS export, exact truth) for the demo and the tests.

Importing this package does not import scapy: `generate_day` loads it when it writes the pcap.
"""

from agent.simulate.store_day import DayFiles, generate_day

__all__ = ["DayFiles", "generate_day"]
