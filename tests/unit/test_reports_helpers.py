"""The pure rules around the reports: names, discovery, retention, check evaluation, Athena results."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from youtube_etl import reports
from youtube_etl.settings import Settings, safe_run_id
from youtube_lake.reports import Chart, Column, Report

T0 = datetime(2026, 11, 1, 6, 0, 0)


def _runs(report: str, count: int) -> list[reports.ReportRun]:
    return [
        reports.ReportRun(
            table=reports.report_table(report, f"scheduled__day{i:02d}"), created=T0 + timedelta(days=i)
        )
        for i in range(count)
    ]


def test_report_table_is_report_and_safe_run_id() -> None:
    run_id = "manual__2026-11-24T10:11:12.123+00:00"
    table = reports.report_table("channel_leaderboard", run_id)
    assert table == f"channel_leaderboard__{safe_run_id(run_id)}"
    assert reports.run_of_table("channel_leaderboard", table) == safe_run_id(run_id)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        pytest.param("region_summary", None, id="the-view-itself"),
        pytest.param("region_summary__", None, id="no-run"),
        pytest.param("region_summary_x__run1", None, id="other-report-sharing-a-prefix"),
        pytest.param("region_summary__run1", "run1", id="a-run"),
    ],
)
def test_run_of_table(table: str, expected: str | None) -> None:
    assert reports.run_of_table("region_summary", table) == expected


def test_macros_are_what_the_sql_calls(settings: Settings) -> None:
    macros = reports.report_macros(settings.sql_settings())
    assert macros["safe_run_id"]("scheduled__2026-11-24T00:00:00+00:00") == safe_run_id(
        "scheduled__2026-11-24T00:00:00+00:00"
    )
    assert macros["settings"] == settings.sql_settings()
    used = set()
    for path in reports.DEFAULT_SQL_DIR.rglob("*.sql"):
        text = path.read_text()
        used |= {name for name in macros if f"{name}(" in text or f"{name}." in text}
    assert used == set(macros)


def test_discovery_lists_files_only(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "b_report.sql").write_text("garbage that is never read")
    (tmp_path / "reports" / "a_report.sql").write_text("")
    (tmp_path / "reports" / "notes.md").write_text("")
    for stage in reports.CHECK_STAGES:
        (tmp_path / "checks" / stage).mkdir(parents=True)
    (tmp_path / "checks" / "reports" / "row_count_drop.sql").write_text("")
    (tmp_path / "checks" / "source" / "z_check.sql").write_text("")
    assert reports.discover_reports(tmp_path) == ["a_report", "b_report"]
    checks = reports.discover_checks(tmp_path)
    assert [(c.stage, c.name) for c in checks] == [("source", "z_check"), ("reports", "row_count_drop")]
    assert checks[1].template == "checks/reports/row_count_drop.sql"
    assert checks[1].baseline_view == "region_summary"
    assert reports.discover_checks(tmp_path, stage="source") == [checks[0]]
    with pytest.raises(ValueError, match="unknown check stage"):
        reports.discover_checks(tmp_path, stage="later")


def test_a_per_report_check_is_one_check_per_report(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    for report in ("b_report", "a_report"):
        (tmp_path / "reports" / f"{report}.sql").write_text("")
    for stage in reports.CHECK_STAGES:
        (tmp_path / "checks" / stage).mkdir(parents=True)
    (tmp_path / "checks" / "reports" / "readable.sql").write_text("")
    (tmp_path / "checks" / "reports" / "reconcile_a_report.sql").write_text("")
    (tmp_path / "checks" / "source" / "readable.sql").write_text("")  # per report only at the report stage
    checks = reports.discover_checks(tmp_path)
    assert [(c.stage, c.name, c.report) for c in checks] == [
        ("source", "readable", None),
        ("reports", "readable_a_report", "a_report"),
        ("reports", "readable_b_report", "b_report"),
        ("reports", "reconcile_a_report", None),
    ]
    assert {c.template for c in checks if c.report} == {"checks/reports/readable.sql"}


def test_the_real_sql_reads_every_report() -> None:
    readable = {c.report for c in reports.discover_checks(stage=reports.REPORTS_STAGE) if c.report}
    assert readable == set(reports.discover_reports())


@pytest.mark.parametrize(
    ("glue_type", "is_text"),
    [
        pytest.param("string", True, id="string"),
        pytest.param("varchar(65535)", True, id="varchar-n"),
        pytest.param("CHAR(2)", True, id="char-n"),
        pytest.param("bigint", False, id="bigint"),
        pytest.param("date", False, id="date"),
        pytest.param("array<string>", False, id="array-of-strings-is-read-not-validated"),
    ],
)
def test_text_columns_are_the_ones_validated_as_utf8(glue_type: str, is_text: bool) -> None:
    assert reports.Column("c", glue_type).is_text is is_text


def test_table_columns_are_columns_then_partition_keys() -> None:
    table = {
        "StorageDescriptor": {"Columns": [{"Name": "title", "Type": "string"}, {"Name": "views"}]},
        "PartitionKeys": [{"Name": "region", "Type": "string"}],
    }
    assert reports.table_columns(table) == [
        reports.Column("title", "string"),
        reports.Column("views", "string"),
        reports.Column("region", "string"),
    ]
    assert reports.table_columns({}) == []


@pytest.mark.parametrize(
    "name",
    [pytest.param("Top-Videos", id="not-snake-case"), pytest.param("top__videos", id="run-separator")],
)
def test_discovery_rejects_names_that_break_run_tables(tmp_path: Path, name: str) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / f"{name}.sql").write_text("")
    with pytest.raises(ValueError, match="lower_snake_case"):
        reports.discover_reports(tmp_path)


def test_baseline_checks_wait_for_their_view() -> None:
    checks = reports.discover_checks()
    first_run = reports.applicable_checks(checks, ["trending"])
    later_run = reports.applicable_checks(checks, ["trending", "region_summary"])
    assert "row_count_drop" not in {c.name for c in first_run}
    assert later_run == checks
    assert len(first_run) == len(checks) - len(reports.BASELINE_VIEWS)


@pytest.mark.parametrize(
    ("count", "retention", "deleted"),
    [
        pytest.param(5, 3, [0, 1], id="two-beyond-retention"),
        pytest.param(3, 3, [], id="exactly-retention"),
        pytest.param(1, 1, [], id="only-the-current"),
        pytest.param(4, 1, [0, 1, 2], id="keep-one"),
    ],
)
def test_runs_to_delete_keeps_the_newest(count: int, retention: int, deleted: list[int]) -> None:
    runs = _runs("category_performance", count)
    shuffled = runs[1::2] + runs[0::2]
    assert reports.runs_to_delete(shuffled, retention) == [runs[i] for i in deleted]


def test_runs_to_delete_never_returns_a_kept_table() -> None:
    runs = _runs("category_performance", 5)
    # E.g. a re-run of an old run id: its table is old by creation time but must survive its own run.
    assert runs[0] not in reports.runs_to_delete(runs, 2, keep=[runs[0].table])
    assert reports.runs_to_delete(runs, 2, keep=[runs[0].table]) == [runs[1], runs[2]]
    with pytest.raises(ValueError, match="retention"):
        reports.runs_to_delete(runs, 0)


def test_rows_from_athena_reads_header_then_rows() -> None:
    result_set = {
        "Rows": [
            {"Data": [{"VarCharValue": "failures"}, {"VarCharValue": "example"}]},
            {"Data": [{"VarCharValue": "3"}, {}]},
        ]
    }
    assert reports.rows_from_athena(result_set) == [{"failures": "3", "example": None}]
    assert reports.rows_from_athena({"Rows": []}) == []


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param([{"failures": "0", "example": None}], id="athena-strings"),
        pytest.param([{"failures": 0, "example": ""}], id="typed"),
    ],
)
def test_evaluate_check_passes_on_zero(rows: list[dict[str, object]]) -> None:
    assert reports.evaluate_check("unique_keys", rows) == 0


def test_evaluate_check_names_the_check_the_count_and_an_example() -> None:
    with pytest.raises(reports.DataQualityError) as caught:
        reports.evaluate_check(
            "unique_keys", [{"failures": "7", "example": "trending: region=us video_id=x"}]
        )
    assert caught.value.check == "unique_keys"
    assert caught.value.failures == 7
    assert str(caught.value) == (
        "data-quality check 'unique_keys' failed: 7 offending row(s) (e.g. trending: region=us video_id=x)"
    )


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param([], id="no-row"),
        pytest.param([{"failures": "0"}, {"failures": "0"}], id="two-rows"),
        pytest.param([{"count": "0"}], id="no-failures-column"),
        pytest.param([{"failures": "many"}], id="not-a-count"),
    ],
)
def test_evaluate_check_refuses_a_malformed_result(rows: list[dict[str, object]]) -> None:
    """A check query that returns something unexpected must fail the run, not pass it silently."""
    with pytest.raises(reports.DataQualityError, match="'broken_check' failed"):
        reports.evaluate_check("broken_check", rows)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        pytest.param("s3://b/youtube/reports/x/run=1/", ("b", "youtube/reports/x/run=1/"), id="prefix"),
        pytest.param("s3://b", ("b", ""), id="bucket-only"),
    ],
)
def test_split_s3_uri(uri: str, expected: tuple[str, str]) -> None:
    assert reports.split_s3_uri(uri) == expected


def test_split_s3_uri_rejects_other_schemes() -> None:
    with pytest.raises(ValueError, match="s3://"):
        reports.split_s3_uri("/tmp/x")


def _presto_view(sql: str) -> str:
    import base64
    import json

    payload = {"originalSql": sql, "catalog": "awsdatacatalog", "schema": "youtube_analytics", "columns": []}
    return "/* Presto View: " + base64.b64encode(json.dumps(payload).encode()).decode() + " */"


@pytest.mark.parametrize(
    ("view", "table", "expected"),
    [
        pytest.param(
            {"ViewOriginalText": _presto_view("SELECT * FROM youtube_analytics.region_summary__run_2")},
            "region_summary__run_2",
            True,
            id="athena-encoded-view",
        ),
        pytest.param(
            {"ViewOriginalText": "SELECT * FROM youtube_analytics.region_summary__run_2"},
            "region_summary__run_2",
            True,
            id="plain-sql",
        ),
        pytest.param(
            {"ViewOriginalText": "SELECT * FROM youtube_analytics.region_summary__run_22"},
            "region_summary__run_2",
            False,
            id="longer-name-is-another-table",
        ),
        pytest.param(
            {"ViewOriginalText": _presto_view("SELECT * FROM youtube_analytics.region_summary__run_3")},
            "region_summary__run_2",
            False,
            id="other-run",
        ),
        pytest.param(None, "region_summary__run_2", False, id="no-view-yet"),
    ],
)
def test_view_points_at(view: dict[str, str] | None, table: str, expected: bool) -> None:
    assert reports.view_points_at(view, table) is expected


def test_report_key_is_the_declared_key() -> None:
    assert reports.report_key("days_to_trend_daily") == (
        "region",
        "first_trending_date",
        "category_id",
        "days_to_trend",
    )
    with pytest.raises(KeyError, match="no report 'nothing_declared'.*category_daily"):
        reports.report_key("nothing_declared")


def _report(**changes: object) -> Report:
    fields: dict[str, object] = {
        "name": "some_report",
        "grain": "one row per region",
        "key": ("region",),
        "columns": (Column("region", "string"), Column("views", "bigint")),
    }
    return Report(**{**fields, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"key": ("views", "region")}, "start with region", id="region-not-first"),
        pytest.param({"key": ()}, "start with region", id="no-key"),
        pytest.param({"key": ("region", "day")}, "day not among its columns", id="key-not-a-column"),
        pytest.param(
            {"columns": (Column("region", "string"), Column("region", "bigint"))}, "twice", id="column-twice"
        ),
        pytest.param({"name": "some__report"}, "without '__'", id="run-separator-in-name"),
        pytest.param(
            {"charts": (Chart("c", "C", category="region", measure="likes", aggregation="SUM"),)},
            "likes not among its columns",
            id="chart-on-an-undeclared-column",
        ),
    ],
)
def test_a_report_declaration_that_readers_could_not_use_is_refused(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _report(**changes)


@pytest.mark.parametrize(
    ("name", "athena_type"),
    [
        pytest.param("Views", "bigint", id="not-snake-case"),
        pytest.param("views", "integer", id="not-the-glue-type-name"),
        pytest.param("views", "BIGINT", id="upper-case-type"),
    ],
)
def test_a_column_has_a_snake_case_name_and_a_glue_type(name: str, athena_type: str) -> None:
    with pytest.raises(ValueError, match="names are lower_snake_case|unknown Athena type"):
        Column(name, athena_type)


def test_a_declared_report_gives_its_names_types_and_dashboard_columns() -> None:
    report = _report(columns=(Column("region", "string", dashboard=True), Column("views", "bigint")))
    assert report.column_names == ("region", "views")
    assert report.types == {"region": "string", "views": "bigint"}
    assert report.dashboard_columns == ("region",)
