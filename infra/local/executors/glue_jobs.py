"""Glue job executor: ``StartJobRun`` really runs the job's script with local PySpark 3.5.

moto only records a job run and reports it SUCCEEDED without running anything. Here moto's in-process Glue
backend is patched so that a run:

1. downloads the job's ``Command.ScriptLocation`` (and ``--extra-py-files``) from the runtime's S3;
2. starts ``python script.py --JOB_ID … --JOB_RUN_ID … --JOB_NAME … --TempDir … <DefaultArguments merged
   with the run's Arguments>`` in a separate process, as Glue does, so ``awsglue.utils.getResolvedOptions``
   works; Spark is configured through a generated ``SPARK_CONF_DIR`` (S3A against the runtime for the
   ``s3://`` scheme, see :mod:`infra.local.spark`), so the script's plain ``SparkSession.builder
   .getOrCreate()`` needs no local-only code;
3. moves ``JobRunState`` STARTING → RUNNING → SUCCEEDED / FAILED (with the script's real error, e.g.
   ``ValueError: …``) / TIMEOUT (the job's or run's ``Timeout``, in minutes) / STOPPING → STOPPED
   (``BatchStopJobRun``, which moto lacks), with ``StartedOn``, ``CompletedOn`` and ``ExecutionTime``;
4. keeps the driver's stdout/stderr: as files under a work folder (path logged, tail appended to
   ``ErrorMessage``) and in the runtime's CloudWatch Logs, in the log groups Glue uses
   (``/aws-glue/jobs/output`` and ``/aws-glue/jobs/error``, stream = run id), so the provider's
   ``GlueJobOperator(verbose=True)`` prints them like on AWS.

``ExecutionProperty.MaxConcurrentRuns`` is honoured with ``ConcurrentRunsExceededException``.

Cost: each run starts a JVM; a trivial job takes ~7-10 s on 2 cores, almost all of it Spark start-up
(``bench/bench_executors_glue.py`` measures it). The Spark settings keep it low: no UI, 4 shuffle partitions.
"""

from __future__ import annotations

import logging
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moto.glue.models import FakeJobRun

from infra.local import spark as local_spark

if TYPE_CHECKING:
    from infra.local.runtime import LocalRuntime

log = logging.getLogger(__name__)

LOG_GROUP = "/aws-glue/jobs"
ACTIVE_STATES = frozenset({"STARTING", "RUNNING", "STOPPING", "WAITING"})
#: Glue's default job timeout (minutes) when neither the job nor the run sets one.
DEFAULT_TIMEOUT_MINUTES = 2880
#: Seconds in one "minute" of a job's Timeout (tests shrink it to exercise TIMEOUT quickly).
TIMEOUT_UNIT_SECONDS = 60.0
#: Lines of the driver's stderr appended to a failed run's ErrorMessage.
ERROR_TAIL_LINES = 20
#: Seconds between copies of a running job's output to CloudWatch Logs.
LOG_SHIP_SECONDS = 2.0
#: Driver memory of the local job process (a G.1X worker has 16 GB; 2 GB is plenty for the sample data).
DRIVER_MEMORY = "2g"
#: Local jobs are short: C1-only JIT and the serial GC start the driver JVM ~2x faster on 2 busy cores
#: (bench/bench_executors_glue.py); a job can restore the JVM defaults with its own
#: ``--conf spark.driver.extraJavaOptions=...``.
DRIVER_JAVA_OPTIONS = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1"

_SPARK_LOG_LINE = re.compile(r"^\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} [A-Z]+ ")
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w]*\.)*(?P<name>[A-Za-z_]\w*)(?P<rest>:.*)?$")


# ---- pure helpers ----------------------------------------------------------------------------------------
def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` (or ``s3a://``) -> (bucket, key)."""
    match = re.fullmatch(r"s3a?://([^/]+)/(.+)", uri)
    if not match:
        raise ValueError(f"not an S3 object URI: {uri!r}")
    return match.group(1), match.group(2)


def job_arguments(
    job_name: str,
    job_id: str,
    run_id: str,
    arguments: Mapping[str, str],
    default_temp_dir: str,
) -> list[str]:
    """The argument vector Glue gives a job script (after ``script.py``).

    Glue adds ``--JOB_ID``, ``--JOB_RUN_ID``, ``--JOB_NAME`` and ``--TempDir`` (a default one when the job
    has none) to the merged job/run arguments; every argument is passed as ``--key value``.
    """
    argv = ["--JOB_ID", job_id, "--JOB_RUN_ID", run_id, "--JOB_NAME", job_name]
    if "--TempDir" not in arguments:
        argv += ["--TempDir", default_temp_dir]
    for key, value in arguments.items():
        argv += [key if key.startswith("--") else f"--{key}", str(value)]
    return argv


def spark_conf_from_arguments(arguments: Mapping[str, str]) -> dict[str, str]:
    """Spark settings a job passes the Glue way: ``--conf`` = ``k=v --conf k2=v2``."""
    raw = arguments.get("--conf", "")
    conf: dict[str, str] = {}
    for item in re.split(r"\s*--conf\s+", raw.strip()):
        if "=" in item:
            key, value = item.split("=", 1)
            conf[key.strip()] = value.strip()
    return conf


def error_message(stderr: str, returncode: int) -> str:
    """The one-line error Glue reports for a failed script: the final exception of the last traceback.

    Module prefixes are dropped (``pyspark.errors.exceptions.captured.AnalysisException: …`` becomes
    ``AnalysisException: …``) as Glue's console shows them. Without a traceback: the last non-log line,
    else Glue's generic ``Command failed with exit code N``.
    """
    lines = stderr.splitlines()
    start = max(
        (i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")),
        default=None,
    )
    if start is not None:
        for line in lines[start + 1 :]:
            if not line.strip() or line[0].isspace() or _SPARK_LOG_LINE.match(line):
                continue
            match = _EXCEPTION_LINE.match(line.split(":", 1)[0])
            if match:
                name = match.group("name")
                rest = line.split(":", 1)[1].strip() if ":" in line else ""
                return f"{name}: {rest}" if rest else name
            return line.strip()
    for line in reversed(lines):
        if line.strip() and not _SPARK_LOG_LINE.match(line) and not line[0].isspace():
            return line.strip()
    return f"Command failed with exit code {returncode}"


def tail(text: str, count: int = ERROR_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-count:])


# ---- the run ---------------------------------------------------------------------------------------------
class LocalJobRun(FakeJobRun):
    """A moto job run whose state is driven by a real process instead of moto's state manager."""

    def __init__(self, job: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._state = "STARTING"
        self.job = job
        self.job_id = "j_" + uuid.uuid5(uuid.NAMESPACE_URL, job.arn).hex
        self.glue_version = job.glue_version
        self.error: str | None = None
        self.completed: datetime | None = None
        self.execution_seconds = 0
        self.work_dir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.stop_requested = threading.Event()
        self.done = threading.Event()
        self.logs: CloudWatchShipper | None = None

    # moto's ManagedState would advance the state on every describe; a real process drives it here.
    @property  # type: ignore[override]
    def status(self) -> str:
        return self._state

    @status.setter
    def status(self, value: str) -> None:
        self._state = value
        self.modified_on = _utcnow()

    def advance(self) -> None:
        pass

    @property
    def stdout_path(self) -> Path | None:
        return self.work_dir / "stdout.log" if self.work_dir else None

    @property
    def stderr_path(self) -> Path | None:
        return self.work_dir / "stderr.log" if self.work_dir else None

    def as_dict(self) -> dict[str, Any]:
        data = super().as_dict()
        data.update(
            {
                "JobRunState": self._state,
                "ExecutionTime": self.execution_seconds,
                "LogGroupName": LOG_GROUP,
                "GlueVersion": self.glue_version or "5.1",
                "JobMode": "SCRIPT",
            }
        )
        if self.completed is None:
            data.pop("CompletedOn", None)
        else:
            data["CompletedOn"] = self.completed
        if self.error:
            data["ErrorMessage"] = self.error
        return data


def _utcnow() -> datetime:
    from moto.core.utils import utcnow

    return utcnow()


# ---- the executor ----------------------------------------------------------------------------------------
@dataclass
class GlueJobExecutor:
    """Runs job scripts for one :class:`LocalRuntime`; keeps work folders (script, logs) under ``root``."""

    runtime: LocalRuntime
    root: Path

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.runs: list[LocalJobRun] = []

    # -- called from moto's request threads --
    def start(self, run: LocalJobRun) -> None:
        with self._lock:
            self.runs.append(run)
        thread = threading.Thread(
            target=self._run, args=(run,), name=f"glue-{run.job_run_id[:12]}", daemon=True
        )
        thread.start()

    def stop(self, run: LocalJobRun) -> None:
        run.status = "STOPPING"
        run.stop_requested.set()
        _terminate(run.process)

    # -- lifecycle --
    def active_runs(self) -> list[LocalJobRun]:
        with self._lock:
            return [r for r in self.runs if not r.done.is_set()]

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for run in self.active_runs():
            if not run.done.wait(max(0.0, deadline - time.monotonic())):
                return False
        return True

    def stop_all(self, timeout: float = 30.0) -> None:
        for run in self.active_runs():
            self.stop(run)
        self.wait_idle(timeout)
        with self._lock:
            self.runs.clear()

    # -- the worker thread --
    def _run(self, run: LocalJobRun) -> None:
        job = run.job
        started = time.monotonic()
        try:
            run.work_dir = self.root / _safe(job.name) / run.job_run_id
            run.work_dir.mkdir(parents=True, exist_ok=True)
            arguments = dict(run.arguments or {})
            script = self._download(job.command.get("ScriptLocation", ""), run.work_dir)
            pythonpath = [str(p) for p in self._extra_py_files(arguments, run.work_dir / "py")]
            conf = local_spark.spark_conf(
                self.runtime.endpoint,
                extra={
                    "spark.driver.memory": DRIVER_MEMORY,
                    "spark.driver.extraJavaOptions": DRIVER_JAVA_OPTIONS,
                    **spark_conf_from_arguments(arguments),
                },
            )
            conf_dir = local_spark.write_conf_dir(run.work_dir / "conf", conf)
            argv = [sys.executable, str(script)] + job_arguments(
                job.name, run.job_id, run.job_run_id, arguments, self._default_temp_dir()
            )
            env = self._environment(conf_dir, pythonpath)
            if run.stop_requested.is_set():
                self._finish(run, "STOPPED", None, started)
                return
            assert run.stdout_path is not None and run.stderr_path is not None
            with run.stdout_path.open("wb") as out, run.stderr_path.open("wb") as err:
                run.process = subprocess.Popen(
                    argv,
                    cwd=run.work_dir,
                    env=env,
                    stdout=out,
                    stderr=err,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # its own process group: a stop kills the JVM too
                )
                run.started_on = _utcnow()
                run.logs = CloudWatchShipper(run)
                run.status = "RUNNING"
                log.info(
                    "glue job %s run %s started (pid %s), logs in %s",
                    job.name,
                    run.job_run_id,
                    run.process.pid,
                    run.work_dir,
                )
                timeout_minutes = run.timeout or job.timeout or DEFAULT_TIMEOUT_MINUTES
                deadline = time.monotonic() + timeout_minutes * TIMEOUT_UNIT_SECONDS
                timed_out = False
                while True:  # ship the driver's output to CloudWatch Logs while it runs, like Glue
                    try:
                        returncode = run.process.wait(timeout=LOG_SHIP_SECONDS)
                        break
                    except subprocess.TimeoutExpired:
                        run.logs.ship()
                    if time.monotonic() > deadline:
                        _terminate(run.process)
                        returncode = run.process.wait()
                        timed_out = True
                        break
            stderr = run.stderr_path.read_text(encoding="utf-8", errors="replace")
            if run.stop_requested.is_set():
                self._finish(run, "STOPPED", None, started)
            elif timed_out:
                self._finish(run, "TIMEOUT", f"Job run timed out after {timeout_minutes} minutes", started)
            elif returncode == 0:
                self._finish(run, "SUCCEEDED", None, started)
            else:
                message = error_message(stderr, returncode)
                detail = f"\n--- local driver log {run.stderr_path} (last lines) ---\n{tail(stderr)}"
                self._finish(run, "FAILED", message + detail, started)
        except Exception as error:  # a run must never stay RUNNING because the executor broke
            log.exception("glue job %s run %s could not run", job.name, run.job_run_id)
            self._finish(run, "FAILED", f"{type(error).__name__}: {error}", started)

    def _finish(self, run: LocalJobRun, state: str, error: str | None, started: float) -> None:
        run.completed = _utcnow()
        run.execution_seconds = max(1, math.ceil(time.monotonic() - started))
        run.error = error
        if run.logs is not None:
            run.logs.ship()
        run.status = state  # last: a poller that sees the final state sees everything else too
        run.done.set()
        if state == "FAILED":
            log.warning("glue job %s run %s FAILED: %s", run.job.name, run.job_run_id, (error or "")[:2000])
        else:
            log.info(
                "glue job %s run %s %s in %s s", run.job.name, run.job_run_id, state, run.execution_seconds
            )

    # -- helpers --
    def _download(self, uri: str, folder: Path) -> Path:
        if not uri:
            raise ValueError("the job has no Command.ScriptLocation")
        if not uri.startswith(("s3://", "s3a://")):
            raise ValueError(f"ScriptLocation {uri!r} is not an S3 URI")
        bucket, key = split_s3_uri(uri)
        target = folder / Path(key).name
        s3 = self.runtime.client("s3")
        try:
            s3.download_file(bucket, key, str(target))
        except Exception as error:
            raise FileNotFoundError(f"cannot download the script {uri}: {error}") from None
        return target

    def _extra_py_files(self, arguments: Mapping[str, str], folder: Path) -> Iterable[Path]:
        uris = [u.strip() for u in arguments.get("--extra-py-files", "").split(",") if u.strip()]
        if not uris:
            return []
        folder.mkdir(parents=True, exist_ok=True)
        paths = [self._download(uri, folder) for uri in uris]
        # .py files are importable from their folder; .zip/.whl archives are put on the path themselves.
        return sorted({folder if p.suffix == ".py" else p for p in paths})

    def _default_temp_dir(self) -> str:
        s = self.runtime.settings
        return f"s3://{s.assets_bucket}/{s.prefixes.glue_temp}"

    def _environment(self, conf_dir: Path, pythonpath: list[str]) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")}
        base.update(self.runtime.client_env())
        env = local_spark.subprocess_env(conf_dir, base)
        env["SPARK_LOCAL_IP"] = "127.0.0.1"
        env["PYTHONUNBUFFERED"] = "1"
        if pythonpath:
            env["PYTHONPATH"] = os.pathsep.join([*pythonpath, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        return env


class CloudWatchShipper:
    """Copies new lines of a run's stdout/stderr files to CloudWatch Logs (moto's backend, in-process).

    Glue writes the driver's stdout to ``/aws-glue/jobs/output`` and stderr to ``/aws-glue/jobs/error``,
    one stream per run id; the provider's operators and triggers read them there (``verbose=True``).
    """

    def __init__(self, run: LocalJobRun) -> None:
        self.run = run
        self.offsets = {"output": 0, "error": 0}
        self._lock = threading.Lock()
        self._ensure_streams()

    def _backend(self) -> Any:
        from moto.logs.models import logs_backends

        return logs_backends[self.run.job.backend.account_id][self.run.job.backend.region_name]

    def _ensure_streams(self) -> None:
        from moto.logs.exceptions import ResourceAlreadyExistsException

        backend = self._backend()
        for suffix in self.offsets:
            group = f"{LOG_GROUP}/{suffix}"
            try:
                backend.create_log_group(group, {})
            except ResourceAlreadyExistsException:
                pass
            backend.ensure_log_stream(group, self.run.job_run_id)

    def ship(self) -> None:
        """Send the complete lines written since the last call. Never raises: logs are a convenience."""
        with self._lock:
            try:
                self._ship()
            except Exception:
                log.warning(
                    "could not copy logs of run %s to CloudWatch Logs", self.run.job_run_id, exc_info=True
                )

    def _ship(self) -> None:
        paths = {"output": self.run.stdout_path, "error": self.run.stderr_path}
        for suffix, path in paths.items():
            if path is None or not path.exists():
                continue
            with path.open("rb") as handle:
                handle.seek(self.offsets[suffix])
                chunk = handle.read()
            end = chunk.rfind(b"\n") + 1
            if self.run.process is not None and self.run.process.poll() is not None:
                end = len(chunk)  # the process is gone: a last line without newline is complete too
            if end <= 0:
                continue
            self.offsets[suffix] += end
            lines = [line for line in chunk[:end].decode("utf-8", errors="replace").splitlines() if line]
            now = int(time.time() * 1000)
            group = f"{LOG_GROUP}/{suffix}"
            self._ensure_streams()  # a moto reset may have dropped them
            for i in range(0, len(lines), 1000):
                events = [{"timestamp": now, "message": line[:200_000]} for line in lines[i : i + 1000]]
                self._backend().put_log_events(group, self.run.job_run_id, events)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _terminate(process: subprocess.Popen[bytes] | None, grace: float = 5.0) -> None:
    """End a job process and its JVM (its own process group), politely first."""
    if process is None or process.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


# ---- moto patches ----------------------------------------------------------------------------------------
_executors: dict[int, GlueJobExecutor] = {}
_originals: dict[str, Callable[..., Any]] = {}
_start_lock = threading.Lock()


def _current() -> GlueJobExecutor | None:
    # moto's backends are process-global, so any started runtime's executor can serve a run; use the newest.
    return next(reversed(_executors.values()), None)


def _start_job_run(
    self: Any,
    allocated_capacity: int | None,
    max_capacity: float | None,
    timeout: int | None,
    worker_type: str | None,
    security_configuration: str | None,
    number_of_workers: int | None,
    notification_property: dict[str, int] | None,
    previous_run_id: str | None,
    arguments: dict[str, str] | None,
) -> str:
    """``FakeJob.start_job_run`` that honours MaxConcurrentRuns and hands the run to the executor."""
    from moto.glue.exceptions import ConcurrentRunsExceededException

    executor = _current()
    if executor is None:
        return _originals["start_job_run"](
            self,
            allocated_capacity,
            max_capacity,
            timeout,
            worker_type,
            security_configuration,
            number_of_workers,
            notification_property,
            previous_run_id,
            arguments,
        )
    with _start_lock:
        running = sum(1 for r in self.job_runs if r.status in ACTIVE_STATES)
        if running >= int(self.execution_property.get("MaxConcurrentRuns", 1)):
            raise ConcurrentRunsExceededException(f"Concurrent runs exceeded for {self.name}")
        merged = dict(self.default_arguments)
        merged.update(arguments or {})
        merged.update(self.non_overridable_arguments or {})  # last: cannot be overridden by a run
        run = LocalJobRun(
            self,
            job_name=self.name,
            arguments=merged,
            allocated_capacity=allocated_capacity or self.allocated_capacity,
            max_capacity=max_capacity or self.max_capacity,
            timeout=timeout or self.timeout,
            worker_type=worker_type or self.worker_type,
            security_configuration=security_configuration or self.security_configuration,
            number_of_workers=number_of_workers or self.number_of_workers,
            notification_property=notification_property or self.notification_property,
            job_run_id=previous_run_id,
        )
        self.job_runs.append(run)
    executor.start(run)
    return str(run.job_run_id)


def _get_job_runs(self: Any) -> list[Any]:
    """Newest first, like Glue."""
    return list(reversed(self.job_runs))


def _batch_stop_job_run(self: Any) -> Any:
    """``BatchStopJobRun`` (moto has none): stop active runs, report the others as errors like Glue."""
    from moto.core.responses import ActionResult

    name = self._get_param("JobName")
    job = self.glue_backend.get_job(name)
    succeeded, errors = [], []
    executor = _current()
    for run_id in self._get_param("JobRunIds") or []:
        run = next((r for r in job.job_runs if r.job_run_id == run_id), None)
        if run is None:
            errors.append(
                {
                    "JobName": name,
                    "JobRunId": run_id,
                    "ErrorDetail": {
                        "ErrorCode": "EntityNotFoundException",
                        "ErrorMessage": f"Job Run {run_id} not found",
                    },
                }
            )
        elif isinstance(run, LocalJobRun) and executor is not None and run.status in ("STARTING", "RUNNING"):
            executor.stop(run)
            succeeded.append({"JobName": name, "JobRunId": run_id})
        else:
            errors.append(
                {
                    "JobName": name,
                    "JobRunId": run_id,
                    "ErrorDetail": {
                        "ErrorCode": "InvalidInputException",
                        "ErrorMessage": f"Job Run {run_id} is in {run.status} state and cannot be stopped",
                    },
                }
            )
    return ActionResult({"SuccessfulSubmissions": succeeded, "Errors": errors})


def _patch() -> None:
    from moto.glue.models import FakeJob
    from moto.glue.responses import GlueResponse

    if _originals:
        return
    _originals["start_job_run"] = FakeJob.start_job_run
    _originals["get_job_runs"] = FakeJob.get_job_runs
    FakeJob.start_job_run = _start_job_run  # type: ignore[method-assign,assignment]
    FakeJob.get_job_runs = _get_job_runs  # type: ignore[method-assign]
    GlueResponse.batch_stop_job_run = _batch_stop_job_run  # type: ignore[attr-defined]


def _unpatch() -> None:
    from moto.glue.models import FakeJob
    from moto.glue.responses import GlueResponse

    if not _originals:
        return
    FakeJob.start_job_run = _originals.pop("start_job_run")  # type: ignore[method-assign]
    FakeJob.get_job_runs = _originals.pop("get_job_runs")  # type: ignore[method-assign]
    if hasattr(GlueResponse, "batch_stop_job_run"):
        delattr(GlueResponse, "batch_stop_job_run")


# ---- executor protocol (infra/local/executors/__init__.py) -----------------------------------------------
def install(runtime: LocalRuntime) -> None:
    """Patch moto's Glue backend so job runs of this runtime really run."""
    try:
        local_spark.s3a_jars()
    except local_spark.SparkSetupError as error:  # the other executors still work; job runs will fail
        log.warning("Glue job runs will fail: %s", error)
    root = Path(tempfile.mkdtemp(prefix="youtube-etl-glue-"))
    _executors[id(runtime)] = GlueJobExecutor(runtime=runtime, root=root)
    _patch()
    log.info("Glue job executor installed; job work folders and driver logs under %s", root)


def shutdown(runtime: LocalRuntime) -> None:
    """Stop this runtime's job runs (their processes are killed); the log folder is kept."""
    executor = _executors.pop(id(runtime), None)
    if executor is not None:
        executor.stop_all()
    if not _executors:
        _unpatch()


def reset(runtime: LocalRuntime) -> None:
    """After a moto reset the runs are gone from the API: stop their processes too."""
    executor = _executors.get(id(runtime))
    if executor is not None:
        executor.stop_all()


def wait_idle(runtime: LocalRuntime, timeout: float = 600.0) -> bool:
    """Block until every job run of ``runtime`` has finished; False if ``timeout`` s passed first."""
    executor = _executors.get(id(runtime))
    return True if executor is None else executor.wait_idle(timeout)


def work_folder(runtime: LocalRuntime) -> Path | None:
    """Where this runtime's job runs keep their script, Spark configuration and driver logs."""
    executor = _executors.get(id(runtime))
    return executor.root if executor else None
