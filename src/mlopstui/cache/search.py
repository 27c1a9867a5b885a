"""MLflow search syntax, answered from the cache exactly as an MLflow server answers it.

A filter box entry with a comparison operator (`=`, `!=`, `<`, `>`, `LIKE`, `IN`, `IS NULL`,
...) is an MLflow filter: it is read with the same tokenizer MLflow uses (sqlparse), accepted
or refused by MLflow's rules (`mlflow/utils/search_utils.py` `SearchUtils.parse_search_filter`
and the SQL store's comparator checks, MLflow 3.17), and compiled to a SQL condition over
`runs r` that gives the runs MLflow's SQLite store gives:

- entities `metric(s)`, `param(s)`/`parameter(s)`, `tag(s)`, `attribute(s)`/`attr`/`run`,
  `dataset(s)`; a key without an entity is an attribute (`status = 'FAILED'`); aliases
  `created` (start_time) and `` `Run name` `` (run_name);
- string values are taken verbatim between their quotes (no unescaping), `IN` lists as
  Python literals; LIKE is case-sensitive, ILIKE is not, neither has an escape character;
- `attributes.run_name` compares the `mlflow.runName` tag, as MLflow does;
- NaN metrics match only `!=`; `IS [NOT] NULL` only on tags and params; `IN` only on
  `run_id` and dataset fields; `OR`, parentheses and other comparators are refused.

Input without an operator is plain text, searched over run names and tags (FTS5 trigram).
A refused filter raises FilterError with a reason and a 1-based position for the inline error.
`parse_order_by` reads MLflow `order_by` clauses the same way; `order_sql` renders them with
MLflow's placement of missing values and its tie-break (start_time DESC, then run_id).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

METRIC, PARAM, TAG, ATTRIBUTE, DATASET = "metric", "parameter", "tag", "attribute", "dataset"
_IDENTIFIERS = [METRIC, PARAM, TAG, ATTRIBUTE, DATASET]
_ENTITY = {
    METRIC: METRIC,
    "metrics": METRIC,
    PARAM: PARAM,
    "parameters": PARAM,
    "param": PARAM,
    "params": PARAM,
    TAG: TAG,
    "tags": TAG,
    ATTRIBUTE: ATTRIBUTE,
    "attr": ATTRIBUTE,
    "attributes": ATTRIBUTE,
    "run": ATTRIBUTE,
    DATASET: DATASET,
    "datasets": DATASET,
}

# MLflow's searchable run attributes (RunInfo) -> the runs column of each (run_name sorts by
# the name column, filters by the mlflow.runName tag); then the aliases it accepts.
COLUMN = {
    "run_id": "run_id",
    "run_name": "name",
    "user_id": "user",
    "status": "status",
    "start_time": "start_time",
    "end_time": "end_time",
    "artifact_uri": "artifact_uri",
}
_NUMERIC_ATTRIBUTES = {"start_time", "end_time", "created", "Created"}
ORDER_ATTRIBUTES = set(COLUMN) | {"created", "Created"}
SEARCH_ATTRIBUTES = ORDER_ATTRIBUTES | {"run name", "Run name", "Run Name"}
_ALIAS = {"created": "start_time", "Created": "start_time", "run name": "run_name"}
_ALIAS.update({"Run name": "run_name", "Run Name": "run_name"})
_DATASET_KEYS = {"name", "digest", "context"}
_LIST_KEYS = {"run_id"}

_METRIC_OPS = {">", ">=", "!=", "=", "<", "<="}
_KV_OPS = {"!=", "=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"}
_STRING_ATTR_OPS = {"!=", "=", "LIKE", "ILIKE", "IN", "NOT IN"}
_DATASET_OPS = {"!=", "=", "LIKE", "ILIKE", "IN", "NOT IN"}

# A comparison operator anywhere outside quotes makes the entry a filter, not plain text.
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'?|\"(?:[^\"\\]|\\.)*\"?|`[^`]*`?")
_OPERATOR = re.compile(
    r"[=<>]|!=|\s(?:i?like|rlike|regexp|between)\s|\bin\s*\(|\bis\s+(?:not\s+)?null\b",
    re.IGNORECASE,
)


class FilterError(ValueError):
    """The expression is not valid MLflow search syntax; the message says where and why."""

    def __init__(self, reason: str, position: int | None = None) -> None:
        self.reason = reason
        self.position = position
        where = f" (at position {position})" if position else ""
        super().__init__(f"{reason}{where}")


@dataclass(frozen=True)
class Compiled:
    """A SQL condition over `runs r` and its parameters."""

    sql: str
    params: tuple[object, ...]
    plain_text: bool = False


@dataclass(frozen=True)
class Clause:
    """One comparison of a filter, as MLflow's parser returns it."""

    type: str
    key: str
    comparator: str
    value: Any
    position: int
    op_position: int = 0


@dataclass(frozen=True)
class OrderTerm:
    """One `order_by` clause: an attribute (its runs column) or a metric/param/tag key.

    `agg` ("min"/"max") and the columns `duration`/`source` are this tool's own sorts (the
    runs table offers them); MLflow has neither.
    """

    type: str
    key: str
    ascending: bool
    agg: str = ""


def has_operator(expr: str) -> bool:
    """True when `expr` has a comparison operator outside quotes: it is a filter, not text."""
    return bool(_OPERATOR.search(_QUOTED.sub(" ", expr)))


# ---------------------------------------------------------------- parsing (MLflow's rules)


def _sqlparse() -> Any:
    import sqlparse

    return sqlparse


def _is_quoted(value: str, quote: str) -> bool:
    return len(value) >= 2 and value.startswith(quote) and value.endswith(quote)


def _strip_quotes(value: str, pos: int, *, expect_quoted: bool = False) -> str:
    if _is_quoted(value, "'") or _is_quoted(value, '"'):
        return value[1:-1]
    if expect_quoted:
        raise FilterError(
            f"the value {value} is not quoted: put strings in single or double quotes", pos
        )
    return value


def _trim_backticks(value: str) -> str:
    return value[1:-1] if _is_quoted(value, "`") else value


def _identifier(text: str, valid: set[str], pos: int) -> tuple[str, str]:
    """`metrics.acc` -> ("metric", "acc"); a bare key is an attribute."""
    entity, sep, key = text.partition(".")
    if not sep:
        entity, key = ATTRIBUTE, entity
    entity = _trim_backticks(entity)
    kind = _ENTITY.get(entity)
    if kind is None:
        raise FilterError(
            f"unknown entity {entity!r}: use metrics., params., tags., attributes. or dataset.",
            pos,
        )
    key = _trim_backticks(_strip_quotes(key, pos))
    if kind == ATTRIBUTE and key not in valid:
        known = ", ".join(k for k in COLUMN if k in valid)
        raise FilterError(f"unknown attribute {key!r}: one of {known} (or created)", pos)
    if kind == DATASET and key not in _DATASET_KEYS:
        raise FilterError(f"unknown dataset field {key!r}: one of context, digest, name", pos)
    return kind, key


def _literal_list(text: str, pos: int) -> tuple[str, ...]:
    try:
        parsed = ast.literal_eval(text)
    except Exception:  # noqa: BLE001 - literal_eval raises many kinds on hostile text
        raise FilterError("a list must hold quoted strings, like ('a', 'b')", pos) from None
    parsed = parsed if isinstance(parsed, tuple) else (parsed,)
    if not parsed:
        raise FilterError("an empty list matches nothing: give at least one value", pos)
    if not all(isinstance(x, str) for x in parsed):
        raise FilterError("a list must hold quoted strings, like ('a', 'b')", pos)
    return parsed


def _value(kind: str, key: str, token: Any, pos: int) -> Any:
    from sqlparse.sql import Identifier, Parenthesis
    from sqlparse.tokens import Literal

    numeric = token.ttype in (Literal.Number.Integer, Literal.Number.Float)
    string = token.ttype == Literal.String.Single or isinstance(token, Identifier)
    if kind == METRIC:
        if not numeric:
            raise FilterError(f"metrics compare with a number, not {token.value}", pos)
        return token.value
    if kind in (PARAM, TAG):
        if string:
            return _strip_quotes(token.value, pos, expect_quoted=True)
        raise FilterError(
            f"{kind}s compare with a quoted string (like 'my-value'), not {token.value}", pos
        )
    if kind == ATTRIBUTE:
        if key in _NUMERIC_ATTRIBUTES:
            if not numeric:
                raise FilterError(
                    f"attributes.{key} compares with a number (milliseconds since the epoch), "
                    f"not {token.value}",
                    pos,
                )
            if token.ttype == Literal.Number.Integer:
                number = int(token.value)
                if not -(2**63) <= number < 2**63:  # MLflow's database cannot bind it either
                    raise FilterError(f"{token.value} is out of range for attributes.{key}", pos)
                return number
            return float(token.value)
        if string:
            return _strip_quotes(token.value, pos, expect_quoted=True)
        if isinstance(token, Parenthesis):
            if key not in _LIST_KEYS:
                raise FilterError("only attributes.run_id compares with a list of values", pos)
            return _literal_list(token.value, pos)
        raise FilterError(f"attributes compare with a quoted string, not {token.value}", pos)
    # dataset
    if string:
        return _strip_quotes(token.value, pos, expect_quoted=True)
    if isinstance(token, Parenthesis):
        return _literal_list(token.value, pos)
    raise FilterError(f"dataset fields compare with a quoted string, not {token.value}", pos)


Part = tuple[Any, int]
"""A token and its 1-based position in the filter."""


def _parts(tokens: Any, pos: int) -> list[Part]:
    out, offset = [], pos
    for tok in tokens:
        if not tok.is_whitespace:
            out.append((tok, offset))
        offset += len(str(tok))
    return out


def _join_comparisons(tokens: list[Any]) -> list[Part | list[Part]]:
    """MLflow's `_join_in_comparison_tokens`: `x IN (...)`, `x NOT IN (...)`, `x IS NULL` and
    `x IS NOT NULL` become one comparison (a list of parts); other tokens stay as they are."""
    from sqlparse.sql import Comparison, Identifier, Parenthesis
    from sqlparse.tokens import Keyword

    items = _parts(tokens, 1)
    out: list[Part | list[Part]] = []
    i, n = 0, len(items)
    while i < n:
        first = items[i][0]
        if isinstance(first, Comparison):
            out.append(_parts(first.tokens, items[i][1]))
            i += 1
            continue
        if n - i < 3:
            out.extend(items[i:])
            break
        if not isinstance(first, Identifier):
            out.append(items[i])
            i += 1
            continue
        second, third = items[i + 1][0], items[i + 2][0]
        if second.match(Keyword, ["IN"]) and isinstance(third, Parenthesis):
            out.append([items[i], (second, items[i + 1][1]), items[i + 2]])
            i += 3
            continue
        if second.match(Keyword, ["IS"]) and third.match(Keyword, ["NULL"]):
            out.append([items[i], ("IS NULL", items[i + 1][1])])
            i += 3
            continue
        if (
            second.match(Keyword, ["IS"])
            and third.ttype == Keyword
            and third.value.upper() == "NOT NULL"
        ):
            out.append([items[i], ("IS NOT NULL", items[i + 1][1])])
            i += 3
            continue
        if i + 3 >= n:
            out.extend(items[i : i + 3])
            break
        fourth = items[i + 3][0]
        if (
            second.match(Keyword, ["NOT"])
            and third.match(Keyword, ["IN"])
            and isinstance(fourth, Parenthesis)
        ):
            out.append([items[i], ("NOT IN", items[i + 1][1]), items[i + 3]])
            i += 4
            continue
        out.extend(items[i : i + 4])
        i += 4
    return out


def _word(tok: Any) -> str:
    return tok if isinstance(tok, str) else str(tok.value)


def _comparison(parts: list[Part]) -> Clause:
    from sqlparse.sql import Identifier

    pos = parts[0][1]
    if len(parts) == 2 and _word(parts[1][0]).upper() in ("IS NULL", "IS NOT NULL"):
        if not isinstance(parts[0][0], Identifier):
            raise FilterError(f"expected a key before {_word(parts[1][0])}", pos)
        kind, key = _identifier(parts[0][0].value, SEARCH_ATTRIBUTES, pos)
        if kind not in (TAG, PARAM):
            raise FilterError(
                f"IS NULL / IS NOT NULL works on tags and params only, not on {kind} {key!r}",
                pos,
            )
        return Clause(kind, key, _word(parts[1][0]).upper(), None, pos, parts[1][1])
    if len(parts) != 3:
        shown = " ".join(_word(t) for t, _ in parts)
        raise FilterError(f"expected a comparison like key = 'value', found {shown!r}", pos)
    if not isinstance(parts[0][0], Identifier):
        raise FilterError(f"expected a key like metrics.acc, found {_word(parts[0][0])!r}", pos)
    kind, key = _identifier(parts[0][0].value, SEARCH_ATTRIBUTES, pos)
    value = _value(kind, key, parts[2][0], parts[2][1])
    return Clause(kind, key, _word(parts[1][0]), value, pos, parts[1][1])


def _check_comparator(clause: Clause) -> Clause:
    """The SQL store's checks (`is_metric`, `is_param`, ...): comparator per kind."""
    op = clause.comparator.upper()
    kind, key = clause.type, _ALIAS.get(clause.key, clause.key)
    if kind == ATTRIBUTE:
        allowed = _METRIC_OPS if key in _NUMERIC_ATTRIBUTES else _STRING_ATTR_OPS
    elif kind == METRIC:
        allowed = _METRIC_OPS
    elif kind in (PARAM, TAG):
        allowed = _KV_OPS
    else:
        allowed = _DATASET_OPS
    if isinstance(clause.value, tuple) and op not in ("IN", "NOT IN"):
        raise FilterError(
            f"a list of values goes with IN or NOT IN, not {clause.comparator}",
            clause.op_position or clause.position,
        )
    if op not in allowed:
        raise FilterError(
            f"{clause.comparator} does not compare {kind}s here: use one of "
            f"{', '.join(sorted(allowed))}",
            clause.op_position or clause.position,
        )
    return Clause(kind, key, op, clause.value, clause.position, clause.op_position)


def parse_filter(expr: str) -> list[Clause]:
    """The comparisons of an MLflow filter string, or FilterError where MLflow refuses it."""
    if not expr:
        return []
    from sqlparse.sql import Comparison, Statement
    from sqlparse.tokens import Keyword

    try:
        statements = _sqlparse().parse(expr)
    except Exception:  # noqa: BLE001 - sqlparse's own errors vary by version
        raise FilterError("the filter cannot be read", 1) from None
    if not statements or not isinstance(statements[0], Statement):
        raise FilterError("the filter cannot be read", 1)
    if len(statements) > 1:
        semicolon = len(str(statements[0]).rstrip())
        raise FilterError("one expression only: join conditions with AND, not ';'", semicolon)
    clauses: list[Clause] = []
    for item in _join_comparisons(statements[0].tokens):
        if isinstance(item, list):
            clauses.append(_check_comparator(_comparison(item)))
            continue
        tok, pos = item
        if isinstance(tok, Comparison):  # left as a token by the join, as MLflow's is
            clauses.append(_check_comparator(_comparison(_parts(tok.tokens, pos))))
        elif not tok.match(Keyword, ["AND"]):
            word = str(tok).strip()
            if word.upper() == "OR":
                raise FilterError("OR is not part of MLflow search syntax: use AND", pos)
            raise FilterError(f"unexpected {word[:30]!r}: expected key, operator and value", pos)
    return clauses


def parse_order_by(clauses: Sequence[str]) -> list[OrderTerm]:
    """MLflow `order_by` clauses (`metrics.acc DESC`, `start_time`, `` tags.`a b` ASC ``)."""
    import shlex

    from sqlparse.sql import Identifier, Statement

    terms: list[OrderTerm] = []
    seen: set[tuple[str, str]] = set()
    for text in clauses:
        shown = f"order by {text!r}"
        try:
            statements = _sqlparse().parse(text)
        except Exception:  # noqa: BLE001
            raise FilterError(f"{shown} cannot be read") from None
        if len(statements) != 1 or not isinstance(statements[0], Statement):
            raise FilterError(f"{shown} cannot be read")
        tokens = statements[0].tokens
        if len(tokens) == 1 and isinstance(tokens[0], Identifier):
            value = tokens[0].value
        else:
            raise FilterError(f"{shown} cannot be read: expected a key and ASC or DESC")
        try:
            words = shlex.split(value.replace("`", '"'))
        except ValueError:
            raise FilterError(f"{shown} cannot be read") from None
        ascending = True
        if len(words) > 2 or not words:
            raise FilterError(f"{shown} cannot be read: expected a key and ASC or DESC")
        if len(words) == 2:
            if words[1].lower() not in ("asc", "desc"):
                raise FilterError(f"{shown}: the direction is ASC or DESC, not {words[1]!r}")
            ascending = words[1].lower() == "asc"
        # As MLflow does: the shlex-split key only when a direction follows; alone, the
        # clause is the key as written (so `` `metrics.acc` `` stays one unknown entity).
        key_text = words[0] if len(words) == 2 else value
        kind, key = _identifier(key_text.strip(), ORDER_ATTRIBUTES, 1)
        key = _ALIAS.get(key, key)  # as MLflow does, for every kind (`metrics.created`)
        if kind == DATASET:
            raise FilterError(f"{shown}: runs cannot be sorted by a dataset field")
        if (kind, key) in seen:
            raise FilterError(f"{shown}: sorted by {key!r} twice")
        seen.add((kind, key))
        terms.append(OrderTerm(kind, key, ascending))
    return terms


# ---------------------------------------------------------------- SQL


def like_to_glob(pattern: str) -> str:
    """MLflow's LIKE on SQLite runs with case_sensitive_like and no escape character; GLOB is
    case-sensitive, so `%` -> `*`, `_` -> `?`, and GLOB's own specials are bracketed."""
    table = {"%": "*", "_": "?", "*": "[*]", "?": "[?]", "[": "[[]"}
    return "".join(table.get(ch, ch) for ch in pattern)


def _compare(column: str, op: str, value: Any) -> tuple[str, list[object]]:
    if op in ("IN", "NOT IN"):
        items = list(value)
        return f"{column} {op} ({', '.join('?' * len(items))})", items
    if op == "LIKE":
        return f"{column} GLOB ?", [like_to_glob(str(value))]
    if op == "ILIKE":
        # SQLite's LIKE folds ASCII case without an escape: MLflow's lower(x) LIKE lower(y).
        return f"{column} LIKE ?", [str(value)]
    return f"{column} {op} ?", [value]


def _clause_sql(c: Clause) -> tuple[str, list[object]]:
    if c.type == METRIC:
        value = float(c.value)
        if c.comparator == "!=":  # NaN differs from everything
            cond = "(x.value != ? OR x.is_nan)"
        else:
            cond = f"(x.value {c.comparator} ? AND NOT x.is_nan)"
        return (
            f"EXISTS (SELECT 1 FROM metrics x WHERE x.run = r.id AND x.key = ? AND {cond})",
            [c.key, value],
        )
    if c.type in (PARAM, TAG) or (c.type == ATTRIBUTE and c.key == "run_name"):
        table = "params" if c.type == PARAM else "tags"
        key = "mlflow.runName" if c.type == ATTRIBUTE else c.key
        exists = f"EXISTS (SELECT 1 FROM {table} x WHERE x.run = r.id AND x.key = ?"
        if c.comparator == "IS NULL":
            return f"NOT {exists})", [key]
        if c.comparator == "IS NOT NULL":
            return f"{exists})", [key]
        cond, ps = _compare("x.value", c.comparator, c.value)
        return f"{exists} AND {cond})", [key, *ps]
    if c.type == ATTRIBUTE:
        return _compare(f"r.{COLUMN[c.key]}", c.comparator, c.value)
    # dataset: a dataset input of the run matches (context: only inputs that have one)
    cond, ps = _compare(f"d.{c.key}", c.comparator, c.value)
    return f"EXISTS (SELECT 1 FROM run_datasets d WHERE d.run = r.id AND {cond})", ps


def compile_clauses(clauses: list[Clause]) -> Compiled:
    """AND of the clauses as a SQL condition over `runs r`."""
    parts, params = [], []
    for c in clauses:
        sql, ps = _clause_sql(c)
        parts.append(sql)
        params.extend(ps)
    return Compiled(" AND ".join(parts) or "1", tuple(params))


def compile_filter(expr: str) -> Compiled | None:
    """Compile a filter box entry; None when it is empty. Raises FilterError.

    Only an entry with a comparison operator is a filter; anything else is plain text.
    """
    # NUL and lone surrogates cannot travel to SQLite (FTS5 and the bindings refuse them).
    expr = expr.replace("\x00", "").encode("utf-8", "ignore").decode("utf-8").strip()
    if not expr:
        return None
    if has_operator(expr):
        return compile_clauses(parse_filter(expr))
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
