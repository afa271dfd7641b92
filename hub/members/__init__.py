"""Members: arrival events (arrivals.py), the store's view of a member (profile.py), lifecycle
segments (segments.py) and who comes in versus who buys (mismatch.py)."""
