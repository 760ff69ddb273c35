"""Athena (Trino) SQL for the local runtime: parse, classify and translate to DuckDB, with no I/O.

The Athena executor (``infra/local/executors/athena.py``) runs what this module plans. Everything here is a
pure function of SQL text and catalog metadata, so the dialect differences that matter (integer division,
``date_diff`` counting whole units, ``format_datetime``, ``_colN`` names for unnamed columns, lower-case
result names, HUGEINT sums) and Athena's error wording are unit-tested without a server.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

CATALOG = "awsdatacatalog"
#: Athena's limit on partitions one CTAS / INSERT INTO may write.
MAX_WRITTEN_PARTITIONS = 100
#: Partition value Hive writes for NULL.
HIVE_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"

PRESTO_VIEW_PREFIX = "/* Presto View: "
PRESTO_VIEW_SUFFIX = " */"

PARQUET_INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"


class AthenaError(Exception):
    """A query failure worded like Athena's ``StateChangeReason`` (``CODE: message``)."""

    def __init__(self, code: str, message: str, *, category: int = 2) -> None:
        self.code = code
        self.message = message
        #: Athena's ErrorCategory: 1 system, 2 user, 3 other.
        self.category = category
        super().__init__(f"{code}: {message}" if code else message)


# ---- statements ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableName:
    """A catalog table reference, lower-cased like Athena's names, with where it appears in the SQL."""

    database: str
    name: str
    line: int = 1
    col: int = 1

    @property
    def qualified(self) -> str:
        return f"{CATALOG}.{self.database}.{self.name}"

    @property
    def key(self) -> tuple[str, str]:
        return (self.database, self.name)

    def __str__(self) -> str:
        return f"{self.database}.{self.name}"


@dataclass(frozen=True)
class Select:
    query: exp.Query
    statement_type: str = "DML"
    substatement_type: str = "SELECT"


@dataclass(frozen=True)
class CtasOptions:
    format: str = "PARQUET"
    external_location: str | None = None
    partitioned_by: tuple[str, ...] = ()
    bucketed_by: tuple[str, ...] = ()
    write_compression: str = "SNAPPY"


@dataclass(frozen=True)
class CreateTableAs:
    target: TableName
    query: exp.Query
    options: CtasOptions
    if_not_exists: bool = False
    with_data: bool = True
    statement_type: str = "DDL"
    substatement_type: str = "CREATE_TABLE_AS_SELECT"


@dataclass(frozen=True)
class InsertInto:
    target: TableName
    query: exp.Query
    columns: tuple[str, ...] = ()
    statement_type: str = "DML"
    substatement_type: str = "INSERT"


@dataclass(frozen=True)
class CreateView:
    target: TableName
    query: exp.Query
    original_sql: str
    replace: bool = False
    statement_type: str = "DDL"
    substatement_type: str = "CREATE_VIEW"


@dataclass(frozen=True)
class DropTable:
    target: TableName
    if_exists: bool = False
    statement_type: str = "DDL"
    substatement_type: str = "DROP_TABLE"


@dataclass(frozen=True)
class DropView:
    target: TableName
    if_exists: bool = False
    statement_type: str = "DDL"
    substatement_type: str = "DROP_VIEW"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # Glue / Hive type string


@dataclass(frozen=True)
class CreateExternalTable:
    target: TableName
    columns: tuple[Column, ...]
    partition_keys: tuple[Column, ...]
    location: str
    format: str = "PARQUET"
    table_properties: tuple[tuple[str, str], ...] = ()
    if_not_exists: bool = False
    statement_type: str = "DDL"
    substatement_type: str = "CREATE_TABLE"


@dataclass(frozen=True)
class RepairTable:
    target: TableName
    statement_type: str = "DDL"
    substatement_type: str = "MSCK_REPAIR_TABLE"


@dataclass(frozen=True)
class AddPartitions:
    target: TableName
    #: (partition values by key, explicit location or None)
    partitions: tuple[tuple[tuple[tuple[str, str], ...], str | None], ...]
    if_not_exists: bool = False
    statement_type: str = "DDL"
    substatement_type: str = "ALTER_TABLE_ADD_PARTITION"


@dataclass(frozen=True)
class DropPartitions:
    target: TableName
    partitions: tuple[tuple[tuple[str, str], ...], ...]
    if_exists: bool = False
    statement_type: str = "DDL"
    substatement_type: str = "ALTER_TABLE_DROP_PARTITION"


@dataclass(frozen=True)
class CreateDatabase:
    name: str
    if_not_exists: bool = False
    statement_type: str = "DDL"
    substatement_type: str = "CREATE_DATABASE"


@dataclass(frozen=True)
class DropDatabase:
    name: str
    if_exists: bool = False
    cascade: bool = False
    statement_type: str = "DDL"
    substatement_type: str = "DROP_DATABASE"


@dataclass(frozen=True)
class ShowTables:
    database: str
    pattern: str | None = None
    statement_type: str = "DDL"
    substatement_type: str = "SHOW_TABLES"


@dataclass(frozen=True)
class ShowDatabases:
    statement_type: str = "DDL"
    substatement_type: str = "SHOW_DATABASES"


@dataclass(frozen=True)
class ShowPartitions:
    target: TableName
    statement_type: str = "DDL"
    substatement_type: str = "SHOW_PARTITIONS"


@dataclass(frozen=True)
class Describe:
    target: TableName
    statement_type: str = "DDL"
    substatement_type: str = "DESCRIBE_TABLE"


Statement = (
    Select
    | CreateTableAs
    | InsertInto
    | CreateView
    | DropTable
    | DropView
    | CreateExternalTable
    | RepairTable
    | AddPartitions
    | DropPartitions
    | CreateDatabase
    | DropDatabase
    | ShowTables
    | ShowDatabases
    | ShowPartitions
    | Describe
)


# ---- parsing ---------------------------------------------------------------------------------------

_IDENT = r'(?:`[^`]+`|"[^"]+"|[A-Za-z_][A-Za-z0-9_]*)'
_QUALIFIED = rf"({_IDENT}(?:\s*\.\s*{_IDENT}){{0,2}})"
_MSCK_RE = re.compile(rf"^\s*MSCK\s+REPAIR\s+TABLE\s+{_QUALIFIED}\s*;?\s*$", re.I | re.S)
_ALTER_PARTITION_RE = re.compile(
    rf"^\s*ALTER\s+TABLE\s+{_QUALIFIED}\s+(ADD|DROP)\s+(IF\s+(?:NOT\s+)?EXISTS\s+)?(.*?)\s*;?\s*$",
    re.I | re.S,
)
_PARTITION_SPEC_RE = re.compile(r"PARTITION\s*\((.*?)\)\s*(?:LOCATION\s+'([^']*)')?\s*,?", re.I | re.S)
_KV_RE = re.compile(rf"\s*({_IDENT})\s*=\s*('(?:[^']|'')*'|[^,\s]+)\s*(?:,|$)")
_SHOW_TABLES_RE = re.compile(
    rf"^\s*SHOW\s+TABLES(?:\s+(?:IN|FROM)\s+({_IDENT}))?(?:\s+'([^']*)')?\s*;?\s*$", re.I
)
_SHOW_DATABASES_RE = re.compile(r"^\s*SHOW\s+(?:DATABASES|SCHEMAS)(?:\s+(?:LIKE\s+)?'[^']*')?\s*;?\s*$", re.I)
_SHOW_PARTITIONS_RE = re.compile(rf"^\s*SHOW\s+PARTITIONS\s+{_QUALIFIED}\s*;?\s*$", re.I)
_VIEW_BODY_RE = re.compile(
    rf"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+{_QUALIFIED}\s+AS\s+(.*?)\s*;?\s*$", re.I | re.S
)


def _unquote(identifier: str) -> str:
    identifier = identifier.strip()
    if identifier[:1] in '`"' and identifier[-1:] == identifier[:1]:
        return identifier[1:-1]
    return identifier


def _split_name(text: str, default_database: str) -> TableName:
    parts = [_unquote(p).lower() for p in re.findall(_IDENT, text)]
    if len(parts) == 3:
        parts = parts[1:]
    if len(parts) == 1:
        return TableName(default_database, parts[0])
    return TableName(parts[0], parts[1])


def table_name(table: exp.Table, default_database: str) -> TableName:
    """The catalog name of a ``Table`` node; unqualified names use the query's database."""
    meta = table.this.meta if isinstance(table.this, exp.Identifier) else {}
    database = table.db.lower() if table.db else default_database
    return TableName(database, table.name.lower(), meta.get("line", 1), meta.get("col", 1))


def _syntax_error(error: ParseError, sql: str) -> AthenaError:
    errors = error.errors or [{}]
    first = errors[0]
    line, col = first.get("line") or 1, first.get("col") or 1
    description = first.get("description") or str(error).split("\n")[0]
    return AthenaError("SYNTAX_ERROR", f"line {line}:{col}: {description}")


def _literal_for(parameter: str) -> exp.Expr:
    try:
        return sqlglot.parse_one(parameter, read="athena")
    except ParseError as error:
        raise AthenaError(
            "INVALID_INPUT", f"Execution parameter {parameter!r} is not a SQL literal"
        ) from error


def bind_parameters(tree: exp.Expr, parameters: Sequence[str]) -> exp.Expr:
    """Replace ``?`` placeholders in order with the ExecutionParameters (SQL literal text, like Athena)."""
    placeholders = [p for p in tree.find_all(exp.Placeholder, bfs=False) if p.args.get("this") is None]
    if len(placeholders) != len(parameters):
        raise AthenaError(
            "INVALID_INPUT",
            f"Incorrect number of parameters: expected {len(placeholders)} but found {len(parameters)}",
        )
    for placeholder, parameter in zip(placeholders, parameters, strict=True):
        placeholder.replace(_literal_for(parameter))
    return tree


def parse_statement(
    sql: str, default_database: str = "default", parameters: Sequence[str] | None = None
) -> Statement:
    """Classify one Athena statement; raise :class:`AthenaError` worded like Athena on bad input."""
    text = sql.strip()
    if not text:
        raise AthenaError("INVALID_INPUT", "Query string must not be empty")
    default_database = default_database.lower()
    regex_statement = _parse_hive_ddl(text, default_database)
    if regex_statement is not None:
        return regex_statement
    try:
        trees = [t for t in sqlglot.parse(text, read="athena") if t is not None]
    except ParseError as error:
        raise _syntax_error(error, text) from None
    if len(trees) != 1:
        raise AthenaError("INVALID_INPUT", f"Only one sql statement is allowed. Got: {text}")
    tree = trees[0]
    if parameters:
        tree = bind_parameters(tree, parameters)
    elif any(p.args.get("this") is None for p in tree.find_all(exp.Placeholder)):
        raise AthenaError("INVALID_INPUT", "Query has parameters (?) but no ExecutionParameters were given")
    if isinstance(tree, exp.Command):
        raise AthenaError(
            "NOT_SUPPORTED", f"the local Athena runtime does not support: {text.split(None, 2)[:2]}"
        )
    if isinstance(tree, exp.Query):
        return Select(tree)
    if isinstance(tree, exp.Create):
        return _parse_create(tree, text, default_database)
    if isinstance(tree, exp.Insert):
        return _parse_insert(tree, default_database)
    if isinstance(tree, exp.Drop):
        return _parse_drop(tree, default_database)
    if isinstance(tree, exp.Describe) and isinstance(tree.this, exp.Table):
        return Describe(table_name(tree.this, default_database))
    raise AthenaError(
        "NOT_SUPPORTED", f"the local Athena runtime does not support {type(tree).__name__} statements"
    )


def _parse_hive_ddl(text: str, default_database: str) -> Statement | None:
    """Hive DDL that sqlglot leaves as an opaque command: MSCK, ALTER TABLE … PARTITION, SHOW …."""
    if match := _MSCK_RE.match(text):
        return RepairTable(_split_name(match.group(1), default_database))
    if match := _ALTER_PARTITION_RE.match(text):
        target = _split_name(match.group(1), default_database)
        specs = _PARTITION_SPEC_RE.findall(match.group(4))
        if not specs or _PARTITION_SPEC_RE.sub("", match.group(4)).strip():
            raise AthenaError(
                "SYNTAX_ERROR", f"line 1:1: cannot parse partition specification: {match.group(4)!r}"
            )
        parsed = []
        for values, location in specs:
            pairs = tuple(
                (_unquote(k).lower(), v[1:-1].replace("''", "'") if v.startswith("'") else v)
                for k, v in _KV_RE.findall(values)
            )
            parsed.append((pairs, location or None))
        exists = bool(match.group(3))
        if match.group(2).upper() == "ADD":
            return AddPartitions(target, tuple(parsed), exists)
        return DropPartitions(target, tuple(p for p, _ in parsed), exists)
    if match := _SHOW_TABLES_RE.match(text):
        database = _unquote(match.group(1)).lower() if match.group(1) else default_database
        return ShowTables(database, match.group(2))
    if _SHOW_DATABASES_RE.match(text):
        return ShowDatabases()
    if match := _SHOW_PARTITIONS_RE.match(text):
        return ShowPartitions(_split_name(match.group(1), default_database))
    return None


def _property_value(value: exp.Expr) -> Any:
    if isinstance(value, exp.Array):
        return tuple(str(_property_value(v)) for v in value.expressions)
    if isinstance(value, exp.Literal):
        return value.this if value.is_string else value.to_py()
    return value.name or value.sql("athena")


def ctas_options(properties: exp.Properties | None) -> CtasOptions:
    """The ``WITH (...)`` properties of an Athena CTAS (sqlglot keeps them; its DuckDB output drops them)."""
    values: dict[str, Any] = {}
    for prop in properties.expressions if properties else []:
        if isinstance(prop, exp.FileFormatProperty):
            values["format"] = _property_value(prop.this)
        elif isinstance(prop, exp.PartitionedByProperty):
            values["partitioned_by"] = _property_value(prop.this)
        elif isinstance(prop, exp.LocationProperty):
            values["external_location"] = _property_value(prop.this)
        elif isinstance(prop, exp.Property):
            values[prop.name.lower()] = _property_value(prop.args["value"])
        elif isinstance(prop, exp.WithDataProperty):
            continue
        else:
            raise AthenaError(
                "NOT_SUPPORTED", f"table property {prop.sql('athena')} is not supported locally"
            )
    options = CtasOptions(
        format=str(values.pop("format", "PARQUET")).upper(),
        external_location=values.pop("external_location", None),
        partitioned_by=tuple(p.lower() for p in values.pop("partitioned_by", ())),
        bucketed_by=tuple(p.lower() for p in values.pop("bucketed_by", ())),
        write_compression=str(
            values.pop("write_compression", values.pop("parquet_compression", "SNAPPY"))
        ).upper(),
    )
    values.pop("bucket_count", None)
    values.pop("table_type", None)
    if values:
        raise AthenaError("INVALID_TABLE_PROPERTY", f"Unknown table properties: {', '.join(sorted(values))}")
    if options.format != "PARQUET":
        raise AthenaError(
            "NOT_SUPPORTED", f"format '{options.format}' is not supported locally (PARQUET only)"
        )
    if options.write_compression not in {"SNAPPY", "GZIP", "ZSTD", "NONE", "UNCOMPRESSED", "LZ4"}:
        raise AthenaError("INVALID_TABLE_PROPERTY", f"Unsupported compression: {options.write_compression}")
    return options


def _parse_create(tree: exp.Create, text: str, default_database: str) -> Statement:
    kind = (tree.args.get("kind") or "").upper()
    if kind in {"DATABASE", "SCHEMA"}:
        return CreateDatabase(tree.this.name.lower(), bool(tree.args.get("exists")))
    if kind == "VIEW":
        target = table_name(tree.this, default_database)
        match = _VIEW_BODY_RE.match(text)
        original = match.group(2) if match else tree.expression.sql("athena")
        return CreateView(target, tree.expression, original, bool(tree.args.get("replace")))
    if kind != "TABLE":
        raise AthenaError("NOT_SUPPORTED", f"CREATE {kind} is not supported locally")
    properties: exp.Properties | None = tree.args.get("properties")
    if isinstance(tree.this, exp.Schema):  # CREATE [EXTERNAL] TABLE t (columns ...)
        return _parse_create_external(tree, properties, default_database)
    if tree.expression is None:
        raise AthenaError("SYNTAX_ERROR", "line 1:1: CREATE TABLE needs a column list or AS SELECT")
    with_data = not any(
        isinstance(p, exp.WithDataProperty) and p.args.get("no")
        for p in (properties.expressions if properties else [])
    )
    return CreateTableAs(
        table_name(tree.this, default_database),
        tree.expression,
        ctas_options(properties),
        bool(tree.args.get("exists")),
        with_data,
    )


def _column(definition: exp.ColumnDef) -> Column:
    return Column(definition.name.lower(), glue_type_of(definition.args["kind"]))


def _parse_create_external(
    tree: exp.Create, properties: exp.Properties | None, default_database: str
) -> CreateExternalTable:
    schema: exp.Schema = tree.this
    columns = tuple(_column(c) for c in schema.expressions if isinstance(c, exp.ColumnDef))
    partition_keys: tuple[Column, ...] = ()
    location, file_format = None, "PARQUET"
    table_properties: list[tuple[str, str]] = []
    for prop in properties.expressions if properties else []:
        if isinstance(prop, exp.PartitionedByProperty) and isinstance(prop.this, exp.Schema):
            partition_keys = tuple(_column(c) for c in prop.this.expressions if isinstance(c, exp.ColumnDef))
        elif isinstance(prop, exp.LocationProperty):
            location = str(_property_value(prop.this))
        elif isinstance(prop, exp.FileFormatProperty):
            file_format = str(_property_value(prop.this)).upper()
        elif isinstance(prop, exp.Property) and prop.args.get("value") is not None:
            table_properties.append((str(prop.name), str(_property_value(prop.args["value"]))))
    if location is None:
        raise AthenaError("SYNTAX_ERROR", "line 1:1: CREATE EXTERNAL TABLE needs a LOCATION")
    if file_format != "PARQUET":
        raise AthenaError("NOT_SUPPORTED", f"STORED AS {file_format} is not supported locally (PARQUET only)")
    return CreateExternalTable(
        table_name(schema.this, default_database),
        columns,
        partition_keys,
        location,
        file_format,
        tuple(table_properties),
        bool(tree.args.get("exists")),
    )


def _parse_insert(tree: exp.Insert, default_database: str) -> InsertInto:
    if tree.args.get("overwrite"):
        raise AthenaError("NOT_SUPPORTED", "INSERT OVERWRITE is not supported by Athena")
    target_node = tree.this
    columns: tuple[str, ...] = ()
    if isinstance(target_node, exp.Schema):
        columns = tuple(c.name.lower() for c in target_node.expressions)
        target_node = target_node.this
    query = tree.expression
    if isinstance(query, exp.Values):
        query = exp.select("*").from_(query.copy().as_("_values"))
    return InsertInto(table_name(target_node, default_database), query, columns)


def _parse_drop(tree: exp.Drop, default_database: str) -> Statement:
    kind = (tree.args.get("kind") or "").upper()
    exists = bool(tree.args.get("exists"))
    tables = tree.args.get("tables") or [tree.this]
    node = tables[0]
    if kind in {"DATABASE", "SCHEMA"}:
        return DropDatabase(node.name.lower(), exists, bool(tree.args.get("cascade")))
    target = table_name(node, default_database)
    if kind == "VIEW":
        return DropView(target, exists)
    if kind == "TABLE":
        return DropTable(target, exists)
    raise AthenaError("NOT_SUPPORTED", f"DROP {kind} is not supported locally")


# ---- table references and translation ----------------------------------------------------------


def _cte_names(tree: exp.Expr) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def table_refs(query: exp.Expr, default_database: str) -> list[TableName]:
    """Catalog tables a query reads, in order of appearance, without its CTE names or table functions."""
    ctes = _cte_names(query)
    seen: dict[tuple[str, str], TableName] = {}
    for table in query.find_all(exp.Table):
        if not table.name or isinstance(table.this, exp.Func):
            continue
        if not table.db and table.name.lower() in ctes:
            continue
        ref = table_name(table, default_database.lower())
        seen.setdefault(ref.key, ref)
    return sorted(seen.values(), key=lambda r: (r.line, r.col))


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


def _fix_dialect(node: exp.Expr) -> exp.Expr:
    """Trino semantics DuckDB spells differently (sqlglot transpiles the names, not these meanings)."""
    if isinstance(node, exp.DateDiff):
        # Trino counts whole units elapsed; DuckDB's date_diff counts boundaries crossed, date_sub elapsed.
        unit = node.args.get("unit")
        unit_name = (unit.name if unit is not None else "day").lower()
        return exp.Anonymous(
            this="date_sub",
            expressions=[exp.Literal.string(unit_name), node.expression.copy(), node.this.copy()],
        )
    if (
        isinstance(node, exp.Anonymous)
        and node.name.lower() == "format_datetime"
        and len(node.expressions) == 2
    ):
        value, pattern = node.expressions
        if isinstance(pattern, exp.Literal) and pattern.is_string:
            return exp.Anonymous(
                this="strftime",
                expressions=[value.copy(), exp.Literal.string(joda_to_strftime(pattern.this))],
            )
    return node


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
    ctes = _cte_names(tree)
    default_database = default_database.lower()
    for table in list(tree.find_all(exp.Table)):
        if not table.name or isinstance(table.this, exp.Func):
            continue
        if not table.db and table.name.lower() in ctes:
            continue
        ref = table_name(table, default_database)
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
    tree = tree.transform(_fix_dialect)
    return tree.sql("duckdb")


# ---- types -----------------------------------------------------------------------------------------

_GLUE_SIMPLE: dict[Any, tuple[str, pa.DataType]] = {
    exp.DataType.Type.TEXT: ("string", pa.string()),
    exp.DataType.Type.VARCHAR: ("string", pa.string()),
    exp.DataType.Type.CHAR: ("string", pa.string()),
    exp.DataType.Type.BIGINT: ("bigint", pa.int64()),
    exp.DataType.Type.INT: ("int", pa.int32()),
    exp.DataType.Type.SMALLINT: ("smallint", pa.int16()),
    exp.DataType.Type.TINYINT: ("tinyint", pa.int8()),
    exp.DataType.Type.DOUBLE: ("double", pa.float64()),
    exp.DataType.Type.FLOAT: ("float", pa.float32()),
    exp.DataType.Type.BOOLEAN: ("boolean", pa.bool_()),
    exp.DataType.Type.DATE: ("date", pa.date32()),
    exp.DataType.Type.TIMESTAMP: ("timestamp", pa.timestamp("us")),
    exp.DataType.Type.DATETIME: ("timestamp", pa.timestamp("us")),
    exp.DataType.Type.BINARY: ("binary", pa.binary()),
    exp.DataType.Type.VARBINARY: ("binary", pa.binary()),
}


def glue_type_of(datatype: exp.DataType) -> str:
    """A sqlglot data type as a Glue (Hive) type string."""
    return datatype.sql("hive").lower().replace(" ", "").replace(":", ":")


def glue_to_arrow(glue_type: str) -> pa.DataType:
    """A Glue column type (``string``, ``array<string>``, ``decimal(10,2)``, …) as an Arrow type."""
    return _datatype_to_arrow(exp.DataType.build(glue_type, dialect="hive"))


def _datatype_to_arrow(datatype: exp.DataType) -> pa.DataType:
    kind = datatype.this
    if kind in _GLUE_SIMPLE:
        return _GLUE_SIMPLE[kind][1]
    if kind == exp.DataType.Type.DECIMAL:
        params = [int(p.this.this) for p in datatype.expressions] or [10, 0]
        return pa.decimal128(params[0], params[1] if len(params) > 1 else 0)
    if kind == exp.DataType.Type.ARRAY:
        return pa.list_(_datatype_to_arrow(datatype.expressions[0]))
    if kind == exp.DataType.Type.MAP:
        return pa.map_(
            _datatype_to_arrow(datatype.expressions[0]), _datatype_to_arrow(datatype.expressions[1])
        )
    if kind == exp.DataType.Type.STRUCT:
        return pa.struct([pa.field(f.name, _datatype_to_arrow(f.args["kind"])) for f in datatype.expressions])
    raise ValueError(f"no Arrow type for Glue type {datatype.sql('hive')}")


def arrow_to_glue(arrow_type: pa.DataType) -> str:
    """An Arrow type as the Glue column type Athena registers for a CTAS."""
    t = arrow_type
    if (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_string_view(t)
        or pa.types.is_null(t)
    ):
        return "string"
    simple = {
        pa.int64(): "bigint",
        pa.int32(): "int",
        pa.int16(): "smallint",
        pa.int8(): "tinyint",
        pa.uint8(): "smallint",
        pa.uint16(): "int",
        pa.uint32(): "bigint",
        pa.uint64(): "bigint",
        pa.float64(): "double",
        pa.float32(): "float",
        pa.bool_(): "boolean",
        pa.date32(): "date",
    }
    if t in simple:
        return simple[t]
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "binary"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"array<{arrow_to_glue(t.value_type)}>"
    if pa.types.is_map(t):
        return f"map<{arrow_to_glue(t.key_type)},{arrow_to_glue(t.item_type)}>"
    if pa.types.is_struct(t):
        return (
            "struct<"
            + ",".join(f"{t.field(i).name}:{arrow_to_glue(t.field(i).type)}" for i in range(t.num_fields))
            + ">"
        )
    raise AthenaError("NOT_SUPPORTED", f"Unsupported column type for a table: {t}")


def arrow_to_athena(arrow_type: pa.DataType) -> str:
    """The type name Athena puts in ``ColumnInfo.Type`` (Trino's names)."""
    t = arrow_type
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "varchar"
    if pa.types.is_null(t):
        return "unknown"
    simple = {
        pa.int64(): "bigint",
        pa.int32(): "integer",
        pa.int16(): "smallint",
        pa.int8(): "tinyint",
        pa.uint8(): "smallint",
        pa.uint16(): "integer",
        pa.uint32(): "bigint",
        pa.uint64(): "bigint",
        pa.float64(): "double",
        pa.float32(): "real",
        pa.bool_(): "boolean",
        pa.date32(): "date",
    }
    if t in simple:
        return simple[t]
    if pa.types.is_timestamp(t):
        return "timestamp with time zone" if t.tz else "timestamp"
    if pa.types.is_time(t):
        return "time"
    if pa.types.is_decimal(t):
        return "decimal"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "varbinary"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return "array"
    if pa.types.is_map(t):
        return "map"
    if pa.types.is_struct(t):
        return "row"
    if pa.types.is_duration(t) or pa.types.is_interval(t):
        return "interval day to second"
    return "varchar"


def glue_to_athena(glue_type: str) -> str:
    """A Glue column type as Athena shows it in DESCRIBE / view metadata (``string`` -> ``varchar``)."""
    try:
        return exp.DataType.build(glue_type, dialect="hive").sql("trino").lower()
    except ParseError:
        return glue_type


def column_info(name: str, arrow_type: pa.DataType) -> dict[str, Any]:
    """One ``ResultSetMetadata.ColumnInfo`` entry like Athena's."""
    athena_type = arrow_to_athena(arrow_type)
    precision, scale = {
        "varchar": (2147483647, 0),
        "bigint": (19, 0),
        "integer": (10, 0),
        "smallint": (5, 0),
        "tinyint": (3, 0),
        "double": (17, 0),
        "real": (9, 0),
        "timestamp": (3, 0),
    }.get(athena_type, (0, 0))
    if pa.types.is_decimal(arrow_type):
        precision, scale = arrow_type.precision, arrow_type.scale
    return {
        "CatalogName": "hive",
        "SchemaName": "",
        "TableName": "",
        "Name": name,
        "Label": name,
        "Type": athena_type,
        "Precision": precision,
        "Scale": scale,
        "Nullable": "UNKNOWN",
        "CaseSensitive": athena_type == "varchar",
    }


# ---- values as Athena renders them ----------------------------------------------------------------


def java_double(value: float, single: bool = False) -> str:
    """``Double.toString`` (Trino's text for double): ``1.5``, ``1.0E7``, ``NaN``, ``Infinity``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    text = repr(float(value)) if not single else _shortest_float32(value)
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e7:
        if "e" in text or "E" in text:
            text = format(Decimal(text), "f")
        return text if "." in text else text + ".0"
    mantissa, _, exponent = f"{Decimal(text):E}".partition("E")
    digits = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
    if "." not in digits:
        digits += ".0"
    return f"{digits}E{int(exponent)}"


def _shortest_float32(value: float) -> str:
    import numpy as np

    return repr(float(np.format_float_positional(np.float32(value), unique=True, trim="-")))


def render_value(value: Any, arrow_type: pa.DataType) -> str | None:
    """A Python value from Arrow as the text Athena returns in ``VarCharValue`` (None is SQL NULL)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double(value, single=pa.types.is_float32(arrow_type))
    if isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
        if value.tzinfo is not None:
            text += (
                " UTC" if value.utcoffset() is not None and not value.utcoffset() else value.strftime(" %z")
            )
        return text
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bytes):
        return " ".join(f"{b:02x}" for b in value)
    if isinstance(value, list):
        item = arrow_type.value_type if hasattr(arrow_type, "value_type") else pa.string()
        return "[" + ", ".join(_nested(v, item) for v in value) + "]"
    if isinstance(value, dict):
        fields = {arrow_type.field(i).name: arrow_type.field(i).type for i in range(arrow_type.num_fields)}
        return (
            "{" + ", ".join(f"{k}={_nested(v, fields.get(k, pa.string()))}" for k, v in value.items()) + "}"
        )
    if isinstance(value, tuple) and pa.types.is_map(arrow_type):
        return "{" + ", ".join(f"{k}={_nested(v, arrow_type.item_type)}" for k, v in value) + "}"
    return str(value)


def _nested(value: Any, arrow_type: pa.DataType) -> str:
    rendered = render_value(value, arrow_type)
    return "null" if rendered is None else rendered


def render_rows(table: pa.Table) -> list[list[str | None]]:
    """Every row of an Arrow table as Athena's text values."""
    columns = []
    for column in table.columns:
        values = column.to_pylist()
        if pa.types.is_map(column.type):
            values = [None if v is None else tuple(v) for v in values]
        columns.append([render_value(v, column.type) for v in values])
    return [list(row) for row in zip(*columns, strict=True)] if columns else []


def csv_line(values: Sequence[str | None]) -> str:
    """One line of Athena's result CSV: every value quoted, NULL empty and unquoted."""
    return ",".join("" if v is None else '"' + v.replace('"', '""') + '"' for v in values) + "\n"


# ---- views -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ViewDefinition:
    original_sql: str
    database: str
    columns: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (name, athena type)


def encode_presto_view(view: ViewDefinition) -> str:
    """``ViewOriginalText`` the way Athena stores a view in Glue: base64 JSON in a comment."""
    payload = {
        "originalSql": view.original_sql,
        "catalog": CATALOG,
        "schema": view.database,
        "columns": [{"name": n, "type": t} for n, t in view.columns],
        "owner": "local",
        "runAsInvoker": False,
        "properties": {},
    }
    encoded = base64.b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()
    return f"{PRESTO_VIEW_PREFIX}{encoded}{PRESTO_VIEW_SUFFIX}"


def decode_presto_view(text: str, database: str) -> ViewDefinition:
    """The SQL of a Glue view (Athena's encoding; plain SQL from other tools is accepted too)."""
    stripped = text.strip()
    if stripped.startswith(PRESTO_VIEW_PREFIX) and stripped.endswith(PRESTO_VIEW_SUFFIX):
        payload = json.loads(base64.b64decode(stripped[len(PRESTO_VIEW_PREFIX) : -len(PRESTO_VIEW_SUFFIX)]))
        columns = tuple((c["name"], c["type"]) for c in payload.get("columns", []))
        return ViewDefinition(payload["originalSql"], payload.get("schema", database), columns)
    return ViewDefinition(stripped, database)


# ---- errors from DuckDB ------------------------------------------------------------------------------

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
