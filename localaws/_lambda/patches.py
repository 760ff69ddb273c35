"""moto's Lambda invoke and S3 notification paths, replaced: the executor runs the handler."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from moto.awslambda import models as lambda_models
from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.utils import get_backend
from moto.s3 import notifications

from localaws._lambda.spec import FunctionSpec, complete_s3_record

if TYPE_CHECKING:
    from localaws._lambda.executor import LambdaExecutor

log = logging.getLogger(__name__)

LOG_TAIL_BYTES = 4096


def _header(headers: Any, name: str) -> str | None:
    """A request header, case-insensitively, from werkzeug headers or a plain dict."""
    if headers is None:
        return None
    for key in (name, name.lower(), name.title()):
        value = headers.get(key)
        if value is not None:
            return str(value)
    for key, value in dict(headers).items():
        if str(key).lower() == name.lower():
            return str(value)
    return None


def _decode_event(body: Any) -> Any:
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    if not body:
        return {}
    try:
        return json.loads(body)
    except ValueError:
        raise LambdaClientError(
            "InvalidRequestContentException", "Could not parse request body into json: invalid JSON"
        ) from None


def invoke(
    executor: LambdaExecutor, function: Any, body: Any, request_headers: Any, response_headers: Any
) -> bytes:
    """``LambdaFunction.invoke`` (the HTTP Invoke and InvokeAsync paths)."""
    invocation_type = _header(request_headers, "X-Amz-Invocation-Type") or "RequestResponse"
    event = _decode_event(body)
    spec = FunctionSpec.from_moto(function)
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event":
        executor.submit(spec, event)
        return b""
    result = executor.run(spec, event)
    response_headers["x-amz-executed-version"] = "$LATEST"
    if result.function_error:
        response_headers["x-amz-function-error"] = result.function_error
    tail = result.logs.encode("utf-8")[-LOG_TAIL_BYTES:]
    response_headers["x-amz-log-result"] = base64.b64encode(tail).decode()
    return result.payload


def invoke_from_s3(
    executor: LambdaExecutor, account_id: str, event_body: Any, fn_arn: str, region_name: str
) -> None:
    """moto's S3 -> Lambda notification: asynchronous, like S3's."""
    try:
        fn = get_backend(account_id, region_name).get_function(fn_arn)
    except Exception:
        log.error(
            "S3 notification for missing function %s dropped by S3 (as on AWS): %s",
            fn_arn,
            json.dumps(event_body)[:1000],
        )
        return
    executor.submit(FunctionSpec.from_moto(fn), event_body)


def s3_event(
    executor: LambdaExecutor, event_name: str, bucket: Any, key: Any, notification_id: str
) -> dict[str, Any]:
    """moto's S3 event builder: the records S3 really sends."""
    original = executor.original(notifications, "_get_s3_event")
    event: dict[str, Any] = original(event_name, bucket, key, notification_id)
    version_id = getattr(key, "version_id", None) if getattr(bucket, "is_versioned", False) else None
    event["Records"] = [
        complete_s3_record(r, key.name, version_id, executor.sequencer.next()) for r in event["Records"]
    ]
    return event


#: (moto owner, attribute) -> its replacement.
HANDLERS: dict[tuple[Any, str], Callable[..., Any]] = {
    (lambda_models.LambdaFunction, "invoke"): invoke,
    (notifications, "_invoke_awslambda"): invoke_from_s3,
    (notifications, "_get_s3_event"): s3_event,
}
