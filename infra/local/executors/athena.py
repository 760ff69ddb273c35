"""Athena executor: StartQueryExecution really runs the query, in DuckDB, over the Glue catalog's S3 data.

moto answers every Athena query with an empty result. Here moto's Athena API handlers are patched so that a
query runs in a background thread: :mod:`infra.local.athena_sql` parses and translates the Athena (Trino)
SQL, tables and views are resolved in the runtime's Glue catalog, their Parquet is scanned through
pyarrow's S3 filesystem against the runtime (DuckDB 2 cannot load httpfs offline), and results, CTAS
output, partitions and views are written back to S3 and Glue like Athena does. Callers see only the AWS
API: QUEUED -> RUNNING -> SUCCEEDED/FAILED, Athena's error wording, bytes scanned, paginated results.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from infra.local import athena_sql as sql
from infra.local.athena_sql import AthenaError, TableName

if TYPE_CHECKING:
    from infra.local.runtime import LocalRuntime

log = logging.getLogger(__name__)

#: Queries running at once; more wait in QUEUED, like an Athena account's concurrency quota.
MAX_CONCURRENT_QUERIES = 4
#: GetQueryResults' page size limit.
MAX_RESULTS = 1000
_DUCKDB_NAME = "__athena_{index}_{database}_{name}"


# ---- query records -------------------------------------------------------------------------------


@dataclass
class ResultSet:
    columns: list[tuple[str, pa.DataType]]
    rows: Sequence[Sequence[str | None]]
    #: SELECT-like results start with a header row; DDL output (SHOW, DESCRIBE, MSCK) has none.
    header: bool = True


@dataclass
class QueryRun:
    id: str
    query: str
    database: str
    catalog: str
    workgroup: str
    output_location: str
    parameters: list[str] | None
    #: The workgroup overrides client-side settings (EnforceWorkGroupConfiguration).
    enforced: bool = False
    submitted: float = field(default_factory=time.time)
    state: str = "QUEUED"
    reason: str | None = None
    error: AthenaError | None = None
    started: float | None = None
    completed: float | None = None
    scanned_bytes: int = 0
    statement_type: str = "DML"
    substatement_type: str | None = None
    manifest_location: str | None = None
    result: ResultSet | None = None
    connection: Any = None

    def describe(self) -> dict[str, Any]:
        """The ``QueryExecution`` structure of GetQueryExecution / BatchGetQueryExecution."""
        now = time.time()
        end = self.completed or now
        engine_ms = int(((end - self.started) if self.started else 0) * 1000)
        queue_ms = int(((self.started or now) - self.submitted) * 1000)
        status: dict[str, Any] = {"State": self.state, "SubmissionDateTime": self.submitted}
        if self.completed:
            status["CompletionDateTime"] = self.completed
        if self.reason:
            status["StateChangeReason"] = self.reason
        if self.error is not None:
            status["AthenaError"] = {
                "ErrorCategory": self.error.category,
                "ErrorType": 200
                if self.error.category == 1
                else 1003
                if self.statement_type == "DDL"
                else 1000,
                "Retryable": False,
                "ErrorMessage": self.reason,
            }
        statistics: dict[str, Any] = {
            "EngineExecutionTimeInMillis": engine_ms,
            "DataScannedInBytes": self.scanned_bytes,
            "TotalExecutionTimeInMillis": int((end - self.submitted) * 1000),
            "QueryQueueTimeInMillis": queue_ms,
            "ServicePreProcessingTimeInMillis": 0,
            "QueryPlanningTimeInMillis": 0,
            "ServiceProcessingTimeInMillis": 0,
            "ResultReuseInformation": {"ReusedPreviousResult": False},
        }
        if self.manifest_location:
            statistics["DataManifestLocation"] = self.manifest_location
        described: dict[str, Any] = {
            "QueryExecutionId": self.id,
            "Query": self.query,
            "StatementType": self.statement_type,
            "ResultConfiguration": {"OutputLocation": self.output_location},
            "ResultReuseConfiguration": {"ResultReuseByAgeConfiguration": {"Enabled": False}},
            "QueryExecutionContext": {"Database": self.database, "Catalog": self.catalog},
            "Status": status,
            "Statistics": statistics,
            "WorkGroup": self.workgroup,
            "EngineVersion": {
                "SelectedEngineVersion": "AUTO",
                "EffectiveEngineVersion": "Athena engine version 3",
            },
        }
        if self.substatement_type:
            described["SubstatementType"] = self.substatement_type
        if self.parameters is not None:
            described["ExecutionParameters"] = self.parameters
        return described


def _split_s3(uri: str) -> tuple[str, str]:
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme not in ("s3", "s3a", "s3n") or not parsed.netloc:
        raise AthenaError("INVALID_INPUT", f"not an S3 location: {uri}")
    return parsed.netloc, parsed.path.lstrip("/")


def _as_dir(uri: str) -> str:
    return uri if uri.endswith("/") else uri + "/"


# ---- data scanned --------------------------------------------------------------------------------


class _CountingFile:
    """A read-only file that counts the bytes DuckDB actually pulls (Athena's DataScannedInBytes)."""

    def __init__(self, native: Any, counter: _Counter) -> None:
        self._native = native
        self._counter = counter
        self.closed = False

    def read(self, nbytes: int | None = -1) -> bytes:
        data = self._native.read() if nbytes is None or nbytes < 0 else self._native.read(nbytes)
        self._counter.add(len(data))
        return bytes(data)

    def seek(self, position: int, whence: int = 0) -> int:
        return int(self._native.seek(position, whence))

    def tell(self) -> int:
        return int(self._native.tell())

    def size(self) -> int:
        return int(self._native.size())

    def close(self) -> None:
        self._native.close()
        self.closed = True

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False


class _Counter:
    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def add(self, amount: int) -> None:
        with self._lock:
            self.value += amount


class _CountingHandler(pafs.FileSystemHandler):
    """Read-only view of the S3 filesystem whose input files count bytes read (``open_input_file``)."""

    def __init__(self, inner: pafs.FileSystem, counter: _Counter) -> None:
        self.inner = inner
        self.counter = counter

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    def __hash__(self) -> int:
        return id(self)

    def get_type_name(self) -> str:
        return "athena-counting-s3"

    def normalize_path(self, path: str) -> str:
        return str(self.inner.normalize_path(path))

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return list(self.inner.get_file_info(paths))

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        return list(self.inner.get_file_info(selector))

    def open_input_file(self, path: str) -> Any:
        return pa.PythonFile(_CountingFile(self.inner.open_input_file(path), self.counter), mode="r")

    def open_input_stream(self, path: str) -> Any:
        return self.open_input_file(path)

    def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        raise OSError("read-only filesystem")

    create_dir = delete_dir = delete_dir_contents = delete_root_dir_contents = _read_only
    delete_file = move = copy_file = open_output_stream = open_append_stream = _read_only


# ---- the catalog ---------------------------------------------------------------------------------


class _Catalog:
    """The runtime's Glue Data Catalog, through boto3 (moto serves it in this process)."""

    def __init__(self, glue: Any) -> None:
        self.glue = glue

    def database_exists(self, name: str) -> bool:
        try:
            self.glue.get_database(Name=name)
            return True
        except self.glue.exceptions.EntityNotFoundException:
            return False

    def table(self, ref: TableName) -> dict[str, Any] | None:
        try:
            return dict(self.glue.get_table(DatabaseName=ref.database, Name=ref.name)["Table"])
        except self.glue.exceptions.EntityNotFoundException:
            return None

    def require_table(self, ref: TableName) -> dict[str, Any]:
        table = self.table(ref)
        if table is None:
            if not self.database_exists(ref.database):
                raise AthenaError(
                    "SCHEMA_NOT_FOUND", f"line {ref.line}:{ref.col}: Schema '{ref.database}' does not exist"
                )
            raise AthenaError(
                "TABLE_NOT_FOUND", f"line {ref.line}:{ref.col}: Table '{ref.qualified}' does not exist"
            )
        return table

    def require_database(self, ref: TableName) -> None:
        if not self.database_exists(ref.database):
            raise AthenaError(
                "SCHEMA_NOT_FOUND", f"line {ref.line}:{ref.col}: Schema '{ref.database}' does not exist"
            )

    def tables(self, database: str) -> list[dict[str, Any]]:
        pages = self.glue.get_paginator("get_tables").paginate(DatabaseName=database)
        return [t for page in pages for t in page["TableList"]]

    def partitions(self, ref: TableName) -> list[dict[str, Any]]:
        pages = self.glue.get_paginator("get_partitions").paginate(
            DatabaseName=ref.database, TableName=ref.name
        )
        return [p for page in pages for p in page["Partitions"]]

    def add_partitions(
        self, ref: TableName, table: dict[str, Any], entries: list[tuple[list[str], str]]
    ) -> int:
        """Register (values, location) partitions that are not there yet; returns how many were added."""
        existing = {tuple(p["Values"]) for p in self.partitions(ref)}
        storage = table.get("StorageDescriptor", {})
        new = [(v, loc) for v, loc in entries if tuple(v) not in existing]
        for start in range(0, len(new), 100):
            self.glue.batch_create_partition(
                DatabaseName=ref.database,
                TableName=ref.name,
                PartitionInputList=[
                    {
                        "Values": values,
                        "StorageDescriptor": {
                            "Columns": storage.get("Columns", []),
                            "Location": location,
                            "InputFormat": storage.get("InputFormat", sql.PARQUET_INPUT_FORMAT),
                            "OutputFormat": storage.get("OutputFormat", sql.PARQUET_OUTPUT_FORMAT),
                            "SerdeInfo": storage.get(
                                "SerdeInfo", {"SerializationLibrary": sql.PARQUET_SERDE}
                            ),
                        },
                    }
                    for values, location in new[start : start + 100]
                ],
            )
        return len(new)


def _parquet_table_input(
    name: str,
    columns: list[tuple[str, str]],
    partition_keys: list[tuple[str, str]],
    location: str,
    parameters: dict[str, str],
) -> dict[str, Any]:
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"EXTERNAL": "TRUE", "classification": "parquet", **parameters},
        "PartitionKeys": [{"Name": n, "Type": t} for n, t in partition_keys],
        "StorageDescriptor": {
            "Columns": [{"Name": n, "Type": t} for n, t in columns],
            "Location": location,
            "InputFormat": sql.PARQUET_INPUT_FORMAT,
            "OutputFormat": sql.PARQUET_OUTPUT_FORMAT,
            "SerdeInfo": {
                "SerializationLibrary": sql.PARQUET_SERDE,
                "Parameters": {"serialization.format": "1"},
            },
        },
    }


# ---- the executor --------------------------------------------------------------------------------


class AthenaExecutor:
    """Runs Athena queries for one local runtime."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime
        self.runs: dict[str, QueryRun] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(MAX_CONCURRENT_QUERIES, thread_name_prefix="athena-local")
        host_port = runtime.endpoint.split("://", 1)[1]
        self.s3fs = pafs.S3FileSystem(
            endpoint_override=host_port,
            scheme="http",
            access_key="testing",
            secret_key="testing",
            region=runtime.settings.region,
        )
        self._clients: dict[str, Any] = {}

    # -- clients
    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self.runtime.client(service)
            return self._clients[service]

    @property
    def catalog(self) -> _Catalog:
        return _Catalog(self.client("glue"))

    # -- lifecycle
    def close(self) -> None:
        for run in list(self.runs.values()):
            self._interrupt(run)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def reset(self) -> None:
        with self._lock:
            runs, self.runs = list(self.runs.values()), {}
        for run in runs:
            self._interrupt(run)

    @staticmethod
    def _interrupt(run: QueryRun) -> None:
        if run.state in ("QUEUED", "RUNNING"):
            run.state, run.completed = "CANCELLED", time.time()
            if run.connection is not None:
                try:
                    run.connection.interrupt()
                except duckdb.Error:
                    pass

    # -- API
    def submit(self, run: QueryRun) -> None:
        with self._lock:
            self.runs[run.id] = run
        self._pool.submit(self._run, run)

    def stop(self, query_id: str) -> None:
        run = self.runs.get(query_id)
        if run is not None:
            self._interrupt(run)

    # -- running
    def _run(self, run: QueryRun) -> None:
        if run.state != "QUEUED":
            return
        run.state, run.started = "RUNNING", time.time()
        counter = _Counter()
        try:
            statement = sql.parse_statement(run.query, run.database, run.parameters)
            run.statement_type = statement.statement_type
            run.substatement_type = statement.substatement_type
            if statement.statement_type == "DDL" and not isinstance(statement, sql.CreateTableAs):
                run.output_location = run.output_location[: -len(".csv")] + ".txt"
            context = _QueryContext(self, run, counter)
            try:
                run.result = context.execute(statement)
            finally:
                context.close()
            run.scanned_bytes = counter.value
            if run.state == "CANCELLED":
                return
            self._write_result(run)
            run.state = "SUCCEEDED"
        except AthenaError as error:
            run.scanned_bytes = counter.value
            if run.state != "CANCELLED":
                run.error, run.reason, run.state = error, str(error), "FAILED"
        except Exception as error:  # an executor bug must surface as a failed query, not a hung one
            log.error("local Athena query %s failed:\n%s", run.id, traceback.format_exc())
            run.scanned_bytes = counter.value
            if run.state != "CANCELLED":
                run.error = AthenaError(
                    "GENERIC_INTERNAL_ERROR", f"{type(error).__name__}: {error}", category=1
                )
                run.reason, run.state = str(run.error), "FAILED"
        finally:
            run.completed = time.time()
            run.connection = None

    def _write_result(self, run: QueryRun) -> None:
        """The result file at the output location (CSV with header like Athena) and its metadata."""
        result = run.result or ResultSet([], [], header=False)
        lines = []
        if result.header and result.columns:
            lines.append(sql.csv_line([name for name, _ in result.columns]))
        if run.output_location.endswith(".txt"):
            lines.extend("\t".join(v or "" for v in row) + "\n" for row in result.rows)
        else:
            lines.extend(sql.csv_line(row) for row in result.rows)
        bucket, key = _split_s3(run.output_location)
        s3 = self.client("s3")
        s3.put_object(Bucket=bucket, Key=key, Body="".join(lines).encode("utf-8"))
        metadata = {"columns": [sql.column_info(n, t) for n, t in result.columns], "rows": len(result.rows)}
        s3.put_object(Bucket=bucket, Key=key + ".metadata", Body=json.dumps(metadata).encode("utf-8"))


class _QueryContext:
    """One query's DuckDB connection, registered tables and counters."""

    def __init__(self, executor: AthenaExecutor, run: QueryRun, counter: _Counter) -> None:
        self.executor = executor
        self.run = run
        self.catalog = executor.catalog
        self.counting_fs = pafs.PyFileSystem(_CountingHandler(executor.s3fs, counter))
        self.con = duckdb.connect(config={"threads": 2})
        self.con.execute("SET integer_division = true")
        self.con.execute("SET TimeZone = 'UTC'")
        run.connection = self.con
        self.registered: dict[tuple[str, str], str] = {}

    def close(self) -> None:
        self.con.close()

    # -- dispatch
    def execute(self, statement: sql.Statement) -> ResultSet:
        handlers: dict[type, Callable[[Any], ResultSet]] = {
            sql.Select: self._select,
            sql.CreateTableAs: self._ctas,
            sql.InsertInto: self._insert,
            sql.CreateView: self._create_view,
            sql.DropView: self._drop_view,
            sql.DropTable: self._drop_table,
            sql.CreateExternalTable: self._create_external_table,
            sql.RepairTable: self._repair,
            sql.AddPartitions: self._add_partitions,
            sql.DropPartitions: self._drop_partitions,
            sql.CreateDatabase: self._create_database,
            sql.DropDatabase: self._drop_database,
            sql.ShowTables: self._show_tables,
            sql.ShowDatabases: self._show_databases,
            sql.ShowPartitions: self._show_partitions,
            sql.Describe: self._describe,
        }
        return handlers[type(statement)](statement)

    # -- reading
    def bind(self, query: Any, default_database: str, depth: int = 0) -> dict[tuple[str, str], str]:
        """Register every catalog table/view the query reads in DuckDB; returns their DuckDB names."""
        if depth > 16:
            raise AthenaError("VIEW_IS_RECURSIVE", "View is recursive or nested too deeply")
        names: dict[tuple[str, str], str] = {}
        for ref in sql.table_refs(query, default_database):
            if ref.key not in self.registered:
                table = self.catalog.require_table(ref)
                duck = _DUCKDB_NAME.format(index=len(self.registered), database=ref.database, name=ref.name)
                if table.get("TableType") == "VIRTUAL_VIEW":
                    view = sql.decode_presto_view(table.get("ViewOriginalText", ""), ref.database)
                    view_query = sql.parse_statement(view.original_sql, view.database)
                    if not isinstance(view_query, sql.Select):
                        raise AthenaError(
                            "INVALID_VIEW", f"View '{ref.qualified}' is stale or in invalid state"
                        )
                    inner = self.bind(view_query.query, view.database, depth + 1)
                    body = sql.to_duckdb(view_query.query, inner, view.database)
                    self._duck(f'CREATE TEMP VIEW "{duck}" AS {body}', view.original_sql)
                else:
                    self._register_table(duck, ref, table)
                self.registered[ref.key] = duck
            names[ref.key] = self.registered[ref.key]
        return names

    def _register_table(self, duck: str, ref: TableName, table: dict[str, Any]) -> None:
        storage = table.get("StorageDescriptor") or {}
        location = storage.get("Location") or ""
        columns = [(c["Name"].lower(), c.get("Type", "string")) for c in storage.get("Columns", [])]
        keys = [(k["Name"].lower(), k.get("Type", "string")) for k in table.get("PartitionKeys", [])]
        files: list[str] = []
        expressions: list[ds.Expression] = []
        key_types = [_arrow_or(t, pa.string()) for _, t in keys]
        if keys:
            for partition in self.catalog.partitions(ref):
                where = partition.get("StorageDescriptor", {}).get("Location") or ""
                expression = _partition_expression([k for k, _ in keys], key_types, partition["Values"])
                for path in self._files(where):
                    files.append(path)
                    expressions.append(expression)
        elif location:
            files = self._files(location)
        file_schema = (
            ds.ParquetFileFormat().inspect(files[0], filesystem=self.executor.s3fs) if files else None
        )
        schema, renames = _table_schema(
            columns, list(zip([k for k, _ in keys], key_types, strict=True)), file_schema
        )
        if not files:
            self.con.register(duck, schema.empty_table())
            return
        dataset = ds.FileSystemDataset.from_paths(
            files,
            schema=schema,
            format=ds.ParquetFileFormat(),
            filesystem=self.counting_fs,
            partitions=expressions or None,
        )
        if not renames:
            self.con.register(duck, dataset)
            return
        self.con.register(duck + "_files", dataset)
        projection = ", ".join(
            f'"{physical}" AS "{renames.get(physical, physical)}"' for physical in schema.names
        )
        self.con.execute(f'CREATE TEMP VIEW "{duck}" AS SELECT {projection} FROM "{duck}_files"')

    def _files(self, location: str) -> list[str]:
        """Data files under a location, skipping what Athena skips (``_``/``.`` names, empty objects)."""
        if not location:
            return []
        bucket, prefix = _split_s3(_as_dir(location))
        selector = pafs.FileSelector(f"{bucket}/{prefix}".rstrip("/"), recursive=True, allow_not_found=True)
        infos = self.executor.s3fs.get_file_info(selector)
        files = []
        for info in infos:
            if info.type != pafs.FileType.File or not info.size:
                continue
            relative = info.path[len(bucket) + 1 + len(prefix) :]
            if any(part.startswith(("_", ".")) for part in relative.split("/")) or info.path.endswith(
                "$folder$"
            ):
                continue
            files.append(info.path)
        return sorted(files)

    def _duck(self, statement: str, original: str) -> duckdb.DuckDBPyRelation | None:
        try:
            return self.con.execute(statement)  # type: ignore[return-value]
        except duckdb.InterruptException:
            raise AthenaError("USER_CANCELED", "Query cancelled by user") from None
        except duckdb.Error as error:
            raise sql.athena_error_from_duckdb(str(error), original) from None

    def query_table(self, query: Any, default_database: str, original: str, limit0: bool = False) -> pa.Table:
        """Run a SELECT in DuckDB and return Arrow with Trino's types (sums as bigint, not int128)."""
        names = self.bind(query, default_database)
        text = sql.to_duckdb(query, names, default_database)
        try:
            relation = self.con.sql(text)
            types = [str(t) for t in relation.types]
            if any(t in ("HUGEINT", "UHUGEINT", "UBIGINT") for t in types) or limit0:
                casts = [
                    f'CAST("{i}" AS BIGINT)' if t in ("HUGEINT", "UHUGEINT", "UBIGINT") else f'"{i}"'
                    for i, t in zip(range(len(types)), types, strict=True)
                ]
                aliases = ", ".join(f'"{i}"' for i in range(len(types)))
                select = ", ".join(f'{c} AS "{n}"' for c, n in zip(casts, relation.columns, strict=True))
                relation = self.con.sql(
                    f"SELECT {select} FROM ({text}) AS q({aliases})" + (" LIMIT 0" if limit0 else "")
                )
            return relation.to_arrow_table()
        except duckdb.InterruptException:
            raise AthenaError("USER_CANCELED", "Query cancelled by user") from None
        except duckdb.Error as error:
            raise sql.athena_error_from_duckdb(str(error), original) from None

    # -- statements
    def _select(self, statement: sql.Select) -> ResultSet:
        table = self.query_table(statement.query, self.run.database, self.run.query)
        return ResultSet(
            list(zip(table.column_names, table.schema.types, strict=True)), sql.render_rows(table)
        )

    def _rows_result(self, count: int) -> ResultSet:
        return ResultSet([("rows", pa.int64())], [[str(count)]])

    def _ctas(self, statement: sql.CreateTableAs) -> ResultSet:
        target = statement.target
        self.catalog.require_database(target)
        if self.catalog.table(target) is not None:
            if statement.if_not_exists:
                return self._rows_result(0)
            raise AthenaError(
                "TABLE_ALREADY_EXISTS",
                f"line {target.line}:{target.col}: Table already exists: Destination table "
                f"'{target.qualified}' already exists",
            )
        _require_named_columns(statement.query)
        options = statement.options
        if options.external_location and self.run.enforced:
            # Athena's documented behaviour: an enforced result location forbids CTAS external_location.
            raise AthenaError(
                "INVALID_TABLE_PROPERTY",
                f"external_location is not allowed in workgroup '{self.run.workgroup}': it overrides "
                "client-side settings (enforced query result location). Omit external_location or use a "
                "workgroup that does not enforce its configuration.",
            )
        location = _as_dir(
            options.external_location
            or self.run.output_location.rsplit("/", 1)[0] + f"/tables/{self.run.id}/"
        )
        bucket, prefix = _split_s3(location)
        listed = self.executor.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
        if listed.get("KeyCount", 0):
            raise AthenaError(
                "HIVE_PATH_ALREADY_EXISTS",
                f"Target directory for table '{target}' already exists: {location.rstrip('/')}. "
                f"You may need to manually clean the data at location '{location}' before retrying. "
                "Athena will not delete data in your account.",
            )
        table = self.query_table(statement.query, self.run.database, self.run.query)
        if len(set(table.column_names)) != len(table.column_names):
            duplicate = next(n for n in table.column_names if table.column_names.count(n) > 1)
            raise AthenaError("DUPLICATE_COLUMN_NAME", f"Column name '{duplicate}' specified more than once")
        keys = list(options.partitioned_by)
        _check_partition_order(table.column_names, keys)
        table = _storable(table)
        written = self._write(table, keys, location, options.write_compression) if statement.with_data else []
        data_columns = [
            (n, sql.arrow_to_glue(t))
            for n, t in zip(table.column_names, table.schema.types, strict=True)
            if n not in keys
        ]
        key_columns = [(k, sql.arrow_to_glue(table.schema.field(k).type)) for k in keys]
        parameters = {"has_encrypted_data": "false", "parquet.compression": options.write_compression}
        glue = self.executor.client("glue")
        glue.create_table(
            DatabaseName=target.database,
            TableInput=_parquet_table_input(target.name, data_columns, key_columns, location, parameters),
        )
        if keys:
            registered = self.catalog.table(target) or {}
            self.catalog.add_partitions(target, registered, _partitions_of(written, location, keys))
        self._write_manifest(written)
        return self._rows_result(table.num_rows)

    def _write(self, table: pa.Table, keys: list[str], location: str, compression: str) -> list[str]:
        """Write Parquet like Athena's CTAS/INSERT (Hive partition folders); returns the S3 URIs written."""
        if keys:
            distinct = table.select(keys).group_by(keys).aggregate([]).num_rows
            if distinct > sql.MAX_WRITTEN_PARTITIONS:
                raise AthenaError(
                    "HIVE_TOO_MANY_OPEN_PARTITIONS",
                    f"Exceeded limit of {sql.MAX_WRITTEN_PARTITIONS} open writers for partitions/buckets "
                    f"(the query writes {distinct} partitions)",
                )
        if table.num_rows == 0:
            return []
        bucket, prefix = _split_s3(location)
        written: list[str] = []
        codec = {"NONE": "none", "UNCOMPRESSED": "none"}.get(compression, compression.lower())
        file_format = ds.ParquetFileFormat()
        partitioning = (
            ds.partitioning(pa.schema([table.schema.field(k) for k in keys]), flavor="hive") if keys else None
        )
        ds.write_dataset(
            table,
            f"{bucket}/{prefix}".rstrip("/"),
            filesystem=self.executor.s3fs,
            format=file_format,
            file_options=file_format.make_write_options(compression=codec),
            partitioning=partitioning,
            basename_template=f"{self.run.id}_{{i}}",
            existing_data_behavior="overwrite_or_ignore",
            create_dir=False,  # S3 has no directories: no empty "folder/" marker objects, like Athena
            max_partitions=sql.MAX_WRITTEN_PARTITIONS + 1,
            file_visitor=lambda f: written.append(f"s3://{f.path}"),
        )
        return sorted(written)

    def _write_manifest(self, written: list[str]) -> None:
        manifest = self.run.output_location.rsplit(".", 1)[0] + "-manifest.csv"
        bucket, key = _split_s3(manifest)
        body = "".join(f"{uri}\n" for uri in written).encode()
        self.executor.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
        self.run.manifest_location = manifest

    def _insert(self, statement: sql.InsertInto) -> ResultSet:
        target = statement.target
        existing = self.catalog.require_table(target)
        if existing.get("TableType") == "VIRTUAL_VIEW":
            raise AthenaError("NOT_SUPPORTED", f"Inserting into views is not supported: {target.qualified}")
        storage = existing.get("StorageDescriptor") or {}
        columns = [(c["Name"].lower(), c.get("Type", "string")) for c in storage.get("Columns", [])]
        keys = [(k["Name"].lower(), k.get("Type", "string")) for k in existing.get("PartitionKeys", [])]
        all_columns = columns + keys
        table = self.query_table(statement.query, self.run.database, self.run.query)
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
                f"Table: [{', '.join(sql.glue_to_athena(t) for _, t in all_columns)}], "
                f"Query: [{', '.join(sql.arrow_to_athena(t) for t in table.schema.types)}]",
            )
        by_name = dict(zip(targets, table.columns, strict=True))
        arrays = []
        for name, glue_type in all_columns:
            arrow_type = _arrow_or(glue_type, None)
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
        location = _as_dir(storage.get("Location") or "")
        written = self._write(
            output,
            [k for k, _ in keys],
            location,
            existing.get("Parameters", {}).get("parquet.compression", "SNAPPY").upper(),
        )
        if keys:
            self.catalog.add_partitions(
                target, existing, _partitions_of(written, location, [k for k, _ in keys])
            )
        self._write_manifest(written)
        return self._rows_result(output.num_rows)

    def _create_view(self, statement: sql.CreateView) -> ResultSet:
        target = statement.target
        self.catalog.require_database(target)
        existing = self.catalog.table(target)
        if existing is not None:
            if existing.get("TableType") != "VIRTUAL_VIEW":
                raise AthenaError(
                    "TABLE_ALREADY_EXISTS", f"Table already exists: '{target.qualified}' (not a view)"
                )
            if not statement.replace:
                raise AthenaError("ALREADY_EXISTS", f"View already exists: '{target.qualified}'")
        schema = self.query_table(
            statement.query, target.database, statement.original_sql, limit0=True
        ).schema
        glue_columns = [(n, sql.arrow_to_glue(t)) for n, t in zip(schema.names, schema.types, strict=True)]
        view = sql.ViewDefinition(
            statement.original_sql,
            target.database,
            tuple((n, sql.glue_to_athena(t)) for n, t in glue_columns),
        )
        table_input = {
            "Name": target.name,
            "TableType": "VIRTUAL_VIEW",
            "Parameters": {"presto_view": "true", "comment": "Presto View"},
            "ViewOriginalText": sql.encode_presto_view(view),
            "ViewExpandedText": "/* Presto View */",
            "PartitionKeys": [],
            "StorageDescriptor": {
                "Columns": [{"Name": n, "Type": t} for n, t in glue_columns],
                "Location": "",
                "SerdeInfo": {},
            },
        }
        glue = self.executor.client("glue")
        if existing is None:
            glue.create_table(DatabaseName=target.database, TableInput=table_input)
        else:
            glue.update_table(DatabaseName=target.database, TableInput=table_input)
        return ResultSet([], [], header=False)

    def _drop_view(self, statement: sql.DropView) -> ResultSet:
        target = statement.target
        existing = self.catalog.table(target)
        if existing is None or existing.get("TableType") != "VIRTUAL_VIEW":
            if statement.if_exists and existing is None:
                return ResultSet([], [], header=False)
            raise AthenaError(
                "TABLE_NOT_FOUND",
                f"line {target.line}:{target.col}: View '{target.qualified}' does not exist",
            )
        self.executor.client("glue").delete_table(DatabaseName=target.database, Name=target.name)
        return ResultSet([], [], header=False)

    def _drop_table(self, statement: sql.DropTable) -> ResultSet:
        target = statement.target
        existing = self.catalog.table(target)
        if existing is None:
            if statement.if_exists:
                return ResultSet([], [], header=False)
            raise AthenaError("", f"FAILED: SemanticException [Error 10001]: Table not found {target}")
        if existing.get("TableType") == "VIRTUAL_VIEW":
            raise AthenaError(
                "", "FAILED: SemanticException [Error 10131]: Cannot drop a view with DROP TABLE"
            )
        # External tables: only the catalog entry goes; the data stays in S3, like Athena.
        self.executor.client("glue").delete_table(DatabaseName=target.database, Name=target.name)
        return ResultSet([], [], header=False)

    def _create_external_table(self, statement: sql.CreateExternalTable) -> ResultSet:
        target = statement.target
        self.catalog.require_database(target)
        if self.catalog.table(target) is not None:
            if statement.if_not_exists:
                return ResultSet([], [], header=False)
            raise AthenaError("", f"AlreadyExistsException: Table already exists: {target}")
        table_input = _parquet_table_input(
            target.name,
            [(c.name, c.type) for c in statement.columns],
            [(c.name, c.type) for c in statement.partition_keys],
            statement.location,
            dict(statement.table_properties),
        )
        self.executor.client("glue").create_table(DatabaseName=target.database, TableInput=table_input)
        return ResultSet([], [], header=False)

    def _partitioned_table(self, target: TableName) -> tuple[dict[str, Any], list[str]]:
        table = self.catalog.table(target)
        if table is None:
            raise AthenaError("", f"FAILED: SemanticException [Error 10001]: Table not found {target}")
        return table, [k["Name"].lower() for k in table.get("PartitionKeys", [])]

    def _repair(self, statement: sql.RepairTable) -> ResultSet:
        target = statement.target
        table, keys = self._partitioned_table(target)
        location = _as_dir((table.get("StorageDescriptor") or {}).get("Location") or "")
        if not keys:
            return ResultSet([("result", pa.string())], [], header=False)
        found = _partitions_of([f"s3://{p}" for p in self._files(location)], location, keys)
        existing = {tuple(p["Values"]) for p in self.catalog.partitions(target)}
        missing = [(values, where) for values, where in found if tuple(values) not in existing]
        self.catalog.add_partitions(target, table, missing)
        names = ["/".join(f"{k}={v}" for k, v in zip(keys, values, strict=True)) for values, _ in missing]
        rows = [[f"Partitions not in metastore:\t{target.name}:{n}"] for n in names]
        rows += [[f"Repair: Added partition to metastore {target.name}:{n}"] for n in names]
        return ResultSet([("result", pa.string())], rows, header=False)

    def _ordered_values(
        self, keys: list[str], pairs: tuple[tuple[str, str], ...], target: TableName
    ) -> list[str]:
        given = dict(pairs)
        if sorted(given) != sorted(keys):
            raise AthenaError(
                "",
                f"FAILED: ValidationFailureSemanticException partition spec {given} does not match the "
                f"partition keys {keys} of table {target}",
            )
        return [given[k] for k in keys]

    def _add_partitions(self, statement: sql.AddPartitions) -> ResultSet:
        target = statement.target
        table, keys = self._partitioned_table(target)
        location = _as_dir((table.get("StorageDescriptor") or {}).get("Location") or "")
        entries = []
        for pairs, where in statement.partitions:
            values = self._ordered_values(keys, pairs, target)
            path = "/".join(
                f"{k}={urllib.parse.quote(v, safe='')}" for k, v in zip(keys, values, strict=True)
            )
            entries.append((values, where or f"{location}{path}/"))
        existing = {tuple(p["Values"]) for p in self.catalog.partitions(target)}
        clash = [v for v, _ in entries if tuple(v) in existing]
        if clash and not statement.if_not_exists:
            raise AthenaError("", "AlreadyExistsException: Partition already exists")
        self.catalog.add_partitions(target, table, entries)
        return ResultSet([], [], header=False)

    def _drop_partitions(self, statement: sql.DropPartitions) -> ResultSet:
        target = statement.target
        _, keys = self._partitioned_table(target)
        existing = {tuple(p["Values"]) for p in self.catalog.partitions(target)}
        glue = self.executor.client("glue")
        for pairs in statement.partitions:
            values = self._ordered_values(keys, pairs, target)
            if tuple(values) not in existing:
                if statement.if_exists:
                    continue
                raise AthenaError(
                    "", f"FAILED: SemanticException [Error 10006]: Partition not found {dict(pairs)}"
                )
            glue.delete_partition(DatabaseName=target.database, TableName=target.name, PartitionValues=values)
        return ResultSet([], [], header=False)

    def _create_database(self, statement: sql.CreateDatabase) -> ResultSet:
        glue = self.executor.client("glue")
        try:
            glue.create_database(DatabaseInput={"Name": statement.name})
        except glue.exceptions.AlreadyExistsException:
            if not statement.if_not_exists:
                raise AthenaError(
                    "", f"FAILED: AlreadyExistsException Database {statement.name} already exists"
                ) from None
        return ResultSet([], [], header=False)

    def _drop_database(self, statement: sql.DropDatabase) -> ResultSet:
        glue = self.executor.client("glue")
        if not self.catalog.database_exists(statement.name):
            if statement.if_exists:
                return ResultSet([], [], header=False)
            raise AthenaError(
                "", f"FAILED: SemanticException [Error 10072]: Database does not exist: {statement.name}"
            )
        tables = self.catalog.tables(statement.name)
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

    def _show_tables(self, statement: sql.ShowTables) -> ResultSet:
        if not self.catalog.database_exists(statement.database):
            raise AthenaError(
                "", f"FAILED: SemanticException [Error 10072]: Database does not exist: {statement.database}"
            )
        names = sorted(t["Name"] for t in self.catalog.tables(statement.database))
        if statement.pattern:
            import fnmatch

            alternatives = [p.strip() for p in statement.pattern.split("|")]
            names = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in alternatives)]
        return ResultSet([("tab_name", pa.string())], [[n] for n in names], header=False)

    def _show_databases(self, _: sql.ShowDatabases) -> ResultSet:
        pages = self.executor.client("glue").get_paginator("get_databases").paginate()
        names = sorted(d["Name"] for page in pages for d in page["DatabaseList"])
        return ResultSet([("database_name", pa.string())], [[n] for n in names], header=False)

    def _show_partitions(self, statement: sql.ShowPartitions) -> ResultSet:
        _, keys = self._partitioned_table(statement.target)
        rows = sorted(
            "/".join(f"{k}={v}" for k, v in zip(keys, p["Values"], strict=True))
            for p in self.catalog.partitions(statement.target)
        )
        return ResultSet([("partition", pa.string())], [[r] for r in rows], header=False)

    def _describe(self, statement: sql.Describe) -> ResultSet:
        table = self.catalog.require_table(statement.target)
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


# ---- pure helpers used above -----------------------------------------------------------------------


def _arrow_or(glue_type: str, default: pa.DataType | None) -> Any:
    try:
        return sql.glue_to_arrow(glue_type)
    except Exception:  # unknown or exotic Glue type: let the file's type decide
        return default


def _partition_expression(keys: list[str], types: list[pa.DataType], values: list[str]) -> ds.Expression:
    expression: ds.Expression | None = None
    for key, arrow_type, value in zip(keys, types, values, strict=True):
        if value == sql.HIVE_NULL_PARTITION:
            term = ds.field(key).is_null()
        else:
            try:
                scalar = pa.scalar(value).cast(arrow_type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                scalar = pa.scalar(None, arrow_type)
            term = ds.field(key) == scalar
        expression = term if expression is None else expression & term
    assert expression is not None
    return expression


def _same_family(a: pa.DataType, b: pa.DataType) -> bool:
    numeric = (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal)
    return any(f(a) and f(b) for f in numeric) or (pa.types.is_integer(a) and pa.types.is_floating(b))


def _table_schema(
    columns: list[tuple[str, str]], keys: list[tuple[str, pa.DataType]], file_schema: pa.Schema | None
) -> tuple[pa.Schema, dict[str, str]]:
    """The Arrow schema Athena would read: Glue's columns (by name, case-insensitive), partition keys last.

    Glue's numeric types win (files written with int32 read as bigint); otherwise the file's own type is
    kept so timestamps and nested types are never cast lossily. Returns physical-name -> Glue-name renames.
    """
    physical = (
        {name.lower(): (name, file_schema.field(name).type) for name in file_schema.names}
        if file_schema
        else {}
    )
    fields, renames = [], {}
    for name, glue_type in columns:
        glue_arrow = _arrow_or(glue_type, None)
        found = physical.get(name)
        if found is None:
            fields.append(pa.field(name, glue_arrow or pa.string()))
            continue
        physical_name, file_type = found
        chosen = glue_arrow if glue_arrow is not None and _same_family(file_type, glue_arrow) else file_type
        fields.append(pa.field(physical_name, chosen))
        if physical_name != name:
            renames[physical_name] = name
    if not columns and file_schema is not None:  # a table registered without columns: read what is there
        fields = [f for f in file_schema if f.name.lower() not in {k for k, _ in keys}]
    fields += [pa.field(key, arrow_type) for key, arrow_type in keys]
    return pa.schema(fields), renames


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


def _partitions_of(paths: list[str], location: str, keys: list[str]) -> list[tuple[list[str], str]]:
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


# ---- moto patches --------------------------------------------------------------------------------

_STATE: dict[str, Any] = {"executor": None, "originals": {}}


def _executor() -> AthenaExecutor:
    executor = _STATE["executor"]
    if executor is None:
        raise RuntimeError("the local Athena executor is not installed")
    return executor  # type: ignore[no-any-return]


def _error(message: str) -> tuple[str, dict[str, int]]:
    return json.dumps({"__type": "InvalidRequestException", "Message": message}), {"status": 400}


def _output_location(
    backend: Any, workgroup_name: str, config: dict[str, Any] | None, query_id: str
) -> str | None:
    workgroup = backend.work_groups.get(workgroup_name)
    configuration = workgroup.configuration if workgroup else {}
    enforced = configuration.get("EnforceWorkGroupConfiguration", False)
    wg_location = (configuration.get("ResultConfiguration") or {}).get("OutputLocation")
    client_location = (config or {}).get("OutputLocation")
    location = wg_location if (enforced and wg_location) or not client_location else client_location
    if not location:
        return None
    return _as_dir(location) + f"{query_id}.csv"


def _start_query_execution(self: Any) -> Any:
    query = self._get_param("QueryString")
    context = self._get_param("QueryExecutionContext") or {}
    config = self._get_param("ResultConfiguration") or {}
    workgroup = self._get_param("WorkGroup") or "primary"
    parameters = self._get_param("ExecutionParameters")
    backend = self.athena_backend
    if workgroup not in backend.work_groups:
        return _error("WorkGroup does not exist")
    query_id = backend.start_query_execution(
        query=query, context=context, config=None, workgroup=workgroup, execution_parameters=parameters
    )
    location = _output_location(backend, workgroup, config, query_id)
    if location is None:
        return _error(
            "No output location provided. An output location is required either through the Workgroup result "
            "configuration setting or as an API input."
        )
    run = QueryRun(
        id=query_id,
        query=query,
        database=(context.get("Database") or "default").lower(),
        catalog=context.get("Catalog") or "AwsDataCatalog",
        workgroup=workgroup,
        output_location=location,
        parameters=parameters,
        enforced=bool(backend.work_groups[workgroup].configuration.get("EnforceWorkGroupConfiguration")),
    )
    _executor().submit(run)
    return json.dumps({"QueryExecutionId": query_id})


def _get_query_execution(self: Any) -> Any:
    query_id = self._get_param("QueryExecutionId")
    run = _executor().runs.get(query_id)
    if run is None:
        return _error(f"QueryExecution {query_id} was not found")
    return json.dumps({"QueryExecution": run.describe()})


def _batch_get_query_execution(self: Any) -> Any:
    ids = self._get_param("QueryExecutionIds") or []
    runs = _executor().runs
    found = [runs[i].describe() for i in ids if i in runs]
    missing = [
        {
            "QueryExecutionId": i,
            "ErrorCode": "INVALID_INPUT",
            "ErrorMessage": f"QueryExecution {i} was not found",
        }
        for i in ids
        if i not in runs
    ]
    return json.dumps({"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing})


def _get_query_results(self: Any) -> Any:
    query_id = self._get_param("QueryExecutionId")
    run = _executor().runs.get(query_id)
    if run is None:
        return _error(f"QueryExecution {query_id} was not found")
    if run.state in ("QUEUED", "RUNNING"):
        return _error(f"Query has not yet finished. Current state: {run.state}")
    if run.state != "SUCCEEDED":
        return _error(f"Query did not finish successfully. Final query state: {run.state}")
    result = run.result or ResultSet([], [], header=False)
    max_results = int(self._get_param("MaxResults") or MAX_RESULTS)
    if not 1 <= max_results <= MAX_RESULTS:
        return _error(f"MaxResults must be between 1 and {MAX_RESULTS}")
    token = self._get_param("NextToken")
    try:
        offset = int(token) if token else 0
    except ValueError:
        return _error("Invalid NextToken")
    all_rows: list[Sequence[str | None]] = []
    if result.header and result.columns:
        all_rows.append([name for name, _ in result.columns])
    all_rows.extend(result.rows)
    page = all_rows[offset : offset + max_results]
    total = len(all_rows)
    body: dict[str, Any] = {
        "UpdateCount": 0,
        "ResultSet": {
            "Rows": [{"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in page],
            "ResultSetMetadata": {"ColumnInfo": [sql.column_info(n, t) for n, t in result.columns]},
        },
    }
    if offset + max_results < total:
        body["NextToken"] = str(offset + max_results)
    return json.dumps(body)


def _stop_query_execution(self: Any) -> Any:
    _executor().stop(self._get_param("QueryExecutionId"))
    return json.dumps({})


_PATCHES: dict[str, Callable[..., Any]] = {
    "start_query_execution": _start_query_execution,
    "get_query_execution": _get_query_execution,
    "batch_get_query_execution": _batch_get_query_execution,
    "get_query_results": _get_query_results,
    "stop_query_execution": _stop_query_execution,
}


def _iter_patches() -> Iterator[tuple[str, Callable[..., Any]]]:
    yield from _PATCHES.items()


def install(runtime: LocalRuntime) -> None:
    """Patch moto's Athena API handlers (this process) to run queries through a new executor."""
    from moto.athena.responses import AthenaResponse

    originals: dict[str, Any] = _STATE["originals"]
    for name, function in _iter_patches():
        if name not in originals:
            originals[name] = AthenaResponse.__dict__.get(name)
        setattr(AthenaResponse, name, function)
    previous = _STATE["executor"]
    if previous is not None:
        previous.close()
    _STATE["executor"] = AthenaExecutor(runtime)


def shutdown(runtime: LocalRuntime) -> None:
    """Stop running queries and restore moto's handlers."""
    from moto.athena.responses import AthenaResponse

    executor = _STATE["executor"]
    if executor is None or executor.runtime is not runtime:
        return
    executor.close()
    _STATE["executor"] = None
    for name, original in _STATE["originals"].items():
        if original is None:
            delattr(AthenaResponse, name)
        else:
            setattr(AthenaResponse, name, original)
    _STATE["originals"] = {}


def reset(runtime: LocalRuntime) -> None:
    """moto forgot every query execution: forget ours too."""
    executor = _STATE["executor"]
    if executor is not None and executor.runtime is runtime:
        executor.reset()
