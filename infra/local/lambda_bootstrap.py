"""Run one Lambda invocation in a fresh interpreter, the way the AWS Python runtime's bootstrap does.

The local runtime's Lambda executor (``infra/local/executors/awslambda.py``) starts this file as a script:
``python -I lambda_bootstrap.py <task_root> <result_file>`` with the invocation as JSON on stdin. It imports
the handler from the extracted code package (``task_root`` plays ``/var/task``), calls it with the event
and a Lambda-like context, and writes the outcome as JSON to ``result_file``: ``{"payload": <json text>}``
or ``{"error": {errorMessage, errorType, requestId, stackTrace}}`` shaped like AWS's error response.
Whatever the handler prints or logs goes to stdout/stderr, which the executor keeps as the function's log.

This file imports nothing from the repository: the function must see only its package and the installed
libraries (the virtualenv plays the AWS SDK for pandas layer), as on AWS.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import resource
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

#: Exit code when the watchdog ends a handler that outlived the function's timeout.
TIMEOUT_EXIT_CODE = 124


class LambdaContext:
    """The attributes and method of the AWS Python runtime's context object that handlers use."""

    def __init__(self, spec: dict[str, Any], deadline_ms: float) -> None:
        self.function_name: str = spec["function_name"]
        self.function_version: str = spec.get("function_version", "$LATEST")
        self.invoked_function_arn: str = spec["invoked_function_arn"]
        # The AWS runtime passes the memory size through from the environment, as a string.
        self.memory_limit_in_mb: str = str(spec["memory_limit_in_mb"])
        self.aws_request_id: str = spec["aws_request_id"]
        self.log_group_name: str = spec["log_group_name"]
        self.log_stream_name: str = spec["log_stream_name"]
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def __repr__(self) -> str:
        return f"LambdaContext(function_name={self.function_name!r}, aws_request_id={self.aws_request_id!r})"


class _LambdaLogHandler(logging.Handler):
    """Root-logger handler with AWS's line format: ``[LEVEL]\\t<time>\\t<request id>\\t<message>``."""

    def __init__(self, request_id: str) -> None:
        super().__init__()
        self.request_id = request_id

    def emit(self, record: logging.LogRecord) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        millis = int(record.msecs)
        message = self.format(record)
        sys.stdout.write(f"[{record.levelname}]\t{stamp}.{millis:03d}Z\t{self.request_id}\t{message}\n")
        sys.stdout.flush()


def _error(error_type: str, message: str, request_id: str, stack: list[str] | None = None) -> dict[str, Any]:
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack or [],
    }


def _user_frames(error: BaseException) -> list[str]:
    """The traceback without this bootstrap's own frames, formatted like AWS (``traceback.format_list``)."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename != __file__]
    return traceback.format_list(frames)


def _isolate(task_root: str) -> None:
    """Put the package first on ``sys.path`` and hide the repository (the function is deployed alone)."""
    repo = Path(__file__).resolve().parents[2]
    hidden = {repo, repo / "plugins", Path(__file__).resolve().parent}
    sys.path[:] = [p for p in sys.path if p and Path(p).resolve() not in hidden]
    sys.path.insert(0, task_root)


def invoke(task_root: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Import the handler, call it, and return the AWS-shaped outcome. Never raises."""
    request_id = spec["aws_request_id"]
    _isolate(task_root)
    os.chdir(task_root)
    logging.getLogger().addHandler(_LambdaLogHandler(request_id))
    module_name, _, function_name = spec["handler"].rpartition(".")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except Exception as error:
        return {
            "error": _error(
                "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}", request_id
            )
        }
    handler = getattr(module, function_name, None)
    if not callable(handler):
        return {
            "error": _error(
                "Runtime.HandlerNotFound",
                f"Handler '{function_name}' missing on module '{module_name}'",
                request_id,
            )
        }

    timeout_s = float(spec["timeout"])
    deadline_ms = time.time() * 1000 + timeout_s * 1000
    watchdog = threading.Timer(timeout_s, _time_out)
    watchdog.daemon = True
    watchdog.start()
    try:
        result = handler(spec["event"], LambdaContext(spec, deadline_ms))
    except Exception as error:
        return {"error": _error(type(error).__name__, str(error), request_id, _user_frames(error))}
    finally:
        watchdog.cancel()
    try:
        return {"payload": json.dumps(result)}
    except (TypeError, ValueError) as error:
        return {"error": _error("Runtime.MarshalError", f"Unable to marshal response: {error}", request_id)}


def _time_out() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(TIMEOUT_EXIT_CODE)


def main(argv: list[str]) -> int:
    task_root, result_file = argv[1], argv[2]
    spec = json.load(sys.stdin)
    outcome = invoke(task_root, spec)
    # ru_maxrss is in KiB on Linux: the REPORT line's "Max Memory Used".
    outcome["max_memory_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    Path(result_file).write_text(json.dumps(outcome), encoding="utf-8")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
