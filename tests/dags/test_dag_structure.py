"""Structure of the two DAGs: task order, mapping, asset wiring, settings-derived names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from airflow.dag_processing.dagbag import DagBag

from local.runtime import REPO_ROOT
from youtube_etl.dag_support import processed_assets
from youtube_etl.reports import discover_checks, discover_reports
from youtube_etl.settings import get_settings


@pytest.fixture(scope="module")
def dags():  # type: ignore[no-untyped-def]
    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert not bag.import_errors
    return bag.dags


def downstream(dag, task_id: str) -> set[str]:  # type: ignore[no-untyped-def]
    return {t.task_id for t in dag.get_task(task_id).get_flat_relatives(upstream=False)}


def test_ingest_runs_on_daily_data_intervals_from_2017(dags) -> None:  # type: ignore[no-untyped-def]
    from airflow.serialization.encoders import coerce_to_core_timetable

    dag = dags["youtube_ingest"]
    timetable = coerce_to_core_timetable(dag.timetable)
    # A manual run (UI, dag.test(logical_date=D+1)) covers the last whole UTC day before its date; a
    # plain "@daily" would give start == end (CronTriggerTimetable) and no run would know its day.
    interval = timetable.infer_manual_data_interval(run_after=datetime(2017, 11, 15, tzinfo=UTC))
    assert (interval.start, interval.end) == (
        datetime(2017, 11, 14, tzinfo=UTC),
        datetime(2017, 11, 15, tzinfo=UTC),
    )
    later = timetable.infer_manual_data_interval(run_after=datetime(2017, 11, 15, 13, 5, tzinfo=UTC))
    assert (later.start, later.end) == (
        datetime(2017, 11, 14, tzinfo=UTC),
        datetime(2017, 11, 15, tzinfo=UTC),
    )
    assert dag.catchup is False and dag.max_active_runs == 1
    assert dag.start_date.year == 2017 and dag.start_date.month <= 11


def test_ingest_order(dags) -> None:  # type: ignore[no-untyped-def]
    dag = dags["youtube_ingest"]
    assert downstream(dag, "wait_for_drop") >= {"plan_increment", "convert_reference_data"}
    assert {"convert_reference_data", "run_clean_statistics"} <= downstream(dag, "plan_increment")
    assert {"crawl_processed"} <= downstream(dag, "convert_reference_data")
    assert {"crawl_processed"} <= downstream(dag, "run_clean_statistics")
    # No category file to convert (an empty mapping is skipped) must not stop the statistics' publish.
    assert dag.get_task("crawl_processed").trigger_rule == "none_failed_min_one_success"
    # Verdicts are recorded (and a quarantine fails the run) only after the good files were published.
    assert downstream(dag, "crawl_processed") == {"record_verdicts"}
    assert dag.get_task("record_verdicts").trigger_rule == "none_failed"
    assert {t.task_id for t in dag.leaves} == {"record_verdicts"}


def test_ingest_uses_settings_names(dags) -> None:  # type: ignore[no-untyped-def]
    s = get_settings()
    dag = dags["youtube_ingest"]
    assert dag.get_task("run_clean_statistics").job_name == s.clean_statistics_job
    assert dag.get_task("crawl_processed").crawler_name == s.processed_crawler
    sensor = dag.get_task("wait_for_drop")
    assert type(sensor).__name__ == "LandingDropSensor"
    assert sensor.bucket_name == s.raw_bucket
    assert sensor.prefixes == (s.prefixes.raw_statistics, s.prefixes.raw_reference)
    assert sensor.landing_grace == s.landing_grace
    assert sensor.mode == s.sensor_mode == "reschedule"  # the default 30 s poll interval
    assert sensor.execution_timeout == timedelta(minutes=10), "in reschedule mode it bounds one poke"
    clean = dag.get_task("run_clean_statistics")
    assert type(clean).__name__ == "CleanStatisticsOperator"
    assert clean.script_args["--run_id"] == "{{ safe_run_id(run_id) }}"
    assert (
        "plan_uri" in clean.script_args["--plan_path"]
        and "plan_increment" in clean.script_args["--plan_path"]
    )
    assert type(dag.get_task("crawl_processed")).__name__ == "CrawlProcessedOperator"
    assert (
        dag.user_defined_macros["safe_run_id"]("manual__2026-01-01T00:00:00+00:00")
        == "manual_2026_01_01t00_00_00_00_00"
    )


@pytest.mark.parametrize(
    "environ",
    [{"AIRFLOW__YOUTUBE_ETL__POLL_INTERVAL": "2"}, {"AIRFLOW__YOUTUBE_ETL__DEFERRABLE": "true"}],
    ids=["make-airflow-poll", "deferrable"],
)
def test_a_drop_sensor_waiting_in_one_try_is_bounded_by_its_deadline_not_ten_minutes(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Poking in one try, or deferred (where the timeout counts the whole wait), a 10-minute execution
    timeout would fail a wait the landing grace allows; the bound is the sensor's own."""
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    bag = DagBag(dag_folder=str(REPO_ROOT / "dags" / "youtube_ingest.py"))
    assert not bag.import_errors
    sensor = bag.dags["youtube_ingest"].get_task("wait_for_drop")
    assert sensor.mode == "poke"
    assert sensor.execution_timeout == get_settings().landing_grace + timedelta(days=2)
    assert sensor.timeout == sensor.execution_timeout.total_seconds()


def test_conversion_is_mapped_over_the_planned_files(dags) -> None:  # type: ignore[no-untyped-def]
    dag = dags["youtube_ingest"]
    convert = dag.get_task("convert_reference_data")
    assert type(convert).__name__ == "MappedOperator"
    assert convert.operator_class.__name__ == "ConvertReferenceOperator"
    assert "plan_increment" in {t.task_id for t in convert.upstream_list}


def test_assets_connect_the_dags(dags) -> None:  # type: ignore[no-untyped-def]
    produced = {a.name for a in dags["youtube_ingest"].get_task("crawl_processed").outlets}
    assert produced == {a.name for a in processed_assets(get_settings())}
    consumed = {a.name for a in dags["youtube_reporting"].timetable.asset_condition.objects}
    assert consumed == produced


def test_reporting_has_one_task_per_report_and_check(dags) -> None:  # type: ignore[no-untyped-def]
    dag = dags["youtube_reporting"]
    reports = discover_reports()
    assert reports, "no report SQL found"
    for report in reports:
        assert f"build_reports.build_{report}" in dag.task_ids
        assert f"publish_views.publish_{report}" in dag.task_ids
    for check in discover_checks():
        group = "check_sources" if check.stage == "source" else "check_reports"
        assert f"{group}.check_{check.name}" in dag.task_ids


def test_reporting_order_publishes_only_after_checks(dags) -> None:  # type: ignore[no-untyped-def]
    dag = dags["youtube_reporting"]
    report = discover_reports()[0]
    after_build = downstream(dag, f"build_reports.build_{report}")
    assert {f"publish_views.publish_{report}", "cleanup_report_runs"} <= after_build
    check = next(c for c in discover_checks() if c.stage == "reports")
    assert f"publish_views.publish_{report}" in downstream(dag, f"check_reports.check_{check.name}")
    assert "build_reports.build_" + report in downstream(dag, "crawl_analytics")


def test_reporting_crawls_the_analytics_only_after_building_them(dags) -> None:  # type: ignore[no-untyped-def]
    """The crawl registers what run_build_analytics wrote: before it, the reports read yesterday's table."""
    dag = dags["youtube_reporting"]
    assert dag.get_task("crawl_analytics").upstream_task_ids == {"run_build_analytics"}
    assert "crawl_analytics" in downstream(dag, "run_build_analytics")
    assert {t.task_id for t in dag.roots} == {"run_build_analytics"}


def test_cleanup_runs_whatever_happened_but_failures_still_fail_the_run(dags) -> None:  # type: ignore[no-untyped-def]
    dag = dags["youtube_reporting"]
    assert dag.get_task("cleanup_report_runs").trigger_rule == "all_done"
    leaves = {t.task_id for t in dag.leaves}
    assert leaves == {"cleanup_report_runs", "reports_published"}
    # none_failed: a skipped check (no baseline yet) must not skip publishing, a failed one must stop it.
    assert dag.get_task("reports_published").trigger_rule == "none_failed"
    for report in discover_reports():
        assert dag.get_task(f"publish_views.publish_{report}").trigger_rule == "none_failed"


def test_publish_tasks_emit_report_assets(dags) -> None:  # type: ignore[no-untyped-def]
    dag = dags["youtube_reporting"]
    for report in discover_reports():
        (asset,) = dag.get_task(f"publish_views.publish_{report}").outlets
        assert asset.name.endswith("." + report)
