"""`inert()`: the UI side of the sanitiser.

Rich tables, Textual `Static`, `OptionList` prompts and toasts parse a plain `str` as markup,
so every external string reaches a widget as `inert(value)`: cleaned by `text.clean` and
wrapped in a `rich.text.Text`, which is never parsed.
"""

from __future__ import annotations

from rich.text import Text

from mlopstui.text import clean


def inert(
    value: object, style: str = "", *, limit: int | None = None, multiline: bool = False
) -> Text:
    """Sanitised, markup-free text for a widget or a Rich renderable."""
    return Text(clean(value, limit=limit, multiline=multiline), style=style)
