"""S3 listings the readers need (hidden objects skipped as Spark and Hive skip them)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import ClientError


def split(uri: str) -> tuple[str, str]:
    scheme, _, rest = uri.partition("://")
    if scheme not in ("s3", "s3a", "s3n") or not rest:
        raise ValueError(f"{uri!r} is not an S3 URI (s3://bucket/key)")
    bucket, _, key = rest.partition("/")
    return bucket, key


def _hidden(relative_key: str) -> bool:
    return any(
        part.startswith(("_", ".")) for part in relative_key.split("/") if part
    ) or relative_key.endswith("/")


def list_objects(uri: str, client: Any = None) -> dict[str, str]:
    """URI -> ETag of the objects at or under ``uri`` (a file or a folder), hidden ones excepted."""
    bucket, key = split(uri)
    s3 = client or boto3.client("s3")
    scheme = uri.split("://", 1)[0]
    prefix = key if not key or key.endswith("/") else key + "/"
    found: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if not _hidden(item["Key"][len(prefix) :]):
                found[f"{scheme}://{bucket}/{item['Key']}"] = item["ETag"].strip('"')
    if not found and key and not key.endswith("/"):  # a single object
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
        except ClientError:
            return found
        found[uri] = head["ETag"].strip('"')
    return found
