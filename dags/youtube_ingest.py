"""
### youtube_ingest — land, convert and clean the YouTube trending files (daily)

1. `wait_for_statistics` / `wait_for_reference_data`: the per-region CSVs and the category JSON files are in
   the raw bucket's landing prefixes.
2. `convert_reference_data`: the JSON-to-Parquet Lambda, one invocation per category file (S3-event payload).
   It is idempotent, so files the S3-event path already converted are simply converted again. A file the
   Lambda quarantines fails the task with the reason.
3. `run_clean_statistics`: the Glue Spark job that types, deduplicates and partitions the statistics.
4. `crawl_processed`: the crawler registers `statistics` and `category_reference` in the processed database,
   then the processed assets are updated, which schedules `youtube_reporting`.

All names come from `youtube_etl.settings`; nothing here calls AWS while the file is parsed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.sdk import chain, dag, task

from youtube_etl.dag_support import TAGS, crawler_task, default_args, glue_job_task, processed_assets
from youtube_etl.operators import ConvertReferenceOperator
from youtube_etl.settings import get_settings, safe_run_id

settings = get_settings()
SENSOR_TIMEOUT = timedelta(hours=6)


@dag(
    dag_id="youtube_ingest",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=[*TAGS, "ingest"],
    doc_md=__doc__,
    default_args=default_args(settings),
    user_defined_macros={"safe_run_id": safe_run_id},
)
def youtube_ingest() -> None:
    sensor_args = {
        "bucket_name": settings.raw_bucket,
        "wildcard_match": True,
        "aws_conn_id": settings.aws_conn_id,
        "poke_interval": settings.poll_interval,
        "timeout": SENSOR_TIMEOUT.total_seconds(),
        "execution_timeout": SENSOR_TIMEOUT + timedelta(minutes=5),
        "deferrable": settings.deferrable,
        "mode": "poke" if settings.deferrable else "reschedule",
    }
    wait_for_statistics = S3KeySensor(
        task_id="wait_for_statistics",
        bucket_key=f"{settings.prefixes.raw_statistics}region=*/*.csv",
        **sensor_args,
    )
    wait_for_reference_data = S3KeySensor(
        task_id="wait_for_reference_data",
        bucket_key=f"{settings.prefixes.raw_reference}*.json",
        **sensor_args,
    )

    @task(task_id="list_reference_files")
    def list_reference_files() -> list[str]:
        """One S3-event payload per category file found under the landing prefix."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from youtube_etl.dag_support import reference_payloads

        hook = S3Hook(aws_conn_id=settings.aws_conn_id)
        keys = hook.list_keys(bucket_name=settings.raw_bucket, prefix=settings.prefixes.raw_reference)
        return reference_payloads(settings.raw_bucket, keys)

    payloads = list_reference_files()
    convert_reference_data = ConvertReferenceOperator.partial(
        task_id="convert_reference_data",
        function_name=settings.lambda_function,
        invocation_type="RequestResponse",
        aws_conn_id=settings.aws_conn_id,
        execution_timeout=timedelta(minutes=20),
    ).expand(payload=payloads)

    run_clean_statistics = glue_job_task(settings, "run_clean_statistics", settings.clean_statistics_job)
    crawl_processed = crawler_task(
        settings, "crawl_processed", settings.processed_crawler, outlets=processed_assets(settings)
    )

    chain(wait_for_reference_data, payloads, convert_reference_data, crawl_processed)
    chain(wait_for_statistics, run_clean_statistics, crawl_processed)


youtube_ingest()
