"""Operators that add the pipeline's own checks to the Amazon provider's operators.

Like the provider's, they take what they need as (templated) arguments: no XCom pulled by a fixed upstream
task id, no settings read while they run, so each works in any DAG and in a test with plain values. A DAG
passes another task's XCom as JSON text (``dag_support.xcom_json``); a value already parsed (a DAG that
renders templates as native objects, a test) is taken as it is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.lambda_function import LambdaInvokeFunctionOperator
from airflow.sdk import BaseSensorOperator, PokeReturnValue, timezone
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from youtube_etl.dag_support import LambdaRecordError, lambda_failure_message
from youtube_etl.reports import DataQualityError, evaluate_check, rows_from_athena
from youtube_etl.resumable import ResumableAthenaOperator, ResumableCrawlerOperator, ResumableGlueJobOperator
from youtube_lake.invocation import CONVERTED, QUARANTINED, LambdaResult
from youtube_lake.metrics import GlueMetrics

if TYPE_CHECKING:
    from youtube_etl.settings import Settings


def json_argument(value: Any) -> Any:
    """A templated argument as a value: JSON text (``| tojson``) is parsed, empty text is None, anything
    else (a native value) is kept."""
    if isinstance(value, str):
        return json.loads(value) if value.strip() else None
    return value


class ConvertReferenceOperator(LambdaInvokeFunctionOperator):
    """Invoke the JSON-to-Parquet Lambda for category files and log each file's verdict.

    The Lambda answers per record ``converted``, ``quarantined`` (bad input: copied to the quarantine with a
    report) or ``superseded`` (a newer source holds the region), each with its reason. A verdict never
    fails this task — the run's ``record_verdicts`` task fails the run naming quarantined files, after the
    good regions are published. A function error (AWS trouble: retried) fails it naming the files and the
    error, instead of the provider's bare "Lambda function execution resulted in error".
    """

    def execute(self, context: Any) -> str:
        try:
            payload: str = super().execute(context)
        except ValueError as error:
            details = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], dict) else None
            if details is None or "Payload" not in details:
                raise
            raise LambdaRecordError(
                lambda_failure_message(str(self.payload), str(details["Payload"]))
            ) from error
        for record in LambdaResult.from_json(payload).records:
            if record.status == QUARANTINED:
                self.log.warning(
                    "QUARANTINED %s (region %s): %s — copy at %s",
                    record.key,
                    record.region,
                    record.reason,
                    record.quarantine_key,
                )
            elif record.status != CONVERTED:
                self.log.info("superseded %s: %s", record.key, record.reason)
            else:
                self.log.info(
                    "converted %s -> %s (%s rows, region %s)%s",
                    record.key,
                    record.output,
                    record.rows,
                    record.region,
                    f" — {record.reason}" if record.reason else "",
                )
        return payload


class CrawlProcessedOperator(ResumableCrawlerOperator):
    """The processed crawler; the asset events it emits say what the run changed (``asset_extras``).

    ``plan``: the plan's summary (``plan_increment``'s XCom ``plan``); ``glue_metrics``: clean_statistics'
    metrics (its task's XCom ``metrics``; None when it did not run); ``lambda_results``: the Lambda's
    answers (one per mapped invocation, or one, or None).
    """

    template_fields: Sequence[str] = (
        *ResumableCrawlerOperator.template_fields,
        "plan",
        "glue_metrics",
        "lambda_results",
    )

    def __init__(
        self,
        *,
        plan: Any = None,
        glue_metrics: Any = None,
        lambda_results: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.glue_metrics = glue_metrics
        self.lambda_results = lambda_results

    def _set_extras(self, context: Any) -> None:
        from youtube_etl.ingest import asset_extras, parse_lambda_results

        extras = asset_extras(
            json_argument(self.plan),
            GlueMetrics.from_json(json_argument(self.glue_metrics)),
            parse_lambda_results(json_argument(self.lambda_results)),
        )
        for asset in self.outlets:
            table = asset.name.rsplit(".", 1)[-1]
            if table in extras:
                context["outlet_events"][asset].extra = extras[table]

    def execute(self, context: Any) -> str:
        self._set_extras(context)
        return str(super().execute(context))

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> str:
        self._set_extras(context)
        return str(super().execute_complete(context, event))


class AthenaCheckOperator(ResumableAthenaOperator):
    """Run a data-quality check query and fail when its one result row reports offending rows.

    Every check returns ``failures`` and ``example`` (see ``include/sql/checks/``); the failure names the
    check and the count, and a query that fails (a value that cannot be read) fails naming the check and its
    report. Checks that compare with the previously published run declare ``baseline_view``: on the very
    first run that view does not exist yet, so the check is skipped with a clear message. A per-report check
    (``report``) is rendered with ``params.report`` and ``columns``: this run's table of the report as the
    Glue catalog registered it, looked up when the task runs (never at parse time) in the deployment that
    ``settings`` names (required with ``report``).
    """

    def __init__(
        self,
        *,
        check_name: str,
        baseline_view: str | None = None,
        report: str | None = None,
        settings: Settings | None = None,
        **kwargs: Any,
    ) -> None:
        if report is not None:
            if settings is None:
                raise ValueError(f"check {check_name!r} of report {report!r} needs the settings")
            kwargs["params"] = {**(kwargs.get("params") or {}), "report": report}
        super().__init__(**kwargs)
        self.check_name = check_name
        self.baseline_view = baseline_view
        self.report = report
        self.settings = settings

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        if self.report is not None and self.settings is not None:
            from youtube_etl.reports import run_table_columns

            columns = run_table_columns(
                self.hook.get_session(), self.settings, self.report, context["run_id"]
            )
            context = {**context, "columns": columns}
        super().render_template_fields(context, jinja_env)

    def execute(self, context: Any) -> str | None:
        if self.baseline_view and not self._baseline_exists():
            # No query runs, so the console link has nothing to point at: record it empty. Without it the
            # task runner's lookup of the link after the task logs an "XCom not found" error.
            from airflow.providers.amazon.aws.links.athena import AthenaQueryResultsLink

            context["ti"].xcom_push(key=AthenaQueryResultsLink.key, value=None)
            reason = (
                f"check {self.check_name!r} skipped: no previous run to compare with "
                f"({self.database}.{self.baseline_view} does not exist yet)"
            )
            # Airflow logs a skip as "Skipping task." with the reason as a field that log views may hide.
            self.log.info(reason)
            raise AirflowSkipException(reason)
        try:
            query_execution_id = super().execute(context)
        except AirflowException as error:
            raise self._query_failed(error) from error
        return self._evaluate(query_execution_id or self.query_execution_id)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> str:
        try:
            query_execution_id = super().execute_complete(context, event)
        except AirflowException as error:
            raise self._query_failed(error) from error
        return self._evaluate(query_execution_id)

    def _query_failed(self, error: AirflowException) -> AirflowException:
        """The provider's error naming the check and its report (same class: retried or not alike)."""
        on = f" on report {self.report!r}" if self.report else ""
        return type(error)(f"data-quality check {self.check_name!r}{on}: the check query failed: {error}")

    def _baseline_exists(self) -> bool:
        from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

        glue: Any = GlueCatalogHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name).get_conn()
        try:
            glue.get_table(DatabaseName=self.database, Name=self.baseline_view)
        except glue.exceptions.EntityNotFoundException:
            return False
        return True

    def _evaluate(self, query_execution_id: str | None) -> str:
        if not query_execution_id:
            raise DataQualityError(self.check_name, -1, "the check query did not run")
        result = self.hook.get_query_results(query_execution_id=query_execution_id)
        if result is None:
            raise DataQualityError(self.check_name, -1, f"no result for query {query_execution_id}")
        evaluate_check(self.check_name, rows_from_athena(result["ResultSet"]))
        self.log.info("data-quality check %s passed", self.check_name)
        return query_execution_id


class AthenaReportOperator(ResumableAthenaOperator):
    """Run a report's CTAS after discarding whatever an earlier attempt of this run left behind.

    A CTAS fails on an existing table or a non-empty location. A retry whose earlier CTAS still runs or
    already succeeded re-attaches to it (``ResumableAthenaOperator``) and discards nothing; one whose CTAS
    failed discards what it left and runs the CTAS again, instead of failing with
    ``HIVE_PATH_ALREADY_EXISTS``. The table the report's view shows is never touched. ``settings`` name
    the deployment whose report runs are looked up.
    """

    def __init__(self, *, report: str, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.report = report
        self.settings = settings

    def before_submit(self, context: Any) -> None:
        """Only before a CTAS is really submitted: a retry that re-attaches to its CTAS keeps its table."""
        from youtube_etl.reports import discard_report_run

        dropped = discard_report_run(self.hook.get_session(), self.settings, self.report, context["run_id"])
        if dropped:
            self.log.info("discarded what an earlier attempt left: %s", dropped)


class LandingDropSensor(BaseSensorOperator):
    """Wait for the data interval's drop: a landing object whose arrival is in ``[start, end)``.

    Arrival is the key's ``landing_date=`` or else ``LastModified`` (``youtube_etl.landing``); an object
    already processed counts too, so re-running an interval never waits. The sensor gives up at
    ``end + landing_grace`` — not a fixed time after it started: a live run waits into the morning for a
    late producer, a backfill of a day that never had a drop fails at its first poke. Giving up is a
    verdict (``AirflowFailException``, no retries); an AWS error is retried. ``deferrable`` frees the
    worker slot between pokes (a ``DateTimeTrigger`` on the triggerer).
    """

    template_fields: Sequence[str] = ("bucket_name", "prefixes")
    ui_color = "#f0eede"

    def __init__(
        self,
        *,
        bucket_name: str,
        prefixes: tuple[str, ...],
        landing_grace: timedelta,
        aws_conn_id: str | None = "aws_default",
        deferrable: bool = False,
        extract_dag_id: str | None = None,
        extract_prefixes: tuple[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        # The deadline, not this timeout, ends the wait; the timeout only bounds a run that started early.
        kwargs.setdefault("timeout", self.longest_wait(landing_grace).total_seconds())
        super().__init__(**kwargs)
        self.bucket_name = bucket_name
        self.prefixes = prefixes
        self.landing_grace = landing_grace
        self.aws_conn_id = aws_conn_id
        self.deferrable = deferrable
        #: The DAG whose run of the same interval lands the drop (``youtube_extract``): waited for while
        #: it is queued or running, so the ingest does not plan on a chart still being fetched.
        self.extract_dag_id = extract_dag_id
        #: (statistics, reference) prefixes the extract lands in: its unpublished region-days do not count.
        self.extract_prefixes = extract_prefixes

    @staticmethod
    def longest_wait(landing_grace: timedelta) -> timedelta:
        """The sensor's timeout: past any interval's deadline (end + grace) for a run started early."""
        return landing_grace + timedelta(days=2)

    def _interval(self, context: Any) -> tuple[datetime, datetime]:
        from youtube_etl.landing import PlanError, run_interval

        dag_run = context.get("dag_run")
        try:
            return run_interval(
                context.get("data_interval_start"),
                context.get("data_interval_end"),
                getattr(dag_run, "run_after", None),
            )
        except PlanError as error:
            raise AirflowFailException(f"{self.task_id}: {error}") from error

    def _extract_running(self, context: Any) -> bool:
        """Whether the extract's run of this interval (same logical date) is queued or running."""
        logical_date = context.get("logical_date")
        ti = context.get("ti")
        if not self.extract_dag_id or logical_date is None or not hasattr(ti, "get_dr_count"):
            return False
        count = ti.get_dr_count(
            dag_id=self.extract_dag_id, logical_dates=[logical_date], states=["queued", "running"]
        )
        return bool(count)

    def poke(self, context: Any) -> bool | PokeReturnValue:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from youtube_etl.ingest import list_landing
        from youtube_etl.landing import drop_keys

        start, end = self._interval(context)
        if self._extract_running(context):
            self.log.info("%s of [%s, %s) is still running: waiting for it", self.extract_dag_id, start, end)
            return False
        s3 = S3Hook(aws_conn_id=self.aws_conn_id).get_conn()
        objects = [o for prefix in self.prefixes for o in list_landing(s3, self.bucket_name, [prefix])]
        drop = drop_keys(objects, self.prefixes, start, end, self.extract_prefixes)
        if drop:
            self.log.info("the drop of [%s, %s) holds %d object(s), e.g. %s", start, end, len(drop), drop[:5])
            return PokeReturnValue(is_done=True, xcom_value={"drop": len(drop)})
        deadline = end + self.landing_grace
        if timezone.utcnow() >= deadline:
            where = " or ".join(f"s3://{self.bucket_name}/{p}" for p in self.prefixes)
            raise AirflowFailException(
                f"no landing object arrived for the data interval [{start.isoformat()}, {end.isoformat()}) "
                f"in "
                f"{where} by {deadline.isoformat()} (interval end + landing_grace_hours="
                f"{self.landing_grace.total_seconds() / 3600:g}); a dated drop goes under "
                f"landing_date={start.date().isoformat()}/"
            )
        self.log.info("no object of [%s, %s) yet; waiting until %s", start, end, deadline)
        return False

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        return self.execute_complete(context)

    def execute_complete(self, context: Any, event: Any = None) -> Any:
        """Poke; when the drop is not there yet, defer until the next poke (or the deadline)."""
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        found = self.poke(context)
        if found:
            return found.xcom_value if isinstance(found, PokeReturnValue) else None
        _, end = self._interval(context)
        moment = min(timezone.utcnow() + timedelta(seconds=self.poke_interval), end + self.landing_grace)
        self.defer(trigger=DateTimeTrigger(moment=moment), method_name="execute_complete")
        return None


#: The provider logs this with a link to the AWS console, meaningless against another endpoint.
_CONSOLE_LINK_LINE = "You can monitor this Glue Job run at"


class _WithoutConsoleLinks:
    """A task logger that drops the provider's console-link line (the local runtime has no console)."""

    def __init__(self, log: Any) -> None:
        self._log = log

    def info(self, event: Any, *args: Any, **kwargs: Any) -> None:
        if not (isinstance(event, str) and event.startswith(_CONSOLE_LINK_LINE)):
            self._log.info(event, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._log, name)


class GlueJobSummaryOperator(ResumableGlueJobOperator):
    """The provider's Glue job operator (re-attaching on retry: ``ResumableGlueJobOperator``), plus the job's
    own summary line in the task log.

    Each job writes its counts (rows read, written, duplicates, rejected, ...) to ``metrics_uri``
    (``settings.glue_metrics_uri``: where the run given this task's ``--run_id`` writes them); after the run
    this operator reads them once, logs them on one line and pushes them as the XCom ``metrics`` for the
    tasks that report on them, so the task log says what the job did, not only that it polled. Without
    ``metrics_uri`` it is the provider's operator. Against a non-AWS endpoint (the local runtime) the
    console link the provider logs is left out.
    """

    template_fields: Sequence[str] = (*ResumableGlueJobOperator.template_fields, "metrics_uri")

    def __init__(self, *, metrics_uri: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metrics_uri = metrics_uri

    def execute(self, context: Any) -> Any:
        if self.hook.conn_config.endpoint_url:
            self._log = _WithoutConsoleLinks(self.log)  # type: ignore[assignment]
        return super().execute(context)

    def finish(self, result: Any, context: Any) -> Any:
        """The run succeeded (waited for, re-attached to, or taken as already done): its driver output, then
        its summary."""
        result = super().finish(result, context)
        if self.wait_for_completion or self.deferrable:
            self.report_metrics(context)
        return result

    def report_metrics(self, context: Any) -> GlueMetrics:
        """Read the run's metrics (empty when it wrote none), log their summary, push them as XCom."""
        from youtube_lake.uris import split_s3_uri

        if not self.metrics_uri:
            return GlueMetrics()
        bucket, key = split_s3_uri(self.metrics_uri)
        s3: Any = self.hook.get_session().client("s3", endpoint_url=self.hook.conn_config.endpoint_url)
        try:
            metrics = GlueMetrics.from_json(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except s3.exceptions.NoSuchKey:
            self.log.warning("Glue job %s wrote no metrics at %s", self.job_name, self.metrics_uri)
            return GlueMetrics()
        self.log.info("Glue job %s summary: %s", self.job_name, metrics.summary())
        context["ti"].xcom_push(key="metrics", value=dict(metrics.raw))
        return metrics


class CleanStatisticsOperator(GlueJobSummaryOperator):
    """The clean_statistics Glue job on the run's plan; skipped when the plan takes no statistics file.

    ``plan``: the plan's summary (``plan_increment``'s XCom ``plan``: counts and interval). Re-running an
    interval whose files all have a verdict starts no job (on AWS a Glue run bills at least a minute); the
    crawler and the verdicts still run.
    """

    template_fields: Sequence[str] = (*GlueJobSummaryOperator.template_fields, "plan")

    def __init__(self, *, plan: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan = plan

    def execute(self, context: Any) -> Any:
        plan = json_argument(self.plan) or {}
        if not plan.get("statistics"):
            raise AirflowSkipException(
                f"no statistics file to take in [{plan.get('interval_start')}, {plan.get('interval_end')}): "
                f"{plan.get('later', 0)} arrive later, the rest already have a verdict"
            )
        return super().execute(context)
