"""Keys that turn MACs into pseudonyms (docs/privacy.md)."""
