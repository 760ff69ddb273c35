"""``DataSink`` (``glue_context.getSink``): a Spark write to S3, and with ``enableUpdateCatalog`` the catalog
table made or extended and the partitions written registered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F

from . import _catalog
from .errors import NotCoveredError

if TYPE_CHECKING:
    from .context import GlueContext
    from .dynamicframe import DynamicFrame, DynamicFrameCollection

#: Glue's write formats -> Spark's (glueparquet is Glue's Parquet writer).
WRITE_FORMATS = {"parquet": "parquet", "glueparquet": "parquet", "csv": "csv", "json": "json"}
UPDATE_BEHAVIORS = ("UPDATE_IN_DATABASE", "LOG")


class DataSink:
    def __init__(
        self, glue_context: GlueContext, format: str | None, transformation_ctx: str, options: dict[str, Any]
    ) -> None:
        self._glue_context = glue_context
        self.format = format or ""
        self.format_options: dict[str, Any] = {}
        self.transformation_ctx = transformation_ctx
        self.options = options
        self.catalog: tuple[str, str, str] | None = None

    def setFormat(self, format: str, **options: Any) -> None:  # noqa: N802
        self.format = format
        self.format_options = options

    def setCatalogInfo(self, catalogDatabase: str, catalogTableName: str, catalogId: str = "") -> None:  # noqa: N802, N803
        self.catalog = (catalogDatabase, catalogTableName, catalogId)

    def setAccumulableSize(self, size: int) -> None:  # noqa: N802
        """Glue's partition-statistics buffer: nothing to size locally."""

    def write(self, dynamic_frame_or_dfc: DynamicFrame | DynamicFrameCollection, info: str = "") -> Any:
        from .dynamicframe import DynamicFrameCollection

        if isinstance(dynamic_frame_or_dfc, DynamicFrameCollection):
            raise NotCoveredError("DataSink.write of a DynamicFrameCollection")
        return self.writeFrame(dynamic_frame_or_dfc, info)

    def writeFrame(self, dynamic_frame: DynamicFrame, info: str = "") -> DynamicFrame:  # noqa: N802
        """Append the frame's rows under ``path`` (Hive folders per ``partitionKeys``), as Glue's sink."""
        fmt = WRITE_FORMATS.get(self.format.lower())
        if fmt is None:
            raise NotCoveredError(f"writing format {self.format!r} (parquet, glueparquet, csv and json are)")
        path = self.options.get("path")
        if not path:
            raise ValueError("an S3 sink needs connection_options['path']")
        keys = list(self.options.get("partitionKeys") or [])
        df = dynamic_frame.toDF()
        missing = [k for k in keys if k not in df.columns]
        if missing:
            raise ValueError(f"partitionKeys {missing} are not fields of the frame (fields: {df.columns})")
        writer = df.write.mode("append").format(fmt)
        if keys:
            writer = writer.partitionBy(*keys)
        compression = self.format_options.get("compression", self.options.get("compression"))
        if fmt == "parquet":
            writer = writer.option("compression", compression or "snappy")
        elif fmt == "csv":
            writer = (
                writer.option("header", self._csv_header())
                .option("sep", self.format_options.get("separator", ","))
                .option("quote", self.format_options.get("quoteChar", '"'))
            )
        if fmt != "parquet" and compression:
            writer = writer.option("compression", compression)
        writer.save(path)
        if str(self.options.get("enableUpdateCatalog", False)).lower() == "true":
            self._update_catalog(dynamic_frame, fmt, path, keys)
        return dynamic_frame

    def _csv_header(self) -> bool:
        """Glue's CSV writer writes a header line unless ``writeHeader`` is false."""
        return str(self.format_options.get("writeHeader", True)).lower() == "true"

    def _update_catalog(self, frame: DynamicFrame, fmt: str, path: str, keys: list[str]) -> None:
        if self.catalog is None:
            database, table = self.options.get("catalogDatabase"), self.options.get("catalogTableName")
            if not database or not table:
                raise ValueError(
                    "enableUpdateCatalog needs setCatalogInfo(catalogDatabase=..., catalogTableName=...)"
                )
            self.catalog = (database, table, "")
        behavior = self.options.get("updateBehavior", "UPDATE_IN_DATABASE")
        if behavior not in UPDATE_BEHAVIORS:
            raise ValueError(f"updateBehavior {behavior!r}: expected one of {', '.join(UPDATE_BEHAVIORS)}")
        database, name, catalog_id = self.catalog
        df = frame.toDF()
        types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
        _catalog.ensure_table(
            database,
            name,
            fmt,
            path,
            [(n, t) for n, t in types.items() if n not in keys],
            [(k, types[k]) for k in keys],
            update_schema=behavior == "UPDATE_IN_DATABASE",
            catalog_id=catalog_id or None,
            header=fmt == "csv" and self._csv_header(),
        )
        if keys:
            table = _catalog.get_table(database, name, catalog_id or None)
            rows = df.select(*[F.col(f"`{k}`").cast("string") for k in keys]).distinct().collect()
            _catalog.add_partitions(table, [tuple(row) for row in rows], path, catalog_id or None)
