"""
### youtube_ingest — take the landing objects of one data interval (daily, UTC)

Each run covers its data interval `[start, end)` (`CronDataIntervalTimetable`: a scheduled run for day D
covers D; a manual run the last whole day before its logical date; a backfill one run per day). See
`docs/daily-pipeline.md` for arrival, the landing ledger and the processed layout.

1. `wait_for_drop`: waits for the interval's drop — a landing object whose arrival (`landing_date=` in its
   key, else `LastModified`) is in `[start, end)` — until `end + landing_grace_hours`, then fails naming the
   interval, bucket and prefixes.
2. `plan_increment`: from one listing of the raw bucket and one of the ledger, the objects this run
   takes (arrival before `end`, no verdict for key + ETag yet), written as the run's plan for the Glue job;
   returns counts and one S3-event payload per category file. Objects it does not read — a wrong suffix,
   no region folder, outside the landing prefixes — are ignored with the reason.
3. `convert_reference_data`: the JSON-to-Parquet Lambda, one invocation per planned category file; it
   answers `converted`, `quarantined` or `superseded` per file (a verdict, never a task failure).
4. `run_clean_statistics`: the Glue Spark job on the plan's statistics CSVs (skipped when there are none):
   types and deduplicates them in arrival order, merges them into the `region=xx/dt=YYYY-MM-DD/`
   partitions they touch (one Parquet object each, replaced by one S3 copy), writes their ledger
   documents; a file with too many bad rows is quarantined whole and the others are still published.
5. `crawl_processed`: the crawler registers `statistics` and `category_reference` in the processed database,
   then the processed assets are updated (extras: counts and changed partitions), which schedules
   `youtube_reporting`.
6. `record_verdicts`: ledger documents for the objects the run ignored (each logged as
   `ignored <key>: <reason>`); then, when a file was quarantined,
   the run fails naming region, file and reason (no retry: a verdict; good regions are already published).

All names come from `youtube_etl.settings`; nothing here calls AWS while the file is parsed.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import CronDataIntervalTimetable, TriggerRule, chain, dag, task

from youtube_etl.dag_support import (
    TAGS,
    crawler_task,
    dag_alerts,
    default_args,
    glue_job_task,
    processed_assets,
    xcom_json,
)
from youtube_etl.operators import (
    CleanStatisticsOperator,
    ConvertReferenceOperator,
    CrawlProcessedOperator,
    LandingDropSensor,
)
from youtube_etl.settings import get_settings, safe_run_id

if TYPE_CHECKING:
    from airflow.sdk.bases.decorator import Task

log = logging.getLogger(__name__)
settings = get_settings()


def make_plan_increment() -> Task[..., list[str]]:
    """The ``plan_increment`` task; built here so that the DAG function only wires tasks."""

    @task(task_id="plan_increment", execution_timeout=timedelta(minutes=15))
    def plan_increment(
        run_id: str | None = None,
        data_interval_start: datetime | None = None,
        data_interval_end: datetime | None = None,
        dag_run: Any = None,
        ti: Any = None,
    ) -> list[str]:
        """The landing objects this run takes, in arrival order; the plan goes to the assets bucket.

        Returns one S3-event payload per category file (the Lambda's mapped invocations); the plan's counts
        and location are pushed as the XCom ``plan``.
        """
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from youtube_etl.ingest import plan_task
        from youtube_etl.landing import run_interval

        start, end = run_interval(data_interval_start, data_interval_end, getattr(dag_run, "run_after", None))
        s3 = S3Hook(aws_conn_id=settings.aws_conn_id).get_conn()
        result = plan_task(s3, settings, start, end, str(run_id))
        payloads: list[str] = result.pop("payloads")
        ti.xcom_push(key="plan", value=result)
        return payloads

    return plan_increment


def make_record_verdicts() -> Task[..., dict[str, Any]]:
    """The ``record_verdicts`` task; built here so that the DAG function only wires tasks."""

    @task(
        task_id="record_verdicts",
        trigger_rule=TriggerRule.NONE_FAILED,
        execution_timeout=timedelta(minutes=15),
    )
    def record_verdicts(run_id: str | None = None, ti: Any = None) -> dict[str, Any]:
        """Ledger documents for the objects the run ignored; then fail naming every quarantined file.

        Runs after the good files were published. A quarantine is a verdict on the input, so the failure
        is not retried (the file keeps its verdict until it changes, and fails no later run).
        """
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook
        from airflow.sdk.exceptions import AirflowFailException

        from youtube_etl.ingest import parse_lambda_results, record_verdicts_task
        from youtube_lake.metrics import GlueMetrics

        plan = ti.xcom_pull(task_ids="plan_increment", key="plan") or {}
        verdicts = record_verdicts_task(
            S3Hook(aws_conn_id=settings.aws_conn_id).get_conn(),
            settings,
            str(run_id),
            plan.get("plan_uri"),
            # Read once by run_clean_statistics (absent when it was skipped or wrote none).
            metrics=GlueMetrics.from_json(ti.xcom_pull(task_ids="run_clean_statistics", key="metrics")),
            lambda_results=parse_lambda_results(ti.xcom_pull(task_ids="convert_reference_data")),
        )
        for ignored in verdicts.ignored:
            log.info("ignored %s: %s", ignored["key"], ignored["reason"])
        summary = verdicts.summary()
        ti.xcom_push(key="verdicts", value=summary)  # also when the run fails below (make run reads it)
        if verdicts.quarantined:
            raise AirflowFailException(verdicts.failure_message(str(run_id)))
        return summary

    return record_verdicts


@dag(
    dag_id="youtube_ingest",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    # The Kaggle trending data starts in November 2017; catchup stays off: backfills are explicit.
    start_date=datetime(2017, 11, 1),
    catchup=False,
    max_active_runs=1,
    tags=[*TAGS, "ingest"],
    doc_md=__doc__,
    default_args=default_args(settings),
    **dag_alerts(settings, __file__),
    user_defined_macros={"safe_run_id": safe_run_id},
)
def youtube_ingest() -> None:
    wait_for_drop = LandingDropSensor(
        task_id="wait_for_drop",
        bucket_name=settings.raw_bucket,
        prefixes=settings.landing_prefixes,
        landing_grace=settings.landing_grace,
        # The day's extract lands the drop: wait while its run of this interval is queued or running.
        extract_dag_id="youtube_extract",
        extract_prefixes=settings.landing_prefixes,
        aws_conn_id=settings.aws_conn_id,
        poke_interval=settings.poll_interval,
        deferrable=settings.deferrable,
        mode=settings.sensor_mode,
        # In reschedule mode it bounds one poke (a listing of the landing prefixes); poking or deferred in one
        # try it bounds the whole wait, which the sensor's own deadline (interval end + grace) ends first.
        execution_timeout=(
            timedelta(minutes=10)
            if settings.sensor_mode == "reschedule"
            else LandingDropSensor.longest_wait(settings.landing_grace)
        ),
    )

    plan_increment = make_plan_increment()
    payloads = plan_increment()
    convert_reference_data = ConvertReferenceOperator.partial(
        task_id="convert_reference_data",
        function_name=settings.lambda_function,
        invocation_type="RequestResponse",
        aws_conn_id=settings.aws_conn_id,
        execution_timeout=timedelta(minutes=20),
    ).expand(payload=payloads)

    run_clean_statistics = glue_job_task(
        settings,
        "run_clean_statistics",
        settings.clean_statistics_job,
        script_args={"--plan_path": "{{ ti.xcom_pull(task_ids='plan_increment', key='plan')['plan_uri'] }}"},
        operator=CleanStatisticsOperator,
        plan=xcom_json("plan_increment", "plan"),
    )
    crawl_processed = crawler_task(
        settings,
        "crawl_processed",
        settings.processed_crawler,
        operator=CrawlProcessedOperator,
        outlets=processed_assets(settings),
        plan=xcom_json("plan_increment", "plan"),
        # Read once by run_clean_statistics (absent when it was skipped).
        glue_metrics=xcom_json("run_clean_statistics", "metrics"),
        lambda_results=xcom_json("convert_reference_data"),
        # One side with nothing to do (a skipped mapping or job) must not stop the other's publish; a run
        # that changed nothing (both skipped) emits no asset event.
        trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
    )

    record_verdicts = make_record_verdicts()
    chain(wait_for_drop, payloads, [convert_reference_data, run_clean_statistics], crawl_processed)
    chain(crawl_processed, record_verdicts())


youtube_ingest()
