"""Small, pure helpers the DAG files share: defaults, assets, the provider tasks both DAGs build.

Nothing here touches AWS or the metadata DB at import time, so DAG files stay fast to parse.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import Asset

from youtube_etl.alerts import on_dag_failure, on_task_failure
from youtube_etl.settings import Settings
from youtube_lake.invocation import event_keys

OWNER = "data-engineering"
TAGS = ["youtube", "etl"]
#: The run id a Glue job gets (``--run_id``): Spark/Hadoop paths cannot hold the ':' and '+' of Airflow run
#: ids. Both DAGs define the ``safe_run_id`` macro.
GLUE_RUN_ID = "{{ safe_run_id(run_id) }}"


class LambdaRecordError(RuntimeError):
    """The Lambda's invocation ended in a function error (its answer is checked by ``LambdaResult``)."""


def xcom_json(task_id: str, key: str = "return_value") -> str:
    """A templated argument: the XCom ``key`` of ``task_id`` as JSON text (``null`` when there is none).

    JSON, not the default rendering (a Python repr) and not native rendering (which would also turn a run
    id or a date string of every other templated field into a number): operators parse it
    (``operators.json_argument``).
    """
    return f"{{{{ ti.xcom_pull(task_ids='{task_id}', key='{key}') | tojson }}}}"


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


def dag_alerts(settings: Settings, dag_file: str) -> dict[str, Any]:
    """DAG arguments for operations: an alert when a run fails, a deadline alert when reports are late.

    ``dag_file``: the DAG file's ``__file__``; its digest with the settings, this package and the SQL
    folder goes into the deadline (see :func:`youtube_etl.deadlines.definition_digest`)."""
    from youtube_etl.deadlines import definition_digest, reports_deadline

    deadline = None
    if settings.report_deadline_hours:
        definition = definition_digest(settings, Path(dag_file), sql_dir(settings))
        deadline = reports_deadline(settings, definition)
    return {"on_failure_callback": on_dag_failure, "deadline": deadline}


def glue_job_task(
    settings: Settings,
    task_id: str,
    job_name: str,
    *,
    script_args: Mapping[str, str] | None = None,
    operator: type | None = None,
    **kwargs: Any,
) -> Any:
    """The Glue job task of both DAGs (``operator``, by default the provider's operator + the job's summary
    line in its log): waits, run id passed, polls from settings; the job's metrics are read where the job
    writes them for this run id. ``kwargs`` go to ``operator``."""
    from youtube_etl.operators import GlueJobSummaryOperator

    return (operator or GlueJobSummaryOperator)(
        task_id=task_id,
        job_name=job_name,
        script_args={"--run_id": GLUE_RUN_ID, **(script_args or {})},
        metrics_uri=settings.glue_metrics_uri(job_name, GLUE_RUN_ID),
        wait_for_completion=True,
        deferrable=settings.deferrable,
        job_poll_interval=settings.poll_interval,
        waiter_delay=settings.waiter_delay,
        verbose=False,
        aws_conn_id=settings.aws_conn_id,
        execution_timeout=timedelta(hours=2),
        **kwargs,
    )


def crawler_task(
    settings: Settings, task_id: str, crawler_name: str, *, operator: type | None = None, **kwargs: Any
) -> Any:
    """The crawler task (``operator``, by default the provider's GlueCrawlerRunOperator re-attaching to its
    crawl on retry and waiting for a crawl it finds running), waiting for the crawl to end."""
    from youtube_etl.resumable import ResumableCrawlerOperator

    return (operator or ResumableCrawlerOperator)(
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


def lambda_failure_message(payload: str, function_error: str) -> str:
    """What failed, for a Lambda invocation that ended in a function error: the files of its event (from the
    payload we sent) and the error the function raised (``errorType: errorMessage``)."""
    keys = event_keys(payload)
    try:
        error = json.loads(function_error)
        reason = f"{error.get('errorType', 'Error')}: {error.get('errorMessage', function_error)}"
    except (ValueError, TypeError, AttributeError):
        reason = function_error
    files = ", ".join(keys) if keys else "(no S3 records in the payload)"
    return f"json_to_parquet failed on {files} — {reason[:2000]}"
