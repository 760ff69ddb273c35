"""Statements that run a query: SELECT, CREATE TABLE AS SELECT and INSERT INTO."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from localaws._athena import results
from localaws._athena import statements as st
from localaws._athena.context import athena_table_input, glue_column_type, s3_location, table_format
from localaws._athena.errors import AthenaError
from localaws._athena.query import ResultSet
from localaws._athena.scan import arrow_or
from localaws._aws import as_folder

if TYPE_CHECKING:
    from localaws._athena.context import QueryContext


def select(ctx: QueryContext, statement: st.Select) -> ResultSet:
    table = ctx.query_table(statement.query, ctx.run.database, ctx.run.query)
    return ResultSet(
        list(zip(table.column_names, table.schema.types, strict=True)), results.render_rows(table)
    )


def rows_result(count: int) -> ResultSet:
    return ResultSet([("rows", pa.int64())], [[str(count)]])


def ctas(ctx: QueryContext, statement: st.CreateTableAs) -> ResultSet:
    target = statement.target
    ctx.catalog.require_database(target)
    if ctx.catalog.table(target) is not None:
        if statement.if_not_exists:
            return rows_result(0)
        raise AthenaError(
            "TABLE_ALREADY_EXISTS",
            f"line {target.line}:{target.col}: Table already exists: Destination table "
            f"'{target.qualified}' already exists",
        )
    _require_named_columns(statement.query)
    options = statement.options
    if options.external_location and ctx.run.enforced:
        # Athena's documented behaviour: an enforced result location forbids CTAS external_location.
        raise AthenaError(
            "INVALID_TABLE_PROPERTY",
            f"external_location is not allowed in workgroup '{ctx.run.workgroup}': it overrides "
            "client-side settings (enforced query result location). Omit external_location or use a "
            "workgroup that does not enforce its configuration.",
        )
    location = as_folder(
        options.external_location or ctx.run.output_location.rsplit("/", 1)[0] + f"/tables/{ctx.run.id}/"
    )
    bucket, prefix = s3_location(location)
    listed = ctx.executor.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    if listed.get("KeyCount", 0):
        raise AthenaError(
            "HIVE_PATH_ALREADY_EXISTS",
            f"Target directory for table '{target}' already exists: {location.rstrip('/')}. "
            f"You may need to manually clean the data at location '{location}' before retrying. "
            "Athena will not delete data in your account.",
        )
    table = ctx.query_table(statement.query, ctx.run.database, ctx.run.query)
    if len(set(table.column_names)) != len(table.column_names):
        duplicate = next(n for n in table.column_names if table.column_names.count(n) > 1)
        raise AthenaError("DUPLICATE_COLUMN_NAME", f"Column name '{duplicate}' specified more than once")
    keys = list(options.partitioned_by)
    _check_partition_order(table.column_names, keys)
    table = _storable(table)
    written = ctx.write(table, keys, location, options.write_compression) if statement.with_data else []
    data_columns = [
        (n, glue_column_type(t))
        for n, t in zip(table.column_names, table.schema.types, strict=True)
        if n not in keys
    ]
    key_columns = [(k, glue_column_type(table.schema.field(k).type)) for k in keys]
    parameters = {"has_encrypted_data": "false", "parquet.compression": options.write_compression}
    glue = ctx.executor.client("glue")
    glue.create_table(
        DatabaseName=target.database,
        TableInput=athena_table_input(target.name, data_columns, key_columns, location, parameters),
    )
    if keys:
        registered = ctx.catalog.table(target) or {}
        ctx.catalog.add_partitions(target, registered, partitions_of(written, location, keys))
    ctx.write_manifest(written)
    return rows_result(table.num_rows)


def insert(ctx: QueryContext, statement: st.InsertInto) -> ResultSet:
    target = statement.target
    existing = ctx.catalog.require_table(target)
    if existing.get("TableType") == "VIRTUAL_VIEW":
        raise AthenaError("NOT_SUPPORTED", f"Inserting into views is not supported: {target.qualified}")
    stored_as = table_format(existing, target.qualified)
    if stored_as.kind != "parquet":  # writing Parquet into a text table's folder would corrupt it
        raise AthenaError(
            "NOT_SUPPORTED",
            f"INSERT INTO a {stored_as.serde} table is not supported locally: {target.qualified}",
        )
    storage = existing.get("StorageDescriptor") or {}
    columns = [(c["Name"].lower(), c.get("Type", "string")) for c in storage.get("Columns", [])]
    keys = [(k["Name"].lower(), k.get("Type", "string")) for k in existing.get("PartitionKeys", [])]
    all_columns = columns + keys
    table = ctx.query_table(statement.query, ctx.run.database, ctx.run.query)
    targets = list(statement.columns) or [n for n, _ in all_columns]
    unknown = [c for c in targets if c not in dict(all_columns)]
    if unknown:
        raise AthenaError(
            "COLUMN_NOT_FOUND", f"Insert column name does not exist in target table: {unknown[0]}"
        )
    if table.num_columns != len(targets):
        raise AthenaError(
            "TYPE_MISMATCH",
            "Insert query has mismatched column types: "
            f"Table: [{', '.join(results.glue_to_athena(t) for _, t in all_columns)}], "
            f"Query: [{', '.join(results.arrow_to_athena(t) for t in table.schema.types)}]",
        )
    by_name = dict(zip(targets, table.columns, strict=True))
    arrays = []
    for name, glue_type in all_columns:
        arrow_type = arrow_or(glue_type, None)
        values = by_name.get(name)
        if values is None:
            values = pa.nulls(table.num_rows, arrow_type or pa.string())
        elif arrow_type is not None and values.type != arrow_type:
            try:
                values = values.cast(arrow_type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                raise AthenaError(
                    "TYPE_MISMATCH",
                    f"Insert query has mismatched column types for column {name}: {error}",
                ) from None
        arrays.append(values)
    output = pa.table(arrays, names=[n for n, _ in all_columns])
    location = as_folder(storage.get("Location") or "")
    written = ctx.write(
        output,
        [k for k, _ in keys],
        location,
        existing.get("Parameters", {}).get("parquet.compression", "SNAPPY").upper(),
    )
    if keys:
        ctx.catalog.add_partitions(target, existing, partitions_of(written, location, [k for k, _ in keys]))
    ctx.write_manifest(written)
    return rows_result(output.num_rows)


def _require_named_columns(query: Any) -> None:
    from sqlglot import exp

    select = query if isinstance(query, exp.Select) else query.find(exp.Select)
    if select is None:
        return
    for position, item in enumerate(select.expressions, start=1):
        if isinstance(item, exp.Alias | exp.Column | exp.Star):
            continue
        raise AthenaError("MISSING_COLUMN_NAME", f"Column name not specified at position {position}")


def _check_partition_order(columns: list[str], keys: list[str]) -> None:
    missing = [k for k in keys if k not in columns]
    if missing:
        raise AthenaError(
            "HIVE_INVALID_PARTITION_VALUE", f"Partition column {missing[0]} is not in the query's columns"
        )
    if keys and columns[-len(keys) :] != keys:
        raise AthenaError(
            "HIVE_COLUMN_ORDER_MISMATCH",
            f"Partition keys must be the last columns in the table and in the same order as the table "
            f"properties: [{', '.join(keys)}]",
        )


def _storable(table: pa.Table) -> pa.Table:
    """Columns Parquet/Glue can hold: untyped NULL columns become varchar, like Athena's unknown -> string."""
    for index, column_type in enumerate(table.schema.types):
        if pa.types.is_null(column_type):
            table = table.set_column(
                index, table.field(index).name, pc.cast(table.column(index), pa.string())
            )
    return table


def partitions_of(paths: list[str], location: str, keys: list[str]) -> list[tuple[list[str], str]]:
    """(values, location) of each Hive partition folder holding one of ``paths`` under ``location``."""
    found: dict[tuple[str, ...], str] = {}
    for path in paths:
        if not path.startswith(location):
            continue
        segments = path[len(location) :].split("/")[:-1]
        if len(segments) < len(keys):
            continue
        values = []
        for key, segment in zip(keys, segments, strict=False):
            name, sep, value = segment.partition("=")
            if not sep or name.lower() != key:
                break
            values.append(urllib.parse.unquote(value))
        else:
            folder = location + "/".join(segments[: len(keys)]) + "/"
            found.setdefault(tuple(values), folder)
    return [(list(v), loc) for v, loc in sorted(found.items())]


HANDLERS: dict[type, Callable[..., ResultSet]] = {
    st.Select: select,
    st.CreateTableAs: ctas,
    st.InsertInto: insert,
}
