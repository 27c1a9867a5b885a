"""Human-readable times and durations, with one clock the tests can freeze."""

from __future__ import annotations

import os
import time
from datetime import datetime


def now() -> float:
    """Seconds since the epoch; `MLOPSTUI_FROZEN_TIME` pins it for snapshot tests."""
    frozen = os.environ.get("MLOPSTUI_FROZEN_TIME")
    return float(frozen) if frozen else time.time()


def now_ms() -> int:
    """Milliseconds since the epoch (MLflow's unit)."""
    return int(now() * 1000)


def ago(seconds: float) -> str:
    """'12 s ago', '5 min ago', '3 h ago', '2 d ago'."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def duration(ms: int | None) -> str:
    """A run's duration: '850ms', '42s', '3m05s', '2h03m', '4d02h'."""
    if ms is None or ms < 0:
        return ""
    if ms < 1000:
        return f"{ms}ms"
    s = ms // 1000
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


def clock(ms: int | None, *, with_date: bool = True) -> str:
    """A local timestamp: '2026-11-26 10:42' (or '10:42')."""
    if not ms:
        return ""
    dt = datetime.fromtimestamp(ms / 1000)
    return dt.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")
