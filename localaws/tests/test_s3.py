"""S3: concurrent conditional writes of one key have exactly one winner, as on S3.

moto checks the condition and then writes; the runtime holds a per-key lock around both. To make the race
certain rather than lucky, moto's lookup of the key (the check) is slowed down here: without the lock every
request would pass the check before any of them writes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.s3.models import S3Backend

from localaws import LocalAWS
from localaws.tests.lake import NAMES

WRITERS = 8


@pytest.fixture
def slow_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's key lookup of ``race/`` keys takes 0.2 s: the window between check and write is wide open."""
    original = S3Backend.get_object

    def slow_get_object(self: S3Backend, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
        found = original(self, bucket_name, key_name, *args, **kwargs)
        if key_name.startswith("race/"):
            time.sleep(0.2)
        return found

    monkeypatch.setattr(S3Backend, "get_object", slow_get_object)


def _race(aws: LocalAWS, write: Callable[[Any, int], None]) -> list[int]:
    """Run ``write(client, i)`` for every writer at once (own clients, made beforehand, released together by
    a barrier); the writers whose request succeeded."""
    clients = [aws.session().client("s3", endpoint_url=aws.endpoint) for _ in range(WRITERS)]
    start = threading.Barrier(WRITERS)

    def attempt(i: int) -> int | None:
        start.wait()
        try:
            write(clients[i], i)
        except ClientError as error:
            assert error.response["Error"]["Code"] == "PreconditionFailed", error.response
            return None
        return i

    with ThreadPoolExecutor(WRITERS) as pool:
        return [i for i in pool.map(attempt, range(WRITERS)) if i is not None]


@pytest.mark.usefixtures("slow_check")
def test_concurrent_if_none_match_puts_create_the_key_once(aws: LocalAWS) -> None:
    bucket, key = NAMES.landing_bucket, "race/claim.json"
    aws.client("s3").delete_object(Bucket=bucket, Key=key)
    winners = _race(aws, lambda s3, i: s3.put_object(Bucket=bucket, Key=key, Body=f"{i}", IfNoneMatch="*"))
    assert len(winners) == 1
    assert aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read() == f"{winners[0]}".encode()


@pytest.mark.usefixtures("slow_check")
def test_concurrent_if_match_puts_replace_the_version_they_read_once(aws: LocalAWS) -> None:
    bucket, key = NAMES.landing_bucket, "race/ledger.json"
    etag = aws.client("s3").put_object(Bucket=bucket, Key=key, Body=b"base")["ETag"]
    winners = _race(aws, lambda s3, i: s3.put_object(Bucket=bucket, Key=key, Body=f"{i}", IfMatch=etag))
    assert len(winners) == 1
    assert aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read() == f"{winners[0]}".encode()
