"""Athena reports, their stable views and data-quality checks: the pure rules plus thin AWS edges.

Each report is a CTAS in ``include/sql/reports/<report>.sql`` that writes a new table
``<report>__<safe run id>`` under ``<reports_uri><report>/run=<safe run id>/`` (a CTAS can neither reuse a
table name nor write into a non-empty location, so every run gets its own). After the checks in
``include/sql/checks/`` pass, the view ``<report>`` is replaced to point at the new table and older runs
beyond the retention count are dropped. Readers only ever query the views.

The SQL is Jinja: ``settings`` is :meth:`Settings.sql_settings`, ``params`` a task's own (``report``),
``run_id``/``ds`` come from Airflow, and :func:`report_macros` gives the DAG's ``user_defined_macros``.
Finding the SQL files only lists folders, so it is cheap enough for DAG parse time; everything that
touches AWS takes an injected ``boto3.Session``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from youtube_etl.settings import Settings, safe_run_id
from youtube_lake.reports import get_report

if TYPE_CHECKING:
    import boto3

#: ``include/sql`` in a checkout (this file is ``plugins/youtube_etl/reports.py``).
DEFAULT_SQL_DIR = Path(__file__).resolve().parents[2] / "include" / "sql"
REPORTS_SUBDIR = "reports"
CHECKS_SUBDIR = "checks"
VIEW_TEMPLATE = "views/swap_view.sql"
#: Separates a report name from the run in a run table's name (report names never contain it).
RUN_SEPARATOR = "__"

#: Checks run on the analytics/statistics tables before any report is built.
SOURCE_STAGE = "source"
#: Checks run on this run's report tables, after the CTAS and before the views are swapped.
REPORTS_STAGE = "reports"
CHECK_STAGES = (SOURCE_STAGE, REPORTS_STAGE)

#: Checks that compare with the previous published run, by the view they read. On the very first run that
#: view does not exist yet and the check is skipped (see :func:`applicable_checks`).
BASELINE_VIEWS: dict[str, str] = {"row_count_drop": "region_summary"}

#: Report-stage checks that run once per report, on that report's run table: the file
#: ``checks/reports/<name>.sql`` becomes the checks ``<name>_<report>``, rendered with ``params.report`` and
#: ``columns`` (the run table's :class:`Column` list as the Glue catalog registered it, looked up when the
#: task runs — so they read exactly what the view's ``SELECT *`` exposes).
PER_REPORT_CHECKS = frozenset({"readable"})
#: Glue types whose values the ``readable`` check validates as UTF-8 (``varchar(n)``/``char(n)`` included).
TEXT_TYPES = ("string", "varchar", "char")

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class DataQualityError(RuntimeError):
    """A data-quality check found offending rows; the message names the check and the count."""

    def __init__(self, check: str, failures: int, example: str | None = None) -> None:
        self.check = check
        self.failures = failures
        self.example = example
        detail = f" (e.g. {example})" if example else ""
        super().__init__(f"data-quality check {check!r} failed: {failures} offending row(s){detail}")


@dataclass(frozen=True)
class Check:
    """One check file: ``checks/<stage>/<name>.sql``."""

    name: str
    stage: str
    #: Path relative to the SQL folder, as Airflow's ``template_searchpath`` resolves it.
    template: str
    #: The report whose run table a per-report check reads (:data:`PER_REPORT_CHECKS`), else None.
    report: str | None = None

    @property
    def baseline_view(self) -> str | None:
        return BASELINE_VIEWS.get(self.name)


@dataclass(frozen=True)
class Column:
    """One column of a table as the Glue catalog registers it (partition keys included)."""

    name: str
    type: str

    @property
    def is_text(self) -> bool:
        return self.type.lower().split("(", 1)[0].strip() in TEXT_TYPES


@dataclass(frozen=True)
class ReportRun:
    """One run table of a report, as found in the Glue catalog."""

    table: str
    created: datetime
    location: str = ""


# ---- discovering the SQL (parse time: folder listings only) --------------------------------------------
def _names(folder: Path) -> list[str]:
    names = sorted(p.stem for p in folder.glob("*.sql"))
    for name in names:
        if not _NAME_RE.fullmatch(name) or RUN_SEPARATOR in name:
            raise ValueError(f"{folder / name}.sql: SQL file names must be lower_snake_case without '__'")
    return names


def discover_reports(sql_dir: Path = DEFAULT_SQL_DIR) -> list[str]:
    """Report names (``reports/<name>.sql``), sorted, so adding a report is adding a file."""
    return _names(sql_dir / REPORTS_SUBDIR)


def report_template(report: str) -> str:
    """The report's CTAS template, relative to the SQL folder."""
    return f"{REPORTS_SUBDIR}/{report}.sql"


def report_key(report: str) -> tuple[str, ...]:
    """The columns that identify a row of the report, in the order readers sort by (exports put them first);
    ``region`` always comes first. Declared with the report's columns in :mod:`youtube_lake.reports`."""
    return get_report(report).key


def discover_checks(sql_dir: Path = DEFAULT_SQL_DIR, stage: str | None = None) -> list[Check]:
    """Checks (``checks/<stage>/<name>.sql``) in stage order, then by name; optionally one stage only.

    A per-report check file (:data:`PER_REPORT_CHECKS`) gives one check per report, ``<name>_<report>``.
    """
    stages = CHECK_STAGES if stage is None else (stage,)
    if stage is not None and stage not in CHECK_STAGES:
        raise ValueError(f"unknown check stage {stage!r}; known: {', '.join(CHECK_STAGES)}")
    checks = []
    for s in stages:
        for name in _names(sql_dir / CHECKS_SUBDIR / s):
            template = f"{CHECKS_SUBDIR}/{s}/{name}.sql"
            if name in PER_REPORT_CHECKS and s == REPORTS_STAGE:
                checks += [
                    Check(name=f"{name}_{report}", stage=s, template=template, report=report)
                    for report in discover_reports(sql_dir)
                ]
            else:
                checks.append(Check(name=name, stage=s, template=template))
    return checks


def applicable_checks(checks: Iterable[Check], existing_tables: Iterable[str]) -> list[Check]:
    """The checks that can run now: those comparing with a previous run need its view to exist."""
    existing = set(existing_tables)
    return [c for c in checks if c.baseline_view is None or c.baseline_view in existing]


# ---- names and templating ------------------------------------------------------------------------------
def report_table(report: str, run_id: str) -> str:
    """The table one run of a report creates: ``<report>__<safe run id>`` (never reused by another run)."""
    return f"{report}{RUN_SEPARATOR}{safe_run_id(run_id)}"


def run_of_table(report: str, table: str) -> str | None:
    """The safe run id of a report's run table, or None when ``table`` is not a run of ``report``."""
    prefix = report + RUN_SEPARATOR
    if not table.startswith(prefix) or len(table) == len(prefix):
        return None
    return table[len(prefix) :]


def report_macros(sql_settings: Mapping[str, Any]) -> dict[str, Any]:
    """What the SQL uses beside Airflow's context: ``safe_run_id`` and ``settings`` (``sql_settings``, from
    :meth:`Settings.sql_settings`); the DAG passes them as ``user_defined_macros``."""
    return {"safe_run_id": safe_run_id, "settings": dict(sql_settings)}


def render_sql(
    path: str | Path,
    *,
    run_id: str,
    ds: str,
    sql_settings: Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
    sql_dir: Path = DEFAULT_SQL_DIR,
    **variables: Any,
) -> str:
    """Render a template like Airflow does (the DAG's macros with ``sql_settings``, a task's ``params``,
    ``run_id``, ``ds``, plus ``variables`` such as a per-report check's ``columns``), failing on any
    undefined name. For tests and local use; in the DAG the operator renders the same file."""
    import jinja2

    template_path = Path(path)
    if template_path.is_absolute():
        template_path = template_path.relative_to(sql_dir)
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(sql_dir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    # Airflow puts a DAG's user_defined_macros into the environment's globals, where the macros that
    # ``macros.sql`` defines see them too.
    environment.globals.update(report_macros(sql_settings))
    template = environment.get_template(template_path.as_posix())
    return template.render(params=dict(params or {}), run_id=run_id, ds=ds, **variables)


def view_swap_sql(
    report: str, *, run_id: str, sql_settings: Mapping[str, Any], sql_dir: Path = DEFAULT_SQL_DIR
) -> str:
    """``CREATE OR REPLACE VIEW <report>`` over this run's table."""
    return render_sql(
        VIEW_TEMPLATE,
        run_id=run_id,
        ds="",
        sql_settings=sql_settings,
        params={"report": report},
        sql_dir=sql_dir,
    )


# ---- retention -----------------------------------------------------------------------------------------
def runs_to_delete(runs: Sequence[ReportRun], retention: int, keep: Iterable[str] = ()) -> list[ReportRun]:
    """The run tables beyond the ``retention`` newest (by creation time, then name), oldest first.

    Tables named in ``keep`` (this run's, the one the view shows) are never returned.
    """
    if retention < 1:
        raise ValueError(f"retention must be >= 1, got {retention}")
    kept = set(keep)
    newest_first = sorted(runs, key=lambda r: (r.created, r.table), reverse=True)
    return sorted(
        (r for r in newest_first[retention:] if r.table not in kept),
        key=lambda r: (r.created, r.table),
    )


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key/`` -> ("bucket", "key/")."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


# ---- check results -------------------------------------------------------------------------------------
def rows_from_athena(result_set: Mapping[str, Any]) -> list[dict[str, str | None]]:
    """Rows of an Athena ``GetQueryResults`` ``ResultSet`` as dicts (the first row is the header)."""
    rows = result_set.get("Rows", [])
    if not rows:
        return []
    header = [cell.get("VarCharValue", "") for cell in rows[0]["Data"]]
    return [
        {name: cell.get("VarCharValue") for name, cell in zip(header, row["Data"], strict=True)}
        for row in rows[1:]
    ]


def evaluate_check(check: str, rows: Sequence[Mapping[str, Any]]) -> int:
    """Raise :class:`DataQualityError` when the check's single result row reports failures; return 0.

    Every check query returns exactly one row with ``failures`` (a count) and ``example`` (one offender).
    """
    if len(rows) != 1 or "failures" not in rows[0]:
        raise DataQualityError(check, -1, f"expected one row with a 'failures' column, got {list(rows)!r}")
    raw = rows[0]["failures"]
    try:
        failures = int(raw) if raw not in (None, "") else 0
    except (TypeError, ValueError):
        raise DataQualityError(check, -1, f"'failures' is not a count: {raw!r}") from None
    if failures != 0:
        example = rows[0].get("example")
        raise DataQualityError(check, failures, str(example) if example not in (None, "") else None)
    return failures


# ---- AWS edges (run inside tasks, never at parse time) -------------------------------------------------
def list_report_runs(session: boto3.Session, settings: Settings, report: str) -> list[ReportRun]:
    """Every run table of ``report`` in the analytics database, with creation time and location."""
    glue = session.client("glue")
    runs = []
    for page in glue.get_paginator("get_tables").paginate(DatabaseName=settings.analytics_database):
        for table in page["TableList"]:
            if run_of_table(report, table["Name"]) is None or table.get("TableType") == "VIRTUAL_VIEW":
                continue
            runs.append(
                ReportRun(
                    table=table["Name"],
                    created=table.get("CreateTime") or datetime.min,
                    location=table.get("StorageDescriptor", {}).get("Location", ""),
                )
            )
    return runs


def table_columns(table: Mapping[str, Any]) -> list[Column]:
    """A Glue table's columns, then its partition keys (the order ``SELECT *`` gives them)."""
    storage = table.get("StorageDescriptor") or {}
    return [
        Column(name=str(c["Name"]), type=str(c.get("Type", "string")))
        for c in [*storage.get("Columns", []), *table.get("PartitionKeys", [])]
    ]


def run_table_columns(session: boto3.Session, settings: Settings, report: str, run_id: str) -> list[Column]:
    """The columns of this run's table of ``report`` as the Glue catalog registered them (what a reader of the
    view gets); raises naming the report when the table is missing or has no column."""
    table = report_table(report, run_id)
    found = _get_table(session.client("glue"), settings.analytics_database, table)
    columns = table_columns(found) if found is not None else []
    if not columns:
        state = "is not in the Glue catalog" if found is None else "has no column"
        raise LookupError(f"report {report!r}: run table {settings.analytics_database}.{table} {state}")
    return columns


def existing_tables(session: boto3.Session, database: str) -> list[str]:
    """Names of the tables and views of a Glue database."""
    glue = session.client("glue")
    return [
        table["Name"]
        for page in glue.get_paginator("get_tables").paginate(DatabaseName=database)
        for table in page["TableList"]
    ]


def view_target_text(view: Mapping[str, Any]) -> str:
    """The SQL a Glue view was created from, decoded from Athena's ``/* Presto View: <base64> */`` form."""
    import base64
    import json

    texts = [str(view.get("ViewOriginalText") or ""), str(view.get("ViewExpandedText") or "")]
    decoded = []
    for text in texts:
        match = re.fullmatch(r"\s*/\*\s*Presto View:\s*(\S+)\s*\*/\s*", text)
        if match:
            try:
                decoded.append(str(json.loads(base64.b64decode(match.group(1)))["originalSql"]))
                continue
            except (ValueError, KeyError, TypeError):
                pass
        decoded.append(text)
    return "\n".join(decoded)


def view_points_at(view: Mapping[str, Any] | None, table: str) -> bool:
    """Whether a view's definition reads ``table`` (so that table must not be dropped)."""
    if not view:
        return False
    return (
        re.search(rf"(?<![A-Za-z0-9_]){re.escape(table)}(?![A-Za-z0-9_])", view_target_text(view)) is not None
    )


def _get_table(glue: Any, database: str, name: str) -> dict[str, Any] | None:
    try:
        table: dict[str, Any] = glue.get_table(DatabaseName=database, Name=name)["Table"]
        return table
    except glue.exceptions.EntityNotFoundException:
        return None


def _delete_run(glue: Any, s3: Any, settings: Settings, report: str, run: ReportRun) -> None:
    """Delete a run's S3 folder (only inside the report's own folder) and its Glue table."""
    expected_root = f"{settings.reports_uri}{report}/"
    location = run.location if run.location.endswith("/") else run.location + "/"
    if location.startswith(expected_root) and len(location) > len(expected_root):
        bucket, prefix = split_s3_uri(location)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            objects: list[Any] = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
            if objects:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
    try:
        glue.delete_table(DatabaseName=settings.analytics_database, Name=run.table)
    except glue.exceptions.EntityNotFoundException:
        pass


def delete_report_runs(
    session: boto3.Session, settings: Settings, report: str, run_id: str, retention: int | None = None
) -> list[str]:
    """Drop the run tables of ``report`` beyond the retention count and delete their S3 folders.

    This run's table and the table the view shows are always kept. Deleting the Glue table is what Athena's
    ``DROP TABLE`` does for an external table; the data has to go separately. Returns the dropped tables,
    oldest first.
    """
    retention = settings.report_retention if retention is None else retention
    glue = session.client("glue")
    view = _get_table(glue, settings.analytics_database, report)
    runs = list_report_runs(session, settings, report)
    keep = [report_table(report, run_id)] + [r.table for r in runs if view_points_at(view, r.table)]
    stale = runs_to_delete(runs, retention, keep=keep)
    s3 = session.client("s3")
    for run in stale:
        _delete_run(glue, s3, settings, report, run)
    return [run.table for run in stale]


def discard_report_run(session: boto3.Session, settings: Settings, report: str, run_id: str) -> list[str]:
    """Remove this run's table and S3 folder unless the view shows them; returns what was dropped.

    Call it before a report's CTAS (a retried attempt then finds neither the table nor a non-empty location)
    and after a run that was not published. Its folder is emptied even when no table was registered.
    """
    glue = session.client("glue")
    table = report_table(report, run_id)
    if view_points_at(_get_table(glue, settings.analytics_database, report), table):
        return []
    found = _get_table(glue, settings.analytics_database, table)
    run = ReportRun(table=table, created=datetime.min, location=settings.report_location(report, run_id))
    _delete_run(glue, session.client("s3"), settings, report, run)
    return [table] if found is not None else []


def check_query_results(session: boto3.Session, check: str, query_execution_id: str) -> int:
    """Read a finished check query's result and raise :class:`DataQualityError` when it found offenders."""
    athena = session.client("athena")
    response = athena.get_query_results(QueryExecutionId=query_execution_id)
    return evaluate_check(check, rows_from_athena(response["ResultSet"]))
