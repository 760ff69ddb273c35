"""Alert messages (what an operator reads) and the deadline rules (which run gets which due time)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from youtube_etl.alerts import (
    DAG_RUN_FAILED,
    DEADLINE_MISSED,
    SUBJECT_LIMIT,
    TASK_FAILED,
    Alert,
    dag_failure_alert,
    task_failure_alert,
)
from youtube_etl.deadlines import RunFacts, deadline_alert, reports_due_base
from youtube_etl.settings import SettingsError, get_settings

SETTINGS = get_settings({})
START = datetime(2026, 11, 28, tzinfo=UTC)
END = START + timedelta(days=1)


def ti(**overrides: object) -> SimpleNamespace:
    values = {
        "dag_id": "youtube_ingest",
        "task_id": "run_clean_statistics",
        "map_index": -1,
        "try_number": 3,
        "run_id": "scheduled__2026-11-28T00:00:00+00:00",
        "log_url": "http://127.0.0.1:8080/dags/youtube_ingest/runs/r/tasks/run_clean_statistics?try_number=3",
    }
    return SimpleNamespace(**(values | overrides))


def field(message: str, name: str) -> str:
    """The value of one ``Name: value`` line of an alert message (columns are aligned with spaces)."""
    (value,) = re.findall(rf"^{name}:\s+(.*)$", message, flags=re.MULTILINE)
    return value


def test_task_failure_alert_names_dag_task_run_interval_error_and_log() -> None:
    error = RuntimeError("Glue job youtube-dev-clean-statistics FAILED: reject threshold exceeded")
    context = {
        "ti": ti(),
        "run_id": "scheduled__2026-11-28T00:00:00+00:00",
        "data_interval_start": START,
        "data_interval_end": END,
        "exception": error,
    }
    alert = task_failure_alert(context, SETTINGS)
    assert alert.kind == TASK_FAILED
    assert alert.subject == "[youtube-dev] task failed: youtube_ingest.run_clean_statistics"
    message = alert.message
    assert field(message, "DAG") == "youtube_ingest"
    assert field(message, "Task") == "run_clean_statistics"
    assert field(message, "Run") == "scheduled__2026-11-28T00:00:00+00:00"
    assert field(message, "Interval") == "2026-11-28T00:00:00+00:00 to 2026-11-29T00:00:00+00:00"
    assert field(message, "Try") == "3"
    assert field(message, "Error") == (
        "RuntimeError: Glue job youtube-dev-clean-statistics FAILED: reject threshold exceeded"
    )
    assert field(message, "Log") == context["ti"].log_url
    assert "docs/operations.md, section 'task_failed'" in message
    assert "Map index" not in message, "an unmapped task has no map index"
    assert alert.attributes == {
        "kind": "task_failed",
        "dag_id": "youtube_ingest",
        "task_id": "run_clean_statistics",
    }


def test_a_mapped_task_alert_names_its_map_index() -> None:
    alert = task_failure_alert({"ti": ti(task_id="convert_reference_data", map_index=4)}, SETTINGS)
    assert field(alert.message, "Map index") == "4"
    assert field(alert.message, "Interval") == "none"


def test_dag_run_failure_alert_says_why_and_which_task() -> None:
    failed = ti(task_id="check_reports.check_row_count_drop")
    context = {
        "dag": SimpleNamespace(dag_id="youtube_reporting"),
        "ti": failed,
        "run_id": "asset_triggered__2026-11-29T06:10:00+00:00",
        "reason": "task_failure",
    }
    alert = dag_failure_alert(context, SETTINGS)
    assert alert.kind == DAG_RUN_FAILED
    assert alert.subject == "[youtube-dev] DAG run failed: youtube_reporting"
    assert alert.task_id is None
    assert field(alert.message, "Reason") == "task_failure"
    assert field(alert.message, "Failed task") == "check_reports.check_row_count_drop"
    assert field(alert.message, "Log") == failed.log_url


def test_subject_fits_sns_limits_and_long_errors_are_clipped() -> None:
    alert = Alert(
        kind=TASK_FAILED,
        environment="youtube-dev",
        dag_id="d" * 80,
        task_id="t" * 80 + "é",
        run_id="r",
        error="x" * 10_000,
    )
    assert len(alert.subject) == SUBJECT_LIMIT and alert.subject.endswith("...")
    assert alert.subject.isascii() and "\n" not in alert.subject
    assert len(alert.message) < 5_000


def test_deadline_alert_names_the_interval_and_the_due_time() -> None:
    due = END + timedelta(hours=8)
    context = {
        "dag_run": {
            "dag_id": "youtube_ingest",
            "dag_run_id": "scheduled__2026-11-28T00:00:00+00:00",
            "state": "running",
            "data_interval_start": START.isoformat(),
            "data_interval_end": END.isoformat(),
        },
        "deadline": {"id": "x", "deadline_time": due.isoformat()},
    }
    alert = deadline_alert(context, 8.0, SETTINGS)
    assert alert.kind == DEADLINE_MISSED
    assert alert.subject == "[youtube-dev] deadline missed: youtube_ingest"
    assert (
        "the reports of the interval ending 2026-11-29T00:00:00+00:00 were not published by "
        "2026-11-29T08:00:00+00:00 (8 h after the interval ended); this run is running"
    ) in alert.message
    assert alert.log_url is not None
    assert alert.log_url.endswith("/dags/youtube_ingest/runs/scheduled__2026-11-28T00%3A00%3A00%2B00%3A00")
    assert alert.run_id == "scheduled__2026-11-28T00:00:00+00:00"


# ---- deadline rules -------------------------------------------------------------------------------
DEADLINE = timedelta(hours=8)
INGEST = RunFacts("youtube_ingest", "scheduled__2026-11-28", "scheduled", END)


@pytest.mark.parametrize(
    ("run", "interval_run", "now", "expected"),
    [
        pytest.param(INGEST, INGEST, END, END, id="scheduled-ingest-counts-from-its-interval-end"),
        pytest.param(
            INGEST, INGEST, END + 2 * DEADLINE, END, id="late-created-scheduled-ingest-still-alerts"
        ),
        pytest.param(
            RunFacts("youtube_ingest", "manual__x", "manual", END),
            RunFacts("youtube_ingest", "manual__x", "manual", END),
            END,
            None,
            id="manual-ingest-has-no-deadline",
        ),
        pytest.param(
            RunFacts("youtube_ingest", "backfill__x", "backfill", END),
            RunFacts("youtube_ingest", "backfill__x", "backfill", END),
            END,
            None,
            id="backfill-has-no-deadline",
        ),
        pytest.param(
            RunFacts("youtube_reporting", "asset_triggered__x", "asset_triggered", None),
            INGEST,
            END + timedelta(hours=1),
            END,
            id="reporting-inherits-the-ingest-interval",
        ),
        pytest.param(
            RunFacts("youtube_reporting", "asset_triggered__x", "asset_triggered", None),
            INGEST,
            END + DEADLINE + timedelta(seconds=1),
            None,
            id="reporting-created-after-the-due-time-leaves-the-alert-to-ingest",
        ),
        pytest.param(
            RunFacts("youtube_reporting", "asset_triggered__x", "asset_triggered", None),
            RunFacts("youtube_ingest", "manual__x", "manual", END),
            END,
            None,
            id="reporting-after-a-manual-ingest-has-no-deadline",
        ),
        pytest.param(
            RunFacts("youtube_reporting", "asset_triggered__x", "asset_triggered", None),
            None,
            END,
            None,
            id="reporting-without-any-ingest-run",
        ),
    ],
)
def test_reports_due_base(
    run: RunFacts, interval_run: RunFacts | None, now: datetime, expected: datetime | None
) -> None:
    assert reports_due_base(run, interval_run, now=now, deadline=DEADLINE) == expected


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        pytest.param("alert_email", "not an email", "alert_email", id="email"),
        pytest.param("alerts_topic_arn", "arn:aws:sqs:us-east-1:123456789012:q", "SNS topic ARN", id="topic"),
        pytest.param("report_deadline_hours", "-1", "report_deadline_hours", id="deadline-negative"),
        pytest.param("report_deadline_hours", "169", "report_deadline_hours", id="deadline-over-a-week"),
        pytest.param("lineage_transport", "{not json", "not JSON", id="lineage-json"),
        pytest.param("lineage_transport", '{"log_file_path": "x"}', '"type"', id="lineage-type"),
    ],
)
def test_operations_settings_are_validated(option: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        get_settings({f"AIRFLOW__YOUTUBE_ETL__{option.upper()}": value})


def test_alerts_target_is_derived_on_aws_and_explicit_locally() -> None:
    assert get_settings({}).alerts_target == ""
    deployed = get_settings({}, account="123456789012", region="eu-west-1", stage="prod")
    assert deployed.alerts_target == "arn:aws:sns:eu-west-1:123456789012:youtube-prod-alerts"
    local = "arn:aws:sns:us-east-1:123456789012:youtube-dev-alerts"
    assert get_settings({"AIRFLOW__YOUTUBE_ETL__ALERTS_TOPIC_ARN": local}).alerts_target == local
