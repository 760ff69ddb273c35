"""The Spark drivers' class archive: JVM class data sharing for the classes every driver loads.

A driver JVM parses and verifies some 10,000 classes of Spark, Hadoop and Parquet as it starts its session
and runs its first job, every run anew. A dynamic CDS archive (``-XX:ArchiveClassesAtExit``, JDK 13+) keeps
them parsed and verified in one file that later JVMs map (``-XX:SharedArchiveFile``): a cold job run takes
about 30% less time and CPU on 2 cores (``bench/bench_executors_glue.py``). :func:`build` makes it once per
JDK and PySpark (:func:`.spark.class_archive` names it after both): a training run of the pre-started
driver's warm-up in a JVM that writes the archive as it exits. Only the JVM's own class loaders are
archived; the S3A jars of ``spark.jars`` load as before.

A JVM that cannot map the archive (another JDK, other jars) runs without it: slower, never different.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from localaws._glue_jobs import spark
from localaws._glue_jobs.executor import DRIVER, driver_conf
from localaws._glue_jobs.spec import tail

#: A training run takes ~25 s on 2 idle cores, its check ~10 s.
BUILD_TIMEOUT_SECONDS = 600.0


class ClassArchiveError(RuntimeError):
    """The training run failed or wrote no archive; the message holds its exit status and output's end."""


def build(timeout: float = BUILD_TIMEOUT_SECONDS) -> Path:
    """The class archive of this JDK and PySpark, built first if missing (others' archives are removed)."""
    target = spark.class_archive()
    if target is None:
        raise spark.SparkSetupError("no java on the PATH (or JAVA_HOME) or no PySpark: no class archive")
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(target.parent, timeout)
    with tempfile.TemporaryDirectory(prefix="spark-classes-", dir=target.parent) as work:
        folder = Path(work)
        (folder / BUILDER_FILE).write_text(str(os.getpid()), encoding="utf-8")
        partial = folder / "classes.jsa"
        command = [sys.executable, str(DRIVER), "--archive-classes", str(folder / "warmup")]
        done = _run_driver(command, folder, "-XX:ArchiveClassesAtExit", partial, timeout)
        if done.returncode != 0 or not partial.is_file():
            raise ClassArchiveError(
                f"the class archive's training run exited {done.returncode} and wrote "
                f"{'an archive' if partial.is_file() else 'no archive'}: {tail(_output(done))}"
            )
        verify(partial, timeout)
        os.replace(partial, target)
    return target


#: In a build's work folder: the building process's id, so that a later build can tell it was killed.
BUILDER_FILE = "builder.pid"


def remove_leftovers(folder: Path, timeout: float = BUILD_TIMEOUT_SECONDS) -> None:
    """Remove other JDKs' and PySparks' archives, and the work folders of builds that were killed: their
    builder process is gone (or, killed before it wrote its id, the folder is older than a build may take)."""
    for stale in folder.glob("spark-classes-*"):
        if not stale.is_dir():
            stale.unlink()
        elif not _builder_alive(stale / BUILDER_FILE, stale.stat().st_mtime + 2 * timeout):
            shutil.rmtree(stale, ignore_errors=True)


def _builder_alive(pid_file: Path, expires: float) -> bool:
    try:
        os.kill(int(pid_file.read_text(encoding="utf-8")), 0)
    except (FileNotFoundError, ValueError):
        return time.time() < expires
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


#: A SparkSession's start and one small job: what every driver does first.
VERIFY_STEP = "from pyspark.sql import SparkSession; SparkSession.builder.getOrCreate().range(3).count()"


def verify(archive: Path, timeout: float = BUILD_TIMEOUT_SECONDS) -> None:
    """Start a driver's JVM on ``archive`` and run a small job; ClassArchiveError naming the file if it
    cannot (a truncated archive maps, then kills the JVM with SIGBUS where it touches the missing part)."""
    with tempfile.TemporaryDirectory(prefix="spark-classes-verify-") as work:
        command = [sys.executable, "-c", VERIFY_STEP]
        done = _run_driver(command, Path(work), "-XX:SharedArchiveFile", archive, timeout)
    if done.returncode != 0:
        lines = [
            line.strip(" #") for line in _output(done).splitlines() if "SIGBUS" in line or "Error" in line
        ]
        raise ClassArchiveError(
            f"{archive}: a Spark driver cannot start on this class archive (exit {done.returncode}"
            f"{': ' + lines[0] if lines else ''}); delete it and run python -m localaws spark-classes"
        )


def _run_driver(
    command: list[str], folder: Path, flag: str, archive: Path, timeout: float
) -> subprocess.CompletedProcess[bytes]:
    """``command`` (a Python whose PySpark starts a JVM) in ``folder``, with the drivers' Spark settings and
    JVM options plus ``flag=archive``. Its S3A endpoint is never asked (the warm-up asks S3 nothing)."""
    archive_options = f"{spark.java_option_path(flag, archive)} {spark.QUIET_ARCHIVE_OPTIONS}"
    conf = driver_conf("http://127.0.0.1:9", "local[*]", archive_options)
    env = spark.subprocess_env(spark.write_conf_dir(folder / "conf", conf))
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    process = subprocess.Popen(
        command,
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the JVM goes with it
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except BaseException:  # a timeout, or the build stopped (Ctrl-C, SIGTERM): nothing may go on writing
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _output(done: subprocess.CompletedProcess[bytes]) -> str:
    return (done.stdout + done.stderr).decode(errors="replace")
