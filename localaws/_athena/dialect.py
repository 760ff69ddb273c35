"""Athena (Trino) queries as DuckDB SQL with Trino's meaning: a sqlglot dialect, one transform per function.

sqlglot transpiles names and syntax from Athena to DuckDB; where the two engines give a function a different
meaning, :class:`DuckDBForAthena` says how to write the Trino meaning in DuckDB — a ``Generator.TRANSFORMS``
entry per sqlglot expression, or a :attr:`DuckDBForAthena.Generator.TRINO_FUNCTIONS` entry for a Trino
function sqlglot does not model (parsed as ``Anonymous``). Adding a function is one entry and one test.

Query-level rewrites that are not about a function stay here too: catalog tables become the names they are
registered under in DuckDB, and result columns are named like Trino's (``_col<i>``, lower case).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.generators.duckdb import DuckDBGenerator

from localaws._athena.parse import table_name
from localaws._athena.statements import TableName

_JODA = [
    ("yyyy", "%Y"),
    ("YYYY", "%Y"),
    ("yy", "%y"),
    ("MMMM", "%B"),
    ("MMM", "%b"),
    ("MM", "%m"),
    ("dd", "%d"),
    ("HH", "%H"),
    ("hh", "%I"),
    ("mm", "%M"),
    ("ss", "%S"),
    ("SSS", "%g"),
    ("EEEE", "%A"),
    ("EEE", "%a"),
    ("a", "%p"),
    ("D", "%j"),
    ("M", "%-m"),
    ("d", "%-d"),
    ("H", "%-H"),
]


def joda_to_strftime(pattern: str) -> str:
    """Trino's ``format_datetime`` (Joda) pattern as a DuckDB ``strftime`` format."""
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "'":
            end = pattern.find("'", i + 1)
            end = len(pattern) if end < 0 else end
            out.append(pattern[i + 1 : end].replace("%", "%%") or "'")
            i = end + 1
            continue
        for joda, strf in _JODA:
            if pattern.startswith(joda, i):
                out.append(strf)
                i += len(joda)
                break
        else:
            out.append("%%" if pattern[i] == "%" else pattern[i])
            i += 1
    return "".join(out)


# ---- one transform per function --------------------------------------------------------------------
def _date_diff(gen: DuckDBGenerator, node: exp.DateDiff) -> str:
    """Trino's ``date_diff(unit, a, b)`` counts whole units elapsed; DuckDB's ``date_diff`` counts boundaries
    crossed, its ``date_sub`` whole units."""
    unit = node.args.get("unit")
    unit_name = (unit.name if unit is not None else "day").lower()
    return gen.func("date_sub", exp.Literal.string(unit_name), node.expression, node.this)


def _count_if(gen: DuckDBGenerator, node: exp.CountIf) -> str:
    """Trino's ``count_if`` is never NULL (0 over no rows or all-NULL input); DuckDB's ``count_if`` is NULL
    there. ``count`` of the matching rows is 0 like Trino's."""
    condition = node.this
    if isinstance(condition, exp.Distinct):  # count_if(DISTINCT x) is not Trino; keep DuckDB's error
        return gen.function_fallback_sql(node)
    matches = exp.Case(ifs=[exp.If(this=condition.copy(), true=exp.Literal.number(1))])
    return gen.func("count", matches)


def _regexp_extract(gen: DuckDBGenerator, node: exp.RegexpExtract) -> str:
    """Trino's ``regexp_extract`` is NULL when the pattern does not match; DuckDB's is ``''``."""
    plain = DuckDBGenerator.regexpextract_sql(gen, node)
    matched = exp.func("regexp_matches", node.this.copy(), node.expression.copy())
    return f"CASE WHEN {gen.sql(matched)} THEN {plain} END"


def _from_utf8(gen: DuckDBGenerator, node: exp.Decode) -> str:
    """Trino's ``from_utf8`` never fails: it replaces invalid UTF-8 (with U+FFFD, or its replacement
    argument); DuckDB's ``decode`` raises on it. ``decode(x, 'replace')`` replaces with ``?`` whatever Trino's
    replacement is, so the result differs from the input exactly when Trino's does (what a check compares)."""
    return gen.func("decode", node.this, exp.Literal.string("replace"))


def _format_datetime(gen: DuckDBGenerator, node: exp.Anonymous) -> str | None:
    """``format_datetime(value, 'Joda pattern')`` -> ``strftime`` (a pattern known only at run time stays
    as it is, and fails as an unknown function)."""
    if len(node.expressions) != 2:
        return None
    value, pattern = node.expressions
    if not (isinstance(pattern, exp.Literal) and pattern.is_string):
        return None
    return gen.func("strftime", value, exp.Literal.string(joda_to_strftime(pattern.this)))


class DuckDBForAthena(DuckDB):
    """DuckDB SQL that means what the Athena (Trino) query means."""

    class Generator(DuckDBGenerator):
        TRANSFORMS = {
            **DuckDBGenerator.TRANSFORMS,
            exp.DateDiff: _date_diff,
            exp.CountIf: _count_if,
            exp.RegexpExtract: _regexp_extract,
            exp.Decode: _from_utf8,
        }
        #: Trino functions sqlglot parses as ``Anonymous``, by lower-case name; None falls back to the name.
        TRINO_FUNCTIONS: dict[str, Callable[[DuckDBGenerator, exp.Anonymous], str | None]] = {
            "format_datetime": _format_datetime,
        }

        def anonymous_sql(self, expression: exp.Anonymous) -> str:
            transform = self.TRINO_FUNCTIONS.get(expression.name.lower())
            translated = transform(self, expression) if transform is not None else None
            return translated if translated is not None else super().anonymous_sql(expression)


# ---- query-level rewrites --------------------------------------------------------------------------------
def _catalog_tables(tree: exp.Expr, default_database: str) -> Iterator[tuple[exp.Table, TableName]]:
    """Every reference to a catalog table (not a CTE, not a table function) with its catalog name."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for table in list(tree.find_all(exp.Table)):
        if not table.name or isinstance(table.this, exp.Func):
            continue
        if not table.db and table.name.lower() in ctes:
            continue
        yield table, table_name(table, default_database.lower())


def table_refs(query: exp.Expr, default_database: str) -> list[TableName]:
    """Catalog tables a query reads, in order of appearance, without its CTE names or table functions."""
    seen: dict[tuple[str, str], TableName] = {}
    for _, ref in _catalog_tables(query, default_database):
        seen.setdefault(ref.key, ref)
    return sorted(seen.values(), key=lambda r: (r.line, r.col))


def name_unnamed_columns(query: exp.Query) -> exp.Query:
    """Name select items like Trino: ``_col<i>`` when unnamed, and lower-case every output name."""
    select = query if isinstance(query, exp.Select) else None
    if isinstance(query, exp.SetOperation):
        left = query.this
        while isinstance(left, exp.SetOperation):
            left = left.this
        select = left if isinstance(left, exp.Select) else None
    if select is None:
        return query
    for index, item in enumerate(list(select.expressions)):
        if isinstance(item, exp.Star) or (isinstance(item, exp.Column) and isinstance(item.this, exp.Star)):
            continue
        if isinstance(item, exp.Alias):
            item.set("alias", exp.to_identifier(item.alias.lower(), quoted=True))
        elif isinstance(item, exp.Column):
            if item.name != item.name.lower():
                item.replace(exp.alias_(item.copy(), item.name.lower(), quoted=True))
        else:
            item.replace(exp.alias_(item.copy(), f"_col{index}", quoted=True))
    return query


def to_duckdb(query: exp.Expr, names: Mapping[tuple[str, str], str], default_database: str) -> str:
    """DuckDB SQL for an Athena query whose catalog tables are registered in DuckDB under ``names``."""
    tree = query.copy()
    for table, ref in _catalog_tables(tree, default_database):
        replacement = exp.Table(this=exp.to_identifier(names[ref.key], quoted=True))
        alias = table.args.get("alias")
        replacement.set("alias", alias.copy() if alias else exp.TableAlias(this=exp.to_identifier(ref.name)))
        table.replace(replacement)
    for column in tree.find_all(exp.Column):
        if column.args.get("db") is not None:  # db.table.column -> table.column
            column.set("db", None)
            column.set("catalog", None)
    if isinstance(tree, exp.Query):
        tree = name_unnamed_columns(tree)
    return tree.sql(dialect=DuckDBForAthena)
