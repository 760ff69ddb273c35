"""Facts where operators look: a skipped check's reason and a Glue job's summary line in the task log, and
no AWS console link in local task logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import structlog

from infra.local.runtime import LocalRuntime
from tests.airflow_dags import run_dag_file
from youtube_etl.dag_support import glue_job_task, glue_metrics_location
from youtube_etl.operators import GlueJobSummaryOperator, _WithoutConsoleLinks, glue_summary

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
    assert glue_summary(metrics) == "read=40949 written=40901 duplicates=48 rejected=0"
    assert glue_summary({"per_region": {}}) == "no counts"


def test_glue_task_logs_the_summary_line_of_its_run(clean_aws: LocalRuntime) -> None:
    s = clean_aws.settings
    task = glue_job_task(s, "run_clean_statistics", s.clean_statistics_job)
    assert isinstance(task, GlueJobSummaryOperator)
    run_id = "scheduled__2026-11-28T00:00:00+00:00"
    bucket, key = glue_metrics_location(s, s.clean_statistics_job, run_id)
    assert key.endswith("/run_id=scheduled_2026_11_28t00_00_00_00_00/metrics.json"), "the job's safe run id"
    body = {"read": 10, "written": 7, "duplicates": 2, "rejected": 1, "rejects": {"bad_date": 1}}
    clean_aws.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(body).encode())
    with structlog.testing.capture_logs() as logs:
        task._log_summary({"run_id": run_id})
    assert [entry["event"] for entry in logs] == [
        f"Glue job {s.clean_statistics_job} summary: read=10 written=7 duplicates=2 rejected=1"
    ]

    with structlog.testing.capture_logs() as logs:
        task._log_summary({"run_id": "manual__never_ran"})
    assert logs[0]["log_level"] == "warning" and "wrote no metrics" in logs[0]["event"]


def test_console_links_are_dropped_and_other_lines_kept() -> None:
    with structlog.testing.capture_logs() as logs:
        log = _WithoutConsoleLinks(structlog.get_logger("probe"))
        log.info("You can monitor this Glue Job run at: %s", "https://console.aws.amazon.com/gluestudio/…")
        log.info("AWS Glue Job: %s. Run Id: %s", "job", "jr_1")
        log.warning("kept too")
    assert [entry["event"] for entry in logs] == ["AWS Glue Job: job. Run Id: jr_1", "kept too"]
