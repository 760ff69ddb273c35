"""What an invocation is and what it produces, as plain data and pure functions: the function's
configuration snapshot, the S3 event records and destination records AWS sends, and the log lines Lambda
writes. No processes, no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from urllib.parse import quote


def s3_event_key(key: str) -> str:
    """Encode an object key the way S3 writes it into event records.

    S3 form-encodes the key (UTF-8 percent-escapes, space as ``+``) but keeps ``/``; handlers decode it
    with ``urllib.parse.unquote_plus``.
    """
    return quote(key, safe="/*").replace("%20", "+")


class Sequencer:
    """Strictly increasing hexadecimal ``sequencer`` values like S3's, to order events on the same key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def next(self) -> str:
        with self._lock:
            self._last = max(self._last + 1, time.time_ns())
            return f"{self._last:018X}"


def complete_s3_record(
    record: dict[str, Any], raw_key: str, version_id: str | None, sequencer: str
) -> dict[str, Any]:
    """Add what moto leaves out of an S3 event record (key encoding, sequencer, versionId, identities)."""
    record = json.loads(json.dumps(record))
    obj = record["s3"]["object"]
    obj["key"] = s3_event_key(raw_key)
    obj["sequencer"] = sequencer
    if version_id and version_id != "null":
        obj["versionId"] = version_id
    record.setdefault("userIdentity", {"principalId": "AWS:AIDALOCALRUNTIME"})
    record.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
    record.setdefault(
        "responseElements",
        {
            "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
            "x-amz-id-2": base64.b64encode(os.urandom(48)).decode(),
        },
    )
    record["s3"]["bucket"].setdefault("ownerIdentity", {"principalId": "A3LOCALRUNTIME"})
    return record


def failure_record(
    function_arn: str,
    request_id: str,
    event: Any,
    attempts: int,
    response: Any,
    *,
    success: bool = False,
) -> dict[str, Any]:
    """The invocation record Lambda sends to an asynchronous invocation's destination."""
    response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if not success:
        response_context["functionError"] = "Unhandled"
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"{function_arn}:$LATEST",
            "condition": "Success" if success else "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": response_context,
        "responsePayload": response,
    }


def exit_reason(status: int | None) -> str:
    """How Lambda words a runtime's exit: ``exit status 3``, ``signal: killed``, ``signal: aborted``."""
    if status is None or status >= 0:
        return f"exit status {status}"
    try:
        name = signal.strsignal(-status)
    except ValueError:
        name = None
    return f"signal: {(name or str(-status)).lower()}"


def exit_error(request_id: str, status: int | None) -> dict[str, Any]:
    """The error of an invocation whose runtime process ended under it (a crash, or killed for memory)."""
    return {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {exit_reason(status)}",
    }


@dataclass(frozen=True)
class FunctionSpec:
    """A snapshot of a function's configuration and code, taken when it is invoked."""

    name: str
    arn: str
    handler: str
    runtime: str
    timeout: float
    memory_size: int
    region: str
    environment: Mapping[str, str]
    code: bytes
    max_retries: int = 2
    on_failure: str | None = None
    on_success: str | None = None

    @cached_property
    def code_sha256(self) -> str:
        return hashlib.sha256(self.code).hexdigest()

    def worker_key(self, endpoint: str) -> WorkerKey:
        """Which warm workers may serve this function: same ARN, code and configuration (and endpoint)."""
        config = json.dumps(
            [
                self.handler,
                self.runtime,
                self.timeout,
                self.memory_size,
                self.region,
                sorted((str(k), str(v)) for k, v in self.environment.items()),
                endpoint,
            ]
        )
        return WorkerKey(self.arn, self.code_sha256, hashlib.sha256(config.encode()).hexdigest()[:16])

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"

    @classmethod
    def from_moto(cls, fn: Any) -> FunctionSpec:
        config: dict[str, Any] = fn.event_invoke_config[-1].config if fn.event_invoke_config else {}
        destinations = config.get("DestinationConfig") or {}
        return cls(
            name=fn.function_name,
            arn=fn.function_arn,
            handler=fn.handler or "",
            runtime=fn.run_time or "python3.12",
            timeout=float(fn.timeout),
            memory_size=int(fn.memory_size),
            region=fn.region,
            environment=dict(fn.environment_vars or {}),
            code=bytes(getattr(fn, "code_bytes", b"") or b""),
            max_retries=int(config.get("MaximumRetryAttempts", 2)),
            on_failure=(destinations.get("OnFailure") or {}).get("Destination") or None,
            on_success=(destinations.get("OnSuccess") or {}).get("Destination") or None,
        )


@dataclass
class InvokeResult:
    """The outcome of one attempt: the payload bytes AWS would return, and what it logged."""

    request_id: str
    payload: bytes
    function_error: str | None
    logs: str
    duration_ms: float
    max_memory_mb: int = 0
    #: Set on a cold start (a new execution environment): interpreter start and handler import.
    init_duration_ms: float | None = None

    @property
    def response(self) -> Any:
        try:
            return json.loads(self.payload) if self.payload else None
        except ValueError:
            return self.payload.decode("utf-8", "replace")


# ---- execution environments -----------------------------------------------------------------------
@dataclass(frozen=True)
class WorkerKey:
    """What an execution environment is bound to; a change to any part needs a new one."""

    arn: str
    code_sha256: str
    config: str


def report_log(
    logs: str,
    request_id: str,
    duration_ms: float,
    spec: FunctionSpec,
    memory_mb: int,
    error: Any,
    init_ms: float | None = None,
) -> str:
    lines = (
        [f"START RequestId: {request_id} Version: $LATEST", logs.rstrip("\n")]
        if logs.strip()
        else [f"START RequestId: {request_id} Version: $LATEST"]
    )
    if error and error.get("errorType") == "Sandbox.Timedout":
        lines.append(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%fZ} {error['errorMessage']}")
    elif error and error.get("errorType") == "Runtime.ExitError":  # as Lambda logs it: message, then type
        lines += [error["errorMessage"], "Runtime.ExitError"]
    lines.append(f"END RequestId: {request_id}")
    lines.append(
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: "
        f"{int(duration_ms) + 1} ms\tMemory Size: {spec.memory_size} MB\tMax Memory Used: {memory_mb} MB"
        + (f"\tInit Duration: {init_ms:.2f} ms" if init_ms is not None else "")
    )
    return "\n".join(lines) + "\n"
