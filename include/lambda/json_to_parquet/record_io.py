"""The AWS calls one record makes: the raw object version (HEAD, GET), the region's partition object
(read, conditional PUT, clean-up), the Glue catalog and the ledger documents.

Kept apart from :mod:`conversion` (what to do with a record) so each file has one job; every function
takes the S3 client it uses, so the endpoint (AWS or the local runtime) is the caller's business.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
from aws_clients import LOCK, cached_client
from botocore.exceptions import ClientError
from function_config import GLUE_COLUMN_TYPES, GLUE_PARTITION_TYPES, PARTITION_COLUMN, Config
from partition_order import META_ROWS, Source, source_from_metadata, source_metadata
from record import Stored, Version

from youtube_lake.invocation import S3Object
from youtube_lake.uris import s3_uri

log = logging.getLogger("json_to_parquet")

#: What S3 answers when a conditional write loses (412), races another one (409), or its If-Match object
#: vanished (404).
_WRITE_CONFLICTS = {"PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey", "412", "409"}


def head(s3: Any, bucket: str, key: str, version_id: str | None = None) -> Version | None:
    """HEAD of the key's current version (or of ``version_id``); None when there is none (404)."""
    extra = {"VersionId": version_id} if version_id else {}
    missing = {"404", "NoSuchKey", "NoSuchVersion"} | ({"400", "InvalidArgument"} if version_id else set())
    try:
        return Version.from_head(s3.head_object(Bucket=bucket, Key=key, **extra))
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Code")) in missing:
            return None
        raise


def get_version_bytes(s3: Any, source: S3Object, version: Version) -> bytearray:
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


def read_stored(s3: Any, config: Config, region: str) -> Stored | None:
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


def parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table.drop_columns([PARTITION_COLUMN]), buffer, compression="snappy")
    return buffer.getvalue()


def put_partition(
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
        if is_write_conflict(error):
            log.info(
                "conditional write of %s=%s lost a race (%s); deciding again", PARTITION_COLUMN, region, error
            )
            return False
        raise
    return True


def is_write_conflict(error: ClientError) -> bool:
    code = str(error.response.get("Error", {}).get("Code"))
    status = str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
    return code in _WRITE_CONFLICTS or status in ("412", "409")


def finish_partition(s3: Any, session: boto3.Session, config: Config, region: str) -> str:
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


def write_ledger(s3: Any, config: Config, entry: tuple[str, bytes] | None, *, keep: bool = False) -> None:
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
        if not (keep and is_write_conflict(error)):
            raise


def register_partition(region: str, *, config: Config, session: boto3.Session) -> None:
    """Make sure the Glue table and the region's partition exist (they point at fixed locations)."""
    import awswrangler as wr  # the layer's biggest import: only when there is something to register

    glue = cached_client(session, "glue")
    try:
        glue.get_partition(
            DatabaseName=config.glue_database, TableName=config.glue_table, PartitionValues=[region]
        )
        return  # the usual re-run: nothing to change in the catalog
    except glue.exceptions.EntityNotFoundException:
        pass
    # awswrangler creates clients from the shared session, which is not thread-safe: one caller at a time.
    with LOCK:
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
