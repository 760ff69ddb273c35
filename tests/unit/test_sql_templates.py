"""Every Athena SQL template renders with no undefined name and parses as Athena SQL with the shape the
pipeline relies on (CTAS location per run, grain header, check result columns, partition limits)."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
import sqlglot
from sqlglot import exp

from youtube_etl import reports
from youtube_etl.settings import Settings, safe_run_id
from youtube_lake.reports import REPORTS as DECLARED
from youtube_lake.reports import get_report

RUN_ID = "scheduled__2026-11-24T00:00:00+00:00"
DS = "2026-11-24"
SQL_DIR = reports.DEFAULT_SQL_DIR
#: The shared macros (``macros.sql``) are imported by the templates, not run.
MACROS = "macros.sql"
ALL_TEMPLATES = sorted(
    p.relative_to(SQL_DIR).as_posix()
    for p in SQL_DIR.rglob("*.sql")
    if p.relative_to(SQL_DIR).as_posix() != MACROS
)
REPORTS = reports.discover_reports()
CHECKS = reports.discover_checks()


#: What a per-report check gets as ``columns`` when its task runs (the run table's, from the Glue catalog).
COLUMNS = [
    reports.Column("title", "string"),
    reports.Column("views", "bigint"),
    reports.Column("region", "string"),
]


def _render(template: str, settings: Settings, **extra: str) -> str:
    return reports.render_sql(
        template, run_id=RUN_ID, ds=DS, sql_settings=settings.sql_settings(), params=extra, columns=COLUMNS
    )


def _render_check(check: reports.Check, settings: Settings) -> str:
    return _render(check.template, settings, **({"report": check.report} if check.report else {}))


def test_the_folder_holds_reports_checks_and_the_view() -> None:
    assert len(REPORTS) >= 5
    assert REPORTS == sorted(r.name for r in DECLARED), "one SQL file per declared report, no other"
    assert {c.stage for c in CHECKS} == set(reports.CHECK_STAGES)
    assert reports.VIEW_TEMPLATE in ALL_TEMPLATES


@pytest.mark.parametrize("template", [pytest.param(t, id=t) for t in ALL_TEMPLATES])
def test_every_template_renders_with_strict_undefined_and_parses(template: str, settings: Settings) -> None:
    sql = _render(template, settings, report="category_performance")
    assert "{{" not in sql and "{%" not in sql
    statements = [s for s in sqlglot.parse(sql, read="athena") if s is not None]
    assert len(statements) == 1, "one statement per file (AthenaOperator runs one query)"


def test_a_missing_setting_is_an_error_not_an_empty_string(settings: Settings) -> None:
    values = settings.sql_settings()
    del values["analytics_database"]
    with pytest.raises(jinja2.UndefinedError, match="analytics_database"):
        reports.render_sql(reports.report_template(REPORTS[0]), run_id=RUN_ID, ds=DS, sql_settings=values)


@pytest.mark.parametrize("report", [pytest.param(r, id=r) for r in REPORTS])
def test_report_is_a_ctas_into_its_own_run_location(report: str, settings: Settings) -> None:
    sql = _render(reports.report_template(report), settings)
    tree = sqlglot.parse_one(sql, read="athena")
    assert isinstance(tree, exp.Create) and tree.kind == "TABLE"
    table = tree.this.find(exp.Table)
    assert table is not None
    assert (table.db, table.name) == (settings.analytics_database, reports.report_table(report, RUN_ID))
    properties = {
        p.name.lower(): p.args["value"]
        for p in tree.find_all(exp.Property)
        if isinstance(p.args.get("value"), exp.Expression)
    }
    location = properties["external_location"].name
    assert location == settings.report_location(report, RUN_ID)
    file_format = tree.find(exp.FileFormatProperty)
    assert file_format is not None and file_format.this.name.upper() == "PARQUET"
    # A run location never collides with another report's or run's folder.
    assert f"/{report}/run={safe_run_id(RUN_ID)}/" in location


@pytest.mark.parametrize("report", [pytest.param(r, id=r) for r in REPORTS])
def test_report_states_its_grain_and_reads_the_analytics_table(report: str, settings: Settings) -> None:
    text = (SQL_DIR / reports.report_template(report)).read_text()
    header = [line for line in text.splitlines() if line.startswith("--")]
    assert any(line.startswith("-- Grain:") for line in header), "each report states its grain"
    sql = _render(reports.report_template(report), settings)
    sources = {(t.db, t.name) for t in sqlglot.parse_one(sql, read="athena").expression.find_all(exp.Table)}
    assert (settings.analytics_database, settings.analytics_table) in sources


@pytest.mark.parametrize("report", [pytest.param(r, id=r) for r in REPORTS])
def test_report_selects_its_declared_columns_in_order(report: str, settings: Settings) -> None:
    """The CTAS's outer SELECT names exactly the columns the report declares, in their order (the declaration
    is what exports, the dashboard and QuickSight read; tests/aws checks the types the CTAS registers)."""
    tree = sqlglot.parse_one(_render(reports.report_template(report), settings), read="athena")
    assert isinstance(tree.expression, exp.Query)
    assert tuple(tree.expression.named_selects) == get_report(report).column_names


@pytest.mark.parametrize("report", [pytest.param(r, id=r) for r in REPORTS])
def test_only_low_cardinality_partitions_and_they_come_last(report: str, settings: Settings) -> None:
    """Athena writes at most 100 partitions per CTAS: only region (11 values) may partition a report."""
    tree = sqlglot.parse_one(_render(reports.report_template(report), settings), read="athena")
    columns = [e.name for p in tree.find_all(exp.PartitionedByProperty) for e in p.find_all(exp.Literal)]
    assert set(columns) <= {"region"}
    if report == "top_videos_by_region":  # the one report big enough to pay for partitions
        assert columns == ["region"]
    if columns:
        select = tree.expression
        assert isinstance(select, exp.Query)
        assert select.named_selects[-len(columns) :] == columns, "Athena wants partition columns last"


@pytest.mark.parametrize("check", [pytest.param(c, id=c.name) for c in CHECKS])
def test_check_returns_failures_and_example(check: reports.Check, settings: Settings) -> None:
    tree = sqlglot.parse_one(_render_check(check, settings), read="athena")
    assert isinstance(tree, exp.Query)
    assert tree.named_selects[:2] == ["failures", "example"]
    # A per-report check's file names the checks it gives (readable_<report>); the others, their own name.
    name = f"{check.name.removesuffix(check.report)}<report>" if check.report else check.name
    comments = [line for line in (SQL_DIR / check.template).read_text().splitlines() if line.startswith("--")]
    assert comments[0].split()[:3] == ["--", "Check:", name]


@pytest.mark.parametrize("check", [pytest.param(c, id=c.name) for c in CHECKS if c.stage == "reports"])
def test_report_checks_read_this_runs_tables(check: reports.Check, settings: Settings) -> None:
    tree = sqlglot.parse_one(_render_check(check, settings), read="athena")
    names = {t.name for t in tree.find_all(exp.Table)}
    run_tables = {n for n in names if any(reports.run_of_table(r, n) for r in REPORTS)}
    assert run_tables, "a report check reads at least one report table of this run"
    assert all(n.endswith(safe_run_id(RUN_ID)) for n in run_tables)


def test_view_swap_points_the_stable_name_at_this_run(settings: Settings) -> None:
    sql = reports.view_swap_sql("daily_trending_summary", run_id=RUN_ID, sql_settings=settings.sql_settings())
    tree = sqlglot.parse_one(sql, read="athena")
    assert isinstance(tree, exp.Create) and tree.kind == "VIEW"
    assert tree.args.get("replace") is True
    view = tree.this.find(exp.Table)
    source = tree.expression.find(exp.Table)
    assert view is not None and source is not None
    assert (view.db, view.name) == (settings.analytics_database, "daily_trending_summary")
    assert source.name == reports.report_table("daily_trending_summary", RUN_ID)


def test_row_drop_threshold_is_rendered_from_settings(settings: Settings) -> None:
    check = next(c for c in CHECKS if c.name == "row_count_drop")
    strict = Settings(row_drop_threshold=0.1)
    assert "(1 - 0.1)" in _render(check.template, strict)
    assert f"(1 - {settings.row_drop_threshold})" in _render(check.template, settings)


def test_top_n_is_rendered_from_settings() -> None:
    sql = _render(reports.report_template("top_videos_by_region"), Settings(top_n=25))
    assert "view_rank <= 25" in sql


@pytest.fixture(scope="module")
def reporting_dag():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags" / "youtube_reporting.py"))
    assert not bag.import_errors
    return bag.dags["youtube_reporting"]


def test_the_dags_operators_render_the_same_sql(reporting_dag, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    """Airflow reads each task's query file when the DAG loads and renders it through the DAG's template
    environment (template_searchpath, user_defined_macros): ``{% from 'macros.sql' import ... %}`` resolves
    there, and gives exactly what render_sql gives."""
    templates = {f"build_reports.build_{r}": reports.report_template(r) for r in REPORTS}
    templates |= {f"publish_views.publish_{r}": reports.VIEW_TEMPLATE for r in REPORTS}
    groups = {reports.SOURCE_STAGE: "check_sources", reports.REPORTS_STAGE: "check_reports"}
    templates |= {f"{groups[c.stage]}.check_{c.name}": c.template for c in CHECKS}
    assert len(templates) == len(reporting_dag.task_ids) - 4  # all but the Glue, crawler and cleanup tasks
    environment = reporting_dag.get_template_env()
    for task_id, template in templates.items():
        task = reporting_dag.get_task(task_id)
        assert "from 'macros.sql' import" in task.query, task_id
        params = task.params.dump()
        if getattr(task, "report", None):
            params["report"] = task.report
        context = {"params": params, "run_id": RUN_ID, "ds": DS, "columns": COLUMNS}
        by_airflow = task.render_template(task.query, context, jinja_env=environment)
        ours = reports.render_sql(
            template,
            run_id=RUN_ID,
            ds=DS,
            sql_settings=settings.sql_settings(),
            params=params,
            columns=COLUMNS,
        )
        # Airflow's environment drops the file's final newline (render_sql keeps it); nothing else differs.
        assert by_airflow == ours.removesuffix("\n"), task_id


def test_reports_share_the_ctas_header_from_the_macro_file() -> None:
    """One CTAS header and one channel key: every report imports them from macros.sql, none spells them."""
    for report in REPORTS:
        text = (SQL_DIR / reports.report_template(report)).read_text()
        assert f"{{{{ ctas('{report}'" in text and "CREATE TABLE" not in text, report
        assert "coalesce('id:'" not in text, report


def test_templates_are_plain_files_under_include_sql() -> None:
    assert SQL_DIR == Path(__file__).resolve().parents[2] / "include" / "sql"


def test_the_settings_reach_the_sql_as_a_macro_and_no_task_has_more_params_than_its_report(
    reporting_dag,  # type: ignore[no-untyped-def]
    settings: Settings,
) -> None:
    """Airflow validates every param of every task whenever it serializes the DAG (each parse on MWAA): with
    the settings as DAG params that was 43 tasks times eight params, 0.35 s of 0.4 s. And a manual run's conf
    must not point a CTAS at another database."""
    assert dict(reporting_dag.params) == {}
    assert {name for task in reporting_dag.tasks for name in task.params} == {"report"}
    assert reporting_dag.user_defined_macros["settings"] == settings.sql_settings()
