"""The local SQLite cache every pane reads from."""
