"""moto's Glue job API, replaced: StartJobRun hands a run to the executor, runs are listed newest first,
and BatchStopJobRun (which moto lacks) stops them."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.glue.exceptions import ConcurrentRunsExceededException, EntityNotFoundException
from moto.glue.models import FakeJob, FakeJobRun
from moto.glue.responses import GlueResponse

from localaws._glue_jobs.logs import LOG_GROUP

if TYPE_CHECKING:
    import subprocess

    from localaws._glue_jobs.executor import GlueJobExecutor
    from localaws._glue_jobs.logs import CloudWatchShipper

ACTIVE_STATES = frozenset({"STARTING", "RUNNING", "STOPPING", "WAITING"})
_start_lock = threading.Lock()


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

    def __getstate__(self) -> dict[str, Any]:
        """For a state folder: the run's process handle stays behind (it cannot outlive the runtime, and a
        pre-started driver's handle holds the pipe it was given the run through, which cannot be pickled)."""
        state = self.__dict__.copy()
        state["process"] = None
        return state

    # moto's ManagedState would advance the state on every describe; a real process drives it here.
    @property  # type: ignore[override]
    def status(self) -> str:
        return self._state

    @status.setter
    def status(self, value: str) -> None:
        self._state = value
        self.modified_on = utcnow()

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


def start_job_run(
    executor: GlueJobExecutor,
    job: FakeJob,
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
    with _start_lock:
        running = sum(1 for r in job.job_runs if r.status in ACTIVE_STATES)
        if running >= int(job.execution_property.get("MaxConcurrentRuns", 1)):
            raise ConcurrentRunsExceededException(f"Concurrent runs exceeded for {job.name}")
        merged = dict(job.default_arguments)
        merged.update(arguments or {})
        merged.update(job.non_overridable_arguments or {})  # last: cannot be overridden by a run
        run = LocalJobRun(
            job,
            job_name=job.name,
            arguments=merged,
            allocated_capacity=allocated_capacity or job.allocated_capacity,
            max_capacity=max_capacity or job.max_capacity,
            timeout=timeout or job.timeout,
            worker_type=worker_type or job.worker_type,
            security_configuration=security_configuration or job.security_configuration,
            number_of_workers=number_of_workers or job.number_of_workers,
            notification_property=notification_property or job.notification_property,
            job_run_id=previous_run_id,
        )
        job.job_runs.append(run)
    executor.start(run)
    return str(run.job_run_id)


def get_job_runs(executor: GlueJobExecutor, job: FakeJob) -> list[Any]:
    """Newest first, like Glue."""
    return list(reversed(job.job_runs))


def batch_stop_job_run(executor: GlueJobExecutor, response: GlueResponse) -> Any:
    """``BatchStopJobRun`` (moto has none): stop active runs, report the others as errors like Glue."""
    name = response._get_param("JobName")
    job = response.glue_backend.get_job(name)
    succeeded, errors = [], []
    for run_id in response._get_param("JobRunIds") or []:
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
        elif isinstance(run, LocalJobRun) and run.status in ("STARTING", "RUNNING"):
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


def get_job_bookmark(executor: GlueJobExecutor, response: GlueResponse) -> Any:
    """``GetJobBookmark`` (moto has none): the job's bookmark entry, as Glue returns it."""
    name = response._get_param("JobName")
    response.glue_backend.get_job(name)  # EntityNotFoundException for an unknown job
    bookmark = executor.bookmarks.get(name)
    if bookmark is None:
        raise EntityNotFoundException(f"Continuation for job {name} not found")
    return ActionResult({"JobBookmarkEntry": bookmark.entry()})


def reset_job_bookmark(executor: GlueJobExecutor, response: GlueResponse) -> Any:
    """``ResetJobBookmark`` (moto has none): the next run reads everything again (``RunId``: what that run
    and the later ones read)."""
    name = response._get_param("JobName")
    response.glue_backend.get_job(name)
    run_id = response._get_param("RunId")
    try:
        bookmark = executor.bookmarks.reset(name, run_id)
    except KeyError:
        raise EntityNotFoundException(f"Run {run_id} of job {name} has no bookmark") from None
    return ActionResult({"JobBookmarkEntry": bookmark.entry()})


#: (moto owner, attribute) -> its replacement.
HANDLERS: dict[tuple[Any, str], Callable[..., Any]] = {
    (FakeJob, "start_job_run"): start_job_run,
    (FakeJob, "get_job_runs"): get_job_runs,
    (GlueResponse, "batch_stop_job_run"): batch_stop_job_run,
    (GlueResponse, "get_job_bookmark"): get_job_bookmark,
    (GlueResponse, "reset_job_bookmark"): reset_job_bookmark,
}
