"""The one sanitiser between every external string and the screen.

Strings from MLflow, Kubernetes, Docker and plugins are data. Textual and Rich strip only a
handful of control characters; CSI, OSC 52 (clipboard write), OSC 8 (hyperlinks), C1 controls
and bidi overrides pass through `Static`, `Label` and `DataTable` even with markup off. So every
external string passes `clean()` before it is drawn or printed, and the UI wraps the result in a
`rich.text.Text` (never a markup string) so `[link=...]` stays literal text.
"""

from __future__ import annotations

import re

# ESC-introduced sequences, matched whole so no payload (an OSC 52 clipboard body, a hyperlink
# target) survives as visible junk: CSI, OSC/DCS/SOS/PM/APC strings up to BEL or ST, and
# two-character escapes. 8-bit C1 forms (0x9b CSI, 0x9d OSC, 0x90 DCS ...) likewise.
_ESCAPES = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]?              # CSI ... final byte
  | \x9b[0-?]*[ -/]*[@-~]?                # 8-bit CSI
  | (?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f]) # OSC, DCS, SOS, PM, APC (7- and 8-bit)
    .*?(?:\x07|\x1b\\|\x9c|$)             #   ... up to BEL, ST or the end of the string
  | \x1b[ -/]*[0-~]?                      # other escapes (charset selection, RIS ...)
    """,
    re.VERBOSE | re.DOTALL,
)

# Characters that never reach the terminal: C0 (but tab and newline, mapped below), DEL, C1,
# bidi embeddings/overrides/isolates (the "Trojan Source" set), and invisible zero-width marks
# that make two different names look alike.
_DROP = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
_SECRET_QUERY = re.compile(r"(?i)\b(token|password|passwd|secret|api[_-]?key)=[^&\s]+")


def clean(value: object, *, multiline: bool = False, limit: int | None = None) -> str:
    """Return `value` as inert, printable text.

    Escape sequences and control characters are removed; a tab becomes a space; a newline
    becomes a space unless `multiline` (descriptions, notes). `limit` cuts the result and marks
    the cut with an ellipsis.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if not (text.isascii() and text.isprintable()):
        text = _ESCAPES.sub("", text)
        text = _DROP.sub("", text)
        text = text.replace("\t", " ")
        if not multiline:
            text = text.replace("\r\n", " ").replace("\n", " ")
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    return text


def clean_mapping(values: dict[str, object] | None) -> dict[str, str]:
    """Clean every key and value of a mapping (tags, params, labels)."""
    return {clean(k): clean(v) for k, v in (values or {}).items()}


def redact(value: str) -> str:
    """A URI or text without credentials (user:password@ and token= query values): what the
    audit log, the status bar and the source panel may show of a source."""
    return _SECRET_QUERY.sub(r"\1=***", _CREDENTIALS.sub("***@", value))


def first_line(exc: BaseException, limit: int = 240) -> str:
    """An error in one line: the first line of its message (its type's name when it has
    none), cut at `limit`."""
    message = str(exc)
    return (message.splitlines()[0] if message.strip() else type(exc).__name__)[:limit]
