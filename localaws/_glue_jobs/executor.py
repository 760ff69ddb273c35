"""Glue job executor: ``StartJobRun`` really runs the job's script with local PySpark 3.5.

moto only records a job run and reports it SUCCEEDED without running anything. Here moto's in-process Glue
backend is patched so that a run:

1. downloads the job's ``Command.ScriptLocation`` (and ``--extra-py-files``) from the runtime's S3;
2. starts ``python script.py --JOB_ID … --JOB_RUN_ID … --JOB_NAME … --TempDir … <DefaultArguments merged
   with the run's Arguments>`` in a separate process, as Glue does, so ``awsglue.utils.getResolvedOptions``
   works; Spark is configured through a generated ``spark-defaults.conf`` (S3A against the runtime for the
   ``s3://`` scheme, see :mod:`.spark`), so the script's plain ``SparkSession.builder
   .getOrCreate()`` needs no local-only code;
3. moves ``JobRunState`` STARTING → RUNNING → SUCCEEDED / FAILED (with the script's real error, e.g.
   ``ValueError: …``) / TIMEOUT (the job's or run's ``Timeout``, in minutes) / STOPPING → STOPPED
   (``BatchStopJobRun``, which moto lacks), with ``StartedOn``, ``CompletedOn`` and ``ExecutionTime``;
4. keeps the driver's stdout/stderr: as files under a work folder (path logged, tail appended to
   ``ErrorMessage``) and in the runtime's CloudWatch Logs, in the log groups Glue uses (see :mod:`.logs`),
   so the provider's ``GlueJobOperator(verbose=True)`` prints them like on AWS.

``ExecutionProperty.MaxConcurrentRuns`` is honoured with ``ConcurrentRunsExceededException``.

Cost: each run starts a JVM; a trivial job takes ~7-10 s on 2 cores, almost all of it Spark start-up
(``bench/bench_executors_glue.py`` measures it). The Spark settings keep it low: no UI, 4 shuffle partitions.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from moto.core.utils import utcnow

from localaws._aws import split_s3_uri
from localaws._executor import Executor, Patch
from localaws._glue_etl import BOOKMARK_IN_ENV, BOOKMARK_OUT_ENV, LIBRARY_PATH
from localaws._glue_jobs import spark
from localaws._glue_jobs.bookmarks import BookmarkStore
from localaws._glue_jobs.logs import CloudWatchShipper, log_targets
from localaws._glue_jobs.patches import LocalJobRun
from localaws._glue_jobs.spec import error_message, job_arguments, spark_conf_from_arguments, tail

if TYPE_CHECKING:
    from localaws._runtime import LocalAWS

log = logging.getLogger(__name__)

#: Glue's default job timeout (minutes) when neither the job nor the run sets one.
DEFAULT_TIMEOUT_MINUTES = 2880
#: Seconds between copies of a running job's output to CloudWatch Logs.
LOG_SHIP_SECONDS = 2.0
#: Driver memory of the local job process (a G.1X worker has 16 GB; 2 GB is plenty for the sample data).
DRIVER_MEMORY = "2g"
#: Local jobs are short: C1-only JIT and the serial GC start the driver JVM ~2x faster on 2 busy cores
#: (bench/bench_executors_glue.py); a job can restore the JVM defaults with its own
#: ``--conf spark.driver.extraJavaOptions=...``.
DRIVER_JAVA_OPTIONS = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1"
#: Where job runs' Spark runs: ``local[*]`` (in the driver process), or an existing cluster's master URL
#: (``spark://host:7077``, ...) for data that outgrows one machine. ``LOCAL_GLUE_SPARK_MASTER`` overrides it.
SPARK_MASTER = os.environ.get("LOCAL_GLUE_SPARK_MASTER", "local[*]")
#: A pre-started driver (:mod:`.driver`) serves the next run unless ``LOCAL_GLUE_PRESTART=0`` or the master
#: is a cluster's.
PRESTART = os.environ.get("LOCAL_GLUE_PRESTART", "1") != "0"
DRIVER = Path(__file__).resolve().with_name("driver.py")
#: The pre-started driver runs its warm-up unless this is "0" in its environment (``LocalAWS.glue_warmup``).
WARMUP_ENV = "LOCAL_GLUE_WARMUP"


@dataclass(frozen=True)
class _Launch:
    """What a run's driver is started with (its script and files are in the run's work folder)."""

    arguments: dict[str, str]
    argv: list[str]
    env: dict[str, str]
    pythonpath: list[str]


@dataclass(frozen=True)
class _End:
    """How a run's driver ended: its exit code, and whether the run's timeout (minutes) ended it."""

    returncode: int
    timed_out: bool
    timeout_minutes: int


class SpareDriver:
    """A driver process started ahead of its run (JVM and SparkSession up), its output in ``folder``."""

    def __init__(self, folder: Path, conf_dir: Path, env: dict[str, str]) -> None:
        self.folder = folder
        with (folder / "stdout").open("wb") as out, (folder / "stderr").open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(DRIVER)],
                cwd=folder,
                env=env,
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )

    @property
    def ready(self) -> bool:
        """True once its SparkSession is up (until then a run handed to it waits for the rest)."""
        return (self.folder / "ready").exists()

    def hand_off(self, run: LocalJobRun, argv: list[str], env: dict[str, str], pythonpath: list[str]) -> None:
        """Give it the run: its output files become the run's (renamed: the process keeps writing to
        them, its start-up lines included), then the run's script, arguments and environment."""
        assert run.stdout_path is not None and run.stderr_path is not None and run.work_dir is not None
        os.replace(self.folder / "stdout", run.stdout_path)
        os.replace(self.folder / "stderr", run.stderr_path)
        request = {"argv": argv[1:], "env": env, "pythonpath": pythonpath, "cwd": str(run.work_dir)}
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.close()
        run.process = self.proc


class GlueJobExecutor(Executor):
    """Runs the job scripts of one runtime; keeps their work folders (script, logs) under ``root``."""

    service = "Glue job"

    def __init__(self, aws: LocalAWS) -> None:
        super().__init__(aws)
        self._lock = threading.Lock()
        self.runs: list[LocalJobRun] = []
        self.bookmarks = BookmarkStore()
        try:
            spark.s3a_jars()
        except spark.SparkSetupError as error:  # the other executors still work; job runs will fail
            log.warning("Glue job runs will fail: %s", error)
        self.root = Path(tempfile.mkdtemp(prefix="localaws-glue-"))
        log.info("Glue job executor: job work folders and driver logs under %s", self.root)
        #: The driver waiting for the next run (started once a first run has been asked for).
        self.spare: SpareDriver | None = None
        # A spare driver on a cluster would register as an application and hold the workers' cores while
        # it waits, so the run it was not chosen for could wait for cores forever: only local[*] pre-starts.
        prestart = PRESTART if aws.glue_prestart is None else aws.glue_prestart
        self.prestart = prestart and (aws.glue_spark_master or SPARK_MASTER).startswith("local")
        #: False once a caller said no more runs will follow the next (``LocalAWS.no_more_glue_spares``): a
        #: run still takes the waiting spare, but starts none for a run that will never come.
        self.more_spares = True
        self._closed = False

    # -- executor hooks --
    def patches(self) -> Iterable[Patch]:
        from localaws._glue_jobs.patches import HANDLERS

        return [Patch(owner, name, handler) for (owner, name), handler in HANDLERS.items()]

    def shutdown(self) -> None:
        """Stop the job runs and the spare driver (their processes are killed); the work folder with the
        runs' logs is kept, the spares' folders are removed, and so is the work folder if no job ran."""
        with self._lock:
            self._closed = True
        self._drop_spare()
        self.stop_all()
        for folder in self.root.glob("spare-*"):
            shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.root.rmdir()  # only when empty: a runtime that ran no job leaves nothing in the temp folder

    def reset(self) -> None:
        """After a moto reset the runs are gone from the API: stop their processes too, forget bookmarks."""
        self.stop_all()
        self.bookmarks.clear()

    def snapshot(self) -> dict[str, Any]:
        """The job bookmarks, for a state folder (runs live in moto's backend)."""
        return {"bookmarks": self.bookmarks.snapshot()}

    def restore(self, snapshot: dict[str, Any] | None) -> None:
        if snapshot:
            self.bookmarks.restore(snapshot["bookmarks"])

    # -- called from moto's request threads --
    def start(self, run: LocalJobRun) -> None:
        run.logs = CloudWatchShipper(run, log_targets(run.arguments or {}))
        run.logs.open()  # the run's log streams exist from its start, like Glue's
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

    def wait_idle(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        for run in self.active_runs():
            if not run.done.wait(None if deadline is None else max(0.0, deadline - time.monotonic())):
                return False
        return True

    def stop_all(self, timeout: float = 30.0) -> None:
        for run in self.active_runs():
            self.stop(run)
        self.wait_idle(timeout)
        with self._lock:
            self.runs.clear()

    # -- the pre-started driver --
    def _driver_conf(self, arguments: Mapping[str, str]) -> dict[str, str]:
        master = self.aws.glue_spark_master or SPARK_MASTER
        return driver_conf(self.aws.endpoint, master, spark.class_archive_options(), arguments)

    def _take_spare(self, arguments: Mapping[str, str]) -> SpareDriver | None:
        """The waiting driver if it can serve this run (no ``--conf`` of its own: the spare's JVM has the
        standard configuration), and a new spare started for the next run (unless :attr:`more_spares` is
        off)."""
        if not self.prestart:
            return None
        with self._lock:
            if self._closed:
                return None
            spare, self.spare = self.spare, None
            if self.more_spares:
                self.spare = self._start_spare()
        if spare is not None and (spark_conf_from_arguments(arguments) or spare.proc.poll() is not None):
            _terminate(spare.proc)  # it cannot serve this run; the new spare, if any, serves the next
            spare.proc.wait()
            return None
        return spare

    def start_spare(self) -> bool:
        """Start the spare driver now instead of at the first run (a caller that knows job runs will
        come, e.g. a pipeline about to run); False when pre-starting is off or the executor stopped."""
        if not self.prestart:
            return False
        with self._lock:
            if self._closed:
                return False
            if self.spare is None:
                self.spare = self._start_spare()
            return self.spare is not None

    def _start_spare(self) -> SpareDriver | None:
        folder = Path(tempfile.mkdtemp(prefix="spare-", dir=self.root))
        try:
            conf_dir = spark.write_conf_dir(folder / "conf", self._driver_conf({}))
            env = self._environment(conf_dir, [])
            if self.aws.glue_warmup is not None:
                env[WARMUP_ENV] = "1" if self.aws.glue_warmup else "0"
            return SpareDriver(folder, conf_dir, env)
        except Exception:  # without a spare, runs start cold
            log.exception("could not pre-start a Glue driver")
            return None

    def _drop_spare(self) -> None:
        with self._lock:
            spare, self.spare = self.spare, None
        if spare is not None:
            _terminate(spare.proc)
            spare.proc.wait()

    # -- the worker thread: prepare → launch → wait → conclude --
    def _run(self, run: LocalJobRun) -> None:
        started = time.monotonic()
        try:
            launch = self._prepare(run)
            if run.stop_requested.is_set():
                self._finish(run, "STOPPED", None, started)
                return
            assert run.stdout_path is not None and run.stderr_path is not None
            spare = self._take_spare(launch.arguments)
            # the files stay open while the driver runs, as its stdout and stderr
            with run.stdout_path.open("ab") as out, run.stderr_path.open("ab") as err:
                self._launch(run, launch, spare, out, err)
                end = self._wait(run)
            self._conclude(run, launch, end, started)
        except Exception as error:  # a run must never stay RUNNING because the executor broke
            log.exception("glue job %s run %s could not run", run.job.name, run.job_run_id)
            self._finish(run, "FAILED", f"{type(error).__name__}: {error}", started)

    def _prepare(self, run: LocalJobRun) -> _Launch:
        """The run's work folder with its script, extra files, Spark configuration and input bookmark, and
        the command line and environment its driver is started with."""
        job = run.job
        run.work_dir = self.root / _safe(job.name) / run.job_run_id
        run.work_dir.mkdir(parents=True, exist_ok=True)
        arguments = dict(run.arguments or {})
        script = self._download(job.command.get("ScriptLocation", ""), run.work_dir)
        pythonpath = [str(p) for p in self._extra_py_files(arguments, run.work_dir / "py")]
        conf_dir = spark.write_conf_dir(run.work_dir / "conf", self._driver_conf(arguments))
        argv = [sys.executable, str(script)] + job_arguments(
            job.name, run.job_id, run.job_run_id, arguments, self.aws.glue_temp_dir
        )
        env = self._environment(conf_dir, pythonpath)
        env[BOOKMARK_IN_ENV] = str(self.bookmarks.write_input(job.name, run.work_dir / "bookmark-in.json"))
        env[BOOKMARK_OUT_ENV] = str(run.work_dir / "bookmark-out.json")
        return _Launch(arguments, argv, env, pythonpath)

    def _launch(
        self, run: LocalJobRun, launch: _Launch, spare: SpareDriver | None, out: IO[bytes], err: IO[bytes]
    ) -> None:
        """Start the run's driver (or hand the run to the spare one) writing to ``out``/``err``: RUNNING."""
        if spare is not None:
            spare.hand_off(run, launch.argv, launch.env, launch.pythonpath)
        else:
            run.process = subprocess.Popen(
                launch.argv,
                cwd=run.work_dir,
                env=launch.env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: a stop kills the JVM too
            )
        assert run.process is not None
        run.started_on = utcnow()
        run.status = "RUNNING"
        log.info(
            "glue job %s run %s started (pid %s), logs in %s",
            run.job.name,
            run.job_run_id,
            run.process.pid,
            run.work_dir,
        )

    def _wait(self, run: LocalJobRun) -> _End:
        """Wait for the driver, shipping its output to CloudWatch Logs while it runs (like Glue); past the
        run's timeout, end it."""
        assert run.process is not None
        timeout_minutes = run.timeout or run.job.timeout or DEFAULT_TIMEOUT_MINUTES
        deadline = time.monotonic() + timeout_minutes * self.aws.glue_minute_seconds
        while True:
            try:
                return _End(run.process.wait(timeout=LOG_SHIP_SECONDS), False, timeout_minutes)
            except subprocess.TimeoutExpired:
                if run.logs is not None:
                    run.logs.ship()
            if time.monotonic() > deadline:
                _terminate(run.process)
                return _End(run.process.wait(), True, timeout_minutes)

    def _conclude(self, run: LocalJobRun, launch: _Launch, end: _End, started: float) -> None:
        """The run's final state from how its driver ended; a success records the job's bookmark."""
        assert run.stderr_path is not None
        stderr = run.stderr_path.read_text(encoding="utf-8", errors="replace")
        if run.stop_requested.is_set():
            self._finish(run, "STOPPED", None, started)
        elif end.timed_out:
            self._finish(run, "TIMEOUT", f"Job run timed out after {end.timeout_minutes} minutes", started)
        elif end.returncode == 0:
            self.bookmarks.record(
                run.job.name,
                run.job_run_id,
                launch.arguments.get("--job-bookmark-option"),
                Path(launch.env[BOOKMARK_OUT_ENV]),
            )
            self._finish(run, "SUCCEEDED", None, started)
        else:
            message = error_message(stderr, end.returncode)
            detail = f"\n--- local driver log {run.stderr_path} (last lines) ---\n{tail(stderr)}"
            self._finish(run, "FAILED", message + detail, started)

    def _finish(self, run: LocalJobRun, state: str, error: str | None, started: float) -> None:
        run.completed = utcnow()
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
        if not key:
            raise ValueError(f"ScriptLocation {uri!r} names no object")
        target = folder / Path(key).name
        s3 = self.aws.client("s3")
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

    def _environment(self, conf_dir: Path, pythonpath: list[str]) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")}
        base.update(self.aws.client_env())
        env = spark.subprocess_env(conf_dir, base)
        env["SPARK_LOCAL_IP"] = "127.0.0.1"
        env["PYTHONUNBUFFERED"] = "1"
        # the job's own files first, then the local Glue ETL library ahead of the installed awsglue face
        paths = [*pythonpath, str(LIBRARY_PATH), env.get("PYTHONPATH", "")]
        env["PYTHONPATH"] = os.pathsep.join(paths).rstrip(os.pathsep)
        return env


def driver_conf(
    endpoint: str, master: str, archive_options: str, arguments: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A Glue driver's Spark settings: S3A against ``endpoint``, the driver's memory and JVM options with
    ``archive_options`` (how its JVM uses the class archive, :mod:`.classes`), then a run's own ``--conf``."""
    return spark.spark_conf(
        endpoint,
        master=master,
        extra={
            "spark.driver.memory": DRIVER_MEMORY,
            "spark.driver.extraJavaOptions": f"{DRIVER_JAVA_OPTIONS} {archive_options}".strip(),
            **spark_conf_from_arguments(arguments or {}),
        },
    )


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
