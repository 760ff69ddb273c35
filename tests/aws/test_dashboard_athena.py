"""Reading the report views through Athena: typing from ColumnInfo, paging, failures, and a real round trip.

The round trip publishes real report frames as run tables in the local runtime's analytics database,
swaps the stable views over them with the project's own ``views/swap_view.sql``, then reads them back with
``fetch_reports`` and ``python -m dashboard``, as QuickSight or a person would.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import awswrangler as wr
import boto3
import pandas as pd
import pytest
from botocore.stub import Stubber

from dashboard import __main__ as cli
from dashboard.athena import (
    ReportQueryError,
    convert_column,
    fetch_reports,
    frame_from_result_pages,
    report_query,
)
from dashboard.shaping import DASHBOARD_REPORTS
from local.runtime import LocalRuntime
from tests.unit.test_dashboard_reports_data import real_reports
from youtube_etl.reports import report_table, view_swap_sql
from youtube_etl.settings import Settings

RUN = "manual__2026-11-24T12:00:00+00:00"
DATE_COLUMNS = ("trending_date", "first_trending_date", "last_trending_date")


@pytest.mark.parametrize(
    ("athena_type", "values", "expected"),
    [
        pytest.param("bigint", ["1", None, "-7"], [1, pd.NA, -7], id="bigint"),
        pytest.param("integer", ["3"], [3], id="integer"),
        pytest.param("double", ["0.25", None, "NaN"], [0.25, None, None], id="double"),
        pytest.param("decimal(10,2)", ["12.50"], [12.5], id="decimal"),
        pytest.param("boolean", ["true", "false", None], [True, False, pd.NA], id="boolean"),
        pytest.param("date", ["2017-11-14", None], [pd.Timestamp("2017-11-14"), pd.NaT], id="date"),
        pytest.param(
            "timestamp", ["2017-11-13 17:13:01.000"], [pd.Timestamp("2017-11-13 17:13:01")], id="timestamp"
        ),
        pytest.param("varchar", ["Music", "", None], ["Music", "", None], id="varchar-empty-is-not-null"),
        pytest.param("array(varchar)", ["[a, b]"], ["[a, b]"], id="array-stays-text"),
    ],
)
def test_convert_column(athena_type: str, values: list[str | None], expected: list[Any]) -> None:
    got = convert_column(values, athena_type).tolist()
    for value, want in zip(got, expected, strict=True):
        if want is None or want is pd.NA or want is pd.NaT:
            assert pd.isna(value)
        else:
            assert value == want


def _athena_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "bigint"
    if pd.api.types.is_float_dtype(series):
        return "double"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "date"
    return "varchar"


def _text(value: Any, athena_type: str) -> dict[str, str]:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return {}
    if athena_type == "date":
        return {"VarCharValue": f"{value:%Y-%m-%d}"}
    if athena_type == "boolean":
        return {"VarCharValue": "true" if value else "false"}
    return {"VarCharValue": str(value)}


def result_pages(frame: pd.DataFrame, page_size: int) -> list[dict[str, Any]]:
    """A frame as Athena's GetQueryResults pages: header row on the first page only, NULL as no value."""
    types = {column: _athena_type(frame[column]) for column in frame.columns}
    info = [{"Name": c, "Label": c, "Type": t, "Nullable": "UNKNOWN"} for c, t in types.items()]
    rows = [{"Data": [{"VarCharValue": c} for c in frame.columns]}]
    for record in frame.itertuples(index=False):
        rows.append({"Data": [_text(v, types[c]) for c, v in zip(frame.columns, record, strict=True)]})
    pages = []
    for start in range(0, len(rows), page_size):
        page: dict[str, Any] = {
            "ResultSet": {"Rows": rows[start : start + page_size], "ResultSetMetadata": {"ColumnInfo": info}},
            "UpdateCount": 0,
        }
        if start + page_size < len(rows):
            page["NextToken"] = f"token-{start + page_size}"
        pages.append(page)
    return pages


def _assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    for column in want.columns:
        left, right = got[column].tolist(), want[column].tolist()
        for a, b in zip(left, right, strict=True):
            if b is None or (not isinstance(b, str) and pd.isna(b)):
                assert pd.isna(a), (column, a, b)
            elif isinstance(b, float):
                assert a == pytest.approx(b, rel=1e-12), column
            else:
                assert a == b, (column, a, b)


@pytest.mark.parametrize(
    "report",
    [pytest.param(r, id=r) for r in ("category_performance", "channel_leaderboard", "days_to_trend")],
)
def test_result_pages_become_the_same_frame(report: str) -> None:
    frame = real_reports("datasnaek")[report]
    # Small pages so a real report spans several; the header is only on the first.
    got = frame_from_result_pages(result_pages(frame, page_size=37))
    _assert_same(got, frame)


class _StubSession:
    """Hands out one stubbed Athena client (botocore validates every request and response shape)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def client(self, service: str) -> Any:
        assert service == "athena"
        return self._client


@pytest.fixture
def athena() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("athena")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _execution(query_id: str, state: str, reason: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"State": state}
    if reason:
        status["StateChangeReason"] = reason
    return {"QueryExecution": {"QueryExecutionId": query_id, "Status": status}}


def test_fetch_reports_starts_all_queries_polls_and_pages(
    athena: tuple[Any, Stubber], settings: Settings
) -> None:
    client, stubber = athena
    reports = real_reports("datasnaek")
    names = ["category_performance", "days_to_trend"]
    for index, name in enumerate(names):
        stubber.add_response(
            "start_query_execution",
            {"QueryExecutionId": f"q{index}"},
            {
                "QueryString": f'SELECT * FROM "{settings.analytics_database}"."{name}"',
                "QueryExecutionContext": {"Database": settings.analytics_database},
                "ResultConfiguration": {"OutputLocation": f"{settings.athena_results_uri}dashboard/"},
                "WorkGroup": settings.readers_workgroup,
            },
        )
    stubber.add_response("get_query_execution", _execution("q0", "RUNNING"), {"QueryExecutionId": "q0"})
    stubber.add_response("get_query_execution", _execution("q1", "QUEUED"), {"QueryExecutionId": "q1"})
    stubber.add_response("get_query_execution", _execution("q0", "SUCCEEDED"), {"QueryExecutionId": "q0"})
    stubber.add_response("get_query_execution", _execution("q1", "SUCCEEDED"), {"QueryExecutionId": "q1"})
    for index, name in enumerate(names):
        pages = result_pages(reports[name], page_size=25)
        for number, page in enumerate(pages):
            params: dict[str, Any] = {"QueryExecutionId": f"q{index}", "MaxResults": 1000}
            if number:
                params["NextToken"] = pages[number - 1]["NextToken"]
            stubber.add_response("get_query_results", page, params)
    slept: list[float] = []
    frames = fetch_reports(_StubSession(client), settings, names, sleep=slept.append)  # type: ignore[arg-type]
    assert list(frames) == names
    for name in names:
        _assert_same(frames[name], reports[name])
    assert slept == [0.2]


def test_a_failed_query_names_the_view_and_athenas_reason(
    athena: tuple[Any, Stubber], settings: Settings
) -> None:
    client, stubber = athena
    stubber.add_response("start_query_execution", {"QueryExecutionId": "q0"})
    reason = (
        "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.youtube_analytics.days_to_trend' does not exist"
    )
    stubber.add_response("get_query_execution", _execution("q0", "FAILED", reason))
    with pytest.raises(ReportQueryError, match=r"'days_to_trend' FAILED: TABLE_NOT_FOUND"):
        fetch_reports(_StubSession(client), settings, ["days_to_trend"], sleep=lambda _: None)  # type: ignore[arg-type]


def test_a_query_still_running_at_the_timeout_is_an_error(
    athena: tuple[Any, Stubber], settings: Settings
) -> None:
    client, stubber = athena
    stubber.add_response("start_query_execution", {"QueryExecutionId": "q0"})
    for _ in range(2):  # polled at t=5 (still in time) and t=11 (past the deadline)
        stubber.add_response("get_query_execution", _execution("q0", "RUNNING"))
    now = iter([0.0, 5.0, 11.0])
    with pytest.raises(ReportQueryError, match="region_summary still running after 10 s"):
        fetch_reports(
            _StubSession(client),  # type: ignore[arg-type]
            settings,
            ["region_summary"],
            timeout=10,
            sleep=lambda _: None,
            clock=lambda: next(now),
        )


def test_report_query_quotes_database_and_view(settings: Settings) -> None:
    assert (
        report_query(settings, "region_summary")
        == f'SELECT * FROM "{settings.analytics_database}"."region_summary"'
    )


# ---- a real round trip through the local runtime's Athena ----------------------------------------------
def _as_report_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with the reports' column types: dates as DATE, ids as text."""
    out = frame.copy()
    for column in DATE_COLUMNS:
        if column in out.columns:
            out[column] = pd.to_datetime(out[column]).dt.date
    for column in ("channel_id", "category_title"):
        if column in out.columns:
            out[column] = out[column].astype("object").where(out[column].notna(), None)
    return out


@pytest.fixture(scope="module")
def published(local_aws: LocalRuntime) -> Iterator[LocalRuntime]:
    """The real report frames published like the reporting DAG does: run tables, then stable views."""
    local_aws.reset()
    settings = local_aws.settings
    session = local_aws.session()
    athena = local_aws.client("athena")
    for report in DASHBOARD_REPORTS:
        table = report_table(report, RUN)
        frame = _as_report_table(real_reports("datasnaek")[report])
        dtypes = {c: "string" for c in ("channel_id", "category_title") if c in frame.columns}
        wr.s3.to_parquet(
            frame,
            f"{settings.reports_uri}{report}/run=manual/",
            dataset=True,
            database=settings.analytics_database,
            table=table,
            dtype=dtypes,
            mode="overwrite",
            boto3_session=session,
        )
        sql = view_swap_sql(report, run_id=RUN, sql_settings=settings.sql_settings())
        query_id = athena.start_query_execution(
            QueryString=sql,
            QueryExecutionContext={"Database": settings.analytics_database},
            WorkGroup=settings.athena_workgroup,
        )["QueryExecutionId"]
        deadline = time.monotonic() + 60
        while (state := athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"])[
            "State"
        ] in ("QUEUED", "RUNNING") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert state["State"] == "SUCCEEDED", state
    yield local_aws


@pytest.mark.parametrize("report", [pytest.param(r, id=r) for r in DASHBOARD_REPORTS])
def test_fetch_reports_reads_the_published_views(published: LocalRuntime, report: str) -> None:
    frames = fetch_reports(published.session(), published.settings, [report])
    expected = real_reports("datasnaek")[report]
    got = frames[report]
    assert sorted(got.columns) == sorted(expected.columns)
    keys = [
        c for c in ("region", "trending_date", "category_id", "channel_rank", "view_rank") if c in got.columns
    ]
    got = got.sort_values(keys).reset_index(drop=True)[list(expected.columns)]
    want = expected.sort_values(keys).reset_index(drop=True)
    for column in DATE_COLUMNS:
        if column in want.columns:
            assert pd.api.types.is_datetime64_any_dtype(got[column]), column
            want = want.assign(**{column: pd.to_datetime(want[column])})
    _assert_same(got, want)


def test_python_m_infra_dashboard_writes_the_page(
    published: LocalRuntime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"run_id": RUN, "stage_rows": {"analytics": 7944}, "rejected": 0}))
    out = tmp_path / "out" / "dashboard.html"
    assert cli.main(["--out", str(out), "--summary", str(summary)]) == 0
    assert capsys.readouterr().out.strip() == str(out.resolve())
    page = out.read_text(encoding="utf-8")
    found = re.search(r"id='dashboard-meta'>(.*?)</script>", page)
    assert found is not None
    meta = json.loads(found.group(1))
    assert meta["run_id"] == RUN
    assert meta["report_rows"] == {r: len(real_reports("datasnaek")[r]) for r in DASHBOARD_REPORTS}
    newest = max(real_reports("datasnaek")["region_summary"]["last_trending_date"])
    assert f"trending data up to {newest:%Y-%m-%d}" in page


def test_python_m_infra_dashboard_fails_clearly_without_the_views(
    published: LocalRuntime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--out", str(tmp_path / "d.html"), "--reports", "no_such_report"]) == 1
    assert "no_such_report" in capsys.readouterr().err
    assert not (tmp_path / "d.html").exists()


def test_dates_in_the_fixture_are_real_dates() -> None:
    # Guards the round trip above: the published tables must carry DATE columns like the CTAS output.
    frame = _as_report_table(real_reports("datasnaek")["daily_trending_summary"])
    assert isinstance(frame["trending_date"].iloc[0], dt.date)
