"""DQDL as the local Glue Data Quality evaluates it, as pure functions: parse a ruleset, the SQL of each
rule's metrics over the table (a DuckDB view named ``primary``), and a rule's outcome from its metrics.

The subset: ``RowCount``, ``ColumnCount``, ``IsComplete``, ``Completeness``, ``IsUnique``, ``Uniqueness``,
``ColumnValues`` (``in`` / ``not in`` a list, ``between``, comparisons, ``matches`` a regular expression, and
``with threshold``), ``ColumnLength`` and ``CustomSql``. Numeric conditions: ``= != > >= < <=``,
``between a and b`` and ``not between`` (exclusive, as DQDL's). A ruleset using anything else is refused
when it is created, naming the rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

RULE_TYPES = (
    "RowCount",
    "ColumnCount",
    "IsComplete",
    "Completeness",
    "IsUnique",
    "Uniqueness",
    "ColumnValues",
    "ColumnLength",
    "CustomSql",
)
#: The view the table is registered as: DQDL's ``primary``, quoted (a reserved word in DuckDB).
VIEW = '"primary"'
_COLUMN_RULES = {"IsComplete", "Completeness", "IsUnique", "Uniqueness", "ColumnValues", "ColumnLength"}
_NO_CONDITION = {"IsComplete", "IsUnique"}
_TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)'
    r"|(?P<op>>=|<=|!=|=|>|<|\[|\]|,)|(?P<word>[A-Za-z_][\w.]*))"
)


class DqdlError(ValueError):
    """A ruleset that is not DQDL, or uses a part of it the local runtime does not evaluate."""


@dataclass(frozen=True)
class Condition:
    """``op`` is one of = != > >= < <= between not_between in not_in matches not_matches."""

    op: str
    values: tuple[Any, ...]
    text: str

    def holds(self, value: float) -> bool:
        a = self.values
        checks: dict[str, Callable[[], bool]] = {
            "=": lambda: value == a[0],
            "!=": lambda: value != a[0],
            ">": lambda: value > a[0],
            ">=": lambda: value >= a[0],
            "<": lambda: value < a[0],
            "<=": lambda: value <= a[0],
            "between": lambda: a[0] < value < a[1],
            "not_between": lambda: not a[0] < value < a[1],
        }
        if self.op not in checks:
            raise DqdlError(f"condition {self.text!r} does not apply to a number")
        return checks[self.op]()


@dataclass(frozen=True)
class Rule:
    text: str
    kind: str
    column: str | None = None
    sql: str | None = None
    condition: Condition | None = None
    threshold: Condition | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def split_rules(ruleset: str) -> list[str]:
    """The rule texts of ``Rules = [ r1, r2, ... ]`` (commas inside quotes, brackets or parentheses kept)."""
    text = ruleset.strip()
    match = re.fullmatch(r"Rules\s*=\s*\[(.*)\]", text, re.S)
    if not match:
        raise DqdlError("a ruleset must be 'Rules = [ <rule>, <rule>, ... ]'")
    rules, current, depth, quoted = [], "", 0, False
    body = match.group(1)
    i = 0
    while i < len(body):
        char = body[i]
        if quoted and char == "\\" and i + 1 < len(body):
            current += body[i : i + 2]
            i += 2
            continue
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "[(":
            depth += 1
        elif not quoted and char in "])":
            depth -= 1
        if char == "," and not quoted and depth == 0:
            rules.append(current.strip())
            current = ""
        else:
            current += char
        i += 1
    if current.strip():
        rules.append(current.strip())
    if not rules:
        raise DqdlError("the ruleset has no rules")
    return rules


def _tokens(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match:
            raise DqdlError(f"cannot read rule {text!r} at {text[position:]!r}")
        position = match.end()
        kind = match.lastgroup or ""
        value: Any = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        elif kind == "number":
            value = float(value)
        tokens.append((kind, value))
    return tokens


def _condition(tokens: list[tuple[str, Any]], text: str) -> Condition:
    if not tokens:
        raise DqdlError(f"rule {text!r} has no condition")
    words = [t[1] if t[0] != "word" else t[1].lower() for t in tokens]
    negated = words[0] == "not"
    rest, rest_words = (tokens[1:], words[1:]) if negated else (tokens, words)
    if not rest:
        raise DqdlError(f"rule {text!r}: incomplete condition")
    head = rest_words[0]
    if head == "between":
        if len(rest) != 4 or rest_words[2] != "and" or rest[1][0] != "number" or rest[3][0] != "number":
            raise DqdlError(f"rule {text!r}: expected 'between <number> and <number>'")
        return Condition("not_between" if negated else "between", (rest[1][1], rest[3][1]), text)
    if head == "in":
        if rest[1:2] != [("op", "[")] or rest[-1] != ("op", "]"):
            raise DqdlError(f"rule {text!r}: expected 'in [<value>, ...]'")
        values = tuple(v for kind, v in rest[2:-1] if kind in ("string", "number"))
        return Condition("not_in" if negated else "in", values, text)
    if head == "matches":
        if len(rest) != 2 or rest[1][0] != "string":
            raise DqdlError(f"rule {text!r}: expected 'matches \"<regular expression>\"'")
        return Condition("not_matches" if negated else "matches", (rest[1][1],), text)
    if not negated and rest[0][0] == "op" and head in ("=", "!=", ">", ">=", "<", "<=") and len(rest) == 2:
        if rest[1][0] != "number":
            raise DqdlError(f"rule {text!r}: {head} needs a number")
        return Condition(head, (rest[1][1],), text)
    raise DqdlError(
        f"rule {text!r}: condition not covered locally (numbers: = != > >= < <= between; "
        "ColumnValues also in [...] and matches)"
    )


def parse_rule(text: str) -> Rule:
    tokens = _tokens(text)
    if not tokens or tokens[0][0] != "word":
        raise DqdlError(f"cannot read rule {text!r}")
    kind = tokens[0][1]
    if kind not in RULE_TYPES:
        raise DqdlError(
            f"rule type {kind!r} is not covered by the local Glue Data Quality ({', '.join(RULE_TYPES)} are)"
        )
    rest = tokens[1:]
    column = sql = None
    if kind in _COLUMN_RULES:
        if not rest or rest[0][0] != "string":
            raise DqdlError(f"rule {text!r}: {kind} needs a column name in double quotes")
        column, rest = rest[0][1], rest[1:]
    elif kind == "CustomSql":
        if not rest or rest[0][0] != "string":
            raise DqdlError(f"rule {text!r}: CustomSql needs a SQL statement in double quotes")
        sql, rest = rest[0][1], rest[1:]
    threshold = None
    words = [v.lower() if k == "word" else v for k, v in rest]
    if "with" in words:
        at = words.index("with")
        if kind not in ("ColumnValues", "ColumnLength") or words[at + 1 : at + 2] != ["threshold"]:
            raise DqdlError(f"rule {text!r}: only ColumnValues and ColumnLength take 'with threshold'")
        threshold = _condition(rest[at + 2 :], text)
        rest = rest[:at]
    if kind in _NO_CONDITION:
        if rest:
            raise DqdlError(f"rule {text!r}: {kind} takes no condition")
        return Rule(text, kind, column)
    condition = _condition(rest, text)
    if kind != "ColumnValues" and condition.op in ("in", "not_in", "matches", "not_matches"):
        raise DqdlError(f"rule {text!r}: {kind} takes a numeric condition")
    return Rule(text, kind, column, sql, condition, threshold)


def parse_ruleset(ruleset: str) -> list[Rule]:
    return [parse_rule(text) for text in split_rules(ruleset)]


# ---- evaluation -----------------------------------------------------------------------------------------
def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: Any) -> str:
    if isinstance(value, float):
        return repr(int(value)) if value.is_integer() else repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _row_test(condition: Condition, value_sql: str) -> str:
    """A SQL predicate: this row's value satisfies the condition (NULL never does)."""
    a = condition.values
    if condition.op in ("in", "not_in"):
        listed = ", ".join(_literal(_text(v)) for v in a) or "NULL"
        negation = "NOT " if condition.op == "not_in" else ""
        test = f"{negation}(CAST({value_sql} AS VARCHAR) IN ({listed}))"
        return f"(coalesce({test}, false) AND {value_sql} IS NOT NULL)"
    if condition.op in ("matches", "not_matches"):
        test = f"regexp_full_match(CAST({value_sql} AS VARCHAR), {_literal(a[0])})"
        return f"coalesce({'NOT ' if condition.op == 'not_matches' else ''}({test}), false)"
    if condition.op in ("between", "not_between"):
        test = f"({value_sql} > {_literal(a[0])} AND {value_sql} < {_literal(a[1])})"
        return f"coalesce({'NOT ' if condition.op == 'not_between' else ''}{test}, false)"
    op = "<>" if condition.op == "!=" else condition.op
    return f"coalesce({value_sql} {op} {_literal(a[0])}, false)"


def _text(value: Any) -> str:
    """A list value as the column's text would show it (``1`` for the number 1.0)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def metric_queries(rule: Rule, column_count: int) -> dict[str, str]:
    """metric name -> SQL returning one number, over the view ``primary``."""
    col = quote_identifier(rule.column) if rule.column else ""
    name = rule.column
    if rule.kind == "RowCount":
        return {"Dataset.*.RowCount": f"SELECT count(*) FROM {VIEW}"}
    if rule.kind == "ColumnCount":
        return {"Dataset.*.ColumnCount": f"SELECT {column_count}"}
    if rule.kind in ("IsComplete", "Completeness"):
        return {
            f"Column.{name}.Completeness": f"SELECT count({col}) / greatest(count(*), 1)::DOUBLE FROM {VIEW}"
        }
    if rule.kind in ("IsUnique", "Uniqueness"):
        return {
            f"Column.{name}.Uniqueness": (
                f"SELECT coalesce(sum(CASE WHEN n = 1 THEN 1 ELSE 0 END) / greatest(sum(n), 1)::DOUBLE, 0) "
                f"FROM (SELECT count(*) AS n FROM {VIEW} WHERE {col} IS NOT NULL GROUP BY {col})"
            )
        }
    if rule.kind == "ColumnValues":
        assert rule.condition is not None
        test = _row_test(rule.condition, col)
        return {
            f"Column.{name}.ColumnValues.Compliance": (
                f"SELECT coalesce(avg(CASE WHEN {test} THEN 1.0 ELSE 0.0 END), 1.0) FROM {VIEW}"
            )
        }
    if rule.kind == "ColumnLength":
        assert rule.condition is not None
        length = f"length(CAST({col} AS VARCHAR))"
        return {
            f"Column.{name}.MaximumLength": f"SELECT max({length}) FROM {VIEW}",
            f"Column.{name}.MinimumLength": f"SELECT min({length}) FROM {VIEW}",
            f"Column.{name}.ColumnLength.Compliance": (
                f"SELECT coalesce(avg(CASE WHEN {_row_test(rule.condition, length)} THEN 1.0 ELSE 0.0 END), "
                f"1.0) FROM {VIEW} WHERE {col} IS NOT NULL"
            ),
        }
    assert rule.sql is not None
    # ``primary`` (the data source in DQDL's SQL) is a reserved word in DuckDB: quote it
    return {"Dataset.*.CustomSQL": re.sub(r'(?<![\w"])primary(?![\w"])', VIEW, rule.sql, flags=re.I)}


def outcome(rule: Rule, metrics: dict[str, float]) -> tuple[str, str | None]:
    """(PASS or FAIL, the message of a failure) from the rule's metrics."""
    if rule.kind in ("IsComplete", "IsUnique"):
        value = next(iter(metrics.values()))
        return (
            ("PASS", None)
            if value == 1.0
            else ("FAIL", f"Value: {value} does not meet the constraint requirement!")
        )
    if rule.kind in ("ColumnValues", "ColumnLength"):
        compliance = next(v for k, v in metrics.items() if k.endswith(".Compliance"))
        passed = rule.threshold.holds(compliance) if rule.threshold else compliance == 1.0
        if passed:
            return "PASS", None
        failing = round(1.0 - compliance, 4)
        return (
            "FAIL",
            f"Value: {compliance} does not meet the constraint requirement! ({failing:.2%} of rows fail)",
        )
    assert rule.condition is not None
    value = next(iter(metrics.values()))
    if rule.condition.holds(value):
        return "PASS", None
    return "FAIL", f"Value: {value} does not meet the constraint requirement!"
