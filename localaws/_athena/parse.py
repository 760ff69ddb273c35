"""Athena (Trino and Hive DDL) text -> a :mod:`.statements` object, or an :class:`AthenaError` worded like
Athena's. Pure: no catalog, no I/O."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from localaws._athena.errors import AthenaError
from localaws._athena.statements import (
    AddPartitions,
    Column,
    CreateDatabase,
    CreateExternalTable,
    CreateTableAs,
    CreateView,
    CtasOptions,
    Describe,
    DropDatabase,
    DropPartitions,
    DropTable,
    DropView,
    InsertInto,
    RepairTable,
    Select,
    ShowDatabases,
    ShowPartitions,
    ShowTables,
    Statement,
    TableName,
)
from localaws._catalog import LAZY_SIMPLE_SERDE

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


#: ``ROW FORMAT DELIMITED`` clauses -> LazySimpleSerDe properties, as Hive records them.
_DELIMITED = {
    "fields": "field.delim",
    "escaped": "escape.delim",
    "collection_items": "collection.delim",
    "map_keys": "mapkey.delim",
    "lines": "line.delim",
    "null": "serialization.null.format",
}
#: ``STORED AS`` formats Athena knows; only these two are read locally.
_READABLE_FORMATS = {"PARQUET", "TEXTFILE"}


def _row_format(prop: exp.Expr) -> tuple[str, tuple[tuple[str, str], ...]]:
    """(SerDe, properties) of ``ROW FORMAT SERDE '…' [WITH SERDEPROPERTIES (…)]`` or ``… DELIMITED``."""
    if isinstance(prop, exp.RowFormatDelimitedProperty):
        properties = tuple(
            (name, str(_property_value(prop.args[arg])))
            for arg, name in _DELIMITED.items()
            if prop.args.get(arg) is not None
        )
        return LAZY_SIMPLE_SERDE, properties
    serde_properties = prop.args.get("serde_properties")
    properties = tuple(
        (str(_property_value(p.this)), str(_property_value(p.args["value"])))
        for p in (serde_properties.expressions if serde_properties else [])
    )
    return str(_property_value(prop.this)), properties


def _parse_create_external(
    tree: exp.Create, properties: exp.Properties | None, default_database: str
) -> CreateExternalTable:
    schema: exp.Schema = tree.this
    columns = tuple(_column(c) for c in schema.expressions if isinstance(c, exp.ColumnDef))
    partition_keys: tuple[Column, ...] = ()
    location: str | None = None
    file_format: str | None = "TEXTFILE"  # Athena's (Hive's) default
    input_format: str | None = None
    serde: str | None = None
    serde_properties: tuple[tuple[str, str], ...] = ()
    table_properties: list[tuple[str, str]] = []
    for prop in properties.expressions if properties else []:
        if isinstance(prop, exp.PartitionedByProperty) and isinstance(prop.this, exp.Schema):
            partition_keys = tuple(_column(c) for c in prop.this.expressions if isinstance(c, exp.ColumnDef))
        elif isinstance(prop, exp.LocationProperty):
            location = str(_property_value(prop.this))
        elif isinstance(prop, exp.FileFormatProperty) and isinstance(prop.this, exp.InputOutputFormat):
            file_format, input_format = None, str(_property_value(prop.this.args["input_format"]))
        elif isinstance(prop, exp.FileFormatProperty):
            file_format = str(_property_value(prop.this)).upper()
        elif isinstance(prop, exp.RowFormatSerdeProperty | exp.RowFormatDelimitedProperty):
            serde, serde_properties = _row_format(prop)
        elif isinstance(prop, exp.Property) and prop.args.get("value") is not None:
            table_properties.append((str(prop.name), str(_property_value(prop.args["value"]))))
    if location is None:
        raise AthenaError("SYNTAX_ERROR", "line 1:1: CREATE EXTERNAL TABLE needs a LOCATION")
    if file_format is not None and file_format not in _READABLE_FORMATS:
        raise AthenaError(
            "NOT_SUPPORTED", f"STORED AS {file_format} is not supported locally (PARQUET and TEXTFILE only)"
        )
    return CreateExternalTable(
        table_name(schema.this, default_database),
        columns,
        partition_keys,
        location,
        file_format,
        tuple(table_properties),
        bool(tree.args.get("exists")),
        serde,
        serde_properties,
        input_format,
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


def glue_type_of(datatype: exp.DataType) -> str:
    """A sqlglot data type as a Glue (Hive) type string."""
    return datatype.sql("hive").lower().replace(" ", "").replace(":", ":")
