"""Fake plugin sources for the source catalogue tests (named as fakes: no backend behind them)."""
