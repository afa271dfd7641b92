"""The footfall hub: ingests agents' batches from MQTT into SQLite exactly once, imports POS data,
and reports per store and day (docs/wire.md and docs/reliability.md).

Read `hub/app.py` first: it starts and stops the stages in order. `hub/cli.py` is a thin CLI over it.
"""
