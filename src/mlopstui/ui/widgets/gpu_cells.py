"""Pure rendering of the GPU nodes pane: columns per width, each row's cells as inert Text,
sort keys and the text filter. No widgets here, so it is tested on plain cache values.

Units as cached: memory in MiB, power in W, temperature in C, utilisation in %. "—" means no
data (no recent sample); "n/a" means the driver cannot tell (NVML's NotSupported).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text

from mlopstui import text
from mlopstui.cache.gpu_nodes import NodeRow
from mlopstui.domain.gpus import GpuProcess, GpuSample
from mlopstui.ui.inert import inert

Column = tuple[str, str, int | None]
IDLE_MARK = "⚑"
NONE = "—"

NODE_COLUMNS: list[Column] = [
    ("node", "Node", None),
    ("gpu", "GPU", None),
    ("alloc", "Alloc", 5),
    ("use", "Use", 3),
    ("util", "Util", 4),
    ("mem", "Mem GiB", 7),
    ("temp", "Temp", 4),
    ("power", "Power", 5),
    ("status", "Status", None),
    ("taints", "Taints", None),
    ("age", "Age", 4),
]
NODE_COLUMNS_NARROW = ("node", "gpu", "alloc", "use", "util", "mem", "temp", "status")
SORTS: dict[str, tuple[str, Callable[[NodeRow], Any]]] = {
    "node": ("Node name", lambda r: r.name),
    "gpu": ("GPU product", lambda r: r.gpu_product),
    "alloc": ("GPUs allocated", lambda r: r.allocated),
    "use": ("GPUs in use", lambda r: r.in_use),
    "util": ("Mean utilisation", lambda r: r.util),
    "mem": ("Memory used", lambda r: r.mem_used),
    "temp": ("Hottest GPU", lambda r: r.temp),
    "power": ("Power", lambda r: r.power),
    "status": ("Status", lambda r: r.status),
    "idle": ("Idle but allocated first", lambda r: (r.idle_but_allocated, r.allocated)),
    "age": ("Age", lambda r: r.age),
}
DESCENDING_FIRST = {"alloc", "use", "util", "mem", "temp", "power", "idle", "age"}

LOCAL_COLUMNS: list[Column] = [
    ("idx", "#", 2),
    ("name", "Local GPU", None),
    ("util", "Util", 4),
    ("mem", "Memory GiB", 11),
    ("temp", "Temp", 4),
    ("power", "Power", 5),
    ("state", "", None),
]
PROCESS_COLUMNS: list[Column] = [
    ("pid", "PID", 7),
    ("gpu", "GPU", 3),
    ("kind", "Type", 4),
    ("user", "User", None),
    ("mem", "GPU mem", 8),
    ("command", "Command", None),
]


def node_columns(narrow: bool, *, history: bool = False) -> list[Column]:
    """The nodes table's columns at this width (no taints in the past: history does not
    keep them)."""
    return [
        c
        for c in NODE_COLUMNS
        if (not narrow or c[0] in NODE_COLUMNS_NARROW) and not (history and c[0] == "taints")
    ]


def _dim(value: str = NONE) -> Text:
    return Text(value, style="dim")


def short_product(product: str) -> str:
    """'NVIDIA-A100-SXM4-80GB' -> 'A100-SXM4-80GB' (the vendor says nothing in a GPU pane)."""
    cleaned = text.clean(product)
    for prefix in ("NVIDIA-", "NVIDIA ", "Tesla-", "Tesla "):
        cleaned = cleaned.removeprefix(prefix)
    return cleaned


def percent(value: float | None, *, busy: float = 5.0, na: str = NONE) -> Text:
    """'87%' (dim at or under the busy threshold); `na` when unknown."""
    if value is None:
        return _dim(na)
    return Text(f"{value:.0f}%", style="dim" if value <= busy else "")


def gib(used: float | None, total: float | None, *, na: str = NONE, digits: int = 0) -> Text:
    """'612/640' GiB from MiB values (either side may be unknown)."""
    if used is None and total is None:
        return _dim(na)
    fmt = f"{{:.{digits}f}}"
    left = fmt.format(used / 1024) if used is not None else "?"
    right = fmt.format(total / 1024) if total is not None else "?"
    return Text(f"{left}/{right}")


def celsius(value: float | None, *, na: str = NONE) -> Text:
    """'64°C', yellow from 80, bold red from 88 (where data-centre GPUs start to throttle)."""
    if value is None:
        return _dim(na)
    style = "bold red" if value >= 88 else ("yellow" if value >= 80 else "")
    return Text(f"{value:.0f}°C", style=style)


def watts(value: float | None, *, na: str = NONE) -> Text:
    """'312W' or '2.4kW'."""
    if value is None:
        return _dim(na)
    if value >= 9995:
        return Text(f"{value / 1000:.0f}kW")
    if value >= 1000:
        return Text(f"{value / 1000:.1f}kW")
    return Text(f"{value:.0f}W")


def age(seconds: float | None) -> Text:
    """kubectl's age: '45s', '12m', '5h', '30d'."""
    if seconds is None:
        return _dim()
    s = max(0, int(seconds))
    if s < 60:
        return Text(f"{s}s")
    if s < 3600:
        return Text(f"{s // 60}m")
    if s < 86400 * 2:
        return Text(f"{s // 3600}h")
    return Text(f"{s // 86400}d")


def status(row: NodeRow) -> Text:
    """'Ready', 'NotReady' (bold red), 'Unknown' (yellow), with ',cordoned' in yellow; '?'
    when the node object is not visible (RBAC): its state is not known, not Unknown."""
    if row.allocatable is None and row.created is None:
        return _dim("?")
    word = {"True": "Ready", "False": "NotReady"}.get(row.ready, "Unknown")
    out = Text(word, style={"Ready": "green", "NotReady": "bold red"}.get(word, "yellow"))
    if row.cordoned:
        out.append(",cordoned", style="bold yellow")
    return out


def node_cells(
    row: NodeRow, narrow: bool, busy: float = 5.0, *, history: bool = False
) -> list[Text]:
    """One nodes-table row; an idle-but-allocated node is marked and its allocation yellow."""
    name = Text(no_wrap=True, overflow="ellipsis")
    if row.idle_but_allocated:
        name.append(f"{IDLE_MARK} ", style="bold yellow")
        name.append_text(inert(row.name, "bold yellow"))
    else:
        name.append("  ")
        name.append_text(inert(row.name))
    allocatable = "?" if row.allocatable is None else str(row.allocatable)
    alloc = Text(f"{row.allocated}/{allocatable}")
    if row.idle_but_allocated:
        alloc.stylize("bold yellow")
    elif row.allocatable and row.allocated >= row.allocatable:
        alloc.stylize("bold")
    product = short_product(row.gpu_product)
    taints = ", ".join(text.clean(t) for t in row.taints)
    cells = {
        "node": name,
        "gpu": Text(product) if product else _dim("?" if row.allocatable is None else NONE),
        "alloc": alloc,
        "use": _dim() if row.in_use is None else Text(str(row.in_use)),
        "util": percent(row.util, busy=busy),
        "mem": gib(row.mem_used, row.mem_total),
        "temp": celsius(row.temp),
        "power": watts(row.power),
        "status": status(row),
        "taints": Text(taints) if taints else _dim(),
        "age": age(row.age),
    }
    return [_cut(cells[key]) for key, _label, _w in node_columns(narrow, history=history)]


def _cut(value: Text) -> Text:
    value.no_wrap, value.overflow = True, "ellipsis"
    return value


def local_cells(sample: GpuSample, busy: float = 5.0) -> list[Text]:
    """One row of the local (NVML) devices: fields the driver does not support are 'n/a'."""
    lost = sample.error is not None
    na = NONE if lost else "n/a"
    cells = {
        "idx": Text("?" if sample.index is None else str(sample.index)),
        "name": inert(short_product(sample.product) or sample.uuid, limit=40),
        "util": percent(sample.util, busy=busy, na=na),
        "mem": gib(sample.mem_used, sample.mem_total, na=na, digits=1),
        "temp": celsius(sample.temp, na=na),
        "power": watts(sample.power, na=na),
        "state": inert(sample.error, "bold red", limit=60) if lost else Text(""),
    }
    return [_cut(cells[key]) for key, _label, _w in LOCAL_COLUMNS]


def process_cells(p: GpuProcess) -> list[Text]:
    """One GPU process, nvitop-style. A pid /proc cannot show (another PID namespace, e.g. a
    container) has no user or command: '?'."""
    if p.used_mem is None:
        mem = _dim("n/a")
    elif p.used_mem >= 1024:
        mem = Text(f"{p.used_mem / 1024:.1f}GiB")
    else:
        mem = Text(f"{p.used_mem:.0f}MiB")
    cells = {
        "pid": Text(str(p.pid)),
        "gpu": Text(str(p.index)),
        "kind": Text(text.clean(p.kind, limit=4) or "?"),
        "user": inert(p.user, limit=20) if p.user else _dim("?"),
        "mem": mem,
        "command": inert(p.command, limit=200) if p.command else _dim("? (not visible here)"),
    }
    return [_cut(cells[key]) for key, _label, _w in PROCESS_COLUMNS]


def util_sparkline(values: list[float], width: int = 24) -> str:
    """Utilisation on a fixed 0-100 % scale (an idle GPU is a flat low line, not a flat
    middle one): each of `width` buckets is the mean of its samples."""
    if not values:
        return ""
    if len(values) > width:
        step = len(values) / width
        values = [
            sum(chunk) / len(chunk)
            for i in range(width)
            if (chunk := values[int(i * step) : max(int((i + 1) * step), int(i * step) + 1)])
        ]
    bars = "▁▂▃▄▅▆▇█"
    return "".join(bars[min(7, max(0, int(v / 100 * 8)))] for v in values)


# ------------------------------------------------------------------ sort and filter


def sort_rows(rows: list[NodeRow], key: str, descending: bool) -> list[NodeRow]:
    """Rows by a sort key, unknown values last either way, then by name."""
    get = SORTS.get(key, SORTS["node"])[1]
    known = [r for r in rows if get(r) is not None]
    unknown = [r for r in rows if get(r) is None]
    known.sort(key=lambda r: r.name)
    known.sort(key=get, reverse=descending)
    return known + sorted(unknown, key=lambda r: r.name)


def searchable(row: NodeRow) -> str:
    """What the text filter looks at: name, product, status, taints, the pods holding GPUs
    and the word 'idle' for flagged nodes."""
    parts = [row.name, row.gpu_product, row.status, *row.taints]
    parts += [f"{h.namespace}/{h.name}" for h in row.holders]
    if row.idle_but_allocated:
        parts.append("idle")
    return text.clean(" ".join(parts)).lower()


def matches(row: NodeRow, query: str) -> bool:
    """Every word of `query` occurs in the row's searchable text (case-insensitive)."""
    hay = searchable(row)
    return all(word in hay for word in query.lower().split())
