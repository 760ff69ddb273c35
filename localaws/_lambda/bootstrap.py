"""A warm Lambda execution environment: import the handler once, then run invocations one at a time.

The local runtime's Lambda executor (:mod:`.executor`) starts this file as a script:
``python -I bootstrap.py <task_root> <control_in_fd> <control_out_fd> <token>``, with the function's
environment (``_HANDLER`` names the handler). Like the AWS Python runtime it has an init phase (put the
package first on ``sys.path``, import the handler module — module-level state and imports then persist) and
an invoke loop. The control channel is a pair of pipes carrying length-prefixed JSON frames
(:func:`write_frame`), kept apart from stdout/stderr, which stay the function's log:

* after init, one frame: ``{"init": "ok"}`` or ``{"init": "error", "error": {...}}`` (then the process
  exits: AWS discards an environment whose init failed and retries init on the next invocation);
* then, per invocation, a request frame in (event and context fields, ``deadline_ms``) and an outcome frame
  out: ``{"payload": <json text>}`` or ``{"error": {errorMessage, errorType, requestId, stackTrace}}``
  shaped like AWS's error response, plus ``max_memory_mb``. Before the outcome frame a marker line
  ``\\0<token> END <request id>\\0`` goes to stdout, so the executor knows where this invocation's log ends.

EOF on the control channel ends the process. The executor enforces the function's timeout by killing the
process group (the environment is then discarded, as on AWS).

This file imports nothing from the repository: the function must see only its package and the installed
libraries (the virtualenv plays the AWS SDK for pandas layer), as on AWS.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import resource
import struct
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

#: Frame header: payload length, 4 bytes big-endian.
_HEADER = struct.Struct(">I")


def write_frame(stream: BinaryIO, message: Any) -> None:
    """Send one JSON message, length-prefixed, and flush."""
    body = json.dumps(message).encode("utf-8")
    stream.write(_HEADER.pack(len(body)) + body)
    stream.flush()


def read_frame(stream: BinaryIO) -> Any:
    """Receive one JSON message; ``None`` at end of stream (the executor closed the channel)."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    body = stream.read(size)
    if len(body) < size:
        return None
    return json.loads(body)


def end_marker(token: str, request_id: str) -> bytes:
    """The line the bootstrap writes to stdout after an invocation's log (it ends the log's chunk)."""
    return f"\0{token} END {request_id}\0\n".encode()


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
    """Root-logger handler with AWS's line format: ``[LEVEL]\\t<time>\\t<request id>\\t<message>``.

    One handler lives as long as the environment; ``request_id`` is switched per invocation (empty during
    init, as on AWS).
    """

    def __init__(self) -> None:
        super().__init__()
        self.request_id = ""

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
    """Put the package first on ``sys.path`` and hide the source tree this runtime runs from (the
    checkout holding ``infra/`` and whatever it adds to the path, e.g. an editable install's folders): the
    function is deployed alone. The interpreter's own installation stays (it plays the Lambda layers)."""
    source_tree = Path(__file__).resolve().parents[2]
    installation = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}

    def hidden(entry: str) -> bool:
        path = Path(entry).resolve()
        inside = path == source_tree or source_tree in path.parents
        return inside and not any(path == p or p in path.parents for p in installation)

    sys.path[:] = [p for p in sys.path if p and not hidden(p)]
    sys.path.insert(0, task_root)


Handler = Callable[[Any, LambdaContext], Any]


def load_handler(task_root: str, handler_name: str) -> Handler | dict[str, Any]:
    """The init phase: the handler function, or the AWS-shaped init error. Never raises."""
    _isolate(task_root)
    os.chdir(task_root)
    module_name, _, function_name = handler_name.rpartition(".")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except Exception as error:
        # AWS reports init errors without a request id in the payload's own field.
        return _error("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}", "")
    handler = getattr(module, function_name, None)
    if not callable(handler):
        return _error(
            "Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'", ""
        )
    return handler  # type: ignore[no-any-return]


def invoke(handler: Handler, spec: dict[str, Any]) -> dict[str, Any]:
    """Call the handler once and return the AWS-shaped outcome. Never raises an ``Exception``."""
    request_id = spec["aws_request_id"]
    deadline_ms = float(spec.get("deadline_ms") or time.time() * 1000 + float(spec["timeout"]) * 1000)
    try:
        result = handler(spec["event"], LambdaContext(spec, deadline_ms))
    except Exception as error:
        return {"error": _error(type(error).__name__, str(error), request_id, _user_frames(error))}
    try:
        return {"payload": json.dumps(result)}
    except (TypeError, ValueError) as error:
        return {"error": _error("Runtime.MarshalError", f"Unable to marshal response: {error}", request_id)}


def _max_memory_mb() -> int:
    """The environment's peak resident memory: the REPORT line's "Max Memory Used", as on AWS.

    ``VmHWM`` belongs to this process image; ``ru_maxrss`` survives ``execve`` (getrusage(2)), so a worker
    started by a 1.5 GB parent (a long test session) would report the parent's peak. ``ru_maxrss`` only
    where ``/proc`` is missing (KiB on Linux).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _end_log(token: str, request_id: str) -> None:
    """Flush what the handler wrote, then mark the end of this invocation's log."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    try:
        os.write(1, end_marker(token, request_id))
    except OSError:  # the handler closed stdout: the executor then takes what it has after a while
        pass


def runtime_mismatch(
    declared: str, local: str = f"python{sys.version_info.major}.{sys.version_info.minor}"
) -> str | None:
    """What to tell the function's log when its declared ``Runtime`` is not the Python running it."""
    if declared == local:
        return None
    return (
        f"the function declares runtime {declared or '(none)'} but runs on the local {local} "
        f"({sys.executable}): code that depends on the difference behaves differently on AWS"
    )


def serve(task_root: str, control_in: BinaryIO, control_out: BinaryIO, token: str) -> int:
    """Init once, then answer invocation frames until the executor closes the channel."""
    log_handler = _LambdaLogHandler()
    logging.getLogger().addHandler(log_handler)
    mismatch = runtime_mismatch(os.environ.get("AWS_EXECUTION_ENV", "").removeprefix("AWS_Lambda_"))
    if mismatch:  # in the init phase's log, i.e. the cold start's
        logging.getLogger("localaws.runtime").warning(mismatch)
    handler = load_handler(task_root, os.environ.get("_HANDLER", ""))
    if isinstance(handler, dict):
        write_frame(control_out, {"init": "error", "error": handler, "max_memory_mb": _max_memory_mb()})
        return 1
    write_frame(control_out, {"init": "ok"})
    while True:
        spec = read_frame(control_in)
        if spec is None:
            return 0
        log_handler.request_id = spec["aws_request_id"]
        outcome = invoke(handler, spec)
        outcome["max_memory_mb"] = _max_memory_mb()
        _end_log(token, spec["aws_request_id"])
        write_frame(control_out, outcome)


def main(argv: list[str]) -> int:
    task_root, in_fd, out_fd, token = argv[1], int(argv[2]), int(argv[3]), argv[4]
    # The handler's own subprocesses must not inherit the control channel.
    os.set_inheritable(in_fd, False)
    os.set_inheritable(out_fd, False)
    with open(in_fd, "rb") as control_in, open(out_fd, "wb") as control_out:
        return serve(task_root, control_in, control_out, token)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
