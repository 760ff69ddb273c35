"""Lambda executor: ``Invoke`` and S3 notifications really run the function's handler.

moto alone needs Docker to run a function. Here ``moto.awslambda.models.LambdaFunction.invoke`` is replaced
so that the handler runs from the function's deployed zip (extracted once per code digest) in a
``sys.executable`` process (:mod:`.bootstrap`) with the function's environment, dummy
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

import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localaws._aws import LOCAL_CREDENTIALS
from localaws._aws import client as aws_client
from localaws._executor import Executor, Patch
from localaws._lambda.spec import (
    FunctionSpec,
    InvokeResult,
    Sequencer,
    WorkerKey,
    exit_error,
    failure_record,
    report_log,
)
from localaws._lambda.worker import MemoryExceeded, Worker, WorkerExited
from localaws._logs import put_lines

if TYPE_CHECKING:
    from localaws._runtime import LocalAWS

log = logging.getLogger(__name__)

BOOTSTRAP = Path(__file__).resolve().with_name("bootstrap.py")
#: Seconds an interpreter may take to start and import the handler, on top of the function's timeout
#: (AWS gives the init phase 10 s of its own, then lets a slow init go on within the invocation's timeout).
INIT_ALLOWANCE_S = 10.0
#: Seconds an execution environment may stay idle before it is reaped (AWS keeps them for minutes; locally
#: a warm worker holding pandas costs ~150 MB). ``LOCAL_LAMBDA_IDLE_TIMEOUT`` overrides it.
IDLE_TIMEOUT_S = float(os.environ.get("LOCAL_LAMBDA_IDLE_TIMEOUT", "60"))
#: Worker processes kept alive at most, all functions together. ``LOCAL_LAMBDA_MAX_WORKERS`` overrides it.
MAX_WORKERS = int(os.environ.get("LOCAL_LAMBDA_MAX_WORKERS", "8"))
#: Pause before each retry of a failed asynchronous invocation. AWS waits about 1 and 2 minutes; locally
#: that would only slow tests down, the count of attempts is what matters.
RETRY_DELAYS_S = (0.2, 0.5)
#: Asynchronous invocations running at once (the rest wait in the queue, as with reserved concurrency).
ASYNC_CONCURRENCY = 4
#: Seconds ``shutdown`` waits for queued asynchronous invocations before killing what still runs.
SHUTDOWN_GRACE_S = 30.0


class LambdaExecutor(Executor):
    """Runs invocations in warm worker processes and keeps the asynchronous queue of one runtime."""

    service = "Lambda"

    def __init__(self, aws: LocalAWS) -> None:
        super().__init__(aws)
        self.endpoint = aws.endpoint
        self.region = aws.region
        #: Asynchronous events that failed and had no reachable destination: kept, never silently lost.
        self.undelivered: list[dict[str, Any]] = []
        #: Seconds an idle worker is kept before it is reaped.
        self.idle_timeout = IDLE_TIMEOUT_S if aws.lambda_idle_timeout is None else aws.lambda_idle_timeout
        #: Workers alive at most; beyond that an invocation gets a one-off worker.
        self.max_workers = MAX_WORKERS if aws.lambda_max_workers is None else aws.lambda_max_workers
        self.sequencer = Sequencer()
        self._root = Path(tempfile.mkdtemp(prefix="local-lambda-"))
        self._code_dirs: dict[str, Path] = {}
        self._lock = threading.Lock()
        self._idle = threading.Condition()
        self._pending = 0
        self._stopping = threading.Event()
        #: Bumped by a moto reset: queued work for the old resources is abandoned, not retried.
        self._generation = 0
        self._pool = ThreadPoolExecutor(ASYNC_CONCURRENCY, thread_name_prefix="lambda-async")
        # Execution environments, guarded by _workers_lock: every live worker, the idle ones per key (most
        # recently used last), the key each function ARN was last invoked with, and a generation bumped by
        # :meth:`discard_workers` (a worker busy at that moment is discarded when it finishes).
        self._workers_lock = threading.Lock()
        self._workers: set[Worker] = set()
        self._idle_workers: dict[WorkerKey, list[Worker]] = {}
        self._current_keys: dict[str, WorkerKey] = {}
        self._worker_generation = 0
        self._closed = False
        self._reaper: threading.Thread | None = None
        self._reaper_stop = threading.Event()

    # ---- executor hooks -------------------------------------------------------------------------
    def patches(self) -> Iterable[Patch]:
        from localaws._lambda.patches import HANDLERS

        return [Patch(owner, name, handler) for (owner, name), handler in HANDLERS.items()]

    def reset(self) -> None:
        """After a moto reset: drop in-flight work, the warm workers and the extracted packages."""
        self.abandon()
        self.discard_workers()
        self.forget_code()

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
        out_of_memory = False
        error: dict[str, Any] | None = None
        outcome: dict[str, Any] = {}
        init_ms: float | None = None
        started = time.perf_counter()
        try:
            if not worker.ready:  # cold start: the init phase, with its own allowance
                frame = worker.receive(time.monotonic() + INIT_ALLOWANCE_S + spec.timeout, spec.memory_size)
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
                outcome = worker.receive(deadline, spec.memory_size)
                error = outcome.get("error")
        except TimeoutError:
            healthy = False
            worker.terminate()
            error = {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {request_id} Error: Task timed out after "
                f"{spec.timeout:.2f} seconds",
            }
        except MemoryExceeded:  # what the sandbox's cgroup does: SIGKILL, the environment is gone
            healthy = False
            worker.terminate()
            error = exit_error(request_id, worker.proc.returncode)
            out_of_memory = True
        except WorkerExited:
            healthy = False
            status = worker.wait_exit(2.0)
            if status is None:  # closed its channel but lingers: end it
                worker.terminate()
                status = worker.proc.returncode
            error = exit_error(request_id, status)
        duration_ms = (time.perf_counter() - started) * 1000
        if healthy:
            logs = worker.log_of(request_id)
        else:
            worker.terminate()
            logs = worker.remaining_log()
        self.release(worker, healthy)
        payload = json.dumps(error).encode() if error else outcome["payload"].encode()
        # AWS reports the environment's peak; a killed one at its limit.
        memory_mb = (
            spec.memory_size if out_of_memory else max(int(outcome.get("max_memory_mb", 0)), worker.peak_mb)
        )
        result = InvokeResult(
            request_id=request_id,
            payload=payload,
            function_error="Unhandled" if error else None,
            logs=report_log(logs, request_id, duration_ms, spec, memory_mb, error, init_ms),
            duration_ms=duration_ms,
            max_memory_mb=memory_mb,
            init_duration_ms=init_ms,
        )
        self._save_logs(spec, worker.log_stream, result.logs)
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
            self._deliver(destination, record)
        except Exception as error:
            self._give_up(
                spec,
                request_id,
                record.get("requestPayload"),
                f"delivery to {destination} failed: {error}",
                0,
                record,
            )

    def _deliver(self, destination: str, record: dict[str, Any]) -> None:
        """Send the record through the runtime's API, like Lambda's destination delivery."""
        service = destination.split(":")[2]
        client = aws_client(service, self.endpoint, destination.split(":")[3] or self.region)
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

    def _save_logs(self, spec: FunctionSpec, log_stream: str, logs: str) -> None:
        """Write the invocation's log to CloudWatch Logs, as Lambda does."""
        try:
            put_lines(self.aws.account_id, spec.region, spec.log_group, log_stream, logs.splitlines())
        except Exception:  # logs are a convenience; never fail an invocation on them
            log.debug("could not save Lambda logs", exc_info=True)

    def forget_code(self) -> None:
        with self._lock:
            for path in self._code_dirs.values():
                shutil.rmtree(path, ignore_errors=True)
            self._code_dirs.clear()
