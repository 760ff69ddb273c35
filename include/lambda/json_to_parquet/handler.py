"""Lambda entry point (``handler.handler``): S3 event in, Parquet + Glue partition out, bad files quarantined.

Thin edge around the pure modules: :mod:`category_reference` (the transform and every layout rule) and
:mod:`partition_order` (which source a partition keeps), and the lake's contracts shipped beside them in
``youtube_lake/`` (the event and the result: ``invocation``; arrival: ``landing``; verdict documents:
``ledger``). Configuration is read from environment variables on each call (``function_config.ENV_VARS``);
the AWS endpoint comes from the standard ``AWS_ENDPOINT_URL`` that boto3 and awswrangler honour, so this
code does not know whether it runs on AWS or on the local runtime. Only boto3, awswrangler and pyarrow are
imported besides the package's own modules: the AWS SDK for pandas managed layer provides them.

Per record (``docs/daily-pipeline.md``, "Ordered Lambda"):

1. the key's **current** version is what counts: a record naming another version (``versionId``, or
   ``eTag`` on an unversioned bucket) is answered ``superseded`` and changes nothing — its own event, or
   the current version's, does the work;
2. the region's partition holds one Parquet object whose S3 metadata names its source; it is replaced
   only by a source newer in arrival order, with a conditional PUT (``If-Match`` its ETag, or
   ``If-None-Match: *``), and the decision is taken again whenever S3 answers 412/409 — so of two
   concurrent invocations the older source never wins. An event for the version the partition already
   holds is a no-op that says so (``converted`` with reason ``unchanged: …``);
3. bad input — whatever the body: ``null``, a scalar, deep nesting, bytes that are not UTF-8 — is
   quarantined (a copy plus an error report; raw is never touched) and answered ``quarantined`` with
   ``reason="<code>: <detail>"`` (codes: ``rejection.REASONS``), because retrying helps nobody;
4. every record that names a landing object version gets a ledger document (``processed``,
   ``quarantined`` or ``superseded``), written after the data it describes.

AWS errors are collected, the other records still processed, and the invocation then raises so Lambda
retries it (every step is idempotent) and finally hands the event to the on-failure destination.

Return value: ``youtube_lake.invocation.LambdaResult`` as JSON (``{"records": [{bucket, key, version_id,
etag, status, region, rows, output, reason, quarantine_key}], "converted": n, "quarantined": n,
"superseded": n}``; ``output`` is the Parquet object's ``s3://`` URI), read back by Airflow with
``LambdaResult.from_json``.
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
    GZIP_SUFFIX,
    check_category_count,
    check_category_drop,
    gunzip,
    region_from_key,
    transform,
)
from function_config import GLUE_COLUMN_TYPES, GLUE_PARTITION_TYPES, PARTITION_COLUMN, Config
from partition_order import (
    MAX_ENCODED_KEY,
    META_ROWS,
    Decision,
    Source,
    decide,
    encode_key,
    source_from_metadata,
    source_metadata,
)
from record import Record, Stored, Version
from rejection import Rejected, error_report

from youtube_lake import landing, ledger
from youtube_lake.invocation import (
    CONVERTED,
    QUARANTINED,
    SUPERSEDED,
    LambdaResult,
    RecordResult,
    RunInfo,
    S3Object,
    parse_event,
    parse_run,
)
from youtube_lake.uris import s3_uri

log = logging.getLogger("json_to_parquet")

#: Times one record decides again after a conditional PUT lost a race (each loss means another
#: invocation wrote in between; reserved concurrency bounds how many can).
MAX_WRITE_ATTEMPTS = 20
#: CopyObject copies at most 5 GB; a larger rejected object is reported, not copied (raw keeps it).
MAX_COPY_BYTES = 5 * 1024**3
#: What S3 answers when a conditional write loses (412), races another one (409), or its If-Match object
#: vanished (404).
_WRITE_CONFLICTS = {"PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey", "412", "409"}


class RecordsFailed(RuntimeError):
    """Some records hit AWS errors; raised after all records were tried so Lambda retries the event."""


class WriteConflict(RuntimeError):
    """Conditional writes kept losing: retried like an AWS error (the state will have settled)."""


#: Errors that say nothing about the file (AWS API errors, a body cut short): the event is retried.
_RETRYABLE = (BotoCoreError, ClientError, OSError, WriteConflict)


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Convert every record of the event; see the module docstring for the failure contract."""
    _ensure_logging()
    config = Config.from_environ(os.environ)
    request_id = str(getattr(context, "aws_request_id", "") or uuid.uuid4())
    objects = parse_event(event)
    run = parse_run(event, request_id)
    session = _session()
    results: list[RecordResult] = []
    failures: list[str] = []
    for source in objects:
        try:
            result = process_record(source, config=config, session=session, request_id=request_id, run=run)
        except _RETRYABLE as error:
            failures.append(f"s3://{source.bucket}/{source.key}: {type(error).__name__}: {error}")
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
        level = logging.WARNING if result.status == QUARANTINED else logging.INFO
        _log("record_processed", level, request_id=request_id, run_id=run.run_id, **result.to_json())
    summary = LambdaResult(tuple(results)).to_json()
    _log(
        "invocation_done",
        logging.INFO,
        request_id=request_id,
        run_id=run.run_id,
        **{k: v for k, v in summary.items() if k != "records"},
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


# ---- one record ---------------------------------------------------------------------------------------
def process_record(
    source: S3Object, *, config: Config, session: boto3.Session, request_id: str, run: RunInfo
) -> RecordResult:
    """Convert one object, quarantine it or answer that it is superseded.

    Raises only :data:`_RETRYABLE` errors (AWS, I/O, a write race that does not settle).
    """
    record = Record(source, config, run, request_id, datetime.now(UTC))
    if source.bucket == config.raw_bucket and source.key.startswith(config.quarantine_prefix):
        # Never re-process (and re-quarantine) quarantined copies, whatever the trigger says.
        return record.answer(reason="in_quarantine: object is under the quarantine prefix; not processed")
    s3 = _client(session, "s3")
    current = _head(s3, source.bucket, source.key)
    if current is None or not current.named_by(source):
        return _superseded_version(s3, record, current)
    record.about(current)
    try:
        _check_key(record)
    except Rejected as rejected:
        return _quarantine(s3, record, rejected)
    assert record.region is not None
    candidate = record.candidate()
    table: pa.Table | None = None
    parquet: bytes | None = None
    for _ in range(MAX_WRITE_ATTEMPTS):
        stored = _read_stored(s3, config, record.region)
        decision = decide(candidate, stored.source if stored else None)
        if decision is Decision.CHECK_CURRENT:
            # Another version of this key is stored: S3's version order decides, i.e. is ours still current?
            now_current = _head(s3, source.bucket, source.key)
            if now_current != current:
                return _superseded(s3, record, _not_current(source, current.describe(), now_current))
            decision = Decision.WRITE
        if decision is Decision.UNCHANGED:
            assert stored is not None
            return _unchanged(s3, session, record, stored)
        if decision is Decision.OLDER:
            assert stored is not None and stored.source is not None
            return _superseded(
                s3,
                record,
                f"older_than_stored: {PARTITION_COLUMN}={record.region} holds {stored.source.describe()}, "
                f"newer in arrival order than {candidate.describe()}",
            )
        try:
            if table is None:
                table = _convert(s3, record)
            if stored is not None:
                holder = stored.source.describe() if stored.source else "an object without source metadata"
                check_category_drop(
                    stored.ids,
                    table.column("category_id").to_pylist(),
                    threshold=config.category_drop_threshold,
                    region=record.region,
                    holder=holder,
                )
            # After the drop check, which names what the region holds; this one also guards a first file.
            check_category_count(table.num_rows, minimum=config.min_categories, region=record.region)
        except Rejected as rejected:
            return _quarantine(s3, record, rejected)
        if parquet is None:
            parquet = _parquet(table)
        if _put_partition(s3, config, record.region, parquet, table.num_rows, candidate, stored):
            output = _finish_partition(s3, session, config, record.region)
            result = record.answer(status=CONVERTED, rows=table.num_rows, output=output)
            _write_ledger(
                s3, config, record.ledger(ledger.PROCESSED, None, rows=table.num_rows, output=output)
            )
            return result
    raise WriteConflict(
        f"{PARTITION_COLUMN}={record.region}: {MAX_WRITE_ATTEMPTS} conditional writes lost to concurrent ones"
    )


def _check_key(record: Record) -> None:
    """What the key alone tells: region, landing date, metadata size (Rejected)."""
    key = record.source.key
    region_from_key(key, record.config.allowed_regions)
    try:
        landing.landing_date(key, record.config.landing_prefix)
    except landing.LandingDateError as error:
        raise Rejected("bad_landing_date", str(error)) from None
    encoded = len(encode_key(key))  # the processed object's metadata names the key
    if encoded > MAX_ENCODED_KEY:
        raise Rejected("key_too_long", f"{encoded} characters percent-encoded; at most {MAX_ENCODED_KEY}")


def _convert(s3: Any, record: Record) -> pa.Table:
    """The pinned version's rows, or Rejected. Any other failure of the pure steps on this input is a
    verdict too (``unreadable``): the Lambda never dies on input."""
    assert record.version is not None and record.region is not None
    version, limit = record.version, record.config.max_body_bytes
    if version.size > limit:
        raise Rejected("too_large", f"{version.size} bytes; MAX_BODY_BYTES is {limit}")
    body = _get_object(s3, record.source, version)
    try:
        if record.source.key.endswith(GZIP_SUFFIX):
            body = gunzip(body, limit=limit)
        # glibc's allocator hands large freed blocks (the JSON parser's scratch space) back to the OS at
        # once; pyarrow's default pool (mimalloc) keeps them: ~35 MB more peak on a 50 MB file.
        return transform(
            body,
            key=record.source.key,
            region=record.region,
            ingested_at=record.now,
            memory_pool=pa.system_memory_pool(),
        )
    except Rejected:
        raise
    except (MemoryError, RecursionError, ValueError, TypeError, pa.ArrowException) as error:
        log.exception(
            "unexpected failure of the transform on s3://%s/%s", record.source.bucket, record.source.key
        )
        raise Rejected("unreadable", f"{type(error).__name__}: {error}") from None


def _head(s3: Any, bucket: str, key: str, version_id: str | None = None) -> Version | None:
    """HEAD of the key's current version (or of ``version_id``); None when there is none (404)."""
    extra = {"VersionId": version_id} if version_id else {}
    missing = {"404", "NoSuchKey", "NoSuchVersion"} | ({"400", "InvalidArgument"} if version_id else set())
    try:
        return Version.from_head(s3.head_object(Bucket=bucket, Key=key, **extra))
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Code")) in missing:
            return None
        raise


def _get_object(s3: Any, source: S3Object, version: Version) -> bytearray:
    """The version's bytes in one buffer of its exact size.

    ``StreamingBody.read()`` joins the chunks it read, holding the body twice at its peak; filling a
    buffer sized from ``ContentLength`` keeps one copy (the biggest allocation of a run on large files).
    The version is pinned (VersionId, or If-Match on an unversioned bucket): what was decided on is read.
    """
    extra = {"VersionId": version.version_id} if version.version_id else {"IfMatch": version.etag}
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


def _read_stored(s3: Any, config: Config, region: str) -> Stored | None:
    """The partition's object (metadata, ETag, category ids), or None when there is none."""
    key = config.output_key(region)
    try:
        response = s3.get_object(Bucket=config.processed_bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    body = response["Body"].read()
    metadata = response.get("Metadata") or {}
    try:
        ids = pq.read_table(io.BytesIO(body), columns=["category_id"]).column("category_id").to_pylist()
    except (pa.ArrowException, KeyError) as error:
        # Not ours (another tool's file under the fixed name): it is replaced, without the drop check.
        log.warning("s3://%s/%s is not a readable category file: %s", config.processed_bucket, key, error)
        ids = []
    rows = metadata.get(META_ROWS)
    return Stored(
        etag=str(response["ETag"]).strip('"'),
        source=source_from_metadata(metadata),
        ids=ids,
        rows=int(rows) if rows and rows.isdigit() else None,
    )


def _parquet(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table.drop_columns([PARTITION_COLUMN]), buffer, compression="snappy")
    return buffer.getvalue()


def _put_partition(
    s3: Any, config: Config, region: str, parquet: bytes, rows: int, source: Source, stored: Stored | None
) -> bool:
    """Write the region's object if it is still what was decided on; False when another write won."""
    condition = {"IfMatch": stored.etag} if stored is not None else {"IfNoneMatch": "*"}
    try:
        s3.put_object(
            Bucket=config.processed_bucket,
            Key=config.output_key(region),
            Body=parquet,
            ContentType="application/vnd.apache.parquet",
            Metadata=source_metadata(source, rows),
            **condition,
        )
    except ClientError as error:
        if _is_write_conflict(error):
            log.info(
                "conditional write of %s=%s lost a race (%s); deciding again", PARTITION_COLUMN, region, error
            )
            return False
        raise
    return True


def _is_write_conflict(error: ClientError) -> bool:
    code = str(error.response.get("Error", {}).get("Code"))
    status = str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
    return code in _WRITE_CONFLICTS or status in ("412", "409")


def _finish_partition(s3: Any, session: boto3.Session, config: Config, region: str) -> str:
    """Remove other objects from the partition folder (older layouts, manual copies) and make sure the
    catalog knows the partition; idempotent, so a redelivered event completes an interrupted run."""
    key = config.output_key(region)
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
    return s3_uri(config.processed_bucket, key)


def _unchanged(s3: Any, session: boto3.Session, record: Record, stored: Stored) -> RecordResult:
    """The partition already holds this version (a redelivered event, a scheduled re-send): no rewrite."""
    assert record.region is not None
    output = _finish_partition(s3, session, record.config, record.region)
    result = record.answer(
        status=CONVERTED,
        rows=stored.rows or len(stored.ids),
        output=output,
        reason=f"unchanged: {PARTITION_COLUMN}={record.region} already holds this version; nothing written",
    )
    # The first processing wrote this document; written here only if that one crashed before it did.
    _write_ledger(
        s3,
        record.config,
        record.ledger(ledger.PROCESSED, None, rows=result.rows, output=output),
        keep=True,
    )
    return record.result


def _superseded(s3: Any, record: Record, reason: str) -> RecordResult:
    result = record.answer(status=SUPERSEDED, reason=reason, rows=0)
    # Never over a processed or quarantined verdict of the same (key, ETag): superseded is the weakest.
    _write_ledger(s3, record.config, record.ledger(ledger.SUPERSEDED, reason), keep=True)
    return result


def _superseded_version(s3: Any, record: Record, current: Version | None) -> RecordResult:
    """The record names a version that is not the key's current one (or the key has none)."""
    source = record.source
    if current is None and not (source.version_id or source.etag):
        # Nothing names a version and none exists: an AWS-side problem (a key deleted, a wrong bucket).
        raise OSError(f"s3://{source.bucket}/{source.key}: NoSuchKey: the key does not exist")
    named = _head(s3, source.bucket, source.key, source.version_id) if source.version_id else None
    if named is not None:
        record.about(named)
    what = named.describe() if named else f"version {source.version_id or source.etag}"
    return _superseded(s3, record, _not_current(source, what, current))


def _not_current(source: S3Object, what: str, newest: Version | None) -> str:
    return (
        f"not_current: {what} of s3://{source.bucket}/{source.key} is not the key's newest version; the "
        f"newest is {newest.describe() if newest else 'none (the key is deleted)'}"
    )


def _quarantine(s3: Any, record: Record, rejected: Rejected) -> RecordResult:
    """Copy the bad version and store an error report beside it; the raw object stays untouched."""
    config, source, version = record.config, record.source, record.version
    assert version is not None
    copy_key, report_key = config.quarantine_keys(source.key, record.request_id, record.now)
    copied = version.size <= MAX_COPY_BYTES
    if copied:
        copy_source: dict[str, str] = {"Bucket": source.bucket, "Key": source.key}
        if version.version_id:
            copy_source["VersionId"] = version.version_id
        s3.copy_object(Bucket=config.raw_bucket, Key=copy_key, CopySource=copy_source)
    report = error_report(
        rejected=rejected,
        source=S3Object(source.bucket, source.key, version.version_id, version.etag),
        request_id=record.request_id,
        at=record.now,
        copy_uri=s3_uri(config.raw_bucket, copy_key) if copied else None,
    )
    s3.put_object(
        Bucket=config.raw_bucket,
        Key=report_key,
        Body=json.dumps(report, indent=2).encode(),
        ContentType="application/json",
    )
    quarantine_key = copy_key if copied else report_key
    result = record.answer(status=QUARANTINED, reason=str(rejected), rows=0, quarantine_key=quarantine_key)
    _write_ledger(
        s3,
        config,
        record.ledger(ledger.QUARANTINED, str(rejected), output=s3_uri(config.raw_bucket, quarantine_key)),
    )
    return result


def _write_ledger(s3: Any, config: Config, entry: tuple[str, bytes] | None, *, keep: bool = False) -> None:
    """Store a ledger document; ``keep`` leaves an existing document of the same (key, ETag) in place."""
    if entry is None:
        return
    key, body = entry
    condition = {"IfNoneMatch": "*"} if keep else {}
    try:
        s3.put_object(
            Bucket=config.ledger_bucket, Key=key, Body=body, ContentType="application/json", **condition
        )
    except ClientError as error:
        if not (keep and _is_write_conflict(error)):
            raise


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


def _log(event: str, level: int, **fields: Any) -> None:
    """One JSON object per line, so CloudWatch Logs Insights can filter on any field."""
    log.log(level, json.dumps({"event": event, "level": logging.getLevelName(level), **fields}, default=str))


def _ensure_logging() -> None:
    # The Lambda runtime installs a root handler; the local runtime's subprocess and tests may not.
    if not logging.getLogger().handlers and not log.handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    log.setLevel(logging.INFO)
