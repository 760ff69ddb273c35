"""Facts where operators look: a skipped check's reason and a Glue job's summary line in the task log, and
no AWS console link in local task logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import structlog

from local.runtime import LocalRuntime
from tests.airflow_dags import run_dag_file
from youtube_etl.dag_support import GLUE_RUN_ID, glue_job_task
from youtube_etl.operators import GlueJobSummaryOperator, _WithoutConsoleLinks
from youtube_etl.settings import get_settings, safe_run_id
from youtube_lake.metrics import GlueMetrics
from youtube_lake.uris import split_s3_uri

SKIP_DAG = """
from datetime import datetime

from airflow.sdk import dag

from youtube_etl.operators import AthenaCheckOperator
from youtube_etl.settings import get_settings

settings = get_settings()


@dag(dag_id="skip_reason_probe", schedule=None, start_date=datetime(2026, 1, 1))
def skip_reason_probe():
    AthenaCheckOperator(
        task_id="check_row_count_drop",
        check_name="row_count_drop",
        baseline_view="region_summary",
        query="SELECT 0 AS failures, '' AS example",
        database=settings.analytics_database,
        workgroup=settings.athena_workgroup,
        aws_conn_id=settings.aws_conn_id,
        retries=0,
    )


dag = skip_reason_probe()
"""


@pytest.mark.usefixtures("airflow_db")
def test_a_skipped_check_says_why_in_its_task_log(
    clean_aws: LocalRuntime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_dag_file(SKIP_DAG, "skip_reason_probe", tmp_path, monkeypatch)
    (ti,) = run.get_task_instances()
    assert ti.state == "skipped"
    log = capsys.readouterr()
    lines = [line for line in (log.out + log.err).splitlines() if "no previous run to compare with" in line]
    assert lines, "the reason is in the task log"
    # A line of its own, not only the "Skipping task." record's field.
    own = [line for line in lines if "Skipping task" not in line]
    assert any("youtube_analytics.region_summary does not exist yet" in line for line in own), lines


def test_glue_summary_keeps_the_jobs_counts_in_order_and_leaves_nested_details_out() -> None:
    metrics = {"read": 40949, "written": 40901, "duplicates": 48, "rejected": 0, "per_region": {"us": 1}}
    assert GlueMetrics.from_json(metrics).summary() == "read=40949 written=40901 duplicates=48 rejected=0"
    assert GlueMetrics.from_json({"per_region": {}}).summary() == "no counts"


class TaskInstance:
    """Collects what a task pushes."""

    def __init__(self) -> None:
        self.pushed: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed[key] = value


def test_the_glue_task_reads_its_metrics_where_the_job_writes_them_for_its_run_id() -> None:
    """The same template names the job's --run_id and the metrics it reads back."""
    from jinja2 import Template

    s = get_settings({})
    task = glue_job_task(s, "run_clean_statistics", s.clean_statistics_job)
    assert isinstance(task, GlueJobSummaryOperator) and task.script_args["--run_id"] == GLUE_RUN_ID
    run_id = "scheduled__2026-11-28T00:00:00+00:00"
    rendered = Template(task.metrics_uri).render(safe_run_id=safe_run_id, run_id=run_id)
    assert rendered == s.glue_metrics_uri(s.clean_statistics_job, safe_run_id(run_id))
    assert rendered.endswith("/run_id=scheduled_2026_11_28t00_00_00_00_00/metrics.json"), "the safe run id"


def test_glue_task_logs_its_runs_summary_and_passes_the_metrics_on(
    clean_aws: LocalRuntime,
) -> None:
    s = clean_aws.settings
    uri = s.glue_metrics_uri(s.clean_statistics_job, "scheduled_2026_11_28t00_00_00_00_00")
    task = GlueJobSummaryOperator(
        task_id="run_clean_statistics", job_name=s.clean_statistics_job, metrics_uri=uri
    )
    body = {"read": 10, "written": 7, "duplicates": 2, "rejected": 1, "rejects": {"bad_date": 1}}
    bucket, key = split_s3_uri(uri)
    clean_aws.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(body).encode())
    ti = TaskInstance()
    with structlog.testing.capture_logs() as logs:
        task.report_metrics({"ti": ti})
    assert [entry["event"] for entry in logs] == [
        f"Glue job {s.clean_statistics_job} summary: read=10 written=7 duplicates=2 rejected=1"
    ]
    assert ti.pushed == {"metrics": body}

    task.metrics_uri = s.glue_metrics_uri(s.clean_statistics_job, "manual_never_ran")
    ti = TaskInstance()
    with structlog.testing.capture_logs() as logs:
        assert not task.report_metrics({"ti": ti})
    assert logs[0]["log_level"] == "warning" and "wrote no metrics" in logs[0]["event"]
    assert ti.pushed == {}, "nothing to pass on: readers see no metrics, as when the job was skipped"


def test_console_links_are_dropped_and_other_lines_kept() -> None:
    with structlog.testing.capture_logs() as logs:
        log = _WithoutConsoleLinks(structlog.get_logger("probe"))
        log.info("You can monitor this Glue Job run at: %s", "https://console.aws.amazon.com/gluestudio/…")
        log.info("AWS Glue Job: %s. Run Id: %s", "job", "jr_1")
        log.warning("kept too")
    assert [entry["event"] for entry in logs] == ["AWS Glue Job: job. Run Id: jr_1", "kept too"]
