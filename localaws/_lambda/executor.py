"""Lambda executor: ``Invoke`` and S3 notifications really run the function's handler.

moto alone needs Docker to run a function. Here ``moto.awslambda.models.LambdaFunction.invoke`` is replaced
so that the handler runs from the function's deployed zip (extracted once per code digest) in a
``sys.executable`` process (:mod:`.bootstrap`) with the function's environment, dummy
credentials and ``AWS_ENDPOINT_URL`` pointing at the runtime; the virtualenv plays the AWS SDK for pandas
layer. Behaviour follows AWS:

* Execution environments are reused (:mod:`.pool`): a worker process imports the handler once (the init
  phase, reported as ``Init Duration`` on the cold start's REPORT line) and then serves invocations one at
  a time. A worker whose invocation timed out or whose process died is discarded; all of them at shutdown
  or reset.
* ``RequestResponse`` returns the handler's JSON, or ``X-Amz-Function-Error: Unhandled`` with
  ``errorMessage``/``errorType``/``stackTrace``; a handler outliving ``Timeout`` is killed
  (``Sandbox.Timedout``), a process that dies mid-invocation is ``Runtime.ExitError``. ``LogType=Tail``
  returns the last 4 KB of the log; logs also go to CloudWatch Logs ``/aws/lambda/<name>``, one log stream
  per execution environment.
* ``Event`` invocations and S3 notifications are queued and run on background threads, retried and sent
  to their destinations by :mod:`.async_invoke`; what could not be delivered is kept in
  :attr:`LambdaExecutor.undelivered` — never silently lost.
* S3 notification records are completed to what S3 sends: keys URL-encoded like S3 (``/`` kept, space as
  ``+``), ``sequencer``, ``versionId`` on versioned buckets, ``userIdentity``, request/response elements.

:func:`wait_idle` blocks until every queued asynchronous invocation (retries included) has finished.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from localaws._executor import Executor, Patch
from localaws._lambda.async_invoke import AsyncInvocations
from localaws._lambda.pool import WorkerPool
from localaws._lambda.spec import FunctionSpec, InvokeResult, Sequencer, exit_error, report_log
from localaws._lambda.worker import MemoryExceeded, Worker, WorkerExited
from localaws._logs import put_lines

if TYPE_CHECKING:
    from localaws._runtime import LocalAWS

log = logging.getLogger(__name__)

#: Seconds an interpreter may take to start and import the handler, on top of the function's timeout
#: (AWS gives the init phase 10 s of its own, then lets a slow init go on within the invocation's timeout).
INIT_ALLOWANCE_S = 10.0
#: Seconds ``shutdown`` waits for queued asynchronous invocations before killing what still runs.
SHUTDOWN_GRACE_S = 30.0


class LambdaExecutor(Executor):
    """Runs invocations in warm worker processes (:class:`WorkerPool`) and keeps the asynchronous queue
    (:class:`AsyncInvocations`) of one runtime."""

    service = "Lambda"

    def __init__(self, aws: LocalAWS) -> None:
        super().__init__(aws)
        self.endpoint = aws.endpoint
        self.region = aws.region
        self.sequencer = Sequencer()
        self.pool = WorkerPool(aws.endpoint, aws.lambda_idle_timeout, aws.lambda_max_workers)
        self.queue = AsyncInvocations(self.run, aws.endpoint, aws.region)

    @property
    def undelivered(self) -> list[dict[str, Any]]:
        """Asynchronous events that failed and had no reachable destination: kept, never silently lost."""
        return self.queue.undelivered

    # ---- executor hooks -------------------------------------------------------------------------
    def patches(self) -> Iterable[Patch]:
        from localaws._lambda.patches import HANDLERS

        return [Patch(owner, name, handler) for (owner, name), handler in HANDLERS.items()]

    def reset(self) -> None:
        """After a moto reset: drop in-flight work, the warm workers and the extracted packages."""
        self.abandon()
        self.pool.discard_workers()
        self.pool.forget_code()

    # ---- synchronous ----------------------------------------------------------------------------
    def run(self, spec: FunctionSpec, event: Any, request_id: str | None = None) -> InvokeResult:
        """One attempt, synchronously: the handler's payload, or an AWS-shaped error payload."""
        request_id = request_id or str(uuid.uuid4())
        try:
            worker = self.pool.acquire(spec)
        except RuntimeError as unavailable:  # shutting down
            refusal = {
                "errorType": "Runtime.Unavailable",
                "errorMessage": f"RequestId: {request_id} Error: {unavailable}",
            }
            return InvokeResult(request_id, json.dumps(refusal).encode(), "Unhandled", "", 0.0)
        attempt = _Attempt(spec, worker, request_id)
        attempt.run(event)
        if attempt.healthy:
            logs = worker.log_of(request_id)
        else:
            worker.terminate()
            logs = worker.remaining_log()
        self.pool.release(worker, attempt.healthy)
        result = attempt.result(logs)
        self._save_logs(spec, worker.log_stream, result.logs)
        return result

    # ---- asynchronous ---------------------------------------------------------------------------
    def submit(self, spec: FunctionSpec, event: Any) -> str:
        """Queue an asynchronous invocation (``Event`` / S3 notification); returns its request id."""
        return self.queue.submit(spec, event)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no asynchronous invocation is queued or running; False on timeout."""
        return self.queue.wait_idle(timeout)

    @property
    def pending(self) -> int:
        return self.queue.pending

    def shutdown(self, grace: float = SHUTDOWN_GRACE_S) -> None:
        """Let queued invocations finish for ``grace`` seconds, then stop retrying and kill every worker."""
        if not self.wait_idle(grace):
            log.warning("%d asynchronous Lambda invocations still running at shutdown", self.pending)
        self.queue.stop_retrying()
        self.pool.close()
        self.queue.stop()
        self.pool.kill_all()  # anything a last asynchronous attempt was still using
        self.pool.remove_files()

    def abandon(self, timeout: float = 5.0) -> None:
        """Drop queued and running invocations (a moto reset removed their resources)."""
        self.queue.abandon()
        if not self.wait_idle(timeout):
            self.pool.kill_all()
            self.wait_idle(timeout)
        self.queue.forget_undelivered()

    def _save_logs(self, spec: FunctionSpec, log_stream: str, logs: str) -> None:
        """Write the invocation's log to CloudWatch Logs, as Lambda does."""
        try:
            put_lines(self.aws.account_id, spec.region, spec.log_group, log_stream, logs.splitlines())
        except Exception:  # logs are a convenience; never fail an invocation on them
            log.debug("could not save Lambda logs", exc_info=True)


class _Attempt:
    """One invocation on one worker: the init phase on a cold start, the request, its timeouts and failures,
    and the AWS-shaped result (payload, error, REPORT line, durations, memory)."""

    def __init__(self, spec: FunctionSpec, worker: Worker, request_id: str) -> None:
        self.spec, self.worker, self.request_id = spec, worker, request_id
        self.healthy = True
        self.out_of_memory = False
        self.error: dict[str, Any] | None = None
        self.outcome: dict[str, Any] = {}
        self.init_ms: float | None = None
        self.started = time.perf_counter()
        self.duration_ms = 0.0

    def run(self, event: Any) -> None:
        """Init (if cold) and invoke; a timeout, memory kill or dead process becomes an AWS error."""
        spec, worker, request_id = self.spec, self.worker, self.request_id
        try:
            if not worker.ready:  # cold start: the init phase, with its own allowance
                self._init()
            if self.error is None:
                self._invoke(event)
        except TimeoutError:
            self.healthy = False
            worker.terminate()
            self.error = {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {request_id} Error: Task timed out after "
                f"{spec.timeout:.2f} seconds",
            }
        except MemoryExceeded:  # what the sandbox's cgroup does: SIGKILL, the environment is gone
            self.healthy = False
            worker.terminate()
            self.error = exit_error(request_id, worker.proc.returncode)
            self.out_of_memory = True
        except WorkerExited:
            self.healthy = False
            status = worker.wait_exit(2.0)
            if status is None:  # closed its channel but lingers: end it
                worker.terminate()
                status = worker.proc.returncode
            self.error = exit_error(request_id, status)
        self.duration_ms = (time.perf_counter() - self.started) * 1000

    def _init(self) -> None:
        spec, worker = self.spec, self.worker
        frame = worker.receive(time.monotonic() + INIT_ALLOWANCE_S + spec.timeout, spec.memory_size)
        self.init_ms = (time.perf_counter() - worker.spawned) * 1000
        if frame.get("init") != "ok":
            self.error = {**frame["error"], "requestId": self.request_id}
            self.outcome = frame
            self.healthy = False
        worker.ready = True

    def _invoke(self, event: Any) -> None:
        spec, worker = self.spec, self.worker
        self.started = time.perf_counter()
        deadline = time.monotonic() + spec.timeout
        request = {
            "event": event,
            "function_name": spec.name,
            "invoked_function_arn": spec.arn,
            "memory_limit_in_mb": spec.memory_size,
            "aws_request_id": self.request_id,
            "log_group_name": spec.log_group,
            "log_stream_name": worker.log_stream,
            "timeout": spec.timeout,
            "deadline_ms": time.time() * 1000 + spec.timeout * 1000,
        }
        worker.invocations += 1
        if not worker.send(request):
            raise WorkerExited
        self.outcome = worker.receive(deadline, spec.memory_size)
        self.error = self.outcome.get("error")

    def result(self, logs: str) -> InvokeResult:
        """The attempt as Lambda answers it; ``logs`` is what the worker wrote during it."""
        spec, error = self.spec, self.error
        payload = json.dumps(error).encode() if error else self.outcome["payload"].encode()
        # AWS reports the environment's peak; a killed one at its limit.
        memory_mb = (
            spec.memory_size
            if self.out_of_memory
            else max(int(self.outcome.get("max_memory_mb", 0)), self.worker.peak_mb)
        )
        return InvokeResult(
            request_id=self.request_id,
            payload=payload,
            function_error="Unhandled" if error else None,
            logs=report_log(logs, self.request_id, self.duration_ms, spec, memory_mb, error, self.init_ms),
            duration_ms=self.duration_ms,
            max_memory_mb=memory_mb,
            init_duration_ms=self.init_ms,
        )
