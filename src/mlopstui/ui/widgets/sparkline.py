"""A one-line text sparkline that fits in a table cell."""

from __future__ import annotations

import math

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int = 24) -> str:
    """Resample `values` to `width` buckets (mean) and draw them with block characters."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return ""
    if len(finite) > width:
        step = len(finite) / width
        finite = [
            sum(chunk) / len(chunk)
            for i in range(width)
            if (chunk := finite[int(i * step) : max(int((i + 1) * step), int(i * step) + 1)])
        ]
    lo, hi = min(finite), max(finite)
    span = hi - lo
    if span == 0:
        return BARS[3] * len(finite)
    return "".join(BARS[min(7, int((v - lo) / span * 7.999))] for v in finite)
