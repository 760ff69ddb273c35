"""moto's S3 write handlers, wrapped: a conditional PutObject / DeleteObject runs under its key's lock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.s3.responses import S3Response

from localaws._s3.executor import S3Executor

#: The request headers that make a write conditional (moto checks them before writing).
CONDITIONS = ("If-Match", "If-None-Match")


def _conditional(name: str) -> Callable[..., Any]:
    def handler(executor: S3Executor, response: S3Response) -> Any:
        original = executor.original(S3Response, name)
        if not any(response.headers.get(header) for header in CONDITIONS):
            return original(response)
        with executor.key_lock(response.bucket_name, response.parse_key_name()):
            return original(response)

    handler.__name__ = f"conditional_{name}"
    return handler


HANDLERS: dict[tuple[Any, str], Callable[..., Any]] = {
    (S3Response, "put_object"): _conditional("put_object"),
    (S3Response, "delete_object"): _conditional("delete_object"),
}
