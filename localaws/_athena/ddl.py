"""Statements on the catalog alone: tables, views, partitions, databases, SHOW and DESCRIBE."""

from __future__ import annotations

import fnmatch
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from localaws._athena import results, text, views
from localaws._athena import statements as st
from localaws._athena.context import athena_table_input, glue_column_type
from localaws._athena.dml import partitions_of
from localaws._athena.errors import AthenaError
from localaws._athena.query import ResultSet
from localaws._athena.statements import TableName
from localaws._aws import as_folder
from localaws._catalog import (
    PARQUET_INPUT_FORMAT,
    TEXT_INPUT_FORMAT,
    StorageFormat,
    UnsupportedFormat,
    storage_format,
)

if TYPE_CHECKING:
    from localaws._athena.context import QueryContext


def create_view(ctx: QueryContext, statement: st.CreateView) -> ResultSet:
    target = statement.target
    ctx.catalog.require_database(target)
    existing = ctx.catalog.table(target)
    if existing is not None:
        if existing.get("TableType") != "VIRTUAL_VIEW":
            raise AthenaError(
                "TABLE_ALREADY_EXISTS", f"Table already exists: '{target.qualified}' (not a view)"
            )
        if not statement.replace:
            raise AthenaError("ALREADY_EXISTS", f"View already exists: '{target.qualified}'")
    schema = ctx.query_table(statement.query, target.database, statement.original_sql, limit0=True).schema
    glue_columns = [(n, glue_column_type(t)) for n, t in zip(schema.names, schema.types, strict=True)]
    view = views.ViewDefinition(
        statement.original_sql,
        target.database,
        tuple((n, results.glue_to_athena(t)) for n, t in glue_columns),
    )
    table_input = {
        "Name": target.name,
        "TableType": "VIRTUAL_VIEW",
        "Parameters": {"presto_view": "true", "comment": "Presto View"},
        "ViewOriginalText": views.encode_presto_view(view),
        "ViewExpandedText": "/* Presto View */",
        "PartitionKeys": [],
        "StorageDescriptor": {
            "Columns": [{"Name": n, "Type": t} for n, t in glue_columns],
            "Location": "",
            "SerdeInfo": {},
        },
    }
    glue = ctx.executor.client("glue")
    if existing is None:
        glue.create_table(DatabaseName=target.database, TableInput=table_input)
    else:
        glue.update_table(DatabaseName=target.database, TableInput=table_input)
    return ResultSet([], [], header=False)


def drop_view(ctx: QueryContext, statement: st.DropView) -> ResultSet:
    target = statement.target
    existing = ctx.catalog.table(target)
    if existing is None or existing.get("TableType") != "VIRTUAL_VIEW":
        if statement.if_exists and existing is None:
            return ResultSet([], [], header=False)
        raise AthenaError(
            "TABLE_NOT_FOUND",
            f"line {target.line}:{target.col}: View '{target.qualified}' does not exist",
        )
    ctx.executor.client("glue").delete_table(DatabaseName=target.database, Name=target.name)
    return ResultSet([], [], header=False)


def drop_table(ctx: QueryContext, statement: st.DropTable) -> ResultSet:
    target = statement.target
    existing = ctx.catalog.table(target)
    if existing is None:
        if statement.if_exists:
            return ResultSet([], [], header=False)
        raise AthenaError("", f"FAILED: SemanticException [Error 10001]: Table not found {target}")
    if existing.get("TableType") == "VIRTUAL_VIEW":
        raise AthenaError("", "FAILED: SemanticException [Error 10131]: Cannot drop a view with DROP TABLE")
    # External tables: only the catalog entry goes; the data stays in S3, like Athena.
    ctx.executor.client("glue").delete_table(DatabaseName=target.database, Name=target.name)
    return ResultSet([], [], header=False)


def create_external_table(ctx: QueryContext, statement: st.CreateExternalTable) -> ResultSet:
    target = statement.target
    ctx.catalog.require_database(target)
    if ctx.catalog.table(target) is not None:
        if statement.if_not_exists:
            return ResultSet([], [], header=False)
        raise AthenaError("", f"AlreadyExistsException: Table already exists: {target}")
    columns = [(c.name, c.type) for c in statement.columns]
    table_input = athena_table_input(
        target.name,
        columns,
        [(c.name, c.type) for c in statement.partition_keys],
        statement.location,
        dict(statement.table_properties),
        _stored_as(statement, columns),
    )
    ctx.executor.client("glue").create_table(DatabaseName=target.database, TableInput=table_input)
    return ResultSet([], [], header=False)


def _stored_as(statement: st.CreateExternalTable, columns: list[tuple[str, str]]) -> StorageFormat:
    """The storage the DDL declares, or NOT_SUPPORTED at DDL time: a table is never registered as something
    it is not."""
    input_format = statement.input_format or (
        PARQUET_INPUT_FORMAT if statement.format == "PARQUET" else TEXT_INPUT_FORMAT
    )
    try:
        stored_as = storage_format(
            statement.serde, dict(statement.serde_properties), dict(statement.table_properties), input_format
        )
    except UnsupportedFormat as error:
        raise AthenaError("NOT_SUPPORTED", str(error)) from None
    text.check_columns(stored_as, columns)
    return stored_as


def _partitioned_table(ctx: QueryContext, target: TableName) -> tuple[dict[str, Any], list[str]]:
    table = ctx.catalog.table(target)
    if table is None:
        raise AthenaError("", f"FAILED: SemanticException [Error 10001]: Table not found {target}")
    return table, [k["Name"].lower() for k in table.get("PartitionKeys", [])]


def repair(ctx: QueryContext, statement: st.RepairTable) -> ResultSet:
    target = statement.target
    table, keys = _partitioned_table(ctx, target)
    location = as_folder((table.get("StorageDescriptor") or {}).get("Location") or "")
    if not keys:
        return ResultSet([("result", pa.string())], [], header=False)
    found = partitions_of([f"s3://{p}" for p in ctx.files(location)], location, keys)
    existing = {tuple(p["Values"]) for p in ctx.catalog.partitions(target)}
    missing = [(values, where) for values, where in found if tuple(values) not in existing]
    ctx.catalog.add_partitions(target, table, missing)
    names = ["/".join(f"{k}={v}" for k, v in zip(keys, values, strict=True)) for values, _ in missing]
    rows = [[f"Partitions not in metastore:\t{target.name}:{n}"] for n in names]
    rows += [[f"Repair: Added partition to metastore {target.name}:{n}"] for n in names]
    return ResultSet([("result", pa.string())], rows, header=False)


def _ordered_values(keys: list[str], pairs: tuple[tuple[str, str], ...], target: TableName) -> list[str]:
    given = dict(pairs)
    if sorted(given) != sorted(keys):
        raise AthenaError(
            "",
            f"FAILED: ValidationFailureSemanticException partition spec {given} does not match the "
            f"partition keys {keys} of table {target}",
        )
    return [given[k] for k in keys]


def add_partitions(ctx: QueryContext, statement: st.AddPartitions) -> ResultSet:
    target = statement.target
    table, keys = _partitioned_table(ctx, target)
    location = as_folder((table.get("StorageDescriptor") or {}).get("Location") or "")
    entries = []
    for pairs, where in statement.partitions:
        values = _ordered_values(keys, pairs, target)
        path = "/".join(f"{k}={urllib.parse.quote(v, safe='')}" for k, v in zip(keys, values, strict=True))
        entries.append((values, where or f"{location}{path}/"))
    existing = {tuple(p["Values"]) for p in ctx.catalog.partitions(target)}
    clash = [v for v, _ in entries if tuple(v) in existing]
    if clash and not statement.if_not_exists:
        raise AthenaError("", "AlreadyExistsException: Partition already exists")
    ctx.catalog.add_partitions(target, table, entries)
    return ResultSet([], [], header=False)


def drop_partitions(ctx: QueryContext, statement: st.DropPartitions) -> ResultSet:
    target = statement.target
    _, keys = _partitioned_table(ctx, target)
    existing = {tuple(p["Values"]) for p in ctx.catalog.partitions(target)}
    glue = ctx.executor.client("glue")
    for pairs in statement.partitions:
        values = _ordered_values(keys, pairs, target)
        if tuple(values) not in existing:
            if statement.if_exists:
                continue
            raise AthenaError(
                "", f"FAILED: SemanticException [Error 10006]: Partition not found {dict(pairs)}"
            )
        glue.delete_partition(DatabaseName=target.database, TableName=target.name, PartitionValues=values)
    return ResultSet([], [], header=False)


def create_database(ctx: QueryContext, statement: st.CreateDatabase) -> ResultSet:
    glue = ctx.executor.client("glue")
    try:
        glue.create_database(DatabaseInput={"Name": statement.name})
    except glue.exceptions.AlreadyExistsException:
        if not statement.if_not_exists:
            raise AthenaError(
                "", f"FAILED: AlreadyExistsException Database {statement.name} already exists"
            ) from None
    return ResultSet([], [], header=False)


def drop_database(ctx: QueryContext, statement: st.DropDatabase) -> ResultSet:
    glue = ctx.executor.client("glue")
    if not ctx.catalog.database_exists(statement.name):
        if statement.if_exists:
            return ResultSet([], [], header=False)
        raise AthenaError(
            "", f"FAILED: SemanticException [Error 10072]: Database does not exist: {statement.name}"
        )
    tables = ctx.catalog.tables(statement.name)
    if tables and not statement.cascade:
        raise AthenaError(
            "",
            f"FAILED: InvalidOperationException Database {statement.name} is not empty. "
            "One or more tables exist.",
        )
    for table in tables:
        glue.delete_table(DatabaseName=statement.name, Name=table["Name"])
    glue.delete_database(Name=statement.name)
    return ResultSet([], [], header=False)


def show_tables(ctx: QueryContext, statement: st.ShowTables) -> ResultSet:
    if not ctx.catalog.database_exists(statement.database):
        raise AthenaError(
            "", f"FAILED: SemanticException [Error 10072]: Database does not exist: {statement.database}"
        )
    names = sorted(t["Name"] for t in ctx.catalog.tables(statement.database))
    if statement.pattern:
        alternatives = [p.strip() for p in statement.pattern.split("|")]
        names = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in alternatives)]
    return ResultSet([("tab_name", pa.string())], [[n] for n in names], header=False)


def show_databases(ctx: QueryContext, _: st.ShowDatabases) -> ResultSet:
    pages = ctx.executor.client("glue").get_paginator("get_databases").paginate()
    names = sorted(d["Name"] for page in pages for d in page["DatabaseList"])
    return ResultSet([("database_name", pa.string())], [[n] for n in names], header=False)


def show_partitions(ctx: QueryContext, statement: st.ShowPartitions) -> ResultSet:
    _, keys = _partitioned_table(ctx, statement.target)
    rows = sorted(
        "/".join(f"{k}={v}" for k, v in zip(keys, p["Values"], strict=True))
        for p in ctx.catalog.partitions(statement.target)
    )
    return ResultSet([("partition", pa.string())], [[r] for r in rows], header=False)


def describe(ctx: QueryContext, statement: st.Describe) -> ResultSet:
    table = ctx.catalog.require_table(statement.target)
    columns = [
        (c["Name"], c.get("Type", "")) for c in (table.get("StorageDescriptor") or {}).get("Columns", [])
    ]
    keys = [(k["Name"], k.get("Type", "")) for k in table.get("PartitionKeys", [])]
    rows = [[f"{n:<20}\t{t:<20}\t"] for n, t in columns + keys]
    if keys:
        rows += [
            [""],
            ["# Partition Information"],
            [f"{'# col_name':<20}\t{'data_type':<20}\tcomment"],
            [""],
        ]
        rows += [[f"{n:<20}\t{t:<20}\t"] for n, t in keys]
    return ResultSet([("col_name", pa.string())], rows, header=False)


HANDLERS: dict[type, Callable[..., ResultSet]] = {
    st.CreateView: create_view,
    st.DropView: drop_view,
    st.DropTable: drop_table,
    st.CreateExternalTable: create_external_table,
    st.RepairTable: repair,
    st.AddPartitions: add_partitions,
    st.DropPartitions: drop_partitions,
    st.CreateDatabase: create_database,
    st.DropDatabase: drop_database,
    st.ShowTables: show_tables,
    st.ShowDatabases: show_databases,
    st.ShowPartitions: show_partitions,
    st.Describe: describe,
}
