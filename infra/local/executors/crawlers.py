"""Crawler executor: ``StartCrawler`` really catalogs the Parquet under each S3 target.

moto's crawlers create no tables, never finish unless told to, say ``COMPLETED`` where AWS says
``SUCCEEDED`` and do not implement ``GetCrawlerMetrics`` or ``UpdateCrawler``. Here a crawl runs on a
background thread, like the real service:

* each S3 target folder becomes one table named after the folder (``.../youtube/statistics/`` ->
  ``statistics``, plus the crawler's ``TablePrefix``), with the Parquet SerDe and input/output formats,
  columns typed from the Parquet footers (pyarrow, read through the runtime's S3 API), ``k=v`` folders as
  partition keys (other folder levels as ``partition_0``, ...) and every partition registered;
* files of all partitions are merged into one schema (``CombineCompatibleSchemas``: union of columns,
  numeric types widened); exclusion globs are honoured; files that are not Parquet are skipped (a real
  crawler would classify them as something else);
* ``SchemaChangePolicy``: ``UPDATE_IN_DATABASE`` updates the table and, partitions inheriting from the
  table, its partitions; ``LOG`` only adds partitions; ``DELETE_FROM_DATABASE`` drops partitions and tables
  whose data is gone;
* ``GetCrawler`` moves RUNNING -> STOPPING -> READY with ``LastCrawl.Status`` ``SUCCEEDED``/``FAILED``
  (with ``ErrorMessage``)/``CANCELLED``; ``GetCrawlerMetrics`` and ``UpdateCrawler`` answer;
  ``StartCrawler`` on a crawler that is not READY raises ``CrawlerRunningException``.

Incompatible column types across files fail the crawl with a message naming the files, where a real
crawler would silently split the folder into one table per partition.
"""

from __future__ import annotations

import json
import logging
import re
import statistics
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from infra.local.runtime import LOCAL_CREDENTIALS

if TYPE_CHECKING:
    from infra.local.runtime import LocalRuntime

log = logging.getLogger(__name__)

#: Seconds a finished crawl stays STOPPING before READY (AWS: about a minute), so callers see the phase.
STOPPING_SECONDS = 1.0
#: Parallel footer reads per crawl.
READ_THREADS = 8

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"


class CrawlError(Exception):
    """A crawl fails; the message becomes ``LastCrawl.ErrorMessage``."""


# ---- pure: naming, paths, exclusions --------------------------------------------------------------
def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> (``bucket``, ``a/b/``): a target is always a folder."""
    if not uri.startswith("s3://"):
        raise CrawlError(f"invalid S3 target {uri!r}: expected s3://bucket/prefix")
    bucket, _, prefix = uri[5:].partition("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return bucket, prefix


def table_name(prefix: str, table_prefix: str = "") -> str:
    """The crawler's table name for a target folder: its last segment, lower case, ``[a-z0-9_]`` only."""
    folder = prefix.rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"[^a-z0-9_]", "_", (table_prefix + folder).lower())


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Compile a crawler exclusion glob (``*`` within a folder, ``**`` across folders, ``?``, ``[!..]``,
    ``{a,b}``) relative to the target folder."""
    out: list[str] = []
    i, depth = 0, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        elif char == "{":
            out.append("(?:")
            depth += 1
        elif char == "}" and depth:
            out.append(")")
            depth -= 1
        elif char == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z")


def is_hidden(relative_key: str) -> bool:
    """Files and folders Hive-style readers ignore: ``_SUCCESS``, ``_temporary/``, ``.staging``, markers."""
    parts = relative_key.split("/")
    return relative_key.endswith(("/", "$folder$")) or any(p.startswith(("_", ".")) for p in parts if p)


def partition_of(relative_key: str) -> tuple[tuple[str, str], ...]:
    """Partition (key, value) pairs from the folders between the target and the file.

    ``region=us/part.parquet`` -> ``(("region", "us"),)``; a folder without ``=`` becomes ``partition_<i>``
    as in the real crawler.
    """
    folders = relative_key.split("/")[:-1]
    pairs = []
    for index, folder in enumerate(folders):
        key, sep, value = folder.partition("=")
        pairs.append((key.lower(), value) if sep else (f"partition_{index}", folder))
    return tuple(pairs)


@dataclass
class TargetPlan:
    """What one target holds: the files per partition, and what was left out and why."""

    bucket: str
    prefix: str
    table: str
    partition_keys: tuple[str, ...] = ()
    files: dict[tuple[str, ...], list[tuple[str, int]]] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def partition_location(self, values: Sequence[str]) -> str:
        folders = "".join(
            f"{k}={v}/" if not k.startswith("partition_") else f"{v}/"
            for k, v in zip(self.partition_keys, values, strict=True)
        )
        return f"{self.location}{folders}"


def plan_target(
    bucket: str,
    prefix: str,
    objects: Iterable[tuple[str, int]],
    exclusions: Sequence[str] = (),
    table_prefix: str = "",
) -> TargetPlan:
    """Group a target's objects by partition; the first file's folder layout fixes the partition keys."""
    patterns = [glob_to_regex(p) for p in exclusions]
    plan = TargetPlan(bucket=bucket, prefix=prefix, table=table_name(prefix, table_prefix))
    layout: tuple[str, ...] | None = None
    for key, size in sorted(objects):
        relative = key[len(prefix) :]
        if not relative or is_hidden(relative) or size == 0:
            continue
        if any(p.match(relative) for p in patterns):
            plan.skipped.append((key, "excluded"))
            continue
        pairs = partition_of(relative)
        keys = tuple(k for k, _ in pairs)
        if layout is None:
            layout = keys
        if keys != layout:
            plan.skipped.append((key, f"partition layout {list(keys)} differs from {list(layout)}"))
            continue
        plan.files.setdefault(tuple(v for _, v in pairs), []).append((key, size))
    plan.partition_keys = layout or ()
    return plan


# ---- pure: types and schema merging ---------------------------------------------------------------
def glue_type(arrow_type: pa.DataType) -> str:
    """The Hive/Glue type a crawler writes for a Parquet (Arrow) type."""
    t = arrow_type
    if pa.types.is_dictionary(t):
        return glue_type(t.value_type)
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_int8(t):
        return "tinyint"
    if pa.types.is_int16(t) or pa.types.is_uint8(t):
        return "smallint"
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return "int"
    if pa.types.is_integer(t):
        return "bigint"
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "float"
    if pa.types.is_float64(t):
        return "double"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "binary"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return f"array<{glue_type(t.value_type)}>"
    if pa.types.is_map(t):
        return f"map<{glue_type(t.key_type)},{glue_type(t.item_type)}>"
    if pa.types.is_struct(t):
        return (
            "struct<"
            + ",".join(f"{t.field(i).name}:{glue_type(t.field(i).type)}" for i in range(t.num_fields))
            + ">"
        )
    return "string"


_NUMERIC_RANK = {"tinyint": 0, "smallint": 1, "int": 2, "bigint": 3, "float": 4, "double": 5}


def widen(a: str, b: str) -> str | None:
    """The type both values fit in, as CombineCompatibleSchemas merges them; None when incompatible."""
    if a == b:
        return a
    if a in _NUMERIC_RANK and b in _NUMERIC_RANK:
        wider = max(a, b, key=_NUMERIC_RANK.__getitem__)
        # bigint with float loses precision in float: Hive promotes both to double.
        return "double" if {wider, min(a, b, key=_NUMERIC_RANK.__getitem__)} == {"float", "bigint"} else wider
    return None


def merge_schemas(schemas: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> list[tuple[str, str]]:
    """Union of ``(file, [(column, type)])`` in first-seen order, types widened.

    Raises CrawlError when a column's types cannot be combined."""
    merged: dict[str, str] = {}
    origin: dict[str, str] = {}
    for source, columns in schemas:
        for name, kind in columns:
            name = name.lower()
            if name not in merged:
                merged[name], origin[name] = kind, source
                continue
            combined = widen(merged[name], kind)
            if combined is None:
                raise CrawlError(
                    f"incompatible schemas: column {name!r} is {merged[name]} in {origin[name]} "
                    f"and {kind} in {source}"
                )
            merged[name] = combined
    return list(merged.items())


def evolve_columns(
    existing: Sequence[tuple[str, str]], found: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    """New table columns on a recrawl: existing order kept (types updated), new columns appended; columns
    no file holds any more are dropped, as the crawler rewrites the schema from what it found."""
    found_map = dict(found)
    kept = [(name, found_map[name]) for name, _ in existing if name in found_map]
    known = {name for name, _ in kept}
    return kept + [(name, kind) for name, kind in found if name not in known]


# ---- pure: catalog inputs -------------------------------------------------------------------------
def storage_descriptor(
    location: str, columns: Sequence[tuple[str, str]], parameters: dict[str, str]
) -> dict[str, Any]:
    return {
        "Columns": [{"Name": n, "Type": t} for n, t in columns],
        "Location": location,
        "InputFormat": PARQUET_INPUT,
        "OutputFormat": PARQUET_OUTPUT,
        "Compressed": False,
        "NumberOfBuckets": -1,
        "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE, "Parameters": {"serialization.format": "1"}},
        "BucketColumns": [],
        "SortColumns": [],
        "Parameters": parameters,
        "StoredAsSubDirectories": False,
    }


def data_parameters(crawler: str, files: Sequence[FileInfo]) -> dict[str, str]:
    """The table/partition parameters a crawler records for Parquet data."""
    records = sum(f.rows for f in files)
    size = sum(f.size for f in files)
    codecs = sorted({f.compression for f in files})
    return {
        "classification": "parquet",
        "compressionType": codecs[0] if len(codecs) == 1 else "mixed",
        "typeOfData": "file",
        "recordCount": str(records),
        "objectCount": str(len(files)),
        "sizeKey": str(size),
        "averageRecordSize": str(size // records if records else 0),
        "UPDATED_BY_CRAWLER": crawler,
        "CrawlerSchemaSerializerVersion": "1.0",
        "CrawlerSchemaDeserializerVersion": "1.0",
    }


def table_input(
    plan: TargetPlan, columns: Sequence[tuple[str, str]], parameters: dict[str, str]
) -> dict[str, Any]:
    return {
        "Name": plan.table,
        "TableType": "EXTERNAL_TABLE",
        "Owner": "owner",
        "Retention": 0,
        "PartitionKeys": [{"Name": k, "Type": "string"} for k in plan.partition_keys],
        "StorageDescriptor": storage_descriptor(plan.location, columns, parameters),
        "Parameters": parameters,
    }


# ---- I/O: one crawl -------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileInfo:
    key: str
    size: int
    rows: int
    compression: str
    columns: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class CrawlerSpec:
    """What a crawl needs from the crawler's definition, taken when it starts."""

    name: str
    database: str
    targets: tuple[tuple[str, tuple[str, ...]], ...]
    table_prefix: str = ""
    update_behavior: str = "UPDATE_IN_DATABASE"
    delete_behavior: str = "LOG"
    partitions_inherit: bool = True

    @classmethod
    def from_moto(cls, crawler: Any) -> CrawlerSpec:
        targets = tuple(
            (t["Path"], tuple(t.get("Exclusions") or ()))
            for t in (crawler.targets or {}).get("S3Targets", [])
        )
        policy = crawler.schema_change_policy or {}
        inherit = True
        if crawler.configuration:
            try:
                config = json.loads(crawler.configuration)
                behavior = config.get("CrawlerOutput", {}).get("Partitions", {}).get("AddOrUpdateBehavior")
                inherit = behavior in (None, "InheritFromTable")
            except ValueError:
                pass
        return cls(
            name=crawler.name,
            database=crawler.database_name,
            targets=targets,
            table_prefix=crawler.table_prefix or "",
            update_behavior=policy.get("UpdateBehavior", "UPDATE_IN_DATABASE"),
            delete_behavior=policy.get("DeleteBehavior", "DEPRECATE_IN_DATABASE"),
            partitions_inherit=inherit,
        )


@dataclass
class CrawlOutcome:
    tables_created: int = 0
    tables_updated: int = 0
    tables_deleted: int = 0
    partitions_added: int = 0
    partitions_deleted: int = 0
    messages: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return json.dumps(
            {
                "TABLE": {
                    "ADD": {"Count": self.tables_created},
                    "UPDATE": {"Count": self.tables_updated},
                    "DELETE": {"Count": self.tables_deleted},
                },
                "PARTITION": {
                    "ADD": {"Count": self.partitions_added},
                    "DELETE": {"Count": self.partitions_deleted},
                },
            }
        )


class Cancelled(Exception):
    """StopCrawler was called; the crawl ends CANCELLED."""


class Crawl:
    """One crawl of one crawler against the runtime's S3 and Glue APIs."""

    def __init__(self, spec: CrawlerSpec, endpoint: str, region: str, cancel: threading.Event) -> None:
        import boto3
        from pyarrow import fs

        self.spec = spec
        self.cancel = cancel
        session = boto3.session.Session(
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=region,
        )
        # Any: the code speaks the wire format (plain dicts), not the stubs' TypedDicts.
        self.s3: Any = session.client("s3", endpoint_url=endpoint)
        self.glue: Any = session.client("glue", endpoint_url=endpoint)
        self.fs = fs.S3FileSystem(
            access_key=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            secret_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
            region=region,
            endpoint_override=endpoint.split("://", 1)[1],
            scheme="http",
        )
        self.outcome = CrawlOutcome()

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()

    def run(self) -> CrawlOutcome:
        try:
            self.glue.get_database(Name=self.spec.database)
        except self.glue.exceptions.EntityNotFoundException:
            raise CrawlError(
                f"Database does not exist or principal is not authorized to create tables. "
                f"(Database name: {self.spec.database})"
            ) from None
        for path, exclusions in self.spec.targets:
            self._check_cancel()
            bucket, prefix = split_s3_uri(path)
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

    def _footer(self, bucket: str, key: str, size: int) -> FileInfo | None:
        import pyarrow.parquet as pq

        try:
            with self.fs.open_input_file(f"{bucket}/{key}") as handle:
                metadata = pq.read_metadata(handle)
        except (pa.ArrowInvalid, OSError) as error:
            if "magic" in str(error).lower() or "parquet" in str(error).lower():
                return None  # not Parquet: a real crawler would classify it with another classifier
            raise
        schema = metadata.schema.to_arrow_schema()
        codec = "none"
        if metadata.num_row_groups and metadata.num_columns:
            codec = str(metadata.row_group(0).column(0).compression).lower()
            codec = "none" if codec == "uncompressed" else codec
        return FileInfo(
            key=key,
            size=size,
            rows=metadata.num_rows,
            compression=codec,
            columns=tuple((f.name, glue_type(f.type)) for f in schema),
        )

    def _crawl_target(self, plan: TargetPlan) -> None:
        wanted = [(values, key, size) for values, files in plan.files.items() for key, size in files]
        with ThreadPoolExecutor(READ_THREADS, thread_name_prefix="crawler-footer") as pool:
            infos = list(pool.map(lambda item: self._footer(plan.bucket, item[1], item[2]), wanted))
        by_partition: dict[tuple[str, ...], list[FileInfo]] = {}
        for (values, key, _), info in zip(wanted, infos, strict=True):
            if info is None:
                self.outcome.messages.append(f"skipped s3://{plan.bucket}/{key}: not Parquet")
                continue
            by_partition.setdefault(values, []).append(info)
        self._check_cancel()
        existing = self._get_table(plan.table)
        if not by_partition:
            if existing is not None and self.spec.delete_behavior == "DELETE_FROM_DATABASE":
                self.glue.delete_table(DatabaseName=self.spec.database, Name=plan.table)
                self.outcome.tables_deleted += 1
            self.outcome.messages.append(f"no Parquet data under {plan.location}")
            return
        files = [info for infos_ in by_partition.values() for info in infos_]
        partition_keys = set(plan.partition_keys)
        found = [
            (name, kind)
            for name, kind in merge_schemas([(f"s3://{plan.bucket}/{f.key}", f.columns) for f in files])
            if name not in partition_keys
        ]
        parameters = data_parameters(self.spec.name, files)
        columns = self._write_table(plan, existing, found, parameters)
        self._check_cancel()
        self._write_partitions(plan, columns, by_partition, existing)

    def _get_table(self, name: str) -> dict[str, Any] | None:
        try:
            return self.glue.get_table(DatabaseName=self.spec.database, Name=name)["Table"]  # type: ignore[no-any-return]
        except self.glue.exceptions.EntityNotFoundException:
            return None

    def _write_table(
        self,
        plan: TargetPlan,
        existing: dict[str, Any] | None,
        found: list[tuple[str, str]],
        parameters: dict[str, str],
    ) -> list[tuple[str, str]]:
        if existing is None:
            self.glue.create_table(
                DatabaseName=self.spec.database, TableInput=table_input(plan, found, parameters)
            )
            self.outcome.tables_created += 1
            return found
        old_columns = [(c["Name"], c["Type"]) for c in existing["StorageDescriptor"].get("Columns", [])]
        if self.spec.update_behavior == "LOG":
            self.outcome.messages.append(f"schema change of {plan.table} only logged (UpdateBehavior LOG)")
            return old_columns
        columns = evolve_columns(old_columns, found)
        wanted = table_input(plan, columns, parameters)
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
            for page in self.glue.get_paginator("get_partitions").paginate(DatabaseName=db, TableName=table):
                for partition in page["Partitions"]:
                    current[tuple(partition["Values"])] = partition

        def partition_input(values: tuple[str, ...], files: list[FileInfo]) -> dict[str, Any]:
            own = (
                columns
                if self.spec.partitions_inherit
                else merge_schemas([(f.key, f.columns) for f in files])
            )
            return {
                "Values": list(values),
                "StorageDescriptor": storage_descriptor(
                    plan.partition_location(values), own, data_parameters(self.spec.name, files)
                ),
                "Parameters": {},
            }

        new = [partition_input(v, f) for v, f in sorted(by_partition.items()) if v not in current]
        for chunk in _chunks(new, 100):
            errors = self.glue.batch_create_partition(
                DatabaseName=db, TableName=table, PartitionInputList=chunk
            )
            if errors.get("Errors"):
                raise CrawlError(f"could not register partitions of {table}: {errors['Errors'][:3]}")
        self.outcome.partitions_added += len(new)

        changed = []
        for values, files in sorted(by_partition.items()):
            if values not in current:
                continue
            wanted = partition_input(values, files)
            old = current[values]["StorageDescriptor"]
            if [(c["Name"], c["Type"]) for c in old.get("Columns", [])] != [
                (c["Name"], c["Type"]) for c in wanted["StorageDescriptor"]["Columns"]
            ] or old.get("Parameters") != wanted["StorageDescriptor"]["Parameters"]:
                changed.append({"PartitionValueList": list(values), "PartitionInput": wanted})
        if self.spec.update_behavior != "LOG":
            for chunk in _chunks(changed, 100):
                self.glue.batch_update_partition(DatabaseName=db, TableName=table, Entries=chunk)

        gone = [list(v) for v in current if v not in by_partition]
        if gone and self.spec.delete_behavior == "DELETE_FROM_DATABASE":
            for chunk in _chunks(gone, 25):
                self.glue.batch_delete_partition(
                    DatabaseName=db, TableName=table, PartitionsToDelete=[{"Values": v} for v in chunk]
                )
            self.outcome.partitions_deleted += len(gone)
        elif gone:
            self.outcome.messages.append(
                f"{len(gone)} partitions of {table} have no data any more (kept: LOG)"
            )


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ---- moto glue patches ----------------------------------------------------------------------------
@dataclass
class _History:
    """Per-crawler figures GetCrawlerMetrics reports."""

    runtimes: list[float] = field(default_factory=list)
    last: CrawlOutcome = field(default_factory=CrawlOutcome)


@dataclass
class _State:
    endpoint: str
    region: str
    #: Crawler name -> the thread of its latest crawl and that crawl's cancel flag.
    threads: dict[str, tuple[threading.Thread, threading.Event]] = field(default_factory=dict)
    history: dict[str, _History] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)


_state: _State | None = None
_originals: dict[str, Any] = {}
_crawl_class: type | None = None


def _local_crawl_class() -> type:
    """A moto ``FakeCrawl`` whose state is set by the crawl thread instead of moto's state manager."""
    global _crawl_class
    if _crawl_class is not None:
        return _crawl_class
    from moto.glue.models import FakeCrawl

    class LocalCrawl(FakeCrawl):  # type: ignore[misc]
        def __init__(self, crawler_name: str) -> None:
            super().__init__(crawler_name)
            self.local_status = "RUNNING"
            self.error_message: str | None = None
            self.summary: str | None = None
            self.cancel = threading.Event()
            self.started = time.monotonic()

        @property  # type: ignore[override]
        def status(self) -> str:
            return self.local_status

        @status.setter
        def status(self, value: str) -> None:
            if value == "STOPPING":  # moto's stop_crawler
                self.cancel.set()
            self.local_status = value

        def advance(self) -> None:
            pass

        def as_dict(self) -> dict[str, Any]:
            data: dict[str, Any] = super().as_dict()
            if self.error_message:
                data["ErrorMessage"] = self.error_message
            if self.summary:
                data["Summary"] = self.summary
            return data

    _crawl_class = LocalCrawl
    return LocalCrawl


def _start_crawler(self: Any) -> None:
    """Replacement for ``FakeCrawler.start_crawler``: refuse unless READY, then crawl in the background."""
    state = _state
    if state is None:
        _originals["start"](self)
        return
    from moto.glue.exceptions import CrawlerRunningException

    if self.status != "READY":
        raise CrawlerRunningException(f"Crawler with name {self.name} has already started")
    crawl = _local_crawl_class()(self.name)
    spec = CrawlerSpec.from_moto(self)
    self.crawls.append(crawl)
    thread = threading.Thread(
        target=_run_crawl, args=(state, spec, crawl), name=f"crawl-{self.name}", daemon=True
    )
    with state.lock:
        state.threads[self.name] = (thread, crawl.cancel)
    thread.start()


def _run_crawl(state: _State, spec: CrawlerSpec, crawl: Any) -> None:
    started = time.monotonic()
    outcome: CrawlOutcome | None = None
    final = "COMPLETED"
    try:
        outcome = Crawl(spec, state.endpoint, state.region, crawl.cancel).run()
        for message in outcome.messages:
            log.info("crawler %s: %s", spec.name, message)
        crawl.summary = outcome.summary()
    except Cancelled:
        final = "STOPPED"
    except CrawlError as error:
        final, crawl.error_message = "FAILED", str(error)
    except Exception as error:  # anything else is reported like an internal service error
        log.exception("crawler %s failed", spec.name)
        final, crawl.error_message = "FAILED", f"Internal Service Exception: {type(error).__name__}: {error}"
    if crawl.error_message:
        log.warning("crawler %s FAILED: %s", spec.name, crawl.error_message)
    crawl.local_status = "STOPPING"
    state.stopping.wait(STOPPING_SECONDS)
    elapsed = time.monotonic() - started
    with state.lock:
        history = state.history.setdefault(spec.name, _History())
        history.runtimes.append(elapsed)
        history.last = outcome or CrawlOutcome()
    crawl.end_time = datetime.now(UTC)
    crawl.local_status = final


def _crawler_as_dict(self: Any) -> dict[str, Any]:
    """``GetCrawler``: AWS's LastCrawl wording and the running crawl's elapsed time."""
    data: dict[str, Any] = _originals["as_dict"](self)
    if not self.crawls or not hasattr(self.crawls[-1], "local_status"):
        return data
    crawl = self.crawls[-1]
    last = data.get("LastCrawl", {})
    status = crawl.local_status
    if status in ("RUNNING", "STOPPING"):
        data["CrawlElapsedTime"] = int((time.monotonic() - crawl.started) * 1000)
        previous = [c for c in self.crawls[:-1] if hasattr(c, "local_status")]
        if previous:
            crawl = previous[-1]
            last = dict(last, StartTime=crawl.start_time, MessagePrefix=crawl.message_prefix)
            status = crawl.local_status
        else:
            data.pop("LastCrawl", None)
            return data
    last["Status"] = {"COMPLETED": "SUCCEEDED", "STOPPED": "CANCELLED"}.get(status, status)
    if crawl.error_message:
        last["ErrorMessage"] = crawl.error_message
    data["LastCrawl"] = last
    return data


def _get_crawler_metrics(self: Any) -> Any:
    """``GetCrawlerMetrics`` (missing in moto), which the provider's crawler operator logs after waiting."""
    from moto.core.responses import ActionResult

    names = self.parameters.get("CrawlerNameList") or [c.name for c in self.glue_backend.get_crawlers()]
    state = _state
    metrics = []
    for crawler in self.glue_backend.get_crawlers():
        if crawler.name not in names:
            continue
        history = state.history.get(crawler.name, _History()) if state else _History()
        running = crawler.status != "READY"
        median = statistics.median(history.runtimes) if history.runtimes else 0.0
        elapsed = (
            (time.monotonic() - crawler.crawls[-1].started)
            if running and hasattr(crawler.crawls[-1], "started")
            else 0.0
        )
        metrics.append(
            {
                "CrawlerName": crawler.name,
                "TimeLeftSeconds": max(0.0, median - elapsed) if running else 0.0,
                "StillEstimating": running and not history.runtimes,
                "LastRuntimeSeconds": history.runtimes[-1] if history.runtimes else 0.0,
                "MedianRuntimeSeconds": median,
                "TablesCreated": history.last.tables_created,
                "TablesUpdated": history.last.tables_updated,
                "TablesDeleted": history.last.tables_deleted,
            }
        )
    return ActionResult({"CrawlerMetricsList": metrics})


_UPDATABLE = {
    "Role": "role",
    "DatabaseName": "database_name",
    "Description": "description",
    "Targets": "targets",
    "Classifiers": "classifiers",
    "TablePrefix": "table_prefix",
    "SchemaChangePolicy": "schema_change_policy",
    "RecrawlPolicy": "recrawl_policy",
    "LineageConfiguration": "lineage_configuration",
    "Configuration": "configuration",
    "CrawlerSecurityConfiguration": "crawler_security_configuration",
}


def _update_crawler(self: Any) -> Any:
    """``UpdateCrawler`` (missing in moto): refused while the crawler runs, like AWS."""
    from moto.core.responses import EmptyResult
    from moto.glue.exceptions import CrawlerRunningException

    params = self.parameters
    crawler = self.glue_backend.get_crawler(params["Name"])
    if crawler.status != "READY":
        raise CrawlerRunningException(f"Crawler with name {crawler.name} is not READY")
    for key, attribute in _UPDATABLE.items():
        if key in params:
            setattr(crawler, attribute, params[key])
    if "Schedule" in params:
        crawler.schedule = params["Schedule"]
    crawler.version += 1
    crawler.last_updated = datetime.now(UTC)
    return EmptyResult()


def _patch() -> None:
    from moto.glue import models, responses

    if _originals:
        return
    _originals["start"] = models.FakeCrawler.start_crawler
    _originals["as_dict"] = models.FakeCrawler.as_dict
    _originals["metrics"] = getattr(responses.GlueResponse, "get_crawler_metrics", None)
    _originals["update"] = getattr(responses.GlueResponse, "update_crawler", None)
    models.FakeCrawler.start_crawler = _start_crawler  # type: ignore[method-assign]
    models.FakeCrawler.as_dict = _crawler_as_dict  # type: ignore[method-assign]
    responses.GlueResponse.get_crawler_metrics = _get_crawler_metrics  # type: ignore[attr-defined]
    responses.GlueResponse.update_crawler = _update_crawler  # type: ignore[attr-defined]


def _unpatch() -> None:
    from moto.glue import models, responses

    if not _originals:
        return
    models.FakeCrawler.start_crawler = _originals["start"]  # type: ignore[method-assign]
    models.FakeCrawler.as_dict = _originals["as_dict"]  # type: ignore[method-assign]
    for name, key in (("get_crawler_metrics", "metrics"), ("update_crawler", "update")):
        if _originals[key] is None:
            delattr(responses.GlueResponse, name)
        else:
            setattr(responses.GlueResponse, name, _originals[key])
    _originals.clear()


# ---- executor protocol ----------------------------------------------------------------------------
#: Runtimes started in this process; moto's backends are shared, the latest running one is called back.
_runtimes: list[LocalRuntime] = []


def install(runtime: LocalRuntime) -> None:
    global _state
    _runtimes.append(runtime)
    if _state is None:
        _state = _State(endpoint=runtime.endpoint, region=runtime.settings.region)
    else:
        _state.endpoint = runtime.endpoint
    _patch()


def _join_all(state: _State, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    with state.lock:
        threads = [thread for thread, _ in state.threads.values()]
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return not any(t.is_alive() for t in threads)


def wait_idle(runtime: LocalRuntime | None = None, timeout: float | None = 300.0) -> bool:
    """Block until no crawl is running; False on timeout."""
    state = _state
    return True if state is None else _join_all(state, 300.0 if timeout is None else timeout)


def _cancel_all(state: _State) -> None:
    with state.lock:
        for _, cancel in state.threads.values():
            cancel.set()


def shutdown(runtime: LocalRuntime) -> None:
    """Cancel running crawls, wait for their threads, restore moto (when the last runtime stops)."""
    global _state
    _runtimes[:] = [r for r in _runtimes if r is not runtime]
    if _runtimes:
        if _state is not None:
            _state.endpoint = _runtimes[-1].endpoint
        return
    state, _state = _state, None
    if state is not None:
        _cancel_all(state)
        state.stopping.set()
        if not _join_all(state, 30.0):
            log.warning("crawls still running at shutdown")
    _unpatch()


def reset(runtime: LocalRuntime) -> None:
    """After a moto reset the crawlers are gone: let running crawls end and forget their history."""
    state = _state
    if state is None:
        return
    _cancel_all(state)
    state.stopping.set()
    _join_all(state, 30.0)
    state.stopping.clear()
    with state.lock:
        state.threads.clear()
        state.history.clear()
