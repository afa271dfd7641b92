"""Keys that turn MACs into pseudonyms (DESIGN section 3)."""
