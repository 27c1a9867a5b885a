"""Styles and themes shipped in `styles/` (inside the wheel as `mlopstui/styles`)."""

from __future__ import annotations

import re
from pathlib import Path

from textual.theme import Theme

_THEME_FIELDS = {
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
}


def styles_dir() -> Path:
    """The installed styles, or the checkout's top-level styles/ in an editable install."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "styles", here.parent.parent / "styles"):
        if (candidate / "app.tcss").exists():
            return candidate
    raise FileNotFoundError("mlopstui styles/ not found; reinstall the package")


def themes() -> list[Theme]:
    """Themes from styles/themes/*.tcss: `$field: value;` lines; `dark` as `$dark: true;`."""
    out = []
    for path in sorted((styles_dir() / "themes").glob("*.tcss")):
        values = dict(re.findall(r"^\s*\$([a-z-]+)\s*:\s*([^;]+);", path.read_text(), re.M))
        fields = {k: v.strip() for k, v in values.items() if k in _THEME_FIELDS}
        extra = {k: v.strip() for k, v in values.items() if k not in _THEME_FIELDS | {"dark"}}
        out.append(
            Theme(
                name=path.stem,
                dark=values.get("dark", "true").strip() != "false",
                variables=extra,
                **fields,
            )
        )
    return out
