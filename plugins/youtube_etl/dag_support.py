"""Small, pure helpers the DAG files share: defaults, assets, the Lambda payloads and result checks.

Nothing here touches AWS or the metadata DB at import time, so DAG files stay fast to parse.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from airflow.sdk import Asset

from youtube_etl.alerts import on_dag_failure, on_task_failure
from youtube_etl.settings import Settings, safe_run_id

OWNER = "data-engineering"
TAGS = ["youtube", "etl"]


class LambdaRecordError(RuntimeError):
    """The Lambda quarantined a file or answered something that is not its documented result."""


def default_args(settings: Settings, *, execution_timeout: timedelta = timedelta(hours=1)) -> dict[str, Any]:
    """Task defaults: at least two retries with exponential backoff, a timeout, an alert when a task fails."""
    return {
        "owner": OWNER,
        "retries": 2,
        "retry_delay": timedelta(seconds=min(60, settings.poll_interval * 2)),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": execution_timeout,
        "on_failure_callback": on_task_failure,
    }


def dag_alerts(settings: Settings) -> dict[str, Any]:
    """DAG arguments for operations: an alert when a run fails, a deadline alert when reports are late."""
    from youtube_etl.deadlines import reports_deadline

    deadline = reports_deadline(settings) if settings.report_deadline_hours else None
    return {"on_failure_callback": on_dag_failure, "deadline": deadline}


def glue_job_task(
    settings: Settings,
    task_id: str,
    job_name: str,
    *,
    script_args: Mapping[str, str] | None = None,
    operator: type | None = None,
) -> Any:
    """The Glue job task of both DAGs (``operator``, by default the provider's operator + the job's summary
    line in its log): waits, run id passed, polls from settings."""
    from youtube_etl.operators import GlueJobSummaryOperator

    return (operator or GlueJobSummaryOperator)(
        task_id=task_id,
        job_name=job_name,
        # Spark/Hadoop paths cannot hold the ':' and '+' of Airflow run ids.
        script_args={"--run_id": "{{ safe_run_id(run_id) }}", **(script_args or {})},
        wait_for_completion=True,
        deferrable=settings.deferrable,
        job_poll_interval=settings.poll_interval,
        waiter_delay=settings.waiter_delay,
        verbose=False,
        aws_conn_id=settings.aws_conn_id,
        execution_timeout=timedelta(hours=2),
    )


def glue_metrics_location(settings: Settings, job: str, run_id: str) -> tuple[str, str]:
    """Bucket and key of the counts a Glue job run writes (``--metrics_path`` + ``run_id=<safe run id>``)."""
    path = settings.glue_job_arguments(job)["--metrics_path"]
    bucket, _, prefix = path.removeprefix("s3://").partition("/")
    return bucket, f"{prefix}run_id={safe_run_id(run_id)}/metrics.json"


def crawler_task(
    settings: Settings, task_id: str, crawler_name: str, *, operator: type | None = None, **kwargs: Any
) -> Any:
    """The provider's GlueCrawlerRunOperator (or ``operator``, a subclass), waiting for the crawl to end."""
    from airflow.providers.amazon.aws.operators.glue_crawler import GlueCrawlerRunOperator

    return (operator or GlueCrawlerRunOperator)(
        task_id=task_id,
        crawler_name=crawler_name,
        wait_for_completion=True,
        deferrable=settings.deferrable,
        # Deferrable triggers wait through botocore waiters, which take whole seconds; polling in the worker
        # only sleeps, so a fraction works (typed int upstream).
        poll_interval=settings.waiter_delay if settings.deferrable else settings.poll_interval,  # type: ignore[arg-type]
        aws_conn_id=settings.aws_conn_id,
        execution_timeout=timedelta(minutes=30),
        **kwargs,
    )


def processed_assets(settings: Settings) -> list[Asset]:
    """What ``youtube_ingest`` updates and ``youtube_reporting`` is scheduled on."""
    return [
        Asset(name=f"{settings.processed_database}.{settings.statistics_table}", uri=settings.statistics_uri),
        Asset(
            name=f"{settings.processed_database}.{settings.category_reference_table}",
            uri=settings.category_reference_uri,
        ),
    ]


def report_asset(settings: Settings, report: str) -> Asset:
    """The stable view of one report, updated when a run swapped it to its new table."""
    return Asset(name=f"{settings.analytics_database}.{report}", uri=f"{settings.reports_uri}{report}/")


def sql_dir(settings: Settings) -> Path:
    """The folder of the Athena SQL templates.

    A repository checkout and docker-compose keep it at ``include/sql`` beside ``plugins/``; on MWAA the
    CDK stack uploads it next to the DAGs (``dags/sql``) and may set ``[youtube_etl] sql_folder``.
    """
    if settings.sql_folder:
        return Path(settings.sql_folder)
    candidates = [
        Path(__file__).resolve().parents[2] / "include" / "sql",
        Path(os.environ.get("AIRFLOW_HOME", "/usr/local/airflow")) / "dags" / "sql",
    ]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return candidates[0]


def s3_event_payload(
    bucket: str,
    objects: Iterable[str | Mapping[str, Any]],
    *,
    size: int = 0,
    run: Mapping[str, Any] | None = None,
) -> str:
    """The S3 ``ObjectCreated`` event shape for ``objects``, as the scheduled path sends it to the Lambda.

    An object is a key or a planned object (``key``, ``size``, ``etag``, ``version_id``); keys are
    URL-encoded like S3 encodes them in real events (spaces as ``+``). ``run`` (``run_id``,
    ``interval_start``, ``interval_end``) tells the Lambda which Airflow run asks, for its ledger documents;
    real S3 events have no such member.
    """
    records = []
    for obj in objects:
        fields = {"key": obj} if isinstance(obj, str) else obj
        s3_object: dict[str, Any] = {
            "key": quote_plus(str(fields["key"]), safe="/="),
            "size": int(fields.get("size") or size),
        }
        if fields.get("etag"):
            s3_object["eTag"] = str(fields["etag"]).strip('"')
        if fields.get("version_id"):
            s3_object["versionId"] = fields["version_id"]
        records.append(
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": bucket}, "object": s3_object},
            }
        )
    if not records:
        raise ValueError("an S3 event needs at least one key")
    event: dict[str, Any] = {"Records": records}
    if run:
        event["airflow"] = dict(run)
    return json.dumps(event)


#: What the JSON-to-Parquet Lambda answers per record (see its handler's docstring).
LAMBDA_STATUSES = ("converted", "quarantined", "superseded")


def check_lambda_result(payload: str) -> dict[str, Any]:
    """The Lambda's result, checked for its documented shape; :class:`LambdaRecordError` otherwise.

    A quarantined or superseded file is a verdict, not an error: the result says which and why, and the
    run's ``record_verdicts`` task decides what fails. Only an answer that is not the documented result
    (a changed function, a truncated payload) raises here.
    """
    try:
        result = json.loads(payload)
        records = result["records"]
        if not isinstance(records, list):
            raise TypeError("'records' is not a list")
    except (ValueError, TypeError, KeyError) as error:
        raise LambdaRecordError(f"unexpected Lambda result (no 'records'): {payload[:500]!r}") from error
    for index, record in enumerate(records):
        status = record.get("status") if isinstance(record, dict) else None
        if status not in LAMBDA_STATUSES or not isinstance(record.get("key"), str):
            raise LambdaRecordError(
                f"unexpected Lambda result: records[{index}] has no key or its status {status!r} is not "
                f"one of {', '.join(LAMBDA_STATUSES)}: {json.dumps(record)[:500]}"
            )
        if status != "converted" and not record.get("reason"):
            raise LambdaRecordError(
                f"unexpected Lambda result: records[{index}] is {status} without a reason"
            )
    return dict(result)


def lambda_failure_message(payload: str, function_error: str) -> str:
    """What failed, for a Lambda invocation that ended in a function error: the files of its event (from the
    payload we sent) and the error the function raised (``errorType: errorMessage``)."""
    try:
        keys = [unquote_plus(r["s3"]["object"]["key"]) for r in json.loads(payload)["Records"]]
    except (ValueError, TypeError, KeyError):
        keys = []
    try:
        error = json.loads(function_error)
        reason = f"{error.get('errorType', 'Error')}: {error.get('errorMessage', function_error)}"
    except (ValueError, TypeError, AttributeError):
        reason = function_error
    files = ", ".join(keys) if keys else "(no S3 records in the payload)"
    return f"json_to_parquet failed on {files} — {reason[:2000]}"
