"""
### youtube_reporting — analytics table, Athena reports, checks, published views

Scheduled on the processed assets that `youtube_ingest` updates.

1. `run_build_analytics`: Glue job joining the cleaned statistics with the category reference on
   (region, category_id); `crawl_analytics` registers the `trending` table.
2. `check_sources`: data-quality checks on the analytics and statistics tables (`include/sql/checks/source/`).
3. `build_reports`: one Athena CTAS per `include/sql/reports/*.sql`, each into a table and S3 folder of
   its own for this run (`<report>__<run>` under `…/reports/<report>/run=<run>/`), so re-runs never collide.
4. `check_reports`: each report reconciles with its source; row counts did not drop against the previous run;
   `check_readable_<report>` reads every value of every column of the report's run table (its columns as the
   Glue catalog registered them) and fails naming the column when text is not valid UTF-8 or a value cannot
   be read — a report that cannot be read end to end is never published.
5. `publish_views`: the stable view `<report>` is replaced to point at this run's table — readers
   (QuickSight, the local dashboard) never see a half-built or unchecked report.
6. `cleanup_report_runs` (runs whatever happened before it): a published report keeps its newest runs up to
   the retention count; an unpublished run's own table and folder are discarded. The view's table is never
   touched.

All names come from `youtube_etl.settings`; SQL files are discovered from the local folder at parse time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import TaskGroup, TriggerRule, chain, dag, task

from youtube_etl.dag_support import (
    TAGS,
    crawler_task,
    dag_alerts,
    default_args,
    glue_job_task,
    processed_assets,
    report_asset,
    sql_dir,
)
from youtube_etl.operators import AthenaCheckOperator, AthenaReportOperator
from youtube_etl.reports import (
    REPORTS_STAGE,
    SOURCE_STAGE,
    Check,
    discover_checks,
    discover_reports,
    report_macros,
    report_template,
)
from youtube_etl.resumable import ResumableAthenaOperator
from youtube_etl.settings import get_settings

if TYPE_CHECKING:
    from airflow.sdk.bases.decorator import Task

settings = get_settings()
SQL_DIR = sql_dir(settings)
REPORTS = discover_reports(SQL_DIR)
SOURCE_CHECKS = discover_checks(SQL_DIR, stage=SOURCE_STAGE)
REPORT_CHECKS = discover_checks(SQL_DIR, stage=REPORTS_STAGE)


def athena_task_args() -> dict[str, Any]:
    """The arguments every Athena task of the DAG shares: database, workgroup, polling, timeout."""
    return {
        "database": settings.analytics_database,
        "workgroup": settings.athena_workgroup,
        "sleep_time": settings.waiter_delay if settings.deferrable else settings.poll_interval,
        "deferrable": settings.deferrable,
        "aws_conn_id": settings.aws_conn_id,
        "execution_timeout": timedelta(minutes=30),
    }


def check_group(group_id: str, checks: list[Check], athena_args: dict[str, Any]) -> TaskGroup:
    """One data-quality task per check file; each fails naming its check and offending count."""
    with TaskGroup(group_id) as group:
        for check in checks:
            AthenaCheckOperator(
                task_id=f"check_{check.name}",
                check_name=check.name,
                query=check.template,
                baseline_view=check.baseline_view,
                report=check.report,
                settings=settings,
                **athena_args,
            )
    return group


def build_reports_group(athena_args: dict[str, Any]) -> TaskGroup:
    """One Athena CTAS per report, into this run's own table of that report."""
    with TaskGroup("build_reports") as group:
        for report in REPORTS:
            AthenaReportOperator(
                task_id=f"build_{report}",
                report=report,
                settings=settings,
                query=report_template(report),
                **athena_args,
            )
    return group


def publish_views_group(athena_args: dict[str, Any]) -> TaskGroup:
    """One view swap per report, pointing its stable view at this run's checked table."""
    with TaskGroup("publish_views") as group:
        for report in REPORTS:
            ResumableAthenaOperator(
                task_id=f"publish_{report}",
                query="views/swap_view.sql",
                params={"report": report},
                outlets=[report_asset(settings, report)],
                # A check may skip (row_count_drop on the first run, with no previous run to compare with).
                trigger_rule=TriggerRule.NONE_FAILED,
                **athena_args,
            )
    return group


def make_cleanup_report_runs() -> Task[..., dict[str, list[str]]]:
    """The ``cleanup_report_runs`` task; built here so that the DAG function only wires tasks."""

    @task(task_id="cleanup_report_runs", trigger_rule=TriggerRule.ALL_DONE)
    def cleanup_report_runs(run_id: str | None = None, ti=None) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
        """Drop report runs beyond the retention count, or this run's tables when they were not published."""
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        from youtube_etl.reports import delete_report_runs, discard_report_run

        session = AwsBaseHook(aws_conn_id=settings.aws_conn_id, client_type="glue").get_session()
        dropped: dict[str, list[str]] = {}
        for report in REPORTS:
            published = ti.xcom_pull(task_ids=f"publish_views.publish_{report}") is not None
            if published:
                dropped[report] = delete_report_runs(session, settings, report, run_id or "")
            else:
                dropped[report] = discard_report_run(session, settings, report, run_id or "")
        return dropped

    return cleanup_report_runs


@dag(
    dag_id="youtube_reporting",
    schedule=processed_assets(settings),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=[*TAGS, "reporting", "athena"],
    doc_md=__doc__,
    default_args=default_args(settings),
    **dag_alerts(settings, __file__),
    template_searchpath=[str(SQL_DIR)],
    user_defined_macros=report_macros(settings.sql_settings()),
)
def youtube_reporting() -> None:
    athena_args = athena_task_args()
    run_build_analytics = glue_job_task(settings, "run_build_analytics", settings.build_analytics_job)
    crawl_analytics = crawler_task(settings, "crawl_analytics", settings.analytics_crawler)
    check_sources = check_group("check_sources", SOURCE_CHECKS, athena_args)
    build_reports = build_reports_group(athena_args)
    check_reports = check_group("check_reports", REPORT_CHECKS, athena_args)
    publish_views = publish_views_group(athena_args)
    cleanup_report_runs = make_cleanup_report_runs()

    # The cleanup runs whatever happened; this marker keeps a failure upstream failing the whole run
    # (a DAG run's state follows its leaves, and the cleanup would otherwise be a successful leaf).
    reports_published = EmptyOperator(task_id="reports_published", trigger_rule=TriggerRule.NONE_FAILED)
    chain(
        run_build_analytics,
        crawl_analytics,
        check_sources,
        build_reports,
        check_reports,
        publish_views,
        [cleanup_report_runs(), reports_published],
    )


youtube_reporting()
