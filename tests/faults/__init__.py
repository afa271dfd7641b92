"""Fault tests (issue 5): real mosquitto, real agent and hub processes, a fault at a time."""
