"""Built-in panes; registered through the same `mlopstui.panes` entry points as plugins."""
