"""One query's run: its DuckDB connection, the catalog tables it reads, and Athena-style writes.

The statements themselves are in :mod:`.dml` (SELECT, CTAS, INSERT) and :mod:`.ddl` (tables, views,
partitions, databases, SHOW, DESCRIBE); each is a function of a :class:`QueryContext`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from localaws._athena import statements as st
from localaws._athena import text, views
from localaws._athena.dialect import table_refs, to_duckdb
from localaws._athena.errors import AthenaError, athena_error_from_duckdb
from localaws._athena.parse import parse_statement
from localaws._athena.query import QueryRun, ResultSet
from localaws._athena.scan import (
    Counter,
    CountingHandler,
    ScanWithoutGil,
    arrow_or,
    partition_expression,
    table_schema,
)
from localaws._athena.statements import TableName
from localaws._aws import as_folder, split_s3_uri
from localaws._catalog import (
    HIVE_NULL_PARTITION,
    PARQUET,
    CatalogError,
    GlueCatalog,
    StorageFormat,
    UnsupportedFormat,
    UnsupportedType,
    format_of,
    glue_type,
    inherited_storage,
    is_hidden,
    partition_input,
    table_input,
)

if TYPE_CHECKING:
    from localaws._athena.executor import AthenaExecutor

_DUCKDB_NAME = "__athena_{index}_{database}_{name}"
_COPY_CHUNK = 8 << 20


def s3_location(uri: str) -> tuple[str, str]:
    """(bucket, key) of an S3 URI, or Athena's error for anything else."""
    try:
        return split_s3_uri(uri)
    except ValueError:
        raise AthenaError("INVALID_INPUT", f"not an S3 location: {uri}") from None


def glue_column_type(arrow_type: pa.DataType) -> str:
    """The Glue type Athena registers for a result column, or Athena's error for a type it cannot store."""
    try:
        return glue_type(arrow_type)
    except UnsupportedType:
        raise AthenaError("NOT_SUPPORTED", f"Unsupported column type for a table: {arrow_type}") from None


#: The ``classification`` parameter of a table Athena registers, by storage kind.
_CLASSIFICATION = {"parquet": "parquet", "delimited": "csv", "csv": "csv", "json": "json"}


def athena_table_input(
    name: str,
    columns: list[tuple[str, str]],
    partition_keys: list[tuple[str, str]],
    location: str,
    parameters: dict[str, str],
    stored_as: StorageFormat = PARQUET,
) -> dict[str, Any]:
    """The external table Athena registers (CTAS: Parquet; CREATE EXTERNAL TABLE: as its DDL says)."""
    return table_input(
        name,
        columns,
        location,
        partition_keys=partition_keys,
        parameters={"EXTERNAL": "TRUE", "classification": _CLASSIFICATION[stored_as.kind], **parameters},
        stored_as=stored_as,
    )


def table_format(table: dict[str, Any], qualified: str) -> StorageFormat:
    """How a catalog table is stored, or Athena's NOT_SUPPORTED naming the table."""
    try:
        return format_of(table)
    except UnsupportedFormat as error:
        raise AthenaError("NOT_SUPPORTED", f"Table '{qualified}': {error}") from None


class Catalog:
    """The Glue catalog as Athena sees it: table references, and Athena's errors for what is missing."""

    def __init__(self, glue: Any) -> None:
        self.glue = glue
        self._catalog = GlueCatalog(glue)

    def database_exists(self, name: str) -> bool:
        return self._catalog.database_exists(name)

    def tables(self, database: str) -> list[dict[str, Any]]:
        return self._catalog.tables(database)

    def table(self, ref: TableName) -> dict[str, Any] | None:
        return self._catalog.table(ref.database, ref.name)

    def require_table(self, ref: TableName) -> dict[str, Any]:
        table = self.table(ref)
        if table is None:
            self.require_database(ref)
            raise AthenaError(
                "TABLE_NOT_FOUND", f"line {ref.line}:{ref.col}: Table '{ref.qualified}' does not exist"
            )
        return table

    def require_database(self, ref: TableName) -> None:
        if not self.database_exists(ref.database):
            raise AthenaError(
                "SCHEMA_NOT_FOUND", f"line {ref.line}:{ref.col}: Schema '{ref.database}' does not exist"
            )

    def partitions(self, ref: TableName) -> list[dict[str, Any]]:
        return self._catalog.partitions(ref.database, ref.name)

    def add_partitions(
        self, ref: TableName, table: dict[str, Any], entries: list[tuple[list[str], str]]
    ) -> int:
        """Register (values, location) partitions that are not there yet; returns how many were added."""
        existing = {tuple(p["Values"]) for p in self.partitions(ref)}
        new = [
            partition_input(v, inherited_storage(table, loc))
            for v, loc in entries
            if tuple(v) not in existing
        ]
        try:
            self._catalog.create_partitions(ref.database, ref.name, new)
        except CatalogError as error:
            raise AthenaError("HIVE_METASTORE_ERROR", str(error)) from None
        return len(new)


class QueryContext:
    """One query's DuckDB connection, registered tables and counters."""

    def __init__(self, executor: AthenaExecutor, run: QueryRun, counter: Counter) -> None:
        self.executor = executor
        self.run = run
        self.catalog = Catalog(executor.client("glue"))
        self.counting_fs = pafs.PyFileSystem(CountingHandler(executor.s3fs, counter))
        self.con = duckdb.connect(config={"threads": 2})
        self.con.execute("SET integer_division = true")
        self.con.execute("SET TimeZone = 'UTC'")
        run.connection = self.con
        self.registered: dict[tuple[str, str], str] = {}
        #: Local copies of text objects this query reads (removed on close).
        self._scratch: str | None = None
        self._copies: dict[str, str] = {}

    def close(self) -> None:
        self.con.close()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def execute(self, statement: st.Statement) -> ResultSet:
        from localaws._athena import ddl, dml

        handlers: dict[type, Callable[..., ResultSet]] = {**dml.HANDLERS, **ddl.HANDLERS}
        return handlers[type(statement)](self, statement)

    # -- reading
    def bind(self, query: Any, default_database: str, depth: int = 0) -> dict[tuple[str, str], str]:
        """Register every catalog table/view the query reads in DuckDB; returns their DuckDB names."""
        if depth > 16:
            raise AthenaError("VIEW_IS_RECURSIVE", "View is recursive or nested too deeply")
        names: dict[tuple[str, str], str] = {}
        for ref in table_refs(query, default_database):
            if ref.key not in self.registered:
                table = self.catalog.require_table(ref)
                duck = _DUCKDB_NAME.format(index=len(self.registered), database=ref.database, name=ref.name)
                if table.get("TableType") == "VIRTUAL_VIEW":
                    view = views.decode_presto_view(table.get("ViewOriginalText", ""), ref.database)
                    view_query = parse_statement(view.original_sql, view.database)
                    if not isinstance(view_query, st.Select):
                        raise AthenaError(
                            "INVALID_VIEW", f"View '{ref.qualified}' is stale or in invalid state"
                        )
                    inner = self.bind(view_query.query, view.database, depth + 1)
                    body = to_duckdb(view_query.query, inner, view.database)
                    self.duck(f'CREATE TEMP VIEW "{duck}" AS {body}', view.original_sql)
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
        stored_as = table_format(table, ref.qualified)
        if stored_as.kind != "parquet":
            self._register_text(duck, ref, stored_as, location, columns, keys)
            return
        files: list[str] = []
        expressions: list[ds.Expression] = []
        key_types = [arrow_or(t, pa.string()) for _, t in keys]
        if keys:
            for partition in self.catalog.partitions(ref):
                where = partition.get("StorageDescriptor", {}).get("Location") or ""
                expression = partition_expression([k for k, _ in keys], key_types, partition["Values"])
                for path in self.files(where):
                    files.append(path)
                    expressions.append(expression)
        elif location:
            files = self.files(location)
        file_schema = (
            ds.ParquetFileFormat().inspect(files[0], filesystem=self.executor.s3fs) if files else None
        )
        schema, renames = table_schema(
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
            self.con.register(duck, ScanWithoutGil(dataset))
            return
        self.con.register(duck + "_files", ScanWithoutGil(dataset))
        projection = ", ".join(
            f'"{physical}" AS "{renames.get(physical, physical)}"' for physical in schema.names
        )
        self.con.execute(f'CREATE TEMP VIEW "{duck}" AS SELECT {projection} FROM "{duck}_files"')

    def _register_text(
        self,
        duck: str,
        ref: TableName,
        stored_as: StorageFormat,
        location: str,
        columns: list[tuple[str, str]],
        keys: list[tuple[str, str]],
    ) -> None:
        """A text table as a DuckDB view over local copies of its objects, partition values as columns."""
        text.check_columns(stored_as, columns)
        # DuckDB 2.0.1 pushes a TRY_CAST over a CSV scan into the reader as a failing CAST (a text value in a
        # bigint column fails the query instead of reading as NULL): keep the casts above the scan.
        self.con.execute("SET disabled_optimizers = 'type_pushdown'")
        groups: list[tuple[list[str], list[tuple[str, str, str | None]]]] = []
        if keys:
            for partition in self.catalog.partitions(ref):
                where = partition.get("StorageDescriptor", {}).get("Location") or ""
                values = [
                    (name, kind, None if value == HIVE_NULL_PARTITION else value)
                    for (name, kind), value in zip(keys, partition["Values"], strict=True)
                ]
                groups.append((self.files(where), values))
        else:
            groups.append((self.files(location), []))
        selects = []
        for paths, values in groups:
            if not paths or not columns:
                continue
            local = [self._local_copy(path) for path in paths]
            if stored_as.kind == "json":
                select = text.json_select(local, stored_as, columns, self._json_keys(local))
            else:
                select = text.csv_select(local, stored_as, columns)
            selects.append(text.with_partition(select, values))
        if not selects:
            schema = pa.schema([(n, arrow_or(t, pa.string())) for n, t in columns + keys])
            self.con.register(duck, schema.empty_table())
            return
        self.duck(f'CREATE TEMP VIEW "{duck}" AS ' + " UNION ALL BY NAME ".join(selects), self.run.query)

    def _json_keys(self, paths: list[str]) -> list[str]:
        """The keys of the JSON objects (for OpenX's case-insensitive match); none when DuckDB cannot tell."""
        try:
            return [str(row[0]) for row in self.con.sql(text.json_keys_sql(paths)).fetchall()]
        except duckdb.Error:
            return []

    def _s3_names(self, message: str) -> str:
        """A DuckDB message with the local copies it names replaced by their S3 URIs."""
        for local, uri in self._copies.items():
            message = message.replace(local, uri)
        return message

    def _local_copy(self, path: str) -> str:
        """A local copy of an S3 object (read through the counting filesystem: Athena scans whole text
        objects), named like it so DuckDB detects its compression from the extension."""
        if self._scratch is None:
            self._scratch = tempfile.mkdtemp(prefix="localaws-athena-")
        target = os.path.join(self._scratch, f"{len(os.listdir(self._scratch))}_{path.rsplit('/', 1)[-1]}")
        with self.counting_fs.open_input_file(path) as source, open(target, "wb") as sink:
            while chunk := source.read(_COPY_CHUNK):
                sink.write(chunk)
        self._copies[target] = f"s3://{path}"
        return target

    def files(self, location: str) -> list[str]:
        """Data files under a location, skipping what Athena skips (hidden names, empty objects)."""
        if not location:
            return []
        bucket, prefix = s3_location(as_folder(location))
        selector = pafs.FileSelector(f"{bucket}/{prefix}".rstrip("/"), recursive=True, allow_not_found=True)
        files = []
        for info in self.executor.s3fs.get_file_info(selector):
            if info.type != pafs.FileType.File or not info.size:
                continue
            if not is_hidden(info.path[len(bucket) + 1 + len(prefix) :]):
                files.append(info.path)
        return sorted(files)

    def duck(self, statement: str, original: str) -> duckdb.DuckDBPyRelation | None:
        try:
            return self.con.execute(statement)  # type: ignore[return-value]
        except duckdb.InterruptException:
            raise AthenaError("USER_CANCELED", "Query cancelled by user") from None
        except duckdb.Error as error:
            raise athena_error_from_duckdb(self._s3_names(str(error)), original) from None

    def query_table(self, query: Any, default_database: str, original: str, limit0: bool = False) -> pa.Table:
        """Run a SELECT in DuckDB and return Arrow with Trino's types (sums as bigint, not int128)."""
        names = self.bind(query, default_database)
        text = to_duckdb(query, names, default_database)
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
            raise athena_error_from_duckdb(self._s3_names(str(error)), original) from None

    def write(self, table: pa.Table, keys: list[str], location: str, compression: str) -> list[str]:
        """Write Parquet like Athena's CTAS/INSERT (Hive partition folders); returns the S3 URIs written."""
        if keys:
            distinct = table.select(keys).group_by(keys).aggregate([]).num_rows
            if distinct > st.MAX_WRITTEN_PARTITIONS:
                raise AthenaError(
                    "HIVE_TOO_MANY_OPEN_PARTITIONS",
                    f"Exceeded limit of {st.MAX_WRITTEN_PARTITIONS} open writers for partitions/buckets "
                    f"(the query writes {distinct} partitions)",
                )
        if table.num_rows == 0:
            return []
        bucket, prefix = s3_location(location)
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
            max_partitions=st.MAX_WRITTEN_PARTITIONS + 1,
            file_visitor=lambda f: written.append(f"s3://{f.path}"),
        )
        return sorted(written)

    def write_manifest(self, written: list[str]) -> None:
        manifest = self.run.output_location.rsplit(".", 1)[0] + "-manifest.csv"
        bucket, key = s3_location(manifest)
        body = "".join(f"{uri}\n" for uri in written).encode()
        self.executor.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
        self.run.manifest_location = manifest
