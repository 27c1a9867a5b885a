"""A plugin whose import fails."""

raise RuntimeError("fake plugin exploded on import")
