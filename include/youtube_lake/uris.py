"""S3 URIs: the one way the product splits and builds them."""

from __future__ import annotations

#: Schemes that name S3 objects (Spark and Hadoop write ``s3a://``).
S3_SCHEMES = ("s3://", "s3a://", "s3n://")


def is_s3_uri(uri: str) -> bool:
    return uri.startswith(S3_SCHEMES)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/key`` -> ``("bucket", "some/key")``; ValueError for anything else.

    The key is kept as written, empty path components included (``s3://b//t`` -> ``("b", "/t")``): S3
    accepts keys that start with ``/``.
    """
    for scheme in S3_SCHEMES:
        if uri.startswith(scheme):
            bucket, _, key = uri[len(scheme) :].partition("/")
            if not bucket:
                raise ValueError(f"S3 URI {uri!r} names no bucket")
            return bucket, key
    raise ValueError(f"not an S3 URI: {uri!r}")


def s3_uri(bucket: str, key: str = "") -> str:
    """``s3://bucket/key``."""
    if not bucket or "/" in bucket:
        raise ValueError(f"bucket name {bucket!r} is invalid")
    return f"s3://{bucket}/{key}"


def bucket_of(uri: str) -> str:
    """The bucket of an S3 URI; empty for a local path (tests and benchmarks write local folders)."""
    return split_s3_uri(uri)[0] if is_s3_uri(uri) else ""


def join(folder: str, *parts: str) -> str:
    """``join("s3://b/prefix/", "a", "b")`` -> ``s3://b/prefix/a/b`` (one ``/`` between parts)."""
    return "/".join([folder.rstrip("/"), *parts])
