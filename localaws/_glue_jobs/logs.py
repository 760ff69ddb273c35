"""A job run's driver output in CloudWatch Logs, in the log groups Glue writes it to.

Glue writes the driver's stdout to ``/aws-glue/jobs/output`` and its stderr to ``/aws-glue/jobs/error``, one
stream per run named by its run id. The streams exist from the run's start, empty if nothing is written (a
run that failed before its driver started too): the provider's ``GlueJobHook.print_job_logs`` reads both
groups, and its system tests' clean-up describes the streams of each by run id, so a missing group fails
them with ``ResourceNotFoundException``. With ``--enable-continuous-cloudwatch-log true`` the driver's log
(its stderr here: Spark's and the script's log lines) also goes to ``/aws-glue/jobs/logs-v2`` (or the
run's ``--continuous-log-logGroup``), same stream name: the executors run in the driver's JVM here, so there
are no executor streams.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from localaws._logs import ensure_stream, put_lines

if TYPE_CHECKING:
    from localaws._glue_jobs.patches import LocalJobRun

log = logging.getLogger(__name__)

#: A job run's ``LogGroupName``: its output and error groups are under it.
LOG_GROUP = "/aws-glue/jobs"
#: Where continuous logging writes by default.
CONTINUOUS_LOG_GROUP = "/aws-glue/jobs/logs-v2"


def log_targets(arguments: Mapping[str, str]) -> list[tuple[str, str]]:
    """(log group, the driver output it receives: ``stdout`` or ``stderr``) of a run with ``arguments``."""
    targets = [(f"{LOG_GROUP}/output", "stdout"), (f"{LOG_GROUP}/error", "stderr")]
    if str(arguments.get("--enable-continuous-cloudwatch-log", "")).strip().lower() == "true":
        targets.append((arguments.get("--continuous-log-logGroup") or CONTINUOUS_LOG_GROUP, "stderr"))
    return targets


class CloudWatchShipper:
    """Copies new lines of a run's stdout/stderr files to its log streams (moto's backend, in-process)."""

    def __init__(self, run: LocalJobRun, targets: list[tuple[str, str]]) -> None:
        self.run = run
        self.targets = targets
        self.offsets = dict.fromkeys((group for group, _ in targets), 0)
        self._lock = threading.Lock()

    def _where(self, group: str) -> tuple[str, str, str, str]:
        """(account, region, log group, log stream) of the run's log in ``group``."""
        backend = self.run.job.backend
        return backend.account_id, backend.region_name, group, self.run.job_run_id

    def open(self) -> None:
        """Create the run's streams, empty, as Glue does when a run starts. Never raises."""
        with self._lock:
            for group, _ in self.targets:
                try:
                    ensure_stream(*self._where(group))
                except Exception:
                    log.warning("could not create log stream %s of run %s", group, self.run.job_run_id)

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
        paths = {"stdout": self.run.stdout_path, "stderr": self.run.stderr_path}
        finished = self.run.process is not None and self.run.process.poll() is not None
        for group, source in self.targets:
            path = paths[source]
            if path is None or not path.exists():
                continue
            with path.open("rb") as handle:
                handle.seek(self.offsets[group])
                chunk = handle.read()
            # Once the process is gone, a last line without newline is complete too.
            end = len(chunk) if finished else chunk.rfind(b"\n") + 1
            if end <= 0:
                continue
            self.offsets[group] += end
            lines = [line for line in chunk[:end].decode("utf-8", errors="replace").splitlines() if line]
            put_lines(*self._where(group), lines)
