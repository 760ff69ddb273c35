"""Lambda entry point (``handler.handler``): S3 event in, Parquet + Glue partition out, bad files quarantined.

Thin edge around :mod:`category_reference` (the pure transform and every layout rule). Configuration is
read from environment variables on each call (see ``category_reference.ENV_VARS``); the AWS endpoint comes
from the standard ``AWS_ENDPOINT_URL`` that boto3 and awswrangler honour, so this code does not know
whether it runs on AWS or on the local runtime. Only boto3, awswrangler and pyarrow are imported: the AWS
SDK for pandas managed layer provides them.

Per record: bad input is quarantined and reported with ``status="quarantined"`` and
``reason="<code>: <detail>"`` (codes: ``category_reference.REASONS``), because retrying it helps nobody.
AWS errors are collected, the other records still processed, and the invocation then raises so Lambda
retries it (every step is idempotent) and finally hands the event to the on-failure destination.

Return value (JSON): ``{"records": [{bucket, key, status, region, rows, output, reason, quarantine_key}],
"converted": n, "quarantined": n}``; ``output`` is the Parquet object's ``s3://`` URI.
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import BotoCoreError, ClientError
from category_reference import (
    GLUE_COLUMN_TYPES,
    GLUE_PARTITION_TYPES,
    PARTITION_COLUMN,
    Config,
    Rejected,
    S3Object,
    error_report,
    parse_event,
    region_from_key,
    transform,
)

log = logging.getLogger("json_to_parquet")

#: Errors that say nothing about the file (AWS API errors, a body cut short): the event is retried.
_RETRYABLE = (BotoCoreError, ClientError, OSError)


class RecordsFailed(RuntimeError):
    """Some records hit AWS errors; raised after all records were tried so Lambda retries the event."""


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Convert every record of the event; see the module docstring for the failure contract."""
    _ensure_logging()
    config = Config.from_environ(os.environ)
    request_id = str(getattr(context, "aws_request_id", "") or uuid.uuid4())
    objects = parse_event(event)
    session = _session()
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    for source in objects:
        try:
            result = process_record(source, config=config, session=session, request_id=request_id)
        except _RETRYABLE as error:
            failures.append(f"s3://{source.bucket}/{source.key}: {error}")
            _log(
                "record_failed",
                logging.ERROR,
                request_id=request_id,
                bucket=source.bucket,
                key=source.key,
                error=f"{type(error).__name__}: {error}",
            )
            continue
        results.append(result)
        level = logging.INFO if result["status"] == "converted" else logging.WARNING
        _log("record_processed", level, request_id=request_id, **result)
    summary = {
        "records": results,
        "converted": sum(r["status"] == "converted" for r in results),
        "quarantined": sum(r["status"] == "quarantined" for r in results),
    }
    _log(
        "invocation_done",
        logging.INFO,
        request_id=request_id,
        converted=summary["converted"],
        quarantined=summary["quarantined"],
        failed=len(failures),
    )
    if failures:
        raise RecordsFailed(f"{len(failures)} of {len(objects)} record(s) failed: " + "; ".join(failures))
    return summary


_SESSION: boto3.Session | None = None


def _session() -> boto3.Session:
    """One session per container: it caches the service models (~1 s to load per new session)."""
    global _SESSION
    with _LOCK:
        if _SESSION is None:
            _SESSION = boto3.Session()
        return _SESSION


_CLIENTS: dict[tuple[str, str | None, str | None], Any] = {}
_LOCK = threading.Lock()


def _client(session: boto3.Session, service: str) -> Any:
    """A client reused across warm invocations (creating one costs ~50 ms), per endpoint as set now."""
    key = (service, os.environ.get("AWS_ENDPOINT_URL"), session.region_name)
    with _LOCK:  # sessions are not thread-safe; clients are
        if key not in _CLIENTS:
            _CLIENTS[key] = session.client(service)  # type: ignore[call-overload]
        return _CLIENTS[key]


def process_record(
    source: S3Object, *, config: Config, session: boto3.Session, request_id: str
) -> dict[str, Any]:
    """Convert one object, or quarantine it. Raises only :data:`_RETRYABLE` errors (AWS, I/O)."""
    result: dict[str, Any] = {
        "bucket": source.bucket,
        "key": source.key,
        "status": "quarantined",
        "region": None,
        "rows": 0,
        "output": None,
        "reason": None,
        "quarantine_key": None,
    }
    if source.bucket == config.raw_bucket and source.key.startswith(config.quarantine_prefix):
        # Never re-process (and re-quarantine) quarantined copies, whatever the trigger says.
        result["reason"] = "in_quarantine: object is under the quarantine prefix; not processed"
        return result
    s3 = _client(session, "s3")
    now = datetime.now(UTC)
    try:
        region = region_from_key(source.key, config.allowed_regions)
        result["region"] = region
        body = _get_object(s3, source)
        # glibc's allocator hands large freed blocks (the JSON parser's scratch space) back to the OS at
        # once; pyarrow's default pool (mimalloc) keeps them: ~35 MB more peak on a 50 MB file.
        table = transform(
            body, key=source.key, region=region, ingested_at=now, memory_pool=pa.system_memory_pool()
        )
    except Rejected as rejected:
        result["reason"] = str(rejected)
        result["quarantine_key"] = quarantine(
            s3, source, rejected, config=config, request_id=request_id, at=now
        )
        return result
    del body
    result["output"] = write_partition(table, region, config=config, session=session, s3=s3)
    result["rows"] = table.num_rows
    result["status"] = "converted"
    return result


def _get_object(s3: Any, source: S3Object) -> bytearray:
    """The object's bytes in one buffer of its exact size.

    ``StreamingBody.read()`` joins the chunks it read, holding the body twice at its peak; filling a
    buffer sized from ``ContentLength`` keeps one copy (the biggest allocation of a run on large files).
    """
    extra = {"VersionId": source.version_id} if source.version_id else {}
    response = s3.get_object(Bucket=source.bucket, Key=source.key, **extra)
    size = int(response["ContentLength"])
    buffer = bytearray(size)
    view = memoryview(buffer)
    filled = 0
    for chunk in response["Body"].iter_chunks(chunk_size=1024 * 1024):
        if filled + len(chunk) > size:
            raise OSError(f"s3://{source.bucket}/{source.key}: more bytes than its ContentLength {size}")
        view[filled : filled + len(chunk)] = chunk
        filled += len(chunk)
    if filled != size:
        raise OSError(f"s3://{source.bucket}/{source.key}: read {filled} of {size} bytes")
    return buffer


def write_partition(table: pa.Table, region: str, *, config: Config, session: boto3.Session, s3: Any) -> str:
    """Replace the region's partition with one Parquet object and make sure the catalog knows it.

    The object name is fixed, so the PUT itself replaces the previous data atomically; objects with other
    names left in the partition (older layouts, manual copies) are deleted afterwards. Readers therefore
    never see an empty or doubled partition, and concurrent runs for different regions are independent.
    """
    buffer = io.BytesIO()
    pq.write_table(table.drop_columns([PARTITION_COLUMN]), buffer, compression="snappy")
    key = config.output_key(region)
    s3.put_object(
        Bucket=config.processed_bucket,
        Key=key,
        Body=buffer.getvalue(),
        ContentType="application/vnd.apache.parquet",
    )
    partition_prefix = key.rsplit("/", 1)[0] + "/"
    paginator = s3.get_paginator("list_objects_v2")
    stale: list[Any] = [
        {"Key": obj["Key"]}
        for page in paginator.paginate(Bucket=config.processed_bucket, Prefix=partition_prefix)
        for obj in page.get("Contents", [])
        if obj["Key"] != key
    ]
    for start in range(0, len(stale), 1000):
        s3.delete_objects(Bucket=config.processed_bucket, Delete={"Objects": stale[start : start + 1000]})
    register_partition(region, config=config, session=session)
    return f"s3://{config.processed_bucket}/{key}"


def register_partition(region: str, *, config: Config, session: boto3.Session) -> None:
    """Make sure the Glue table and the region's partition exist (they point at fixed locations)."""
    import awswrangler as wr  # the layer's biggest import: only when there is something to register

    glue = _client(session, "glue")
    try:
        glue.get_partition(
            DatabaseName=config.glue_database, TableName=config.glue_table, PartitionValues=[region]
        )
        return  # the usual re-run: nothing to change in the catalog
    except glue.exceptions.EntityNotFoundException:
        pass
    # awswrangler creates clients from the shared session, which is not thread-safe: one caller at a time.
    with _LOCK:
        # mode="append" creates the table once and leaves an existing one (and its partitions) alone; a
        # concurrent creator's AlreadyExists is swallowed by awswrangler, and existing partitions are kept.
        wr.catalog.create_parquet_table(
            database=config.glue_database,
            table=config.glue_table,
            path=config.table_uri,
            columns_types=GLUE_COLUMN_TYPES,
            partitions_types=GLUE_PARTITION_TYPES,
            compression="snappy",
            description="YouTube video categories per region, from XX_category_id.json (json_to_parquet)",
            mode="append",
            boto3_session=session,
        )
        wr.catalog.add_parquet_partitions(
            database=config.glue_database,
            table=config.glue_table,
            partitions_values={config.partition_uri(region): [region]},
            compression="snappy",
            boto3_session=session,
        )


def quarantine(
    s3: Any, source: S3Object, rejected: Rejected, *, config: Config, request_id: str, at: datetime
) -> str:
    """Copy the bad object and store an error report beside it; the raw object stays untouched."""
    copy_key, report_key = config.quarantine_keys(source.key, request_id, at)
    copy_source: dict[str, str] = {"Bucket": source.bucket, "Key": source.key}
    if source.version_id:
        copy_source["VersionId"] = source.version_id
    s3.copy_object(Bucket=config.raw_bucket, Key=copy_key, CopySource=copy_source)
    report = error_report(
        rejected=rejected,
        source=source,
        request_id=request_id,
        at=at,
        copy_uri=f"s3://{config.raw_bucket}/{copy_key}",
    )
    s3.put_object(
        Bucket=config.raw_bucket,
        Key=report_key,
        Body=json.dumps(report, indent=2).encode(),
        ContentType="application/json",
    )
    return copy_key


def _log(event: str, level: int, **fields: Any) -> None:
    """One JSON object per line, so CloudWatch Logs Insights can filter on any field."""
    log.log(level, json.dumps({"event": event, "level": logging.getLevelName(level), **fields}, default=str))


def _ensure_logging() -> None:
    # The Lambda runtime installs a root handler; the local runtime's subprocess and tests may not.
    if not logging.getLogger().handlers and not log.handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    log.setLevel(logging.INFO)
