"""Shared fixtures for the headless unit tests: a fresh cache, its writer and a reader."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlopstui.cache import db


@pytest.fixture
def cache_path(tmp_path: Path) -> Path:
    """Where a test's cache file lives (inside a private directory)."""
    return tmp_path / "cache" / "test.sqlite"


@pytest.fixture
def writer(cache_path: Path) -> Iterator[db.Writer]:
    """A real cache writer on a fresh file."""
    w = db.Writer(db.open_writer(cache_path))
    yield w
    w.close()


@pytest.fixture
def reader(writer: db.Writer) -> Iterator[sqlite3.Connection]:
    """A read-only connection to the writer's cache."""
    conn = db.open_reader(writer.path)
    yield conn
    conn.close()
