"""What every executor needs to talk back to the runtime: credentials, clients, S3 paths and files.

Executors never use real AWS: their clients carry moto's dummy credentials and the runtime's endpoint.
"""

from __future__ import annotations

import threading
from typing import Any

#: Clients on this machine always connect through the loopback address.
HOST = "127.0.0.1"
#: moto's default account; ARNs and the backends are keyed by it.
LOCAL_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
#: Credentials moto accepts; never real ones.
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
S3_SCHEMES = ("s3", "s3a", "s3n")


#: Each thread's sessions, by region.
_sessions = threading.local()


def session(region: str) -> Any:
    """A boto3 session with the local credentials (never the developer's profile): one per thread and region.

    A client built from a session that built clients before costs ~10 ms, from a new session ~150 ms (it loads
    the service's model again); awswrangler builds one per call from the session it is given. A boto3 session
    must not be shared between threads, so each thread has its own.
    """
    import boto3

    by_region: dict[str, Any] = _sessions.__dict__.setdefault("by_region", {})
    if region not in by_region:
        by_region[region] = boto3.session.Session(
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=region,
        )
    return by_region[region]


def client(service: str, endpoint: str, region: str) -> Any:
    """A boto3 client for ``service`` at ``endpoint`` (Any: executors speak the wire format, plain dicts)."""
    from botocore.config import Config

    return session(region).client(service, endpoint_url=endpoint, config=Config(retries={"max_attempts": 2}))


def s3_filesystem(endpoint: str, region: str, account: str | None = None) -> Any:
    """pyarrow's S3 filesystem against the runtime (how the crawler, Athena and Data Quality read and write
    data), serving keys with an empty path component too (``s3://bucket//table``), as S3 does.

    With ``account``, the caller runs in the runtime's process: reads come from moto's backend directly.
    """
    from pyarrow import fs

    from localaws._s3fs import BackendReads, S3KeysHandler

    native = fs.S3FileSystem(
        access_key=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        secret_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
        region=region,
        endpoint_override=endpoint.split("://", 1)[1],
        scheme="http",
    )
    backend = None if account is None else BackendReads(account, region)
    return fs.PyFileSystem(S3KeysHandler(native, lambda: client("s3", endpoint, region), backend))


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` (or ``s3a://``, ``s3n://``) -> (``bucket``, ``a/b``).

    Raises ValueError naming the URI when it is not an S3 location; callers word it as their service does.
    """
    scheme, separator, rest = uri.partition("://")
    bucket, _, key = rest.partition("/")
    if not separator or scheme not in S3_SCHEMES or not bucket:
        raise ValueError(f"not an S3 location: {uri!r}")
    return bucket, key


def as_folder(uri_or_prefix: str) -> str:
    """The same location with one trailing ``/`` (an empty prefix stays empty: the bucket's root)."""
    return uri_or_prefix if not uri_or_prefix or uri_or_prefix.endswith("/") else uri_or_prefix + "/"
