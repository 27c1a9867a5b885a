"""Fake pane plugins for the registry tests (imported by entry points the tests build)."""
