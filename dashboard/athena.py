"""The AWS edge: read the report views through the Athena API, like the QuickSight datasets do.

``SELECT * FROM <analytics_database>.<report view>`` runs in the readers' workgroup like QuickSight's; all
queries are started first and then polled, so the wait is the slowest query's, not their sum. Results are
paged with ``get_query_results`` and typed from the result's ``ColumnInfo`` (Athena returns every value as
text). Works against whatever ``AWS_ENDPOINT_URL`` / credentials the injected session points at.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from dashboard.shaping import DASHBOARD_REPORTS

if TYPE_CHECKING:
    import boto3

    from youtube_etl.settings import Settings

FINAL_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")
INTEGER_TYPES = ("tinyint", "smallint", "integer", "int", "bigint")
FLOAT_TYPES = ("double", "float", "real", "decimal")
#: ``DataFrame.attrs`` key of a result frame: column -> Athena base type (``date``, ``bigint``, ...).
ATHENA_TYPES = "athena_types"


class ReportQueryError(RuntimeError):
    """An Athena query for a report view did not succeed; the message names the view and Athena's reason."""


def report_query(settings: Settings, report: str) -> str:
    """The query a QuickSight dataset of this report runs: every row of the stable view."""
    return f'SELECT * FROM "{settings.analytics_database}"."{report}"'


def _base_type(athena_type: str) -> str:
    return athena_type.strip().lower().split("(", 1)[0].strip()


def convert_column(values: Sequence[str | None], athena_type: str) -> pd.Series:
    """Typed values of one result column from Athena's text (None is SQL NULL).

    Integers become nullable Int64, floating and decimal types float64, booleans nullable boolean, dates and
    timestamps datetime64; anything else (varchar, arrays, maps, rows, json) stays text.
    """
    base = _base_type(athena_type)
    if base in INTEGER_TYPES:
        return pd.Series(pd.array([None if v in (None, "") else int(v) for v in values], dtype="Int64"))
    if base in FLOAT_TYPES:
        return pd.Series([None if v in (None, "") else float(v) for v in values], dtype="float64")
    if base == "boolean":
        return pd.Series(
            pd.array([None if v in (None, "") else v.lower() == "true" for v in values], dtype="boolean")
        )
    if base == "date":
        return pd.Series(pd.to_datetime(pd.Series(list(values), dtype="object"), format="%Y-%m-%d"))
    if base.startswith("timestamp"):
        text = pd.Series([None if v is None else v.replace(" UTC", "") for v in values], dtype="object")
        return pd.Series(pd.to_datetime(text, format="ISO8601"))
    return pd.Series(list(values), dtype="object")


def frame_from_result_pages(pages: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One DataFrame from ``GetQueryResults`` pages of a SELECT: the header row (first row of the first
    page) is dropped, NULLs (cells without ``VarCharValue``) become missing, types come from ColumnInfo."""
    columns: list[Mapping[str, Any]] | None = None
    cells: list[list[str | None]] = []
    first = True
    for page in pages:
        result_set = page["ResultSet"]
        if columns is None:
            columns = list(result_set.get("ResultSetMetadata", {}).get("ColumnInfo", []))
        rows = result_set.get("Rows", [])
        if first:
            rows = rows[1:]
            first = False
        for row in rows:
            cells.append([cell.get("VarCharValue") for cell in row.get("Data", [])])
    if columns is None:
        return pd.DataFrame()
    names = [info["Name"] for info in columns]
    data = {}
    for index, info in enumerate(columns):
        values = [row[index] if index < len(row) else None for row in cells]
        data[info["Name"]] = convert_column(values, info.get("Type", "varchar"))
    frame = pd.DataFrame(data, columns=names)
    # Exports write a date as a date and a timestamp as a timestamp: both are datetime64 in the frame.
    frame.attrs[ATHENA_TYPES] = {info["Name"]: _base_type(info.get("Type", "varchar")) for info in columns}
    return frame


def _wait(
    athena: Any,
    executions: Mapping[str, str],
    timeout: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> None:
    pending = dict(executions)
    deadline = clock() + timeout
    delay = 0.2
    while pending:
        for report, execution_id in list(pending.items()):
            status = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]["Status"]
            state = status["State"]
            if state == "SUCCEEDED":
                del pending[report]
            elif state in FINAL_STATES:
                reason = status.get("StateChangeReason", "no reason given")
                raise ReportQueryError(f"query of report view {report!r} {state}: {reason}")
        if not pending:
            return
        if clock() > deadline:
            raise ReportQueryError(
                f"queries of {', '.join(sorted(pending))} still running after {timeout:.0f} s"
            )
        sleep(delay)
        delay = min(delay * 2, 2.0)


def run_report_queries(
    athena: Any,
    settings: Settings,
    reports: Sequence[str],
    *,
    timeout: float = 300.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, str]:
    """Start ``SELECT *`` of every report view at once and wait for all: report -> query execution id.

    Raises :class:`ReportQueryError` naming the view when a query fails or outlives ``timeout``.
    """
    executions = {}
    for report in reports:
        response = athena.start_query_execution(
            QueryString=report_query(settings, report),
            QueryExecutionContext={"Database": settings.analytics_database},
            ResultConfiguration={"OutputLocation": f"{settings.athena_results_uri}dashboard/"},
            WorkGroup=settings.readers_workgroup,
        )
        executions[report] = response["QueryExecutionId"]
    _wait(athena, executions, timeout, sleep, clock)
    return executions


def read_report_frames(athena: Any, executions: Mapping[str, str]) -> dict[str, pd.DataFrame]:
    """The typed rows of finished report queries, by view name."""
    paginator = athena.get_paginator("get_query_results")
    return {
        report: frame_from_result_pages(
            paginator.paginate(QueryExecutionId=execution_id, PaginationConfig={"PageSize": 1000})
        )
        for report, execution_id in executions.items()
    }


def fetch_reports(
    session: boto3.Session,
    settings: Settings,
    reports: Sequence[str] = DASHBOARD_REPORTS,
    *,
    timeout: float = 300.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, pd.DataFrame]:
    """Every row of each report view, typed, by view name.

    Raises :class:`ReportQueryError` naming the view when a query fails (e.g. the view does not exist yet
    because the reporting DAG never published it) or is still running after ``timeout`` seconds.
    """
    athena = session.client("athena")
    executions = run_report_queries(athena, settings, reports, timeout=timeout, sleep=sleep, clock=clock)
    return read_report_frames(athena, executions)
