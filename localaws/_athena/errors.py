"""Athena's errors: ``AthenaError`` (worded like ``StateChangeReason``) and DuckDB failures reworded."""

from __future__ import annotations

import re
from typing import Any


class AthenaError(Exception):
    """A query failure worded like Athena's ``StateChangeReason`` (``CODE: message``)."""

    def __init__(self, code: str, message: str, *, category: int = 2) -> None:
        self.code = code
        self.message = message
        #: Athena's ErrorCategory: 1 system, 2 user, 3 other.
        self.category = category
        super().__init__(f"{code}: {message}" if code else message)

    def __reduce__(self) -> tuple[Any, ...]:  # pickled with the query history of a state folder
        return type(self), (self.code, self.message), {"category": self.category}


_COLUMN_RE = re.compile(
    r'(?:(?:Referenced column|column with name) "?([^"\s]+)"? not found)'
    r'|(?:Column "([^"]+)" referenced that exists)',
    re.I,
)
_COLUMN_RE2 = re.compile(r'Referenced table "?([^"\s]+)"? not found', re.I)


def _position(sql: str, word: str) -> tuple[int, int]:
    match = re.search(rf'(?<![\w"]){re.escape(word)}(?![\w"])', sql, re.I) or re.search(
        re.escape(word), sql, re.I
    )
    if not match:
        return 1, 1
    before = sql[: match.start()]
    return before.count("\n") + 1, match.start() - (before.rfind("\n") + 1) + 1


def athena_error_from_duckdb(message: str, original_sql: str) -> AthenaError:
    """A DuckDB failure as Athena would word it (column not found, type mismatch, division by zero, …)."""
    first = message.strip().splitlines()[0] if message.strip() else message
    if match := _COLUMN_RE.search(message):
        column = (match.group(1) or match.group(2)).split(".")[-1]
        line, col = _position(original_sql, column)
        return AthenaError(
            "COLUMN_NOT_FOUND",
            f"line {line}:{col}: Column '{column}' cannot be resolved or requester is not authorized to "
            "access requested resources",
        )
    if match := _COLUMN_RE2.search(message):
        line, col = _position(original_sql, match.group(1))
        return AthenaError(
            "COLUMN_NOT_FOUND", f"line {line}:{col}: Column prefix '{match.group(1)}' cannot be resolved"
        )
    if "Parser Error" in first:
        return AthenaError("SYNTAX_ERROR", f"line 1:1: {first.split(':', 1)[-1].strip()}")
    if "Malformed JSON" in first:  # the OpenX SerDe's wording for a line that is not a JSON object
        return AthenaError("HIVE_CURSOR_ERROR", f"Row is not a valid JSON Object - {first}")
    if "Division by zero" in message or "division by zero" in message:
        return AthenaError("DIVISION_BY_ZERO", "Division by zero")
    if "Binder Error" in first and ("No function matches" in message or "Cannot compare" in message):
        return AthenaError(
            "FUNCTION_NOT_FOUND" if "No function matches" in message else "TYPE_MISMATCH",
            f"line 1:1: {first.split(':', 1)[-1].strip()}",
        )
    if "Conversion Error" in first or "Invalid Input Error" in first:
        return AthenaError("INVALID_CAST_ARGUMENT", first.split(":", 1)[-1].strip())
    if "Catalog Error" in first and "Scalar Function" in first:
        return AthenaError("FUNCTION_NOT_FOUND", f"line 1:1: {first.split(':', 1)[-1].strip()}")
    return AthenaError("GENERIC_INTERNAL_ERROR", first, category=1)
