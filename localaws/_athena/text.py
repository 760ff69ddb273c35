"""Text tables as Athena reads them: DuckDB SQL over local copies of a table's objects, per SerDe.

* LazySimpleSerDe (``delimited``): a record is a line; fields are split on the delimiter with no quoting
  (quotes stay in the values); missing trailing fields are NULL, extra ones ignored; the null format
  (``\\N``) is NULL; a value that does not parse as its column's type is NULL.
* OpenCSVSerDe (``csv``): quoted fields (the quote and escape characters of the SerDe properties), an empty
  field is an empty string; values are cast to the column types (NULL when they do not parse).
* OpenX JSON SerDe (``json``): one JSON document per line; keys match columns case-insensitively
  (``case.insensitive``, its default; one spelling per column and read: an exact match wins);
  ``ignore.malformed.json`` turns a malformed line into a row of NULLs
  (otherwise the query fails); arrays, maps and structs are read as typed.

``skip.header.line.count`` skips that many lines of every object. Each function here is pure: it returns
SQL; :mod:`.context` copies the objects and runs it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from localaws._athena.errors import AthenaError
from localaws._catalog import StorageFormat

#: Glue types a text (CSV) column may have; complex types need the collection delimiters, not supported.
_COMPLEX = ("array<", "map<", "struct<")
#: DuckDB's ``nullstr`` that no CSV field holds: OpenCSVSerDe has no null format (empty is ``''``).
_NO_NULL = "\x00"


def duckdb_type(glue_type: str) -> str:
    """A Glue column type as a DuckDB type (``array<string>`` -> ``VARCHAR[]``)."""
    return exp.DataType.build(glue_type, dialect="hive").sql("duckdb")


def literal(text: str) -> str:
    """A DuckDB string literal (DuckDB strings have no backslash escapes)."""
    return "'" + text.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def check_columns(stored_as: StorageFormat, columns: Sequence[tuple[str, str]]) -> None:
    """Athena's NOT_SUPPORTED for what a text SerDe cannot hold here (complex types in CSV)."""
    if stored_as.kind in ("delimited", "csv"):
        for name, glue_type in columns:
            if glue_type.lower().startswith(_COMPLEX):
                raise AthenaError(
                    "NOT_SUPPORTED",
                    f"column {name} {glue_type}: complex types in {stored_as.serde} tables are not supported "
                    "locally (collection delimiters)",
                )


def _typed(name: str, glue_type: str) -> str:
    column = _identifier(name)
    if glue_type.lower() in ("string", "varchar") or glue_type.lower().startswith(("varchar(", "char(")):
        return f"{column} AS {column}"
    return f"TRY_CAST({column} AS {duckdb_type(glue_type)}) AS {column}"


def _paths(paths: Sequence[str]) -> str:
    return "[" + ", ".join(literal(p) for p in paths) + "]"


def csv_select(paths: Sequence[str], stored_as: StorageFormat, columns: Sequence[tuple[str, str]]) -> str:
    """SELECT of the table's columns from delimited or OpenCSV text objects."""
    check_columns(stored_as, columns)
    as_text = "{" + ", ".join(f"{literal(n)}: 'VARCHAR'" for n, _ in columns) + "}"
    if stored_as.kind == "csv":
        # OpenCSV's default escape (backslash) only escapes a quote or itself and keeps "\n" as two
        # characters; DuckDB's would drop the backslash, so without an explicit escapeChar the quote escapes
        # itself ("" inside quotes), which every value of the real files reads the same with.
        escape = stored_as.serde_parameters.get("escapeChar", stored_as.quote)
        quoting = (
            f"quote = {literal(stored_as.quote)}, escape = {literal(escape)}, "
            f"nullstr = {literal(_NO_NULL)}, parallel = false"
        )
    else:
        quoting = f"quote = '', escape = '', nullstr = {literal(stored_as.null_format)}"
    reader = (
        f"read_csv({_paths(paths)}, columns = {as_text}, delim = {literal(stored_as.delimiter)}, {quoting}, "
        f"header = false, skip = {stored_as.skip_header}, null_padding = true, strict_mode = false, "
        "auto_detect = false)"
    )
    return f"SELECT {', '.join(_typed(n, t) for n, t in columns)} FROM {reader}"


def json_select(
    paths: Sequence[str],
    stored_as: StorageFormat,
    columns: Sequence[tuple[str, str]],
    keys: Sequence[str] = (),
) -> str:
    """SELECT of the table's columns from JSON-lines objects; ``keys`` are the keys seen in the data (for the
    case-insensitive match)."""
    parameters = {k.lower(): v.lower() for k, v in stored_as.serde_parameters.items()}
    insensitive = parameters.get("case.insensitive", "true") == "true"
    by_lower = {k.lower(): k for k in keys} if insensitive else {}
    present = set(keys)
    physical = [
        (name if name in present else by_lower.get(name.lower(), name), name, glue_type)
        for name, glue_type in columns
    ]
    spec = "{" + ", ".join(f"{literal(key)}: {literal(duckdb_type(t))}" for key, _, t in physical) + "}"
    ignore = parameters.get("ignore.malformed.json", "false") == "true"
    reader = (
        f"read_json({_paths(paths)}, format = 'newline_delimited', columns = {spec}, "
        f"ignore_errors = {str(ignore).lower()})"
    )
    projection = ", ".join(f"{_identifier(key)} AS {_identifier(name)}" for key, name, _ in physical)
    return f"SELECT {projection} FROM {reader}"


def json_keys_sql(paths: Sequence[str]) -> str:
    """DESCRIBE of the keys DuckDB finds in JSON-lines objects (for the case-insensitive match)."""
    return f"DESCRIBE SELECT * FROM read_json({_paths(paths)}, format = 'newline_delimited')"


def with_partition(select: str, values: Sequence[tuple[str, str, str | None]]) -> str:
    """``select`` with the partition keys' values appended as typed columns: (name, Glue type, value)."""
    if not values:
        return select
    extra = ", ".join(
        f"CAST({'NULL' if value is None else literal(value)} AS {duckdb_type(t)}) AS {_identifier(name)}"
        for name, t, value in values
    )
    return f"SELECT *, {extra} FROM ({select})"
