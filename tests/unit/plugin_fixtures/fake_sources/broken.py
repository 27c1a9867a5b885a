"""A plugin source whose import fails."""

raise RuntimeError("fake source exploded on import")
