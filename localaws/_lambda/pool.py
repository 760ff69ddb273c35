"""Execution environments of the local Lambda: warm worker processes, pooled per code and configuration.

A worker process imports the handler once (the init phase) and then serves invocations one at a time, so
module-level state and imports persist between invocations of the same code and configuration, as on AWS.
A new worker starts when none of that (function ARN, code digest, configuration) is free — concurrent
invocations get separate workers — and workers of an older code or configuration are retired. Idle
workers are reaped after :attr:`WorkerPool.idle_timeout`; at most :attr:`WorkerPool.max_workers` stay
alive (beyond that, a one-off worker serves and is discarded). Each function's package is extracted once
per code digest (``/var/task``). What one invocation does with a worker is :mod:`.executor`'s business.
"""

from __future__ import annotations

import io
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
from datetime import UTC, datetime
from pathlib import Path

from localaws._aws import LOCAL_CREDENTIALS
from localaws._lambda.spec import FunctionSpec, WorkerKey
from localaws._lambda.worker import Worker

log = logging.getLogger(__name__)

BOOTSTRAP = Path(__file__).resolve().with_name("bootstrap.py")
#: Seconds an execution environment may stay idle before it is reaped (AWS keeps them for minutes; locally
#: a warm worker holding pandas costs ~150 MB). ``LOCAL_LAMBDA_IDLE_TIMEOUT`` overrides it.
IDLE_TIMEOUT_S = float(os.environ.get("LOCAL_LAMBDA_IDLE_TIMEOUT", "60"))
#: Worker processes kept alive at most, all functions together. ``LOCAL_LAMBDA_MAX_WORKERS`` overrides it.
MAX_WORKERS = int(os.environ.get("LOCAL_LAMBDA_MAX_WORKERS", "8"))


class WorkerPool:
    """Every live worker of one runtime, the idle ones per key, and the extracted packages."""

    def __init__(
        self, endpoint: str, idle_timeout: float | None = None, max_workers: int | None = None
    ) -> None:
        self.endpoint = endpoint
        #: Seconds an idle worker is kept before it is reaped.
        self.idle_timeout = IDLE_TIMEOUT_S if idle_timeout is None else idle_timeout
        #: Workers alive at most; beyond that an invocation gets a one-off worker.
        self.max_workers = MAX_WORKERS if max_workers is None else max_workers
        self._root = Path(tempfile.mkdtemp(prefix="local-lambda-"))
        self._code_dirs: dict[str, Path] = {}
        self._code_lock = threading.Lock()
        # Guarded by _workers_lock: every live worker, the idle ones per key (most recently used last), the
        # key each function ARN was last invoked with, and a generation bumped by :meth:`discard_workers`
        # (a worker busy at that moment is discarded when it finishes).
        self._workers_lock = threading.Lock()
        self._workers: set[Worker] = set()
        self._idle_workers: dict[WorkerKey, list[Worker]] = {}
        self._current_keys: dict[str, WorkerKey] = {}
        self._worker_generation = 0
        self._closed = False
        self._reaper: threading.Thread | None = None
        self._reaper_stop = threading.Event()

    def code_dir(self, spec: FunctionSpec) -> Path:
        """The package extracted once per code digest (``/var/task``)."""
        digest = spec.code_sha256
        with self._code_lock:
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
        """Delete the extracted packages (after a moto reset the functions are gone)."""
        with self._code_lock:
            for path in self._code_dirs.values():
                shutil.rmtree(path, ignore_errors=True)
            self._code_dirs.clear()

    def close(self) -> None:
        """Refuse new workers, stop the reaper and kill every worker (busy ones included)."""
        with self._workers_lock:
            self._closed = True
            reaper = self._reaper
        self._reaper_stop.set()
        if reaper is not None:
            reaper.join()
        self.kill_all()

    def remove_files(self) -> None:
        """Delete the extracted packages and the workers' home (after :meth:`close`)."""
        shutil.rmtree(self._root, ignore_errors=True)
