"""One record's way through the Lambda: decide, convert, quarantine or answer superseded.

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

The AWS calls are :mod:`record_io`'s, the pure rules :mod:`category_reference`'s and :mod:`partition_order`'s;
this module only sequences them. Only :data:`RETRYABLE` errors leave it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import boto3
import pyarrow as pa
from aws_clients import cached_client
from botocore.exceptions import BotoCoreError, ClientError
from category_reference import (
    GZIP_SUFFIX,
    check_category_count,
    check_category_drop,
    gunzip,
    region_from_key,
    transform,
)
from function_config import PARTITION_COLUMN, Config
from partition_order import MAX_ENCODED_KEY, Decision, decide, encode_key
from record import Record, Stored, Version
from record_io import (
    finish_partition,
    get_version_bytes,
    head,
    parquet_bytes,
    put_partition,
    read_stored,
    write_ledger,
)
from rejection import Rejected, error_report

from youtube_lake import landing, ledger
from youtube_lake.invocation import CONVERTED, QUARANTINED, SUPERSEDED, RecordResult, RunInfo, S3Object
from youtube_lake.uris import s3_uri

log = logging.getLogger("json_to_parquet")

#: Times one record decides again after a conditional PUT lost a race (each loss means another
#: invocation wrote in between; reserved concurrency bounds how many can).
MAX_WRITE_ATTEMPTS = 20
#: CopyObject copies at most 5 GB; a larger rejected object is reported, not copied (raw keeps it).
MAX_COPY_BYTES = 5 * 1024**3


class WriteConflict(RuntimeError):
    """Conditional writes kept losing: retried like an AWS error (the state will have settled)."""


#: Errors that say nothing about the file (AWS API errors, a body cut short): the event is retried.
RETRYABLE = (BotoCoreError, ClientError, OSError, WriteConflict)


def process_record(
    source: S3Object, *, config: Config, session: boto3.Session, request_id: str, run: RunInfo
) -> RecordResult:
    """Convert one object, quarantine it or answer that it is superseded.

    Raises only :data:`RETRYABLE` errors (AWS, I/O, a write race that does not settle).
    """
    record = Record(source, config, run, request_id, datetime.now(UTC))
    if source.bucket == config.raw_bucket and source.key.startswith(config.quarantine_prefix):
        # Never re-process (and re-quarantine) quarantined copies, whatever the trigger says.
        return record.answer(reason="in_quarantine: object is under the quarantine prefix; not processed")
    s3 = cached_client(session, "s3")
    current = head(s3, source.bucket, source.key)
    if current is None or not current.named_by(source):
        return _superseded_version(s3, record, current)
    record.about(current)
    try:
        _check_key(record)
    except Rejected as rejected:
        return _quarantine(s3, record, rejected)
    return _decide_and_write(s3, session, record, current)


def _decide_and_write(s3: Any, session: boto3.Session, record: Record, current: Version) -> RecordResult:
    """Compare with what the partition holds and write it if newer, deciding again after a lost race."""
    config, source = record.config, record.source
    assert record.region is not None
    candidate = record.candidate()
    table: pa.Table | None = None
    parquet: bytes | None = None
    for _ in range(MAX_WRITE_ATTEMPTS):
        stored = read_stored(s3, config, record.region)
        decision = decide(candidate, stored.source if stored else None)
        if decision is Decision.CHECK_CURRENT:
            # Another version of this key is stored: S3's version order decides, i.e. is ours still current?
            now_current = head(s3, source.bucket, source.key)
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
            table = _checked_table(s3, record, table, stored)
        except Rejected as rejected:
            return _quarantine(s3, record, rejected)
        if parquet is None:
            parquet = parquet_bytes(table)
        if put_partition(s3, config, record.region, parquet, table.num_rows, candidate, stored):
            output = finish_partition(s3, session, config, record.region)
            result = record.answer(status=CONVERTED, rows=table.num_rows, output=output)
            write_ledger(
                s3, config, record.ledger(ledger.PROCESSED, None, rows=table.num_rows, output=output)
            )
            return result
    raise WriteConflict(
        f"{PARTITION_COLUMN}={record.region}: {MAX_WRITE_ATTEMPTS} conditional writes lost to concurrent ones"
    )


def _checked_table(s3: Any, record: Record, table: pa.Table | None, stored: Stored | None) -> pa.Table:
    """The record's rows (converted on the first attempt only), checked against what the partition holds."""
    assert record.region is not None
    if table is None:
        table = _convert(s3, record)
    if stored is not None:
        holder = stored.source.describe() if stored.source else "an object without source metadata"
        check_category_drop(
            stored.ids,
            table.column("category_id").to_pylist(),
            threshold=record.config.category_drop_threshold,
            region=record.region,
            holder=holder,
        )
    # After the drop check, which names what the region holds; this one also guards a first file.
    check_category_count(table.num_rows, minimum=record.config.min_categories, region=record.region)
    return table


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
    body = get_version_bytes(s3, record.source, version)
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


def _unchanged(s3: Any, session: boto3.Session, record: Record, stored: Stored) -> RecordResult:
    """The partition already holds this version (a redelivered event, a scheduled re-send): no rewrite."""
    assert record.region is not None
    output = finish_partition(s3, session, record.config, record.region)
    result = record.answer(
        status=CONVERTED,
        rows=stored.rows or len(stored.ids),
        output=output,
        reason=f"unchanged: {PARTITION_COLUMN}={record.region} already holds this version; nothing written",
    )
    # The first processing wrote this document; written here only if that one crashed before it did.
    write_ledger(
        s3,
        record.config,
        record.ledger(ledger.PROCESSED, None, rows=result.rows, output=output),
        keep=True,
    )
    return record.result


def _superseded(s3: Any, record: Record, reason: str) -> RecordResult:
    result = record.answer(status=SUPERSEDED, reason=reason, rows=0)
    # Never over a processed or quarantined verdict of the same (key, ETag): superseded is the weakest.
    write_ledger(s3, record.config, record.ledger(ledger.SUPERSEDED, reason), keep=True)
    return result


def _superseded_version(s3: Any, record: Record, current: Version | None) -> RecordResult:
    """The record names a version that is not the key's current one (or the key has none)."""
    source = record.source
    if current is None and not (source.version_id or source.etag):
        # Nothing names a version and none exists: an AWS-side problem (a key deleted, a wrong bucket).
        raise OSError(f"s3://{source.bucket}/{source.key}: NoSuchKey: the key does not exist")
    named = head(s3, source.bucket, source.key, source.version_id) if source.version_id else None
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
    write_ledger(
        s3,
        config,
        record.ledger(ledger.QUARANTINED, str(rejected), output=s3_uri(config.raw_bucket, quarantine_key)),
    )
    return result
