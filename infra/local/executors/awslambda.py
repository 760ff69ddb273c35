"""Lambda executor: ``Invoke`` and S3 notifications really run the function's handler.

moto alone needs Docker to run a function. Here ``moto.awslambda.models.LambdaFunction.invoke`` is replaced
so that the handler runs from the function's deployed zip (extracted once per code digest) in a
``sys.executable`` process (``infra/local/lambda_bootstrap.py``) with the function's environment, dummy
credentials and ``AWS_ENDPOINT_URL`` pointing at the runtime; the virtualenv plays the AWS SDK for pandas
layer. Behaviour follows AWS:

* Execution environments are reused: a worker process imports the handler once (the init phase, reported
  as ``Init Duration`` on the cold start's REPORT line) and then serves invocations one at a time, so
  module-level state and imports persist between invocations of the same code and configuration. A new
  worker starts when none of that (function ARN, code digest, configuration) is free — concurrent
  invocations get separate workers — and workers of an older code or configuration are retired. A worker
  whose invocation timed out or whose process died is discarded; idle workers are reaped after
  :attr:`LambdaExecutor.idle_timeout` and all of them at shutdown or reset. At most
  :attr:`LambdaExecutor.max_workers` stay alive (beyond that, a one-off worker serves and is discarded).
* ``RequestResponse`` returns the handler's JSON, or ``X-Amz-Function-Error: Unhandled`` with
  ``errorMessage``/``errorType``/``stackTrace``; a handler outliving ``Timeout`` is killed
  (``Sandbox.Timedout``), a process that dies mid-invocation is ``Runtime.ExitError``. ``LogType=Tail``
  returns the last 4 KB of the log; logs also go to CloudWatch Logs ``/aws/lambda/<name>``, one log stream
  per execution environment.
* ``Event`` invocations and S3 notifications are queued and run on background threads. A failed attempt is
  retried ``MaximumRetryAttempts`` times (default 2), then the AWS-shaped failure record goes to the
  ``OnFailure`` destination (SQS, SNS or another function); with no reachable destination the event is
  logged and kept in :attr:`LambdaExecutor.undelivered` — never silently lost.
* S3 notification records are completed to what S3 sends: keys URL-encoded like S3 (``/`` kept, space as
  ``+``), ``sequencer``, ``versionId`` on versioned buckets, ``userIdentity``, request/response elements.

:func:`wait_idle` blocks until every queued asynchronous invocation (retries included) has finished.
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

from infra.local.lambda_bootstrap import end_marker
from infra.local.runtime import LOCAL_CREDENTIALS

if TYPE_CHECKING:
    from infra.local.runtime import LocalRuntime

log = logging.getLogger(__name__)

BOOTSTRAP = Path(__file__).resolve().parents[1] / "lambda_bootstrap.py"
#: Seconds an interpreter may take to start and import the handler, on top of the function's timeout
#: (AWS gives the init phase 10 s of its own, then lets a slow init go on within the invocation's timeout).
INIT_ALLOWANCE_S = 10.0
#: Seconds an execution environment may stay idle before it is reaped (AWS keeps them for minutes; locally
#: a warm worker holding pandas costs ~150 MB). ``LOCAL_LAMBDA_IDLE_TIMEOUT`` overrides it.
IDLE_TIMEOUT_S = float(os.environ.get("LOCAL_LAMBDA_IDLE_TIMEOUT", "60"))
#: Worker processes kept alive at most, all functions together. ``LOCAL_LAMBDA_MAX_WORKERS`` overrides it.
MAX_WORKERS = int(os.environ.get("LOCAL_LAMBDA_MAX_WORKERS", "8"))
#: Seconds to wait for the rest of an invocation's log once its outcome has arrived.
LOG_SETTLE_S = 5.0
#: Pause before each retry of a failed asynchronous invocation. AWS waits about 1 and 2 minutes; locally
#: that would only slow tests down, the count of attempts is what matters.
RETRY_DELAYS_S = (0.2, 0.5)
#: Asynchronous invocations running at once (the rest wait in the queue, as with reserved concurrency).
ASYNC_CONCURRENCY = 4
LOG_TAIL_BYTES = 4096
#: Seconds ``shutdown`` waits for queued asynchronous invocations before killing what still runs.
SHUTDOWN_GRACE_S = 30.0


# ---- pure helpers ---------------------------------------------------------------------------------
def s3_event_key(key: str) -> str:
    """Encode an object key the way S3 writes it into event records.

    S3 form-encodes the key (UTF-8 percent-escapes, space as ``+``) but keeps ``/``; handlers decode it
    with ``urllib.parse.unquote_plus``.
    """
    return quote(key, safe="/*").replace("%20", "+")


_sequence = itertools.count()
_sequence_lock = threading.Lock()
_last_sequencer = 0


def next_sequencer() -> str:
    """A strictly increasing hexadecimal ``sequencer`` like S3's, to order events on the same key."""
    global _last_sequencer
    with _sequence_lock:
        _last_sequencer = max(_last_sequencer + 1, time.time_ns())
        return f"{_last_sequencer:018X}"


def complete_s3_record(record: dict[str, Any], raw_key: str, version_id: str | None) -> dict[str, Any]:
    """Add what moto leaves out of an S3 event record (key encoding, sequencer, versionId, identities)."""
    record = json.loads(json.dumps(record))
    obj = record["s3"]["object"]
    obj["key"] = s3_event_key(raw_key)
    obj["sequencer"] = next_sequencer()
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


# ---- what to run ----------------------------------------------------------------------------------
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


class WorkerExited(Exception):
    """The worker's process ended (crash, ``os._exit``, init failure) before answering."""


class Worker:
    """One execution environment: a bootstrap process, its control pipes and a thread reading its log.

    The thread running an invocation owns the worker; other threads only ever :meth:`terminate` it.
    """

    def __init__(
        self,
        key: WorkerKey,
        proc: subprocess.Popen[bytes],
        control_in: IO[bytes],
        control_out: int,
        token: str,
        log_stream: str,
        *,
        generation: int,
        pooled: bool,
    ) -> None:
        self.key = key
        self.proc = proc
        self.token = token
        self.log_stream = log_stream
        self.generation = generation
        #: False for a one-off worker started beyond :attr:`LambdaExecutor.max_workers`.
        self.pooled = pooled
        self.spawned = time.perf_counter()
        self.ready = False
        self.invocations = 0
        self.last_used = time.monotonic()
        self._control_in = control_in
        self._control_out = control_out
        self._received = bytearray()
        self._state = threading.Lock()
        self._terminated = False
        self._closed = False
        self._log = threading.Condition()
        self._buffer: list[str] = []
        self._chunks: dict[str, str] = {}
        self._eof = False
        self._reader = threading.Thread(target=self._read_log, name=f"lambda-log-{proc.pid}", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def __repr__(self) -> str:
        return f"Worker(pid={self.pid}, arn={self.key.arn!r}, invocations={self.invocations})"

    # ---- control channel ------------------------------------------------------------------------
    def send(self, message: Any) -> bool:
        """Write one request frame; False if the worker is gone."""
        body = json.dumps(message).encode("utf-8")
        try:
            self._control_in.write(len(body).to_bytes(4, "big") + body)
            self._control_in.flush()
        except (BrokenPipeError, OSError, ValueError):
            return False
        return True

    def receive(self, deadline: float) -> Any:
        """The next frame from the worker. Raises :class:`TimeoutError` at ``deadline`` (monotonic) and
        :class:`WorkerExited` at end of stream."""
        poller = select.poll()
        poller.register(self._control_out, select.POLLIN | select.POLLHUP | select.POLLERR)
        while True:
            if len(self._received) >= 4:
                size = int.from_bytes(self._received[:4], "big")
                if len(self._received) >= 4 + size:
                    body = bytes(self._received[4 : 4 + size])
                    del self._received[: 4 + size]
                    return json.loads(body)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            if not poller.poll(max(1, int(remaining * 1000))):
                continue
            try:
                chunk = os.read(self._control_out, 1 << 16)
            except OSError as error:
                raise WorkerExited from error
            if not chunk:
                raise WorkerExited
            self._received += chunk

    # ---- log ------------------------------------------------------------------------------------
    def _read_log(self) -> None:
        """Split the worker's stdout/stderr into one chunk per invocation at the bootstrap's end markers."""
        stream = self.proc.stdout
        assert stream is not None
        prefix = end_marker(self.token, "")[:-2]  # b"\0<token> END "
        try:
            for raw in iter(stream.readline, b""):
                at = raw.find(prefix)
                if at < 0:
                    with self._log:
                        self._buffer.append(raw.decode("utf-8", "replace"))
                    continue
                request_id = raw[at + len(prefix) :].split(b"\0", 1)[0].decode("utf-8", "replace")
                with self._log:
                    if at:
                        self._buffer.append(raw[:at].decode("utf-8", "replace"))
                    self._chunks[request_id] = "".join(self._buffer)
                    self._buffer.clear()
                    self._log.notify_all()
        except (OSError, ValueError):
            pass
        finally:
            with self._log:
                self._eof = True
                self._log.notify_all()

    def log_of(self, request_id: str, timeout: float = LOG_SETTLE_S) -> str:
        """What the worker logged during the invocation ``request_id`` (init output included when cold)."""
        with self._log:
            self._log.wait_for(lambda: request_id in self._chunks or self._eof, timeout)
            if request_id in self._chunks:
                return self._chunks.pop(request_id)
            text = "".join(self._buffer)
            self._buffer.clear()
            return text

    def remaining_log(self, timeout: float = 2.0) -> str:
        """Everything not yet collected, once the process is gone (its last invocation's log)."""
        self._reader.join(timeout)
        with self._log:
            text = "".join(self._chunks.values()) + "".join(self._buffer)
            self._chunks.clear()
            self._buffer.clear()
            return text

    # ---- lifecycle ------------------------------------------------------------------------------
    def exit_status(self) -> int | None:
        """The exit status if the process has ended, without reaping it (so its process id, which is
        also its process group's, stays ours until :meth:`terminate` has killed the group)."""
        if self.proc.returncode is not None:
            return self.proc.returncode
        try:
            info = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return self.proc.poll()
        if info is None:
            return None
        return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status

    def alive(self) -> bool:
        return not self._terminated and self.exit_status() is None

    def wait_exit(self, timeout: float) -> int | None:
        """The exit status once the process has ended by itself within ``timeout``, else None."""
        deadline = time.monotonic() + timeout
        while (status := self.exit_status()) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        return status

    def terminate(self) -> None:
        """Kill the worker's whole process group (the handler may have started children) and reap it."""
        with self._state:
            if self._terminated:
                return
            self._terminated = True
        if self.proc.returncode is None:  # not reaped yet: the group id cannot have been reused
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            log.warning("Lambda worker %s did not exit after SIGKILL", self.pid)

    def close(self) -> None:
        """Terminate and release the pipes (only by the worker's owner, never while it is in use)."""
        self.terminate()
        with self._state:
            if self._closed:
                return
            self._closed = True
        for closer in (self._control_in.close, lambda: os.close(self._control_out)):
            try:
                closer()
            except OSError:
                pass
        self._reader.join(2.0)
        if not self._reader.is_alive() and self.proc.stdout is not None:
            self.proc.stdout.close()


@dataclass
class LambdaExecutor:
    """Runs invocations in warm worker processes and keeps the asynchronous queue of one runtime."""

    endpoint: str
    region: str
    deliver: Callable[[str, dict[str, Any]], None] | None = None
    undelivered: list[dict[str, Any]] = field(default_factory=list)
    #: Seconds an idle worker is kept before it is reaped.
    idle_timeout: float = IDLE_TIMEOUT_S
    #: Workers alive at most; beyond that an invocation gets a one-off worker.
    max_workers: int = MAX_WORKERS
    _root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="local-lambda-")))
    _code_dirs: dict[str, Path] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _idle: threading.Condition = field(default_factory=threading.Condition)
    _pending: int = 0
    _stopping: threading.Event = field(default_factory=threading.Event)
    #: Bumped by a moto reset: queued work for the old resources is abandoned, not retried.
    _generation: int = 0
    _pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(ASYNC_CONCURRENCY, thread_name_prefix="lambda-async")
    )
    # Execution environments, guarded by _workers_lock: every live worker, the idle ones per key (most
    # recently used last), the key each function ARN was last invoked with, and a generation bumped by
    # :meth:`discard_workers` (a worker busy at that moment is discarded when it finishes).
    _workers_lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: set[Worker] = field(default_factory=set)
    _idle_workers: dict[WorkerKey, list[Worker]] = field(default_factory=dict)
    _current_keys: dict[str, WorkerKey] = field(default_factory=dict)
    _worker_generation: int = 0
    _closed: bool = False
    _reaper: threading.Thread | None = None
    _reaper_stop: threading.Event = field(default_factory=threading.Event)

    # ---- synchronous ----------------------------------------------------------------------------
    def code_dir(self, spec: FunctionSpec) -> Path:
        """The package extracted once per code digest (``/var/task``)."""
        digest = spec.code_sha256
        with self._lock:
            path = self._code_dirs.get(digest)
            if path is None:
                path = self._root / digest[:16]
                shutil.rmtree(path, ignore_errors=True)
                path.mkdir(parents=True)
                if spec.code:
                    with zipfile.ZipFile(io.BytesIO(spec.code)) as archive:
                        archive.extractall(path)
                self._code_dirs[digest] = path
            return path

    def environment(self, spec: FunctionSpec, log_stream: str) -> dict[str, str]:
        """The function's variables plus what Lambda itself sets (which a function cannot override)."""
        task_root = str(self.code_dir(spec))
        reserved = {
            **LOCAL_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "LAMBDA_TASK_ROOT": task_root,
            "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent),
            "_HANDLER": spec.handler,
            "TZ": "UTC",
            "LANG": "en_US.UTF-8",
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self._root),
            "PYTHONUNBUFFERED": "1",
        }
        return {**{k: str(v) for k, v in spec.environment.items()}, **reserved}

    def run(self, spec: FunctionSpec, event: Any, request_id: str | None = None) -> InvokeResult:
        """One attempt, synchronously: the handler's payload, or an AWS-shaped error payload."""
        request_id = request_id or str(uuid.uuid4())
        try:
            worker = self.acquire(spec)
        except RuntimeError as unavailable:  # shutting down
            refusal = {
                "errorType": "Runtime.Unavailable",
                "errorMessage": f"RequestId: {request_id} Error: {unavailable}",
            }
            return InvokeResult(request_id, json.dumps(refusal).encode(), "Unhandled", "", 0.0)
        healthy = True
        error: dict[str, Any] | None = None
        outcome: dict[str, Any] = {}
        init_ms: float | None = None
        started = time.perf_counter()
        try:
            if not worker.ready:  # cold start: the init phase, with its own allowance
                frame = worker.receive(time.monotonic() + INIT_ALLOWANCE_S + spec.timeout)
                init_ms = (time.perf_counter() - worker.spawned) * 1000
                if frame.get("init") != "ok":
                    error = {**frame["error"], "requestId": request_id}
                    outcome = frame
                    healthy = False
                worker.ready = True
            if error is None:
                started = time.perf_counter()
                deadline = time.monotonic() + spec.timeout
                request = {
                    "event": event,
                    "function_name": spec.name,
                    "invoked_function_arn": spec.arn,
                    "memory_limit_in_mb": spec.memory_size,
                    "aws_request_id": request_id,
                    "log_group_name": spec.log_group,
                    "log_stream_name": worker.log_stream,
                    "timeout": spec.timeout,
                    "deadline_ms": time.time() * 1000 + spec.timeout * 1000,
                }
                worker.invocations += 1
                if not worker.send(request):
                    raise WorkerExited
                outcome = worker.receive(deadline)
                error = outcome.get("error")
        except TimeoutError:
            healthy = False
            worker.terminate()
            error = {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {request_id} Error: Task timed out after "
                f"{spec.timeout:.2f} seconds",
            }
        except WorkerExited:
            healthy = False
            status = worker.wait_exit(2.0)
            if status is None:  # closed its channel but lingers: end it
                worker.terminate()
                status = worker.proc.returncode
            error = {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
                + exit_reason(status),
            }
        duration_ms = (time.perf_counter() - started) * 1000
        if healthy:
            logs = worker.log_of(request_id)
        else:
            worker.terminate()
            logs = worker.remaining_log()
        self.release(worker, healthy)
        payload = json.dumps(error).encode() if error else outcome["payload"].encode()
        memory_mb = int(outcome.get("max_memory_mb", 0))
        result = InvokeResult(
            request_id=request_id,
            payload=payload,
            function_error="Unhandled" if error else None,
            logs=_with_report(logs, request_id, duration_ms, spec, memory_mb, error, init_ms),
            duration_ms=duration_ms,
            max_memory_mb=memory_mb,
            init_duration_ms=init_ms,
        )
        _save_logs(spec, worker.log_stream, result.logs)
        return result

    # ---- execution environments -----------------------------------------------------------------
    def acquire(self, spec: FunctionSpec) -> Worker:
        """A free warm worker for this function's code and configuration, or a newly started one."""
        key = spec.worker_key(self.endpoint)
        self.code_dir(spec)  # extract the package (once) before taking the pool's lock
        retired: list[Worker] = []
        try:
            worker = self._take_or_spawn(spec, key, retired)
        finally:
            for old in retired:
                old.close()
        self._ensure_reaper()
        return worker

    def _take_or_spawn(self, spec: FunctionSpec, key: WorkerKey, retired: list[Worker]) -> Worker:
        """Under the pool's lock: an idle worker of ``key``, else a new one; workers to stop go to
        ``retired``."""
        with self._workers_lock:
            if self._closed:
                raise RuntimeError("the local runtime is shutting down")
            self._current_keys[key.arn] = key
            for other in [k for k in self._idle_workers if k.arn == key.arn and k != key]:
                retired += self._idle_workers.pop(other)  # an older code or configuration
            idle = self._idle_workers.get(key, [])
            worker = None
            while idle and worker is None:
                candidate = idle.pop()
                if candidate.alive() and candidate.generation == self._worker_generation:
                    worker = candidate
                else:
                    retired.append(candidate)
            self._workers.difference_update(retired)
            if worker is None:
                pooled = len(self._workers) < self.max_workers
                if not pooled:
                    victim = self._least_recently_used_idle()
                    if victim is not None:
                        self._workers.discard(victim)
                        retired.append(victim)
                        pooled = True
                    else:
                        log.warning(
                            "%d Lambda workers busy: a one-off worker serves %s",
                            len(self._workers),
                            spec.name,
                        )
                worker = self._spawn(spec, key, pooled)
                self._workers.add(worker)
            return worker

    def _least_recently_used_idle(self) -> Worker | None:
        candidates = [w for workers in self._idle_workers.values() for w in workers]
        if not candidates:
            return None
        victim = min(candidates, key=lambda w: w.last_used)
        self._idle_workers[victim.key].remove(victim)
        return victim

    def _spawn(self, spec: FunctionSpec, key: WorkerKey, pooled: bool) -> Worker:
        """Start a bootstrap process; it imports the handler and reports on the control channel."""
        log_stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        token = uuid.uuid4().hex
        request_read, request_write = os.pipe()
        outcome_read, outcome_write = os.pipe()
        try:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    "-u",
                    str(BOOTSTRAP),
                    str(self.code_dir(spec)),
                    str(request_read),
                    str(outcome_write),
                    token,
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=self.environment(spec, log_stream),
                cwd=str(self._root),
                start_new_session=True,
                pass_fds=(request_read, outcome_write),
            )
        except BaseException:
            os.close(request_write)
            os.close(outcome_read)
            raise
        finally:
            os.close(request_read)
            os.close(outcome_write)
        return Worker(
            key,
            proc,
            open(request_write, "wb"),  # noqa: SIM115 - closed by Worker.close
            outcome_read,
            token,
            log_stream,
            generation=self._worker_generation,
            pooled=pooled,
        )

    def release(self, worker: Worker, healthy: bool) -> None:
        """Back to the pool after an invocation, or discarded (failed, stale, one-off or shutting down)."""
        with self._workers_lock:
            worker.last_used = time.monotonic()
            keep = (
                healthy
                and worker.pooled
                and not self._closed
                and worker.generation == self._worker_generation
                and self._current_keys.get(worker.key.arn) == worker.key
                and worker.alive()
            )
            if keep:
                self._idle_workers.setdefault(worker.key, []).append(worker)
            else:
                self._workers.discard(worker)
        if not keep:
            worker.close()

    def workers(self) -> list[Worker]:
        """Every live worker, idle or busy (tests and the benchmark look at them)."""
        with self._workers_lock:
            return list(self._workers)

    def reap_idle(self, max_idle: float | None = None) -> int:
        """Stop workers idle for ``max_idle`` seconds or more (default :attr:`idle_timeout`)."""
        limit = self.idle_timeout if max_idle is None else max_idle
        now = time.monotonic()
        expired: list[Worker] = []
        with self._workers_lock:
            for key, workers in list(self._idle_workers.items()):
                keep = [w for w in workers if now - w.last_used < limit]
                expired += [w for w in workers if now - w.last_used >= limit]
                if keep:
                    self._idle_workers[key] = keep
                else:
                    del self._idle_workers[key]
            self._workers.difference_update(expired)
        for worker in expired:
            worker.close()
        return len(expired)

    def _ensure_reaper(self) -> None:
        with self._workers_lock:
            if self._reaper is not None or self._closed:
                return
            self._reaper = threading.Thread(target=self._reap_loop, name="lambda-reaper", daemon=True)
            self._reaper.start()

    def _reap_loop(self) -> None:
        while not self._reaper_stop.wait(max(0.05, min(5.0, self.idle_timeout / 4))):
            try:
                self.reap_idle()
            except Exception:  # the reaper must outlive a bad worker
                log.exception("reaping idle Lambda workers failed")

    def discard_workers(self) -> None:
        """Stop the idle workers now; busy ones are discarded when their invocation ends."""
        with self._workers_lock:
            self._worker_generation += 1
            idle = [w for workers in self._idle_workers.values() for w in workers]
            self._idle_workers.clear()
            self._workers.difference_update(idle)
        for worker in idle:
            worker.close()

    # ---- asynchronous ---------------------------------------------------------------------------
    def submit(self, spec: FunctionSpec, event: Any) -> str:
        """Queue an asynchronous invocation (``Event`` / S3 notification); returns its request id."""
        request_id = str(uuid.uuid4())
        if self._stopping.is_set():
            self._give_up(spec, request_id, event, "the local runtime is shutting down", attempts=0)
            return request_id
        with self._idle:
            self._pending += 1
            generation = self._generation
        self._pool.submit(self._run_async, spec, event, request_id, generation)
        return request_id

    def _run_async(self, spec: FunctionSpec, event: Any, request_id: str, generation: int) -> None:
        try:
            attempts = 0
            result: InvokeResult | None = None
            for attempt in range(spec.max_retries + 1):
                if attempt:
                    delay = RETRY_DELAYS_S[min(attempt - 1, len(RETRY_DELAYS_S) - 1)]
                    if self._stopping.wait(delay):
                        break
                if generation != self._generation:
                    log.info("async invoke %s of %s abandoned: the runtime was reset", request_id, spec.name)
                    return
                attempts += 1
                result = self.run(spec, event, request_id)
                if result.function_error is None:
                    if spec.on_success:
                        self._send(
                            spec,
                            spec.on_success,
                            failure_record(
                                spec.arn, request_id, event, attempts, result.response, success=True
                            ),
                            request_id,
                        )
                    return
                log.warning(
                    "async invoke %s of %s failed (attempt %d): %s",
                    request_id,
                    spec.name,
                    attempts,
                    result.payload[:500],
                )
            response = result.response if result else {"errorMessage": "not run: runtime shutting down"}
            record = failure_record(spec.arn, request_id, event, attempts, response)
            if spec.on_failure:
                self._send(spec, spec.on_failure, record, request_id)
            else:
                self._give_up(
                    spec, request_id, event, "no on-failure destination configured", attempts, record
                )
        except Exception as error:  # a bug here must not lose the event either
            log.exception("async invoke %s of %s crashed", request_id, spec.name)
            self._give_up(spec, request_id, event, f"executor error: {error}", 0)
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def _send(self, spec: FunctionSpec, destination: str, record: dict[str, Any], request_id: str) -> None:
        try:
            (self.deliver or self._deliver_api)(destination, record)
        except Exception as error:
            self._give_up(
                spec,
                request_id,
                record.get("requestPayload"),
                f"delivery to {destination} failed: {error}",
                0,
                record,
            )

    def _deliver_api(self, destination: str, record: dict[str, Any]) -> None:
        """Send the record through the runtime's API, like Lambda's destination delivery."""
        import boto3

        service = destination.split(":")[2]
        session = boto3.session.Session(
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=destination.split(":")[3] or self.region,
        )
        client = session.client(service, endpoint_url=self.endpoint)  # type: ignore[call-overload]
        body = json.dumps(record)
        if service == "sqs":
            account, queue = destination.split(":")[4:6]
            url = client.get_queue_url(QueueName=queue, QueueOwnerAWSAccountId=account)["QueueUrl"]
            client.send_message(QueueUrl=url, MessageBody=body)
        elif service == "sns":
            client.publish(TopicArn=destination, Message=body)
        elif service == "lambda":
            client.invoke(FunctionName=destination, InvocationType="Event", Payload=body.encode())
        else:
            raise ValueError(f"unsupported destination service {service!r}")

    def _give_up(
        self,
        spec: FunctionSpec,
        request_id: str,
        event: Any,
        reason: str,
        attempts: int,
        record: dict[str, Any] | None = None,
    ) -> None:
        entry = {
            "function": spec.name,
            "request_id": request_id,
            "reason": reason,
            "attempts": attempts,
            "event": event,
            "record": record,
        }
        with self._lock:
            self.undelivered.append(entry)
        log.error(
            "async invoke %s of %s not delivered (%s); event kept: %s",
            request_id,
            spec.name,
            reason,
            json.dumps(event)[:1000],
        )

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no asynchronous invocation is queued or running; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    @property
    def pending(self) -> int:
        with self._idle:
            return self._pending

    def shutdown(self, grace: float = SHUTDOWN_GRACE_S) -> None:
        """Let queued invocations finish for ``grace`` seconds, then stop retrying and kill every worker."""
        if not self.wait_idle(grace):
            log.warning("%d asynchronous Lambda invocations still running at shutdown", self.pending)
        self._stopping.set()
        with self._workers_lock:
            self._closed = True
            reaper = self._reaper
        self._reaper_stop.set()
        if reaper is not None:
            reaper.join()
        self.kill_all()
        self._pool.shutdown(wait=True, cancel_futures=False)
        self.kill_all()  # anything a last asynchronous attempt was still using
        shutil.rmtree(self._root, ignore_errors=True)

    def abandon(self, timeout: float = 5.0) -> None:
        """Drop queued and running invocations (a moto reset removed their resources)."""
        with self._idle:
            self._generation += 1
        if not self.wait_idle(timeout):
            self.kill_all()
            self.wait_idle(timeout)
        with self._lock:
            self.undelivered.clear()

    def kill_all(self) -> None:
        """Kill every worker, busy ones included (their invocations end as ``Runtime.ExitError``)."""
        with self._workers_lock:
            workers = list(self._workers)
            idle = {w for ws in self._idle_workers.values() for w in ws}
            self._workers.clear()
            self._idle_workers.clear()
        for worker in workers:
            if worker in idle:
                worker.close()
            else:
                worker.terminate()  # its owner closes the pipes when the invocation returns

    def forget_code(self) -> None:
        with self._lock:
            for path in self._code_dirs.values():
                shutil.rmtree(path, ignore_errors=True)
            self._code_dirs.clear()


def _with_report(
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
    lines.append(f"END RequestId: {request_id}")
    lines.append(
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: "
        f"{int(duration_ms) + 1} ms\tMemory Size: {spec.memory_size} MB\tMax Memory Used: {memory_mb} MB"
        + (f"\tInit Duration: {init_ms:.2f} ms" if init_ms is not None else "")
    )
    return "\n".join(lines) + "\n"


def _save_logs(spec: FunctionSpec, log_stream: str, logs: str) -> None:
    """Write the invocation's log to moto's CloudWatch Logs, as Lambda does."""
    try:
        from moto.logs.models import logs_backends

        backend = logs_backends[_account()][spec.region]
        backend.ensure_log_group(spec.log_group)
        backend.ensure_log_stream(spec.log_group, log_stream)
        stamp = int(time.time() * 1000)
        events = [{"timestamp": stamp, "message": line} for line in logs.splitlines() if line]
        if events:
            backend.put_log_events(spec.log_group, log_stream, events)
    except Exception:  # logs are a convenience; never fail an invocation on them
        log.debug("could not save Lambda logs", exc_info=True)


def _account() -> str:
    from infra.local.runtime import LOCAL_ACCOUNT

    return os.environ.get("MOTO_ACCOUNT_ID", LOCAL_ACCOUNT)


# ---- moto patches ---------------------------------------------------------------------------------
_executor: LambdaExecutor | None = None
_originals: dict[str, Any] = {}


def _decode_event(body: Any) -> Any:
    from moto.awslambda.exceptions import LambdaClientError

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


def _invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> bytes:
    """Replacement for ``LambdaFunction.invoke`` (the HTTP Invoke and InvokeAsync paths)."""
    executor = _executor
    if executor is None:
        return _originals["invoke"](self, body, request_headers, response_headers)  # type: ignore[no-any-return]
    invocation_type = _header(request_headers, "X-Amz-Invocation-Type") or "RequestResponse"
    event = _decode_event(body)
    spec = FunctionSpec.from_moto(self)
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


def _invoke_from_s3(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
    """Replacement for moto's S3 -> Lambda notification: asynchronous, like S3's."""
    executor = _executor
    if executor is None:
        _originals["s3_invoke"](account_id, event_body, fn_arn, region_name)
        return
    from moto.awslambda.utils import get_backend

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


def _s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
    """Replacement for moto's S3 event builder: the records S3 really sends."""
    event: dict[str, Any] = _originals["s3_event"](event_name, bucket, key, notification_id)
    if _executor is None:
        return event
    version_id = getattr(key, "version_id", None) if getattr(bucket, "is_versioned", False) else None
    event["Records"] = [complete_s3_record(r, key.name, version_id) for r in event["Records"]]
    return event


def _patch() -> None:
    from moto.awslambda import models as lambda_models
    from moto.s3 import notifications

    if _originals:
        return
    _originals["invoke"] = lambda_models.LambdaFunction.invoke
    _originals["s3_invoke"] = notifications._invoke_awslambda
    _originals["s3_event"] = notifications._get_s3_event
    lambda_models.LambdaFunction.invoke = _invoke  # type: ignore[method-assign]
    notifications._invoke_awslambda = _invoke_from_s3
    notifications._get_s3_event = _s3_event


def _unpatch() -> None:
    from moto.awslambda import models as lambda_models
    from moto.s3 import notifications

    if not _originals:
        return
    lambda_models.LambdaFunction.invoke = _originals["invoke"]  # type: ignore[method-assign]
    notifications._invoke_awslambda = _originals["s3_invoke"]
    notifications._get_s3_event = _originals["s3_event"]
    _originals.clear()


# ---- executor protocol ----------------------------------------------------------------------------
#: Runtimes started in this process. moto's backends are process-wide, so one executor serves them all,
#: calling back to the most recently started one that is still running.
_runtimes: list[LocalRuntime] = []


def install(runtime: LocalRuntime) -> None:
    global _executor
    _runtimes.append(runtime)
    if _executor is None:
        _executor = LambdaExecutor(endpoint=runtime.endpoint, region=runtime.settings.region)
    else:
        _executor.endpoint = runtime.endpoint
    _patch()


def shutdown(runtime: LocalRuntime) -> None:
    """Wait for queued asynchronous invocations (bounded), then stop; restore moto with the last runtime."""
    global _executor
    _runtimes[:] = [r for r in _runtimes if r is not runtime]
    if _runtimes:
        if _executor is not None:
            _executor.endpoint = _runtimes[-1].endpoint
        return
    executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown()
    _unpatch()


def reset(runtime: LocalRuntime) -> None:
    """After a moto reset: drop in-flight work, the warm workers and the extracted packages."""
    executor = _executor
    if executor is None:
        return
    executor.abandon()
    executor.discard_workers()
    executor.forget_code()


def wait_idle(runtime: LocalRuntime | None = None, timeout: float | None = 60.0) -> bool:
    """Block until every asynchronous Lambda invocation (S3 events, ``Event`` invokes) has finished."""
    executor = _executor
    return True if executor is None else executor.wait_idle(timeout)


def executor() -> LambdaExecutor | None:
    """The running executor (tests read :attr:`LambdaExecutor.undelivered`)."""
    return _executor
