"""``GlueContext``: Glue's sources and sinks over Spark's readers and writers.

Sources: ``from_catalog`` (tables in parquet, csv or json; ``push_down_predicate`` and
``catalogPartitionPredicate`` select catalog partitions before anything is read) and ``from_options`` with
``connection_type="s3"``. Sinks: ``from_options`` / ``from_catalog`` and ``getSink`` (``enableUpdateCatalog``
creates or extends the table and registers the partitions written). Reads with a ``transformation_ctx`` honour
the job's bookmark. Other connection types and formats fail with :class:`~awsglue.errors.NotCoveredError`.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from functools import reduce
from typing import Any

from pyspark import SparkContext
from pyspark.sql import DataFrame, DataFrameReader, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from . import _bookmarks, _catalog, _s3
from .data_sink import DataSink
from .dynamicframe import DynamicFrame, DynamicFrameReader, DynamicFrameWriter
from .errors import NotCoveredError

READ_FORMATS = ("csv", "json", "parquet", "glueparquet")


class GlueContext:
    """``GlueContext(SparkContext.getOrCreate())`` as a Glue script makes it."""

    def __init__(self, sparkContext: SparkContext | None = None, **options: Any) -> None:  # noqa: N803
        self._sc = sparkContext or SparkContext.getOrCreate()
        self.spark_session = SparkSession(self._sc)
        self.create_dynamic_frame = DynamicFrameReader(self)
        self.write_dynamic_frame = DynamicFrameWriter(self)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise NotCoveredError(f"GlueContext.{name}")

    def get_logger(self) -> logging.Logger:
        logger = logging.getLogger("awsglue")
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s GlueLogger: %(message)s"))
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
        logger.warn = logger.warning  # type: ignore[method-assign]  # Glue's logger has warn()
        return logger

    # ---- sources --------------------------------------------------------------------------------------
    def create_dynamic_frame_from_options(
        self,
        connection_type: str,
        connection_options: Mapping[str, Any] | None = None,
        format: str | None = None,
        format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        push_down_predicate: str = "",
        **kwargs: Any,
    ) -> DynamicFrame:
        if connection_type != "s3":
            raise NotCoveredError(
                f"create_dynamic_frame.from_options with connection_type={connection_type!r} (s3 is)"
            )
        options = dict(connection_options or {})
        paths = options.get("paths") or ([options["path"]] if options.get("path") else [])
        if isinstance(paths, str):
            paths = [paths]
        if not paths:
            raise ValueError(
                "create_dynamic_frame.from_options(connection_type='s3') needs connection_options['paths']"
            )
        exclusions = options.get("exclusions") or []
        if isinstance(exclusions, str):
            exclusions = json.loads(exclusions)
        objects: dict[str, str] = {}
        for path in paths:
            objects.update(
                {
                    uri: etag
                    for uri, etag in _s3.list_objects(path).items()
                    if not any(
                        fnmatch.fnmatch(uri, pattern) or fnmatch.fnmatch(_s3.split(uri)[1], pattern)
                        for pattern in exclusions
                    )
                }
            )
        unread = _bookmarks.current.unread(transformation_ctx, objects)
        base = paths[0] if len(paths) == 1 else None
        df = self._read(format or "", sorted(unread), dict(format_options or {}), base_path=base)
        if push_down_predicate:
            df = df.filter(push_down_predicate)
        return DynamicFrame(df, self, transformation_ctx)

    def create_dynamic_frame_from_catalog(
        self,
        database: str,
        table_name: str,
        redshift_tmp_dir: str = "",
        transformation_ctx: str = "",
        push_down_predicate: str = "",
        additional_options: Mapping[str, Any] | None = None,
        catalog_id: str | None = None,
        **kwargs: Any,
    ) -> DynamicFrame:
        table = _catalog.get_table(database, table_name, catalog_id)
        options = dict(additional_options or {})
        predicates = [p for p in (push_down_predicate, options.get("catalogPartitionPredicate")) if p]
        schema = self._schema(table.columns)
        if not table.partition_keys:
            if predicates:
                raise ValueError(f"push_down_predicate on {table.qualified}: the table has no partition keys")
            unread = _bookmarks.current.unread(transformation_ctx, _s3.list_objects(table.location))
            df = self._read_table(table, sorted(unread), schema)
        else:
            selected = self._partitions(table, catalog_id, " AND ".join(f"({p})" for p in predicates))
            listed = {location: _s3.list_objects(location) for _, location in selected}
            unread = _bookmarks.current.unread(
                transformation_ctx,
                {uri: etag for objects in listed.values() for uri, etag in objects.items()},
            )
            frames = []
            for values, location in selected:
                files = sorted(uri for uri in listed[location] if uri in unread)
                if not files:
                    continue
                df = self._read_table(table, files, schema)
                for (name, kind), value in zip(table.partition_keys, values, strict=True):
                    df = df.withColumn(name, F.lit(None if value == _catalog.HIVE_NULL else value).cast(kind))
                frames.append(df)
            full = self._schema([*table.columns, *table.partition_keys])
            df = (
                reduce(DataFrame.unionByName, frames)
                if frames
                else self.spark_session.createDataFrame([], full)
            )
        return DynamicFrame(df, self, transformation_ctx)

    def create_data_frame_from_catalog(self, *args: Any, **kwargs: Any) -> DataFrame:
        return self.create_dynamic_frame_from_catalog(*args, **kwargs).toDF()

    def create_data_frame_from_options(self, *args: Any, **kwargs: Any) -> DataFrame:
        return self.create_dynamic_frame_from_options(*args, **kwargs).toDF()

    def _schema(self, columns: Sequence[tuple[str, str]]) -> T.StructType:
        """A Spark schema from catalog (Hive) column types."""
        if not columns:
            return T.StructType([])
        return self.spark_session.createDataFrame([], _ddl(columns)).schema

    def _partitions(
        self, table: _catalog.Table, catalog_id: str | None, predicate: str
    ) -> list[tuple[list[str], str]]:
        """The table's partitions whose values satisfy ``predicate`` (a Spark SQL expression on the keys)."""
        found = _catalog.partitions(table, catalog_id)
        if not predicate or not found:
            return found
        names = [n for n, _ in table.partition_keys]
        rows = [(i, *values) for i, (values, _) in enumerate(found)]
        frame = self.spark_session.createDataFrame(rows, ["__i", *names])
        typed = frame.select(
            "__i",
            *[
                F.when(F.col(f"`{n}`") != _catalog.HIVE_NULL, F.col(f"`{n}`")).cast(kind).alias(n)
                for n, kind in table.partition_keys
            ],
        )
        try:
            keep = {row["__i"] for row in typed.filter(predicate).select("__i").collect()}
        except Exception as error:
            raise ValueError(f"push_down_predicate {predicate!r} on {table.qualified}: {error}") from error
        return [p for i, p in enumerate(found) if i in keep]

    def _read_table(self, table: _catalog.Table, files: Sequence[str], schema: T.StructType) -> DataFrame:
        """The table's columns (its types) from some of its files."""
        if not files:
            return self.spark_session.createDataFrame([], schema)
        reader = self.spark_session.read
        if table.format == "csv":
            return _csv_table_reader(reader.schema(schema), table).csv(list(files))
        if table.format == "json":
            return reader.schema(schema).json(list(files))
        raw = reader.parquet(*files)
        present = {c.lower(): c for c in raw.columns}
        return raw.select(
            *[
                (F.col(f"`{present[f.name.lower()]}`") if f.name.lower() in present else F.lit(None))
                .cast(f.dataType)
                .alias(f.name)
                for f in schema.fields
            ]
        )

    def _read(
        self, fmt: str, files: Sequence[str], options: dict[str, Any], base_path: str | None
    ) -> DataFrame:
        fmt = fmt.lower()
        if fmt not in READ_FORMATS:
            raise NotCoveredError(f"reading format {fmt!r} (csv, json and parquet are)")
        if not files:
            return self.spark_session.createDataFrame([], T.StructType([]))
        reader = self.spark_session.read
        if base_path and base_path not in files:  # a folder: Hive partition folders under it become columns
            reader = reader.option("basePath", base_path)
        if fmt == "csv":
            header = _flag(options.get("withHeader", False))
            quote = options.get("quoteChar", '"')
            reader = (
                reader.option("header", header)
                .option("inferSchema", True)
                .option("sep", options.get("separator", ","))
                .option("multiLine", _flag(options.get("multiLine", options.get("multiline", False))))
            )
            reader = reader.option("quote", "\u0000" if quote == -1 or quote == "-1" else quote)
            # Glue's CSV reader takes a doubled quote inside a quoted field as a quote (RFC 4180)
            reader = reader.option("escape", options.get("escaper") or '"')
            df = reader.csv(list(files))
            if not header:  # Glue names headerless columns col0, col1, ...
                df = df.toDF(*[f"col{i}" if c.startswith("_c") else c for i, c in enumerate(df.columns)])
            return df
        if fmt == "json":
            if options.get("jsonPath"):
                raise NotCoveredError("format_options jsonPath")
            return reader.option(
                "multiLine", _flag(options.get("multiLine", options.get("multiline", False)))
            ).json(list(files))
        return reader.parquet(*files)

    # ---- sinks ----------------------------------------------------------------------------------------
    def write_dynamic_frame_from_options(
        self,
        frame: DynamicFrame,
        connection_type: str,
        connection_options: Mapping[str, Any] | None = None,
        format: str | None = None,
        format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
    ) -> DynamicFrame:
        sink = self.getSink(connection_type, format, transformation_ctx, **dict(connection_options or {}))
        sink.setFormat(format or "", **dict(format_options or {}))
        return sink.writeFrame(frame)

    def write_dynamic_frame_from_catalog(
        self,
        frame: DynamicFrame,
        database: str,
        table_name: str,
        redshift_tmp_dir: str = "",
        transformation_ctx: str = "",
        additional_options: Mapping[str, Any] | None = None,
        catalog_id: str | None = None,
        **kwargs: Any,
    ) -> DynamicFrame:
        table = _catalog.get_table(database, table_name, catalog_id)
        options = dict(additional_options or {})
        options.setdefault("partitionKeys", [n for n, _ in table.partition_keys])
        sink = self.getSink("s3", table.format, transformation_ctx, path=table.location, **options)
        sink.setFormat(
            table.format,
            separator=table.serde_parameters.get(
                "field.delim", table.serde_parameters.get("separatorChar", ",")
            ),
            writeHeader=table.parameters.get("skip.header.line.count") == "1",
        )
        sink.setCatalogInfo(database, table_name, catalog_id or "")
        return sink.writeFrame(frame)

    def getSink(  # noqa: N802
        self, connection_type: str, format: str | None = None, transformation_ctx: str = "", **options: Any
    ) -> DataSink:
        if connection_type != "s3":
            raise NotCoveredError(f"getSink with connection_type={connection_type!r} (s3 is)")
        return DataSink(self, format, transformation_ctx, options)


def _csv_table_reader(reader: DataFrameReader, table: _catalog.Table) -> DataFrameReader:
    """Spark's CSV options for a text table: OpenCSVSerDe (quoted fields, which may span lines) or
    LazySimpleSerDe (split on the delimiter, no quoting, ``\\N`` is NULL)."""
    serde = table.serde_parameters
    skip = table.parameters.get("skip.header.line.count", "0")
    if skip not in ("0", "1"):
        raise NotCoveredError(f"reading {table.qualified} with skip.header.line.count={skip} (0 and 1 are)")
    reader = reader.option("header", skip == "1")
    if "lazysimpleserde" in table.serde.lower():
        delimiter = serde.get("field.delim") or serde.get("serialization.format") or "\x01"
        return (
            reader.option("sep", delimiter)
            .option("quote", "\u0000")
            .option("nullValue", serde.get("serialization.null.format", "\\N"))
        )
    return (
        reader.option("sep", serde.get("separatorChar", ","))
        .option("quote", serde.get("quoteChar", '"'))
        .option("escape", serde.get("escapeChar", '"'))
        .option("multiLine", True)
    )


def _ddl(columns: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"`{name}` {kind}" for name, kind in columns)


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() == "true"
