"""A retried task re-attaches to the Glue job run, Athena query or crawl its dead try left (issue 25).

Each test runs the real operator's ``execute`` twice with one task-state store, as Airflow runs two tries of
one task in one DAG run: the first try submits and then "dies" while it waits (the wait raises
``WorkerDied``, as a SIGKILLed worker stops waiting); the second must find the run the first left, and the
runtime's own API counts the runs. A deferred wait that fails is resumed the way Airflow resumes it
(``resume_execution("__fail__")``) and must name the run and the service's message.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from airflow.providers.amazon.aws.hooks.athena import AthenaHook
from airflow.providers.amazon.aws.hooks.glue import GlueJobHook
from airflow.providers.amazon.aws.hooks.glue_crawler import GlueCrawlerHook
from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR
from airflow.sdk.exceptions import AirflowException, AirflowRuntimeError, ErrorType, TaskDeferred
from airflow.sdk.execution_time.comms import ErrorResponse

from local.runtime import LocalRuntime
from localaws import Hold
from localaws.tests.test_glue_jobs import RAISING_SCRIPT, job_maker, wait_for_run
from youtube_etl.operators import GlueJobSummaryOperator
from youtube_etl.resumable import ResumableAthenaOperator, ResumableCrawlerOperator

pytestmark = [pytest.mark.spark, pytest.mark.timeout(600)]

#: Runs until the test releases it (an object at ``release_uri``): "still running" without a timed sleep.
GATED_SCRIPT = """\
import sys
import time

import boto3
from awsglue.utils import getResolvedOptions

args = getResolvedOptions(sys.argv, ["JOB_NAME", "release_uri"])
bucket, key = args["release_uri"][5:].split("/", 1)
s3 = boto3.client("s3")
for _ in range(1200):
    if s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount"):
        print("released", flush=True)
        break
    time.sleep(0.1)
else:
    raise TimeoutError("never released")
"""


class WorkerDied(BaseException):
    """The try's process ended while it waited (a BaseException: nothing in the operator catches it)."""


class TaskStateStore:
    """``context["task_state_store"]``: what the tries of one task in one DAG run share."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any, **_: Any) -> None:
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


class DiesStoringTheId(TaskStateStore):
    """A try that dies after its submitting call returned, before the mixin stored the id it returned (the
    window ``ResumableJobMixin`` documents): the ``dies_at``-th ``set`` kills (by default the second: the
    first is the try's intent, stored before the call)."""

    def __init__(self, dies_at: int = 2) -> None:
        super().__init__()
        self.sets, self.dies_at = 0, dies_at

    def set(self, key: str, value: Any, **_: Any) -> None:
        self.sets += 1
        if self.sets == self.dies_at:
            raise WorkerDied(f"worker died storing {value!r}")
        super().set(key, value)


def task_context(store: TaskStateStore) -> dict[str, Any]:
    ti = SimpleNamespace(stats_tags={}, xcom_push=lambda key, value: None)
    return {"ti": ti, "task_state_store": store, "run_id": "manual__resume"}


def dies_while_waiting(monkeypatch: pytest.MonkeyPatch, owner: type, name: str) -> Callable[[], None]:
    """The first try's wait ends with the worker; returns what undoes it (the retry waits for real)."""

    def die(*args: Any, **kwargs: Any) -> Any:
        raise WorkerDied(f"worker died in {name}")

    monkeypatch.setattr(owner, name, die)
    return lambda: monkeypatch.undo()


#: How a deferred wait ends in failure: the trigger raised (Airflow resumes the task with "__fail__"), or,
#: as the provider's waiter triggers do when their waiter sees the run fail, it yields an error event.
FAILED_WAITS = [pytest.param("trigger-failure"), pytest.param("error-event")]


def fail_deferred(task: Any, store: TaskStateStore, how: str = "trigger-failure") -> None:
    """Resume a deferred task as Airflow does after its trigger failed, ``how`` it failed."""
    if how == "error-event":
        event = {"status": "error", "message": "Waiter encountered a terminal failure state"}
        task.execute_complete(task_context(store), event)
        return
    kwargs = {"error": "Trigger failure", "traceback": ["botocore WaiterError: terminal failure state"]}
    task.resume_execution(TRIGGER_FAIL_REPR, kwargs, task_context(store))


@pytest.fixture
def runtime(local_aws: LocalRuntime) -> Iterator[LocalRuntime]:
    yield local_aws
    assert local_aws.wait_idle(timeout=120)


@pytest.fixture
def make_job(runtime: LocalRuntime) -> Iterator[Callable[..., str]]:
    with job_maker(runtime, runtime.settings.assets_bucket, runtime.role_arn("glue")) as make:
        yield make


def glue_task(runtime: LocalRuntime, job: str, **kwargs: Any) -> GlueJobSummaryOperator:
    return GlueJobSummaryOperator(
        task_id="run_job",
        job_name=job,
        aws_conn_id=runtime.settings.aws_conn_id,
        job_poll_interval=1,
        waiter_delay=1,
        **kwargs,
    )


def job_runs(runtime: LocalRuntime, job: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = runtime.client("glue").get_job_runs(JobName=job)["JobRuns"]
    return runs


# ---- Glue job runs ----------------------------------------------------------------------------------------
def test_a_retry_waits_for_the_glue_run_its_dead_try_left_running(
    runtime: LocalRuntime, make_job: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    release = f"s3://{runtime.settings.assets_bucket}/test-resume/release-{uuid.uuid4().hex}"
    job = make_job(GATED_SCRIPT, {"--release_uri": release})
    task, store = glue_task(runtime, job), TaskStateStore()
    revive = dies_while_waiting(monkeypatch, GlueJobHook, "job_completion")
    with pytest.raises(WorkerDied):
        task.execute(task_context(store))
    revive()
    (first,) = job_runs(runtime, job)
    assert store.values == {"glue_job_run_id": first["Id"]}, "the run id was stored before the wait"

    seen: list[str] = []
    status = GlueJobSummaryOperator.get_job_status

    def status_then_release(self: Any, external_id: Any, context: Any) -> str:
        seen.append(status(self, external_id, context))
        bucket, key = release[5:].split("/", 1)
        runtime.client("s3").put_object(Bucket=bucket, Key=key, Body=b"")
        return seen[-1]

    monkeypatch.setattr(GlueJobSummaryOperator, "get_job_status", status_then_release)
    retry = glue_task(runtime, job)
    assert retry.execute(task_context(store)) == first["Id"]
    assert seen[0] in ("STARTING", "RUNNING"), "the retry found the run still running"
    (only,) = job_runs(runtime, job)
    assert (only["Id"], only["JobRunState"]) == (first["Id"], "SUCCEEDED"), "it waited for it: one run"
    assert store.values == {}, "a task that succeeded forgets its run"


def test_a_busy_glue_job_is_waited_for_not_a_failure(
    runtime: LocalRuntime, make_job: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """MaxConcurrentRuns = 1 and another DAG run's job run holds the slot (a backfill beside the scheduled
    run): the task waits for the slot, then runs; ConcurrentRunsExceededException never fails it."""
    release = f"s3://{runtime.settings.assets_bucket}/test-resume/busy-{uuid.uuid4().hex}"
    job = make_job(GATED_SCRIPT, {"--release_uri": release}, ExecutionProperty={"MaxConcurrentRuns": 1})
    glue = runtime.client("glue")
    other = glue.start_job_run(JobName=job)["JobRunId"]
    waited: list[list[str]] = []
    active = GlueJobSummaryOperator._active_runs

    def busy_then_release(self: Any) -> list[str]:
        waited.append(active(self))
        bucket, key = release[5:].split("/", 1)
        runtime.client("s3").put_object(Bucket=bucket, Key=key, Body=b"")
        return waited[-1]

    monkeypatch.setattr(GlueJobSummaryOperator, "_active_runs", busy_then_release)
    mine = glue_task(runtime, job).execute(task_context(TaskStateStore()))
    assert waited and waited[0] == [other], "it saw the other run holding the slot"
    states = {run["Id"]: run["JobRunState"] for run in job_runs(runtime, job)}
    assert states == {other: "SUCCEEDED", mine: "SUCCEEDED"}


def test_a_retry_takes_the_glue_run_that_succeeded_after_its_try_died(
    runtime: LocalRuntime, make_job: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    release = f"s3://{runtime.settings.assets_bucket}/test-resume/released-{uuid.uuid4().hex}"
    bucket, key = release[5:].split("/", 1)
    runtime.client("s3").put_object(Bucket=bucket, Key=key, Body=b"")
    job = make_job(GATED_SCRIPT, {"--release_uri": release})
    store = TaskStateStore()
    revive = dies_while_waiting(monkeypatch, GlueJobHook, "job_completion")
    with pytest.raises(WorkerDied):
        glue_task(runtime, job).execute(task_context(store))
    revive()
    (first,) = job_runs(runtime, job)
    assert wait_for_run(runtime.client("glue"), job, first["Id"])[0]["JobRunState"] == "SUCCEEDED"

    assert glue_task(runtime, job).execute(task_context(store)) == first["Id"]
    assert [run["Id"] for run in job_runs(runtime, job)] == [first["Id"]], "no second run"


def test_a_retry_resubmits_a_failed_glue_run_and_fails_with_the_jobs_own_error(
    runtime: LocalRuntime, make_job: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    job = make_job(RAISING_SCRIPT, {"--region": "zz"})
    store = TaskStateStore()
    revive = dies_while_waiting(monkeypatch, GlueJobHook, "job_completion")
    with pytest.raises(WorkerDied):
        glue_task(runtime, job).execute(task_context(store))
    revive()
    (first,) = job_runs(runtime, job)
    assert wait_for_run(runtime.client("glue"), job, first["Id"])[0]["JobRunState"] == "FAILED"

    with pytest.raises(AirflowException) as failure:
        glue_task(runtime, job).execute(task_context(store))
    runs = job_runs(runtime, job)
    assert len(runs) == 2, "a failed run is submitted again"
    second = next(run["Id"] for run in runs if run["Id"] != first["Id"])
    assert f"run {second} FAILED" in str(failure.value) and "unknown region 'zz'" in str(failure.value)
    assert store.values == {"glue_job_run_id": second}, "the next retry resubmits the failed one again"


def test_retries_find_the_glue_run_their_tries_died_before_starting_or_before_storing(
    runtime: LocalRuntime, make_job: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The intent stored before StartJobRun carries a token the run carries as an argument. The first try
    dies before the call reaches Glue: its intent's token is on no run, so the second try submits. That one
    dies after StartJobRun returned, before storing the id (the CI failure of b01d9f4: a SIGKILL in that
    window gave two runs): the third finds the run by its token and takes it. One run in all."""
    release = f"s3://{runtime.settings.assets_bucket}/test-resume/window-{uuid.uuid4().hex}"
    bucket, key = release[5:].split("/", 1)
    runtime.client("s3").put_object(Bucket=bucket, Key=key, Body=b"")
    job = make_job(GATED_SCRIPT, {"--release_uri": release})
    store = DiesStoringTheId(dies_at=3)  # 1: the first try's intent; 2: the second's; 3: the second's run id
    revive = dies_while_waiting(monkeypatch, GlueJobHook, "initialize_job")
    with pytest.raises(WorkerDied):
        glue_task(runtime, job).execute(task_context(store))
    revive()
    assert job_runs(runtime, job) == [] and "submitting" in store.values["glue_job_run_id"]

    with pytest.raises(WorkerDied):
        glue_task(runtime, job).execute(task_context(store))
    (first,) = job_runs(runtime, job)
    assert store.values == {"glue_job_run_id": {"submitting": first["Arguments"]["--airflow_submission"]}}

    assert glue_task(runtime, job).execute(task_context(store)) == first["Id"]
    assert [run["Id"] for run in job_runs(runtime, job)] == [first["Id"]], "no second run"
    assert store.values == {}


@pytest.mark.parametrize("how", FAILED_WAITS)
def test_a_deferred_glue_failure_names_the_run_and_the_jobs_error(
    runtime: LocalRuntime, make_job: Callable[..., str], how: str
) -> None:
    job = make_job(RAISING_SCRIPT, {"--region": "zz"})
    store = TaskStateStore()
    task = glue_task(runtime, job, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        task.execute(task_context(store))
    run_id = store.values["glue_job_run_id"]
    assert deferred.value.trigger.run_id == run_id, "the trigger waits for the stored run"
    wait_for_run(runtime.client("glue"), job, run_id)
    with pytest.raises(AirflowException, match=rf"Glue job {job} run {run_id} FAILED: .*unknown region 'zz'"):
        fail_deferred(glue_task(runtime, job, deferrable=True), store, how)


# ---- the Glue driver's output in the task log, both modes -------------------------------------------------
#: Writes a line to each of the driver's streams, then ends as its argument says.
CHATTY_SCRIPT = """\
import sys
from awsglue.utils import getResolvedOptions

args = getResolvedOptions(sys.argv, ["JOB_NAME", "outcome"])
print("driver stdout: outcome", args["outcome"], flush=True)
print("driver stderr: about to end", file=sys.stderr, flush=True)
if args["outcome"] == "fail":
    raise RuntimeError("the job's own failure")
"""


@pytest.mark.parametrize("deferrable", [False, True], ids=["polling", "deferrable"])
@pytest.mark.parametrize("outcome", ["succeed", "fail"])
def test_the_drivers_output_reaches_the_task_log_in_both_modes(
    runtime: LocalRuntime,
    make_job: Callable[..., str],
    capfd: pytest.CaptureFixture[str],
    deferrable: bool,
    outcome: str,
) -> None:
    """Issue 25: the driver's stdout and stderr lines (a failed run's traceback included) are in the task
    log once the run ended, whether the worker polled or a trigger waited, once; never a warning."""
    job = make_job(CHATTY_SCRIPT, {"--outcome": outcome})
    store = TaskStateStore()
    task = glue_task(runtime, job, deferrable=deferrable)
    if deferrable:
        with pytest.raises(TaskDeferred):
            task.execute(task_context(store))
        run_id = store.values["glue_job_run_id"]
        state = wait_for_run(runtime.client("glue"), job, run_id)[0]["JobRunState"]
        resumed = glue_task(runtime, job, deferrable=True)
        if outcome == "fail":
            with pytest.raises(AirflowException, match=f"run {run_id} FAILED: .*the job's own failure"):
                fail_deferred(resumed, store)
        else:
            assert (
                resumed.execute_complete(task_context(store), {"status": "success", "run_id": run_id})
                == run_id
            )
    else:
        if outcome == "fail":
            with pytest.raises(AirflowException, match="FAILED: .*the job's own failure"):
                task.execute(task_context(store))
        else:
            task.execute(task_context(store))
        (run,) = job_runs(runtime, job)
        run_id, state = run["Id"], run["JobRunState"]
    assert state == ("FAILED" if outcome == "fail" else "SUCCEEDED")
    shown = "".join(capfd.readouterr())  # the task logger's lines (structlog writes them to stdout)
    assert (
        f"driver log /aws-glue/jobs/output/{run_id} (1 line(s)):\n\tdriver stdout: outcome {outcome}" in shown
    )
    assert f"driver log /aws-glue/jobs/error/{run_id} (" in shown and "\tdriver stderr: about to end" in shown
    assert ("RuntimeError: the job's own failure" in shown) == (outcome == "fail"), shown
    assert shown.count(f"driver log /aws-glue/jobs/output/{run_id}") == 1, "shown once"
    # No warning; the only error is Airflow's own line for a trigger that failed.
    noisy = re.findall(r"\[(warning|error|critical) *\] (.*)", shown)
    assert noisy == ([("error", "Trigger failed:")] if deferrable and outcome == "fail" else []), shown


def test_a_long_driver_log_shows_its_last_lines_and_says_how_many_it_left_out() -> None:
    from youtube_etl.resumable import driver_output_message, read_log_tail

    pages = [[f"line {n}" for n in range(start, start + 3)] for start in (1, 4, 7)] + [[]]

    class Logs:
        def get_log_events(self, nextToken: str | None = None, **kwargs: Any) -> dict[str, Any]:
            page = int(nextToken or 0)
            events = [{"message": f"{line}\n"} for line in pages[page]]
            return {"events": events, "nextForwardToken": str(page + 1 if events else page)}

    lines, total = read_log_tail(Logs(), "/aws-glue/jobs/error", "jr_1", 4)
    assert (lines, total) == (["line 6", "line 7", "line 8", "line 9"], 9)
    message = driver_output_message("jr_1", "/aws-glue/jobs/error", lines, total)
    assert message == (
        "Glue job run jr_1, driver log /aws-glue/jobs/error/jr_1 (the last 4 of 9 lines):"
        "\n\tline 6\n\tline 7\n\tline 8\n\tline 9"
    )
    assert (
        driver_output_message("jr_1", "/aws-glue/jobs/output", [], 0)
        == "Glue job run jr_1: nothing in /aws-glue/jobs/output"
    )


# ---- Athena queries ---------------------------------------------------------------------------------------
def athena_task(runtime: LocalRuntime, query: str, **kwargs: Any) -> ResumableAthenaOperator:
    s = runtime.settings
    return ResumableAthenaOperator(
        task_id="build_probe",
        query=query,
        database=s.analytics_database,
        workgroup=s.athena_workgroup,
        aws_conn_id=s.aws_conn_id,
        sleep_time=1,
        **kwargs,
    )


def queries_naming(runtime: LocalRuntime, text: str) -> list[str]:
    athena = runtime.client("athena")
    ids = athena.list_query_executions(WorkGroup=runtime.settings.athena_workgroup)["QueryExecutionIds"]
    return [
        query_id
        for query_id in ids
        if text in athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Query"]
    ]


def wait_for_query(runtime: LocalRuntime, query_id: str) -> dict[str, Any]:
    athena = runtime.client("athena")
    for _ in range(600):
        status: dict[str, Any] = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"][
            "Status"
        ]
        if status["State"] not in ("QUEUED", "RUNNING"):
            return status
        time.sleep(0.1)
    raise AssertionError(f"query {query_id} still {status['State']}")


def test_a_retry_takes_the_ctas_that_succeeded_instead_of_failing_on_its_table(
    runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = runtime.settings
    table = f"resume_probe_{uuid.uuid4().hex[:8]}"
    ctas = (
        f"CREATE TABLE {s.analytics_database}.{table} WITH (format = 'PARQUET', "
        f"external_location = 's3://{s.reporting_bucket}/test-resume/{table}/') AS SELECT 1 AS a"
    )
    store = TaskStateStore()
    revive = dies_while_waiting(monkeypatch, AthenaHook, "poll_query_status")
    with pytest.raises(WorkerDied):
        athena_task(runtime, ctas).execute(task_context(store))
    revive()
    (query_id,) = queries_naming(runtime, table)
    assert wait_for_query(runtime, query_id)["State"] == "SUCCEEDED"

    assert athena_task(runtime, ctas).execute(task_context(store)) == query_id
    assert queries_naming(runtime, table) == [query_id], "the CTAS ran once"
    # What the retry avoided: the provider's operator runs the CTAS again, which fails on the table.
    with pytest.raises(AirflowException, match="already exists"):
        AthenaOperator(
            task_id="again",
            query=ctas,
            database=s.analytics_database,
            workgroup=s.athena_workgroup,
            aws_conn_id=s.aws_conn_id,
            sleep_time=1,
        ).execute(task_context(TaskStateStore()))


def probe_ctas(runtime: LocalRuntime) -> tuple[str, str]:
    s = runtime.settings
    table = f"resume_probe_{uuid.uuid4().hex[:8]}"
    ctas = (
        f"CREATE TABLE {s.analytics_database}.{table} WITH (format = 'PARQUET', "
        f"external_location = 's3://{s.reporting_bucket}/test-resume/{table}/') AS SELECT 1 AS a"
    )
    return table, ctas


def test_a_retry_finds_the_ctas_its_try_started_but_died_before_storing(runtime: LocalRuntime) -> None:
    """StartQueryExecution is idempotent on its ClientRequestToken: the retry sends the stored intent's
    token again and gets the dead try's query, which ran once."""
    table, ctas = probe_ctas(runtime)
    store = DiesStoringTheId()
    with pytest.raises(WorkerDied):
        athena_task(runtime, ctas).execute(task_context(store))
    (query_id,) = queries_naming(runtime, table)
    assert set(store.values["athena_query_execution_id"]) == {"submitting"}

    assert athena_task(runtime, ctas).execute(task_context(store)) == query_id
    assert queries_naming(runtime, table) == [query_id], "the CTAS ran once, no 'already exists'"
    assert wait_for_query(runtime, query_id)["State"] == "SUCCEEDED"


def test_a_retry_starts_the_ctas_its_try_died_before_sending(
    runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    table, ctas = probe_ctas(runtime)
    store = TaskStateStore()
    revive = dies_while_waiting(monkeypatch, AthenaHook, "run_query")
    with pytest.raises(WorkerDied):
        athena_task(runtime, ctas).execute(task_context(store))
    revive()
    assert queries_naming(runtime, table) == [] and "submitting" in store.values["athena_query_execution_id"]

    query_id = athena_task(runtime, ctas).execute(task_context(store))
    assert queries_naming(runtime, table) == [query_id]
    assert wait_for_query(runtime, query_id)["State"] == "SUCCEEDED"


class StaleTry(TaskStateStore):
    """The store as a try sees it once the scheduler failed that try while its process still ran (the
    executor's late report of a deferral, seen at load 13): the API answers 404 for the try's task instance,
    which ``get`` reads as "nothing stored" and ``set`` raises."""

    def get(self, key: str, default: Any = None) -> Any:
        return default

    def set(self, key: str, value: Any, **_: Any) -> None:
        detail = {"status_code": 404, "detail": {"reason": "not_found"}}
        raise AirflowRuntimeError(ErrorResponse(error=ErrorType.API_SERVER_ERROR, detail=detail))


class DiscardingProbe(ResumableAthenaOperator):
    """A report's CTAS task, whose ``before_submit`` discards what an earlier attempt left (here: counted)."""

    discards: ClassVar[list[str]] = []

    def before_submit(self, context: Any) -> None:
        self.discards.append(context["run_id"])


def test_a_stale_try_neither_discards_nor_submits(runtime: LocalRuntime) -> None:
    """Seen under make airflow in deferrable mode: a stale try of build_channel_leaderboard found nothing
    stored, dropped the run table of the CTAS that had succeeded, and the next try took that CTAS — the
    checks found no table. A stale try must fail before it touches anything."""
    table, ctas = probe_ctas(runtime)
    DiscardingProbe.discards.clear()
    task = DiscardingProbe(
        task_id="build_probe",
        query=ctas,
        database=runtime.settings.analytics_database,
        workgroup=runtime.settings.athena_workgroup,
        aws_conn_id=runtime.settings.aws_conn_id,
        sleep_time=1,
    )
    with pytest.raises(AirflowRuntimeError, match="404"):
        task.execute(task_context(StaleTry()))
    assert DiscardingProbe.discards == [], "nothing discarded"
    assert queries_naming(runtime, table) == [], "nothing submitted"

    query_id = task.execute(task_context(TaskStateStore()))  # the current try: discards, then submits
    assert DiscardingProbe.discards == ["manual__resume"]
    assert wait_for_query(runtime, query_id)["State"] == "SUCCEEDED"


@pytest.mark.parametrize("how", FAILED_WAITS)
def test_a_deferred_athena_failure_names_the_query_and_athenas_reason(
    runtime: LocalRuntime, how: str
) -> None:
    store = TaskStateStore()
    task = athena_task(runtime, "SELECT * FROM no_such_table_for_resume", deferrable=True)
    with pytest.raises(TaskDeferred):
        task.execute(task_context(store))
    query_id = store.values["athena_query_execution_id"]
    reason = wait_for_query(runtime, query_id)["StateChangeReason"]
    assert "no_such_table_for_resume" in reason
    with pytest.raises(AirflowException) as failure:
        fail_deferred(athena_task(runtime, "SELECT 1", deferrable=True), store, how)
    assert str(failure.value).startswith(f"Athena query {query_id} FAILED: {reason}")


# ---- crawls -----------------------------------------------------------------------------------------------
@pytest.fixture
def crawler(runtime: LocalRuntime) -> Iterator[str]:
    """A crawler over one small Parquet folder of its own."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    s, name = runtime.settings, f"resume-probe-{uuid.uuid4().hex[:8]}"
    body = io.BytesIO()
    pq.write_table(pa.table({"video_id": ["a", "b"], "views": [1, 2]}), body)
    for region in ("us", "gb"):
        key = f"test-resume/{name}/probe/region={region}/part-0.parquet"
        runtime.client("s3").put_object(Bucket=s.processed_bucket, Key=key, Body=body.getvalue())
    runtime.client("glue").create_crawler(
        Name=name,
        Role=runtime.role_arn("glue"),
        DatabaseName="resume_probe",
        Targets={"S3Targets": [{"Path": f"s3://{s.processed_bucket}/test-resume/{name}/probe/"}]},
    )
    yield name
    assert runtime.wait_idle(timeout=120)
    runtime.client("glue").delete_crawler(Name=name)


def crawler_task(runtime: LocalRuntime, name: str, **kwargs: Any) -> ResumableCrawlerOperator:
    return ResumableCrawlerOperator(
        task_id="crawl_probe",
        crawler_name=name,
        poll_interval=1,
        aws_conn_id=runtime.settings.aws_conn_id,
        **kwargs,
    )


def crawls(logs: Any, name: str) -> int:
    """The crawls the crawler ran, counted in its log through the CloudWatch Logs client ``logs`` (each
    begins with AWS's "Running Start Crawl")."""
    events = logs.get_log_events(logGroupName="/aws-glue/crawlers", logStreamName=name, startFromHead=True)
    return sum("Running Start Crawl" in event["message"] for event in events["events"])


#: How long the dead try's crawl stays RUNNING: far longer than a retry takes to start, even under load.
CRAWL_HELD_SECONDS = 10.0


def test_a_retry_waits_for_the_crawl_its_dead_try_started(
    runtime: LocalRuntime, crawler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = TaskStateStore()
    # The crawl stays RUNNING a while (a hold; a crawl here ends within a second), so the retry meets it
    # running even on a loaded machine: a CI run at load 13 saw the retry start after the crawl had ended.
    runtime.holds.add(Hold("crawler", re.escape(crawler), seconds=CRAWL_HELD_SECONDS))
    revive = dies_while_waiting(monkeypatch, GlueCrawlerHook, "wait_for_crawler_completion")
    with pytest.raises(WorkerDied):
        crawler_task(runtime, crawler).execute(task_context(store))
    revive()
    assert store.values == {"glue_crawl": {"after": None}}, "no crawl before: any crawl from now on is ours"

    seen: list[str] = []
    status = ResumableCrawlerOperator.get_job_status
    monkeypatch.setattr(
        ResumableCrawlerOperator,
        "get_job_status",
        lambda self, external_id, context: seen.append(status(self, external_id, context)) or seen[-1],
    )
    assert crawler_task(runtime, crawler).execute(task_context(store)) == crawler
    assert seen[0] in ("RUNNING", "STOPPING"), "the retry found the crawl still running and waited"
    last = runtime.client("glue").get_crawler(Name=crawler)["Crawler"]["LastCrawl"]
    assert last["Status"] == "SUCCEEDED" and crawls(runtime.client("logs"), crawler) == 1


def test_a_retry_waits_for_the_crawl_its_try_started_but_died_before_storing(
    runtime: LocalRuntime, crawler: str
) -> None:
    """The previous crawl's start is stored before StartCrawler: a crawl after it is the dead try's."""
    store = DiesStoringTheId()
    with pytest.raises(WorkerDied):
        crawler_task(runtime, crawler).execute(task_context(store))
    assert store.values == {"glue_crawl": {"after": None}}
    assert crawler_task(runtime, crawler).execute(task_context(store)) == crawler
    assert crawls(runtime.client("logs"), crawler) == 1, (
        "the retry waited for the dead try's crawl, it started none"
    )


def test_a_crawl_found_running_is_waited_for_then_the_task_crawls(
    runtime: LocalRuntime, crawler: str
) -> None:
    glue = runtime.client("glue")
    glue.start_crawler(Name=crawler)  # someone else's crawl: it may have begun before this run's data
    assert crawler_task(runtime, crawler).execute(task_context(TaskStateStore())) == crawler
    assert crawls(runtime.client("logs"), crawler) == 2, "no CrawlerRunningException: it waited, then crawled"
    assert glue.get_crawler(Name=crawler)["Crawler"]["LastCrawl"]["Status"] == "SUCCEEDED"


@pytest.mark.parametrize("how", FAILED_WAITS)
def test_a_deferred_crawl_failure_names_the_crawlers_message(
    runtime: LocalRuntime, crawler: str, how: str
) -> None:
    glue = runtime.client("glue")
    glue.update_crawler(Name=crawler, Targets={"S3Targets": [{"Path": "s3://no-such-bucket-resume/x/"}]})
    store = TaskStateStore()
    with pytest.raises(TaskDeferred):
        crawler_task(runtime, crawler, deferrable=True).execute(task_context(store))
    assert runtime.wait_idle(timeout=120)
    message = glue.get_crawler(Name=crawler)["Crawler"]["LastCrawl"]["ErrorMessage"]
    assert "no-such-bucket-resume" in message
    with pytest.raises(
        AirflowException, match=rf"Glue crawler {crawler} crawl started .* FAILED: .*no-such-bucket"
    ):
        fail_deferred(crawler_task(runtime, crawler, deferrable=True), store, how)


CRAWL_DAG = """
from datetime import timedelta

from airflow.sdk import DAG

from youtube_etl.resumable import ResumableCrawlerOperator

with DAG(dag_id={dag_id!r}, schedule=None) as dag:
    ResumableCrawlerOperator(
        task_id="crawl_probe",
        crawler_name={crawler!r},
        poll_interval=1,
        aws_conn_id={conn_id!r},
        deferrable={deferrable!r},
        retries=1,
        retry_delay=timedelta(seconds=0),
    )
"""


@pytest.mark.parametrize(
    "deferrable", [pytest.param(False, id="polling"), pytest.param(True, id="deferrable")]
)
def test_in_a_dag_run_the_second_try_finds_the_crawl_of_the_first_in_airflows_store(
    runtime: LocalRuntime,
    crawler: str,
    airflow_db: Any,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    deferrable: bool,
) -> None:
    """Airflow's own task-state store carries the crawl from the failed try to the retry."""
    from tests.airflow_dags import run_dag_file

    tries: list[str] = []
    status = ResumableCrawlerOperator.get_job_status
    submit = ResumableCrawlerOperator.submit_job

    def submit_then_fail(self: Any, context: Any) -> Any:
        tries.append("submitted")
        started = submit(self, context)
        context["task_state_store"].set(self.external_id_key, started)  # as the mixin does next
        raise RuntimeError("the first try fails after starting the crawl")

    monkeypatch.setattr(ResumableCrawlerOperator, "submit_job", submit_then_fail)
    monkeypatch.setattr(
        ResumableCrawlerOperator,
        "get_job_status",
        lambda self, external_id, context: tries.append(status(self, external_id, context)) or tries[-1],
    )
    dag_id = f"test_resume_crawl_{'deferrable' if deferrable else 'polling'}"
    source = CRAWL_DAG.format(
        dag_id=dag_id, crawler=crawler, conn_id=runtime.settings.aws_conn_id, deferrable=deferrable
    )
    run = run_dag_file(source, dag_id, tmp_path, monkeypatch)
    assert run.state == "success", tries
    assert tries[0] == "submitted" and tries[1] in ("RUNNING", "STOPPING", "SUCCEEDED"), tries
    assert crawls(runtime.client("logs"), crawler) == 1
