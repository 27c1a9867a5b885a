"""MLflow search syntax, answered from the cache.

`metrics.val_acc > 0.9 and params.lr = '0.01'`, `tags.team = 'nlp'`,
`attributes.status = 'FAILED'`, `attributes.run_name LIKE 'bert%'`, `tags.env IN ('a', 'b')`
compile to a SQL condition over `runs r`; anything that does not start like MLflow syntax is
plain text, searched over run names and tags with the FTS5 trigram index. A malformed
expression raises FilterError with a message meant to be shown inline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ENTITY = {
    "metric": "metrics",
    "metrics": "metrics",
    "param": "params",
    "params": "params",
    "parameter": "params",
    "parameters": "params",
    "tag": "tags",
    "tags": "tags",
    "attribute": "attributes",
    "attributes": "attributes",
    "attr": "attributes",
    "run": "attributes",
}
# MLflow attribute names -> runs columns.
ATTRIBUTES = {
    "run_id": "run_id",
    "run_name": "name",
    "status": "status",
    "start_time": "start_time",
    "end_time": "end_time",
    "created": "start_time",
    "user_id": "user",
    "artifact_uri": "artifact_uri",
    "lifecycle_stage": "lifecycle",
    "duration": "duration",
}
_NUMERIC_ATTRS = {"start_time", "end_time", "duration"}

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")
    | (?P<num>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    | (?P<op>!=|<>|>=|<=|=|<|>|\(|\)|,)
    | (?P<ident>(?:[A-Za-z_][A-Za-z0-9_]*)\.(?:`[^`]*`|"[^"]*"|[A-Za-z0-9_.:/\-]+)|[A-Za-z_]+)
    )""",
    re.VERBOSE,
)


_AMBIGUOUS = {"run", "tag", "param", "parameter", "metric", "attr", "attribute"}
_HAS_OPERATOR = re.compile(r"[=<>]|\b(?:like|ilike|in)\b", re.IGNORECASE)


class FilterError(ValueError):
    """The expression is not valid MLflow search syntax; the message says where and why."""


@dataclass(frozen=True)
class Compiled:
    """A SQL condition over `runs r` and its parameters."""

    sql: str
    params: tuple[object, ...]
    plain_text: bool = False


def looks_like_mlflow(expr: str) -> bool:
    """True when `expr` starts like MLflow syntax (`entity.key`), so errors are shown."""
    head = expr.strip().split(".", 1)[0].strip().lower()
    return "." in expr and head in _ENTITY


def _tokens(expr: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    expr = expr.rstrip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise FilterError(f"cannot read {expr[pos:].strip()[:20]!r} at position {pos + 1}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind), m.start(kind) + 1))
        pos = m.end()
    return out


def _literal(kind: str, text: str) -> object:
    if kind == "num":
        return float(text) if any(c in text for c in ".eE") else int(text)
    quote = text[0]
    body = text[1:-1].replace(quote * 2, quote)
    return re.sub(r"\\(.)", r"\1", body)


def _like_to_glob(pattern: str) -> str:
    # MLflow's LIKE is case-sensitive; SQLite's is not, so translate to GLOB.
    out = []
    for ch in pattern:
        out.append({"%": "*", "_": "?", "*": "[*]", "?": "[?]", "[": "[[]"}.get(ch, ch))
    return "".join(out)


class _Parser:
    def __init__(self, expr: str) -> None:
        self.toks = _tokens(expr)
        self.i = 0
        self.end = len(expr.rstrip()) + 1

    def peek(self) -> tuple[str, str, int] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, what: str) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None:
            raise FilterError(f"expression ends early at position {self.end}: expected {what}")
        self.i += 1
        return tok

    def parse(self) -> Compiled:
        parts, params = [], []
        while True:
            sql, ps = self.condition()
            parts.append(sql)
            params.extend(ps)
            tok = self.peek()
            if tok is None:
                break
            if tok[0] == "ident" and tok[1].lower() == "and":
                self.i += 1
                continue
            if tok[0] == "ident" and tok[1].lower() == "or":
                raise FilterError(f"OR is not part of MLflow search syntax (position {tok[2]})")
            raise FilterError(f"expected AND at position {tok[2]}, found {tok[1]!r}")
        return Compiled(" AND ".join(parts), tuple(params))

    def condition(self) -> tuple[str, list[object]]:
        kind, text, pos = self.take("a key like metrics.acc")
        if kind != "ident" or "." not in text:
            raise FilterError(
                f"expected a key like metrics.acc, params.lr, tags.team or attributes.status "
                f"at position {pos}, found {text!r}"
            )
        entity_raw, key = text.split(".", 1)
        entity = _ENTITY.get(entity_raw.lower())
        if entity is None:
            raise FilterError(
                f"unknown entity {entity_raw!r} at position {pos}: "
                "use metrics., params., tags. or attributes."
            )
        if key[:1] in '`"' and key[-1:] == key[:1]:
            key = key[1:-1]
        op = self.operator()
        value = self.value(op)
        return self.compile(entity, key, op, value, pos)

    def operator(self) -> str:
        kind, text, pos = self.take("a comparison operator")
        up = text.upper()
        if kind == "op" and text in ("=", "!=", "<>", ">", ">=", "<", "<="):
            return "!=" if text == "<>" else text
        if kind == "ident" and up in ("LIKE", "ILIKE", "IN"):
            return up
        if kind == "ident" and up == "NOT":
            nxt = self.take("IN after NOT")
            if nxt[1].upper() == "IN":
                return "NOT IN"
        raise FilterError(f"expected an operator (=, !=, <, >, LIKE, IN) at position {pos}")

    def value(self, op: str) -> object:
        if op in ("IN", "NOT IN"):
            self.expect("(")
            items = []
            while True:
                kind, text, pos = self.take("a value")
                if kind not in ("str", "num"):
                    raise FilterError(f"expected a quoted value at position {pos}")
                items.append(_literal(kind, text))
                sep = self.take("',' or ')'")
                if sep[1] == ")":
                    return items
                if sep[1] != ",":
                    raise FilterError(f"expected ',' or ')' at position {sep[2]}")
        kind, text, pos = self.take("a value")
        if kind not in ("str", "num"):
            raise FilterError(
                f"expected a number or a quoted string at position {pos}, found {text!r}"
            )
        return _literal(kind, text)

    def expect(self, symbol: str) -> None:
        kind, text, pos = self.take(repr(symbol))
        if text != symbol:
            raise FilterError(f"expected {symbol!r} at position {pos}")

    def compile(
        self, entity: str, key: str, op: str, value: object, pos: int
    ) -> tuple[str, list[object]]:
        if entity == "metrics":
            if op in ("LIKE", "ILIKE") or isinstance(value, str | list):
                raise FilterError(f"metrics compare with numbers: {op} at position {pos}")
            sql = f"EXISTS (SELECT 1 FROM metrics x WHERE x.run = r.id AND x.key = ? AND x.value {op} ?)"
            return sql, [key, value]
        if entity == "attributes":
            column = ATTRIBUTES.get(key.lower())
            if column is None:
                raise FilterError(
                    f"unknown attribute {key!r} at position {pos}: "
                    f"one of {', '.join(sorted(ATTRIBUTES))}"
                )
            if column in _NUMERIC_ATTRS and not isinstance(value, int | float | list):
                raise FilterError(f"attributes.{key} compares with a number (milliseconds)")
            return _compare(f"r.{column}", op, value)
        table = "params" if entity == "params" else "tags"
        cond, ps = _compare("x.value", op, value if isinstance(value, list) else str(value))
        return f"EXISTS (SELECT 1 FROM {table} x WHERE x.run = r.id AND x.key = ? AND {cond})", [
            key,
            *ps,
        ]


def _compare(column: str, op: str, value: object) -> tuple[str, list[object]]:
    if op in ("IN", "NOT IN"):
        items = list(value)  # type: ignore[call-overload]
        return f"{column} {op} ({', '.join('?' * len(items))})", items
    if op == "LIKE":
        return f"{column} GLOB ?", [_like_to_glob(str(value))]
    if op == "ILIKE":
        return f"{column} LIKE ? ESCAPE '\\'", [str(value)]
    return f"{column} {op} ?", [value]


def compile_filter(expr: str) -> Compiled | None:
    """Compile a filter box entry; None when it is empty. Raises FilterError."""
    expr = expr.strip()
    if not expr:
        return None
    if looks_like_mlflow(expr):
        try:
            return _Parser(expr).parse()
        except FilterError:
            # `run.2024` or `tag.v2` is somebody searching for text, not a broken filter;
            # `metrics.acc` alone is a filter being typed, so its error is shown.
            head = expr.strip().split(".", 1)[0].lower()
            if head in _AMBIGUOUS and not _HAS_OPERATOR.search(expr):
                return plain_text(expr)
            raise
    return plain_text(expr)


def plain_text(text: str) -> Compiled:
    """Substring search over run names and tags (trigram FTS; LIKE under 3 characters)."""
    if len(text) < 3:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return Compiled("r.name LIKE ? ESCAPE '\\'", (f"%{escaped}%",), plain_text=True)
    quoted = '"' + text.replace('"', '""') + '"'
    return Compiled(
        "r.id IN (SELECT rowid FROM runs_fts WHERE runs_fts MATCH ?)", (quoted,), plain_text=True
    )
