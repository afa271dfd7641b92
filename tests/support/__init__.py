"""Helpers shared by tests: a real mosquitto, scapy-built frames."""
