"""One crawl: list each S3 target, classify its objects (Parquet footers, JSON, CSV), write tables and
partitions to the catalog."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa

from localaws._catalog import (
    CatalogError,
    GlueCatalog,
    StorageFormat,
    UnsupportedType,
    glue_type,
    partition_input,
    storage_descriptor,
    table_input,
)
from localaws._crawlers.classify import SAMPLE_BYTES, classify_text, combine
from localaws._crawlers.spec import (
    Cancelled,
    CrawlError,
    CrawlerSpec,
    CrawlOutcome,
    FileInfo,
    TargetPlan,
    data_parameters,
    evolve_columns,
    merge_schemas,
    plan_target,
    target_folder,
)

#: Parallel footer reads per crawl.
READ_THREADS = 8


class Crawl:
    """One crawl of one crawler against the runtime's S3 and Glue APIs."""

    def __init__(self, spec: CrawlerSpec, s3: Any, glue: Any, fs: Any, cancel: threading.Event) -> None:
        """``s3`` and ``glue`` are boto3 clients, ``fs`` pyarrow's S3 filesystem, all against the runtime (the
        runtime's cached clients: building one costs most of a second)."""
        self.spec = spec
        self.cancel = cancel
        self.s3 = s3
        self.glue = glue
        self.catalog = GlueCatalog(self.glue)
        self.fs = fs
        self.outcome = CrawlOutcome()

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()

    def run(self) -> CrawlOutcome:
        if not self.catalog.database_exists(self.spec.database):
            # AWS creates the crawler's database when it is missing.
            self.glue.create_database(DatabaseInput={"Name": self.spec.database})
            self.outcome.messages.append(f"created database {self.spec.database}")
        for path, exclusions in self.spec.targets:
            self._check_cancel()
            bucket, prefix = target_folder(path)
            plan = plan_target(bucket, prefix, self._list(bucket, prefix), exclusions, self.spec.table_prefix)
            for key, reason in plan.skipped:
                self.outcome.messages.append(f"skipped s3://{bucket}/{key}: {reason}")
            self._crawl_target(plan)
        return self.outcome

    def _list(self, bucket: str, prefix: str) -> Iterator[tuple[str, int]]:
        paginator = self.s3.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    yield obj["Key"], int(obj["Size"])
        except self.s3.exceptions.NoSuchBucket:
            raise CrawlError(
                f"The specified bucket does not exist: {bucket} (target s3://{bucket}/{prefix})"
            ) from None

    def _inspect(self, bucket: str, key: str, size: int) -> FileInfo | str:
        """What the built-in classifiers make of one object, or why none is certain."""
        with self.fs.open_input_file(f"{bucket}/{key}") as handle:
            if size >= 12 and handle.read(4) == b"PAR1":
                return self._footer(handle, bucket, key, size)
            handle.seek(0)
            sample = handle.read(SAMPLE_BYTES)
        if sample[:2] == b"\x1f\x8b":
            return "compressed (gzip) objects are not classified locally"
        found = classify_text(sample, whole=len(sample) >= size)
        if found is None:
            return "no classifier recognised it (UNKNOWN)"
        rows = found.sample_records
        if not found.whole and len(sample):
            rows = round(found.sample_records * size / len(sample))
        csv = (found.delimiter, found.quoted, found.header) if found.classification == "csv" else None
        return FileInfo(
            key=key,
            size=size,
            rows=rows,
            compression="none",
            columns=found.columns,
            classification=found.classification,
            stored_as=found.stored_as,
            csv=csv,
        )

    def _footer(self, handle: Any, bucket: str, key: str, size: int) -> FileInfo | str:
        import pyarrow.parquet as pq

        handle.seek(0)
        try:
            metadata = pq.read_metadata(handle)
        except (pa.ArrowInvalid, OSError) as error:
            return f"not a readable Parquet file ({error})"
        try:
            columns = tuple((f.name, glue_type(f.type)) for f in metadata.schema.to_arrow_schema())
        except UnsupportedType as error:
            raise CrawlError(f"cannot catalog s3://{bucket}/{key}: {error}") from None
        codec = "none"
        if metadata.num_row_groups and metadata.num_columns:
            codec = str(metadata.row_group(0).column(0).compression).lower()
            codec = "none" if codec == "uncompressed" else codec
        return FileInfo(key=key, size=size, rows=metadata.num_rows, compression=codec, columns=columns)

    def _crawl_target(self, plan: TargetPlan) -> None:
        wanted = [(values, key, size) for values, files in plan.files.items() for key, size in files]
        with ThreadPoolExecutor(READ_THREADS, thread_name_prefix="crawler-classify") as pool:
            infos = list(pool.map(lambda item: self._inspect(plan.bucket, item[1], item[2]), wanted))
        by_partition: dict[tuple[str, ...], list[FileInfo]] = {}
        layouts = Counter(info.layout for info in infos if not isinstance(info, str))
        # The layout most files share makes the table (Parquet on a tie); AWS would make another table of
        # the rest, one folder is one table here.
        layout = max(layouts, key=lambda lay: (layouts[lay], lay[0] == "parquet"), default=None)
        for (values, key, _), info in zip(wanted, infos, strict=True):
            if isinstance(info, str):
                self.outcome.messages.append(f"skipped s3://{plan.bucket}/{key}: {info}")
                continue
            assert layout is not None
            if info.layout != layout:
                self.outcome.messages.append(
                    f"skipped s3://{plan.bucket}/{key}: classified {info.classification} "
                    f"({info.stored_as.serde}), unlike the table's first file ({layout[0]}, {layout[1]})"
                )
                continue
            by_partition.setdefault(values, []).append(info)
        self._check_cancel()
        existing = self.catalog.table(self.spec.database, plan.table)
        if not by_partition:
            if existing is not None and self.spec.delete_behavior == "DELETE_FROM_DATABASE":
                self.glue.delete_table(DatabaseName=self.spec.database, Name=plan.table)
                self.outcome.tables_deleted += 1
            self.outcome.messages.append(f"no classified data under {plan.location}")
            return
        files = [info for infos_ in by_partition.values() for info in infos_]
        partition_keys = set(plan.partition_keys)
        found = [(name, kind) for name, kind in _merge(plan, files) if name not in partition_keys]
        parameters = data_parameters(self.spec.name, files)
        columns = self._write_table(plan, existing, found, parameters, files[0].stored_as)
        self._check_cancel()
        self._write_partitions(plan, columns, by_partition, existing)

    def _write_table(
        self,
        plan: TargetPlan,
        existing: dict[str, Any] | None,
        found: list[tuple[str, str]],
        parameters: dict[str, str],
        stored_as: StorageFormat,
    ) -> list[tuple[str, str]]:
        if existing is None:
            self.glue.create_table(
                DatabaseName=self.spec.database, TableInput=_table_input(plan, found, parameters, stored_as)
            )
            self.outcome.tables_created += 1
            return found
        old_columns = [(c["Name"], c["Type"]) for c in existing["StorageDescriptor"].get("Columns", [])]
        if self.spec.update_behavior == "LOG":
            self.outcome.messages.append(f"schema change of {plan.table} only logged (UpdateBehavior LOG)")
            return old_columns
        columns = evolve_columns(old_columns, found)
        wanted = _table_input(plan, columns, parameters, stored_as)
        current = {
            "PartitionKeys": [
                {"Name": k["Name"], "Type": k["Type"]} for k in existing.get("PartitionKeys", [])
            ],
            "Columns": old_columns,
            "Location": existing["StorageDescriptor"].get("Location"),
            "Parameters": existing.get("Parameters", {}),
        }
        target = {
            "PartitionKeys": wanted["PartitionKeys"],
            "Columns": columns,
            "Location": plan.location,
            "Parameters": parameters,
        }
        if current != target:
            self.glue.update_table(DatabaseName=self.spec.database, TableInput=wanted)
            if current["Columns"] != columns or current["PartitionKeys"] != target["PartitionKeys"]:
                self.outcome.tables_updated += 1
        return columns

    def _write_partitions(
        self,
        plan: TargetPlan,
        columns: list[tuple[str, str]],
        by_partition: dict[tuple[str, ...], list[FileInfo]],
        existing_table: dict[str, Any] | None,
    ) -> None:
        if not plan.partition_keys:
            return
        db, table = self.spec.database, plan.table
        current: dict[tuple[str, ...], dict[str, Any]] = {}
        if existing_table is not None:
            current = {tuple(p["Values"]): p for p in self.catalog.partitions(db, table)}

        def wanted_partition(values: tuple[str, ...], files: list[FileInfo]) -> dict[str, Any]:
            own = columns if self.spec.partitions_inherit else _merge(plan, files)
            location = plan.partition_location(values)
            storage = storage_descriptor(
                location, own, data_parameters(self.spec.name, files), files[0].stored_as
            )
            return partition_input(values, storage)

        new = [wanted_partition(v, f) for v, f in sorted(by_partition.items()) if v not in current]
        try:
            self.catalog.create_partitions(db, table, new)
        except CatalogError as error:
            raise CrawlError(str(error)) from None
        self.outcome.partitions_added += len(new)

        changed = []
        for values, files in sorted(by_partition.items()):
            if values not in current:
                continue
            wanted = wanted_partition(values, files)
            old = current[values]["StorageDescriptor"]
            if [(c["Name"], c["Type"]) for c in old.get("Columns", [])] != [
                (c["Name"], c["Type"]) for c in wanted["StorageDescriptor"]["Columns"]
            ] or old.get("Parameters") != wanted["StorageDescriptor"]["Parameters"]:
                changed.append({"PartitionValueList": list(values), "PartitionInput": wanted})
        if self.spec.update_behavior != "LOG":
            self.catalog.update_partitions(db, table, changed)

        gone = [list(v) for v in current if v not in by_partition]
        if gone and self.spec.delete_behavior == "DELETE_FROM_DATABASE":
            self.catalog.delete_partitions(db, table, gone)
            self.outcome.partitions_deleted += len(gone)
        elif gone:
            self.outcome.messages.append(
                f"{len(gone)} partitions of {table} have no data any more (kept: LOG)"
            )


def _merge(plan: TargetPlan, files: list[FileInfo]) -> list[tuple[str, str]]:
    """The files' merged schema: Parquet types widen numerically, text types as the classifier combines."""
    schemas = [(f"s3://{plan.bucket}/{f.key}", f.columns) for f in files]
    if files and files[0].classification != "parquet":
        return merge_schemas(schemas, combine)
    return merge_schemas(schemas)


def _table_input(
    plan: TargetPlan, columns: list[tuple[str, str]], parameters: dict[str, str], stored_as: StorageFormat
) -> dict[str, Any]:
    """The table a crawler writes for a target: string partition keys, its figures on table and storage."""
    return {
        **table_input(
            plan.table,
            columns,
            plan.location,
            partition_keys=[(k, "string") for k in plan.partition_keys],
            parameters=parameters,
            storage_parameters=parameters,
            stored_as=stored_as,
        ),
        "Owner": "owner",
        "Retention": 0,
    }
