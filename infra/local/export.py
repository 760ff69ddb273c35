"""What ``make run`` leaves behind: its result, the console summary, ``out/reports/*.csv``, the dashboard.

Kept apart from the pipeline's flow (``pipeline.py``) so that the exports and the flow change independently.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local.runtime import LocalRuntime

PREVIEW_ROWS = 5


class PipelineError(RuntimeError):
    """A DAG run failed; the message names the failing task(s) and their error."""


@dataclass
class StageTiming:
    name: str
    seconds: float


@dataclass
class PipelineResult:
    run_ids: dict[str, str] = field(default_factory=dict)
    timings: list[StageTiming] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    reports: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    quarantined: list[str] = field(default_factory=list)
    exported: list[Path] = field(default_factory=list)
    dashboard: Path | None = None


def sorted_csv(text: str) -> tuple[list[dict[str, str]], str]:
    """Rows of an Athena result CSV sorted by every column, and the same as CSV text (header first).

    Query results come in no particular order; sorting makes re-runs byte-for-byte comparable.
    """
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    rows = sorted(reader)
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return [dict(zip(header, row, strict=True)) for row in rows], buffer.getvalue()


def export_reports(runtime: LocalRuntime, reports: list[str], out_dir: Path, result: PipelineResult) -> Path:
    """Each report view as ``out/reports/<report>.csv`` (header row, rows sorted) and the dashboard.

    One Athena query per view, in the readers' workgroup like QuickSight: its result CSV is exported and
    its typed rows feed the dashboard. Returns the dashboard's path.
    """
    from infra.dashboard import write_dashboard
    from infra.dashboard.athena import ReportQueryError, read_report_frames, run_report_queries

    athena = runtime.client("athena")
    s3 = runtime.client("s3")
    try:
        executions = run_report_queries(athena, runtime.settings, reports)
    except ReportQueryError as error:
        raise PipelineError(str(error)) from error
    target = out_dir / "reports"
    target.mkdir(parents=True, exist_ok=True)
    for report, execution_id in executions.items():
        location = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"][
            "ResultConfiguration"
        ]["OutputLocation"]
        bucket, _, key = location.removeprefix("s3://").partition("/")
        rows, content = sorted_csv(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8"))
        path = target / f"{report}.csv"
        path.write_text(content, encoding="utf-8")
        result.reports[report] = rows
        result.exported.append(path)
    frames = read_report_frames(athena, executions)
    return write_dashboard(out_dir / "dashboard.html", frames, dashboard_summary(result))


def dashboard_summary(result: PipelineResult) -> dict[str, Any]:
    """The header facts of the dashboard: run, rows per stage, rejected and quarantined counts."""
    clean = result.metrics.get("clean_statistics", {})
    analytics = result.metrics.get("build_analytics", {})
    stage_rows = {
        "statistics rows read": clean.get("read"),
        "statistics rows written": clean.get("written"),
        "duplicates removed": clean.get("duplicates"),
        "analytics rows": analytics.get("rows"),
    }
    return {
        "run_id": result.run_ids.get("youtube_reporting", ""),
        "stage_rows": {k: v for k, v in stage_rows.items() if v is not None},
        "rejected": {"statistics rows": clean.get("rejected", 0)},
        "quarantined": {"objects under quarantine/": len(result.quarantined)},
    }


def format_summary(result: PipelineResult, elapsed: float) -> str:
    lines = ["", "=== summary ==="]
    for dag_id, run_id in result.run_ids.items():
        lines.append(f"{dag_id}: success ({run_id})")
    clean = result.metrics.get("clean_statistics", {})
    analytics = result.metrics.get("build_analytics", {})
    if clean:
        counts = {k: clean.get(k, "?") for k in ("read", "written", "duplicates", "rejected")}
        lines.append("statistics rows: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if analytics:
        lines.append(
            f"analytics rows: {json.dumps({k: v for k, v in analytics.items() if not isinstance(v, dict)})}"
        )
    lines.append(f"quarantined objects: {len(result.quarantined)}")
    for report, rows in result.reports.items():
        lines.append(f"\nreport {report}: {len(rows)} rows")
        for row in rows[:PREVIEW_ROWS]:
            lines.append("  " + ", ".join(f"{k}={v}" for k, v in list(row.items())[:6]))
    lines.append("")
    for timing in result.timings:
        lines.append(f"  {timing.name:<28} {timing.seconds:6.1f} s")
    for path in result.exported:
        lines.append(f"exported {path}")
    if result.dashboard:
        lines.append(f"dashboard: {result.dashboard}")
    lines.append(f"done in {elapsed:.1f} s; the local runtime is stopped")
    return "\n".join(lines)
