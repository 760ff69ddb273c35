"""The provider's Glue job, Athena and crawler operators, made crash-safe: a retry re-attaches to its run.

A worker that dies (MWAA recycles workers) leaves its Glue job run, Athena query or crawl running; the
provider's operators would start a second one on retry — two ``clean_statistics`` runs racing on one plan,
or ``ConcurrentRunsExceededException``, or a CTAS failing with "table already exists". Each operator here
stores its run's id in the task's ``task_state_store`` before it waits (``airflow.sdk.ResumableJobMixin``,
Airflow 3.3), and a later try of the same task in the same DAG run reads it back: still running -> wait for
that run; succeeded -> take its result without resubmitting; failed, stopped, timed out or gone -> submit
afresh. Deferrable mode goes through the same decision (waiting = deferring on the stored run), and a
deferred wait that fails names the run and the service's own message instead of "Trigger failure".

The mixin stores the id only once the submitting call returned; a try that dies in between (the window it
documents as its known limitation) would leave nothing, and its retry would submit a second run. So each
operator here stores an intent *before* the call: ``{"submitting": token}``, the token the call carries
(Glue: a run argument; Athena: the ``ClientRequestToken`` that makes StartQueryExecution idempotent; a
crawl: the previous crawl's start). A retry that finds the intent resolves it to the run it started, if any.

The stored id is forgotten once the task succeeds: a task cleared by hand afterwards runs its work again
(the run's tables may have been cleaned up since), it does not take the old result.
"""

from __future__ import annotations

import time
import urllib.parse
import uuid
from collections import deque
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.athena import AthenaHook
from airflow.providers.amazon.aws.hooks.glue import get_glue_log_group_names
from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.providers.amazon.aws.operators.glue_crawler import GlueCrawlerRunOperator
from airflow.sdk import ResumableJobMixin
from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR
from airflow.sdk.exceptions import AirflowException, TaskDeferralError, TaskDeferralTimeout
from botocore.exceptions import ClientError, WaiterError

if TYPE_CHECKING:
    from pydantic import JsonValue

#: The answer of ``get_job_status`` for a run the service no longer knows (deleted job, expired query).
NOT_FOUND = "NOT_FOUND"
#: ... and for a crawler whose last crawl began before this task's (the stored start never happened).
NOT_STARTED = "NOT_STARTED"
#: The key of the intent a try stores before its submitting call: ``{SUBMITTING: token}``.
SUBMITTING = "submitting"
#: How many of a Glue driver log stream's last lines the task log shows (CloudWatch Logs keeps them all).
DRIVER_LOG_LINES = 500


def pending_token(external_id: JsonValue) -> str | None:
    """The token of a stored intent (a submission whose id was never stored), else None."""
    if isinstance(external_id, dict) and external_id.get(SUBMITTING):
        return str(external_id[SUBMITTING])
    return None


def read_log_tail(logs: Any, group: str, stream: str, keep: int) -> tuple[list[str], int]:
    """The last ``keep`` lines of a CloudWatch Logs stream and how many it holds, read from its head (a stream
    that does not exist, as on AWS before a driver writes: none)."""
    tail: deque[str] = deque(maxlen=keep)
    total, token = 0, None
    while True:
        page_token: dict[str, str] = {"nextToken": token} if token else {}
        try:
            page = logs.get_log_events(
                logGroupName=group, logStreamName=stream, startFromHead=True, **page_token
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return [], 0
            raise
        for event in page["events"]:
            tail.append(str(event["message"]).rstrip("\n"))
        total += len(page["events"])
        if not page["events"] or page.get("nextForwardToken") in (None, token):
            return list(tail), total
        token = page["nextForwardToken"]


def driver_output_message(run_id: str, group: str, lines: list[str], total: int) -> str:
    """One task-log record for a driver log stream: where it is, how much is shown, the lines indented."""
    if not total:
        return f"Glue job run {run_id}: nothing in {group}"
    shown = f"the last {len(lines)} of {total} lines" if len(lines) < total else f"{total} line(s)"
    body = "".join(f"\n\t{line}" for line in lines)
    return f"Glue job run {run_id}, driver log {group}/{run_id} ({shown}):{body}"


class ResumableTask(ResumableJobMixin):
    """What the three operators share: the store's life cycle and a deferred failure's real cause."""

    #: The run this try waits for or took (the mixin returns nothing when it re-attached to a running one).
    _attached: JsonValue = None

    def execute(self, context: Any) -> Any:
        self.execute_resumable(context)
        return self._finished(self.get_job_result(self._attached, context), context)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        """The trigger's event. The provider's waiter triggers end a failed run with an error event (not
        a trigger failure), which the provider's operators raise as a dump of the event: here it fails the
        task naming the run and the service's own message, after the run's own output (a Glue driver's)."""
        if event and event.get("status") not in (None, "success"):
            external_id = self._stored(context)
            if external_id:
                self.log_run_output(external_id)
                raise AirflowException(
                    f"{self.describe_run(external_id)} [deferred wait: {event.get('message')}]"
                )
        return self._finished(super().execute_complete(context, event), context)  # type: ignore[misc]

    def finish(self, result: Any, context: Any) -> Any:
        """After the run succeeded, before its id is forgotten (work a retry must not redo: no resubmit)."""
        return result

    def _finished(self, result: Any, context: Any) -> Any:
        result = self.finish(result, context)
        store = context.get("task_state_store")
        if store is not None:
            store.delete(self.external_id_key)
        return result

    def describe_run(self, external_id: JsonValue) -> str:
        """The run as the service reports it now: its id, state and the service's own message."""
        raise NotImplementedError

    def log_run_output(self, external_id: JsonValue) -> None:
        """Show what the ended run wrote (only a Glue job run writes a log of its own)."""

    def _stored(self, context: Any) -> JsonValue:
        """What this task stored of its run (an id or an intent), or None."""
        store = context.get("task_state_store")
        return store.get(self.external_id_key) if store is not None else None

    def _intend(self, context: Any, intent: JsonValue) -> None:
        """Store what identifies the coming submission before the call that makes it."""
        store = context.get("task_state_store")
        if store is not None:
            store.set(self.external_id_key, intent)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Any) -> Any:
        """A trigger that failed (the waiter saw FAILED, or timed out) fails the task naming the run and
        the service's message; Airflow alone says only "Trigger failure" (apache/airflow#64095)."""
        resume = super().resume_execution  # type: ignore[misc]
        external_id = self._stored(context)
        if next_method != TRIGGER_FAIL_REPR or not external_id:
            return resume(next_method, next_kwargs, context)
        try:
            return resume(next_method, next_kwargs, context)
        except (TaskDeferralError, TaskDeferralTimeout) as error:
            self.log_run_output(external_id)
            raise AirflowException(f"{self.describe_run(external_id)} [deferred wait: {error}]") from error


class ResumableGlueJobOperator(ResumableTask, GlueJobOperator):
    """``GlueJobOperator`` whose retry re-attaches to the job run of the try that died."""

    external_id_key = "glue_job_run_id"
    ACTIVE_STATES = ("STARTING", "RUNNING", "STOPPING", "WAITING")
    #: The run argument that carries the submission's token (a job's ``getResolvedOptions`` ignores
    #: arguments it does not ask for, on Glue as locally).
    TOKEN_ARGUMENT = "--airflow_submission"
    #: How many of the job's newest runs a retry searches for its token (GetJobRuns' largest page).
    TOKEN_SEARCH_RUNS = 200
    #: Job runs of stored intents, searched once per try (None: that submission never started a run).
    _found: dict[str, str | None]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._found = {}

    def submit_job(self, context: Any) -> JsonValue:
        from airflow.providers.common.compat.openlineage.utils.spark import (
            inject_parent_job_information_into_glue_arguments,
            inject_transport_information_into_glue_arguments,
        )

        script_args = dict(self.script_args)
        if self.openlineage_inject_parent_job_info:
            script_args = inject_parent_job_information_into_glue_arguments(script_args, context)
        if self.openlineage_inject_transport_info:
            script_args = inject_transport_information_into_glue_arguments(script_args, context)
        token = uuid.uuid4().hex
        script_args[self.TOKEN_ARGUMENT] = token
        self._intend(context, {SUBMITTING: token})
        self.log.info("Initializing AWS Glue Job: %s", self.job_name)
        run_id = self._start_when_free(script_args)
        context["ti"].xcom_push(key="glue_job_run_id", value=run_id)
        self._attach(run_id, context)
        return run_id

    def _start_when_free(self, script_args: dict[str, Any]) -> str:
        """StartJobRun; while the job is at its ``MaxConcurrentRuns`` (another DAG run's job run — a
        backfill beside the scheduled run), wait for a free slot instead of failing: the job runs one plan at
        a time by design, so a busy job is a queue, not an error. ``execution_timeout`` bounds the wait."""
        while True:
            try:
                return str(self.hook.initialize_job(script_args, self.run_job_kwargs)["JobRunId"])
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ConcurrentRunsExceededException":
                    raise
            busy = self._active_runs()
            self.log.info(
                "Glue job %s is busy with %s (MaxConcurrentRuns reached): waiting to start this run",
                self.job_name,
                ", ".join(busy) or "a run that is ending",
            )
            time.sleep(max(self.job_poll_interval, 0.2))

    def _active_runs(self) -> list[str]:
        glue: Any = self.hook.conn
        runs = glue.get_job_runs(JobName=self.job_name, MaxResults=50).get("JobRuns", [])
        return [str(r["Id"]) for r in runs if r.get("JobRunState") in self.ACTIVE_STATES]

    def _attach(self, run_id: str, context: Any) -> None:
        from airflow.providers.amazon.aws.links.glue import GlueJobRunDetailsLink

        self._job_run_id = run_id
        job = urllib.parse.quote(self.job_name, safe="")
        GlueJobRunDetailsLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            job_name=job,
            job_run_id=run_id,
        )
        url = GlueJobRunDetailsLink.format_str.format(
            aws_domain=GlueJobRunDetailsLink.get_aws_domain(self.hook.conn_partition),
            region_name=self.hook.conn_region_name,
            job_name=job,
            job_run_id=run_id,
        )
        self.log.info("You can monitor this Glue Job run at: %s", url)

    def _run_id(self, external_id: JsonValue) -> str | None:
        """The job run id stored, or the run a stored intent's token started (None: it never started)."""
        token = pending_token(external_id)
        if token is None:
            return str(external_id)
        if token not in self._found:
            glue: Any = self.hook.conn
            runs = glue.get_job_runs(JobName=self.job_name, MaxResults=self.TOKEN_SEARCH_RUNS)["JobRuns"]
            found = [r["Id"] for r in runs if (r.get("Arguments") or {}).get(self.TOKEN_ARGUMENT) == token]
            self._found[token] = str(found[0]) if found else None
            if found:
                self.log.info("The try that died started job run %s before it could store its id", found[0])
        return self._found[token]

    def _job_run(self, run_id: str) -> dict[str, Any]:
        glue: Any = self.hook.conn
        run: dict[str, Any] = glue.get_job_run(JobName=self.job_name, RunId=run_id)["JobRun"]
        return run

    def get_job_status(self, external_id: JsonValue, context: Any) -> str:
        glue: Any = self.hook.conn
        run_id = self._run_id(external_id)
        if run_id is None:
            return NOT_FOUND
        try:
            return str(self._job_run(run_id)["JobRunState"])
        except glue.exceptions.EntityNotFoundException:
            return NOT_FOUND

    def is_job_active(self, status: str) -> bool:
        return status in self.ACTIVE_STATES

    def is_job_succeeded(self, status: str) -> bool:
        return status == "SUCCEEDED"

    def poll_until_complete(self, external_id: JsonValue, context: Any) -> None:
        from airflow.providers.amazon.aws.triggers.glue import GlueJobCompleteTrigger

        run_id = self._run_id(external_id) or str(external_id)
        self._attached = run_id
        if self._job_run_id != run_id:
            self._attach(run_id, context)
        if self.deferrable:
            self.defer(
                trigger=GlueJobCompleteTrigger(
                    job_name=self.job_name,
                    run_id=run_id,
                    verbose=self.verbose,
                    aws_conn_id=self.aws_conn_id,
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                    region_name=self.region_name,
                ),
                method_name="execute_complete",
            )
        if not self.wait_for_completion:
            self.log.info("AWS Glue Job: %s. Run Id: %s", self.job_name, run_id)
            return
        try:
            final = self.hook.job_completion(self.job_name, run_id, self.verbose, self.sleep_before_return)
        except AirflowException as error:  # "Exiting Job … Run State: FAILED", without the reason
            self.log_run_output(run_id)
            raise AirflowException(self.describe_run(run_id)) from error
        self.log.info("AWS Glue Job: %s status: %s. Run Id: %s", self.job_name, final["JobRunState"], run_id)

    def get_job_result(self, external_id: JsonValue, context: Any) -> str:
        self._job_run_id = self._run_id(external_id) or str(external_id)
        self._attached = self._job_run_id
        return self._job_run_id

    def finish(self, result: Any, context: Any) -> Any:
        """The run succeeded (waited for, deferred on, or found done by a retry): its driver output."""
        if self.wait_for_completion or self.deferrable:
            self.log_run_output(result)
        return result

    def log_run_output(self, external_id: JsonValue) -> None:
        """The driver's output in the task log once the run ended — succeeded, failed, or found ended by a
        retry — in both modes: its stdout and stderr streams (``/aws-glue/jobs/output`` and ``/error``
        under the run's ``LogGroupName``; stderr has Spark's and the script's log lines and a failed run's
        traceback), the last :data:`DRIVER_LOG_LINES` lines of each.

        The provider shows them only with ``verbose=True``, which asks CloudWatch Logs twice on every poll
        and logs "No new log …" each time (a warning while the driver has not written yet), and whose
        deferrable trigger logs them in the triggerer (apache/airflow#56535). Reading them here, once, from
        the worker gives the same lines in both modes. A log that cannot be read is said, never a failure.
        """
        run_id = self._run_id(external_id)
        if run_id is None:
            return
        try:
            groups = get_glue_log_group_names(self._job_run(run_id))
            logs: Any = self.hook.logs_hook.get_conn()
            for group in groups:
                lines, total = read_log_tail(logs, group, run_id, DRIVER_LOG_LINES)
                self.log.info("%s", driver_output_message(run_id, group, lines, total))
        except ClientError as error:
            self.log.warning("Glue job run %s: its driver log could not be read: %s", run_id, error)

    def describe_run(self, external_id: JsonValue) -> str:
        run_id = self._run_id(external_id)
        if run_id is None:
            return f"Glue job {self.job_name}: no run was started (submission {external_id})"
        run = self._job_run(run_id)
        message = run.get("ErrorMessage") or "no error message"
        return f"Glue job {self.job_name} run {run_id} {run['JobRunState']}: {message}"


class ResumableAthenaOperator(ResumableTask, AthenaOperator):
    """``AthenaOperator`` whose retry re-attaches to the query of the try that died: a CTAS that already
    succeeded is not run again (it would fail: the table and its location exist)."""

    external_id_key = "athena_query_execution_id"
    #: Query ids of stored intents, resolved once per try.
    _confirmed: dict[str, str]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._confirmed = {}

    def before_submit(self, context: Any) -> None:
        """Work done only when a query is really submitted (not when a retry re-attaches)."""

    def submit_job(self, context: Any) -> JsonValue:
        # The intent first: storing it is also what proves this try is still the task's current one. A try
        # the scheduler already failed while its process ran on (a late executor report, under load) reads
        # nothing from the store — the API answers 404 for its task instance, as for a missing key — and
        # would discard the table of the CTAS the next try then takes; storing raises for it instead.
        token = self.client_request_token or uuid.uuid4().hex
        self._intend(context, {SUBMITTING: token})
        self.before_submit(context)
        query_id = self._start(token)
        self._attach(query_id, context)
        return query_id

    def _start(self, token: str) -> str:
        """StartQueryExecution with ``token``: idempotent, a second call answers the first one's query."""
        if self.database:
            self.query_execution_context["Database"] = self.database
        self.query_execution_context["Catalog"] = self.catalog
        if self.output_location:
            self.result_configuration["OutputLocation"] = self.output_location
        return self.hook.run_query(
            self.query, self.query_execution_context, self.result_configuration, token, self.workgroup
        )

    def _query_id(self, external_id: JsonValue) -> str:
        """The query id stored, or the query of a stored intent: StartQueryExecution again with its token
        answers the query the dead try started, or starts the one it meant to (should the try have died
        before its ``before_submit`` ended, a CTAS may fail on what an earlier attempt left: the mixin then
        resubmits, ``before_submit`` first)."""
        token = pending_token(external_id)
        if token is None:
            return str(external_id)
        if token not in self._confirmed:
            self._confirmed[token] = self._start(token)
            self.log.info("The query of the try that died before storing its id: %s", self._confirmed[token])
        return self._confirmed[token]

    def _attach(self, query_id: str, context: Any) -> None:
        from airflow.providers.amazon.aws.links.athena import AthenaQueryResultsLink

        self.query_execution_id = query_id
        AthenaQueryResultsLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            query_execution_id=query_id,
        )

    def get_job_status(self, external_id: JsonValue, context: Any) -> str:
        try:
            return self.hook.check_query_status(self._query_id(external_id)) or NOT_FOUND
        except ClientError:  # InvalidRequestException: unknown or expired (45 days) query id
            return NOT_FOUND

    def is_job_active(self, status: str) -> bool:
        return status in AthenaHook.INTERMEDIATE_STATES

    def is_job_succeeded(self, status: str) -> bool:
        return status in AthenaHook.SUCCESS_STATES

    def poll_until_complete(self, external_id: JsonValue, context: Any) -> None:
        from airflow.providers.amazon.aws.triggers.athena import AthenaTrigger

        query_id = self._query_id(external_id)
        self._attached = query_id
        if self.query_execution_id != query_id:
            self._attach(query_id, context)
        if self.deferrable:
            self.defer(
                trigger=AthenaTrigger(
                    query_execution_id=query_id,
                    waiter_delay=self.sleep_time,
                    waiter_max_attempts=self.max_polling_attempts,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
            )
        state = self.hook.poll_query_status(
            query_id, max_polling_attempts=self.max_polling_attempts, sleep_time=self.sleep_time
        )
        if state in AthenaHook.FAILURE_STATES:
            raise AirflowException(self.describe_run(query_id))
        if not state or state in AthenaHook.INTERMEDIATE_STATES:
            raise AirflowException(
                f"Final state of Athena job is {state}. Max tries of poll status exceeded, "
                f"query_execution_id is {query_id}."
            )

    def get_job_result(self, external_id: JsonValue, context: Any) -> str:
        self.query_execution_id = self._query_id(external_id)
        self._attached = self.query_execution_id
        return self.query_execution_id

    def describe_run(self, external_id: JsonValue) -> str:
        query_id = self._query_id(external_id)
        status = self.hook.get_query_info(query_id)["QueryExecution"]["Status"]
        reason = status.get("StateChangeReason") or "no reason given"
        return f"Athena query {query_id} {status['State']}: {reason}"


class ResumableCrawlerOperator(ResumableTask, GlueCrawlerRunOperator):
    """``GlueCrawlerRunOperator`` whose retry re-attaches to the crawl of the try that died, and which
    waits for a crawl it finds running instead of failing.

    A crawl has no id the start call returns: the stored "id" is the start time of the crawler's previous
    crawl (``LastCrawl.StartTime``, the service's clock — no skew with the worker's), read just before
    ``StartCrawler``. A crawl that started after it is this task's (or a later one, which saw newer data).
    """

    external_id_key = "glue_crawl"
    ACTIVE_STATES = ("RUNNING", "STOPPING")

    def _crawler(self) -> dict[str, Any]:
        crawler: dict[str, Any] = self.hook.get_crawler(self.crawler_name)
        return crawler

    def _wait_ready(self) -> dict[str, Any]:
        """Wait for a crawl this task did not start (whatever its outcome): it may predate our data."""
        crawler = self._crawler()
        while crawler["State"] != "READY":
            time.sleep(self.poll_interval)
            crawler = self._crawler()
        return crawler

    def submit_job(self, context: Any) -> JsonValue:
        for _ in range(3):
            crawler = self._crawler()
            if crawler["State"] != "READY":
                self.log.warning(
                    "Crawler %s is already %s (a crawl this task did not start, which may have begun "
                    "before this run's data): waiting for it to end, then crawling",
                    self.crawler_name,
                    crawler["State"],
                )
                crawler = self._wait_ready()
            previous = (crawler.get("LastCrawl") or {}).get("StartTime")
            intent = {"after": previous.isoformat() if previous else None}
            self._intend(context, intent)  # a crawl started after ``previous`` is this task's
            try:
                self.hook.start_crawler(self.crawler_name)
            except ClientError as error:
                if error.response["Error"]["Code"] != "CrawlerRunningException":
                    raise
                continue  # started by someone else between our look and our start: wait for that one
            return intent
        raise AirflowException(f"crawler {self.crawler_name} kept being started by others; not started")

    def get_job_status(self, external_id: JsonValue, context: Any) -> str:
        crawler = self._crawler()
        if crawler["State"] != "READY":
            return str(crawler["State"])
        last = crawler.get("LastCrawl") or {}
        after = external_id.get("after") if isinstance(external_id, dict) else None
        if not last or (after and last["StartTime"] <= datetime.fromisoformat(str(after))):
            return NOT_STARTED
        return str(last["Status"])

    def is_job_active(self, status: str) -> bool:
        return status in self.ACTIVE_STATES

    def is_job_succeeded(self, status: str) -> bool:
        return status == "SUCCEEDED"

    def poll_until_complete(self, external_id: JsonValue, context: Any) -> None:
        from airflow.providers.amazon.aws.triggers.glue_crawler import GlueCrawlerCompleteTrigger

        self._attached = external_id
        if self.deferrable:
            self.defer(
                trigger=GlueCrawlerCompleteTrigger(
                    crawler_name=self.crawler_name,
                    waiter_delay=self.poll_interval,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
            )
        self.log.info("Waiting for AWS Glue Crawler %s", self.crawler_name)
        try:
            self.hook.wait_for_crawler_completion(
                crawler_name=self.crawler_name, poll_interval=self.poll_interval
            )
        except WaiterError as error:  # "terminal failure state", without the crawler's message
            raise AirflowException(self.describe_run(external_id)) from error

    def get_job_result(self, external_id: JsonValue, context: Any) -> str:
        return str(self.crawler_name)

    def describe_run(self, external_id: JsonValue) -> str:
        crawler = self._crawler()
        last = crawler.get("LastCrawl") or {}
        message = last.get("ErrorMessage") or "no error message"
        return (
            f"Glue crawler {self.crawler_name} crawl started {last.get('StartTime')} "
            f"{last.get('Status', crawler['State'])}: {message} "
            f"(log {last.get('LogGroup', '/aws-glue/crawlers')} {last.get('LogStream', self.crawler_name)})"
        )
