"""Pure rendering of the registry tables: columns per width, and each row's cells as inert
Text. No widgets here, so it is tested on plain domain values."""

from __future__ import annotations

from rich.text import Text

from mlopstui import text, timefmt
from mlopstui.domain import ModelVersion, RegisteredModel, Run
from mlopstui.ui.inert import inert

# Model tags this tool writes for itself (where each alias pointed before it moved them).
HIDDEN_TAG_PREFIXES = ("mlopstui.alias.", "mlflow.")
PREFERRED_ALIASES = ("champion", "challenger")

# (key, label, width or None for auto): the narrow set is a prefix-compatible subset.
MODEL_COLUMNS = [
    ("name", "Model", None),
    ("latest", "Latest", 6),
    ("aliases", "Aliases", None),
    ("updated", "Updated", 11),
    ("tags", "Tags", None),
    ("description", "Description", None),
]
MODEL_COLUMNS_NARROW = ["name", "latest", "aliases", "updated"]
VERSION_COLUMNS = [
    ("version", "Version", 7),
    ("status", "Status", None),
    ("aliases", "Aliases", None),
    ("run", "Source run", None),
    ("created", "Created", 11),
    ("tags", "Tags", None),
]
VERSION_COLUMNS_NARROW = ["version", "status", "aliases", "run", "created"]
STATUS_LABELS = {"PENDING_REGISTRATION": "PENDING", "FAILED_REGISTRATION": "FAILED"}
STATUS_STYLES = {
    "READY": "green",
    "PENDING_REGISTRATION": "yellow",
    "FAILED_REGISTRATION": "bold red",
}


def model_columns(narrow: bool) -> list[tuple[str, str, int | None]]:
    """The models table's columns at this width."""
    return [c for c in MODEL_COLUMNS if not narrow or c[0] in MODEL_COLUMNS_NARROW]


def version_columns(narrow: bool) -> list[tuple[str, str, int | None]]:
    """The versions table's columns at this width."""
    return [c for c in VERSION_COLUMNS if not narrow or c[0] in VERSION_COLUMNS_NARROW]


def ordered_aliases(aliases: dict[str, str] | list[str] | tuple[str, ...]) -> list[str]:
    """Alias names, champion and challenger first, then by name."""
    rank = {a: i for i, a in enumerate(PREFERRED_ALIASES)}
    return sorted(aliases, key=lambda a: (rank.get(a, len(rank)), a))


def alias_summary(aliases: dict[str, str], limit: int = 60) -> Text:
    """'champion→v5 challenger→v6' (champion first)."""
    out = Text(no_wrap=True, overflow="ellipsis")
    for i, alias in enumerate(ordered_aliases(aliases)):
        if i:
            out.append(" ")
        out.append_text(inert(alias, "bold green" if alias == "champion" else "bold cyan"))
        out.append_text(inert(f"→v{aliases[alias]}"))
    if not aliases:
        out.append("—", style="dim")
    out.truncate(limit, overflow="ellipsis")
    return out


def visible_tags(tags: dict[str, str]) -> dict[str, str]:
    """Tags a person set (not MLflow's system tags or this tool's bookkeeping)."""
    return {k: v for k, v in tags.items() if not k.startswith(HIDDEN_TAG_PREFIXES)}


def tags_summary(tags: dict[str, str], limit: int = 40) -> Text:
    """'team=fraud env=prod +2' within `limit` characters."""
    shown = visible_tags(tags)
    parts = [
        f"{text.clean(k, limit=20)}={text.clean(v, limit=20)}" for k, v in sorted(shown.items())
    ]
    out, used = Text(no_wrap=True), 0
    for i, part in enumerate(parts):
        rest = len(parts) - i
        if used and used + len(part) + 1 > limit - (4 if rest > 1 else 0):
            out.append(f" +{rest}", style="dim")
            break
        if used:
            out.append(" ")
            used += 1
        out.append(part)
        used += len(part)
    if not parts:
        out.append("—", style="dim")
    return out


def _cut(value: Text) -> Text:
    """A cell that ends in an ellipsis when its column is narrowed."""
    value.no_wrap, value.overflow = True, "ellipsis"
    return value


def _when(ms: int | None) -> Text:
    stamp = timefmt.clock(ms)
    return Text(stamp[5:] if stamp else "—", style="" if stamp else "dim")


def model_cells(m: RegisteredModel, narrow: bool) -> list[Text]:
    """One models-table row."""
    cells = {
        "name": inert(m.name, "bold", limit=40),
        "latest": Text(f"v{m.latest_version}" if m.latest_version else "—"),
        "aliases": alias_summary(m.aliases, 40 if narrow else 60),
        "updated": _when(m.last_updated),
        "tags": tags_summary(m.tags, 30),
        "description": inert(m.description or "", "dim", limit=50),
    }
    return [_cut(cells[key]) for key, _label, _w in model_columns(narrow)]


def run_label(run_id: str, run: Run | None) -> Text:
    """'1a2b3c4d trainer-7' (the run's name when the runs cache knows it)."""
    if not run_id:
        return Text("—", style="dim")
    out = Text(run_id[:8], style="dim" if run is None else "")
    if run is not None and run.name:
        out.append(" ")
        out.append_text(inert(run.name, limit=30))
    return out


def version_cells(v: ModelVersion, run: Run | None, narrow: bool) -> list[Text]:
    """One versions-table row; versions an alias points at show it as `@alias`."""
    aliases = Text(no_wrap=True)
    for i, alias in enumerate(ordered_aliases(v.aliases)):
        if i:
            aliases.append(" ")
        aliases.append_text(
            inert(f"@{alias}", "bold green" if alias == "champion" else "bold cyan", limit=30)
        )
    cells = {
        "version": Text(f"v{v.version}", style="bold" if v.aliases else ""),
        "status": inert(
            STATUS_LABELS.get(v.status, v.status) or "—", STATUS_STYLES.get(v.status, "yellow")
        ),
        "aliases": aliases,
        "run": run_label(v.run_id, run),
        "created": _when(v.creation_time),
        "tags": tags_summary(v.tags, 36),
    }
    return [_cut(cells[key]) for key, _label, _w in version_columns(narrow)]
