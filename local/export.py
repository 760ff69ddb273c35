"""What ``make run`` leaves behind: its result, the console summary, ``out/reports/*.csv``, the dashboard.

Kept apart from the pipeline's flow (``pipeline.py``) so that the exports and the flow change independently.
"""

from __future__ import annotations

import json
import math
import shutil
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from dashboard.athena import ATHENA_TYPES
from local.runtime import LocalRuntime

PREVIEW_ROWS = 5
#: Columns and characters of each value the console preview shows (key columns come first).
PREVIEW_COLUMNS = 6
PREVIEW_WIDTH = 40


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
    #: One summary per ingest run (``out/runs.jsonl``).
    runs: list[dict[str, Any]] = field(default_factory=list)
    exported: list[Path] = field(default_factory=list)
    dashboard: Path | None = None


def _text(value: Any, athena_type: str) -> str | None:
    """One value as CSV text: None for NULL (an empty field), else its plain notation."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        # The shortest text that reads back as the same double, never in E-notation (1.9E-4 -> 0.00019).
        return repr(value) if math.isinf(value) else format(Decimal(repr(value)), "f")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d") if athena_type == "date" else value.isoformat(sep=" ")
    return str(value)


def typed_csv(frame: pd.DataFrame, key: Sequence[str]) -> tuple[list[dict[str, str]], str]:
    """A report frame as CSV: key columns first (in key order), rows sorted by the key's values (numbers as
    numbers, dates as dates); text quoted, numbers (plain notation), booleans and dates bare, NULL empty.

    Returns the rows as text (for the console preview) and the CSV (header first). Sorting by the typed key
    makes re-runs byte-for-byte identical and ranks read 1, 2, 3 … 10.
    """
    missing = [column for column in key if column not in frame.columns]
    if missing:
        raise ValueError(f"key column(s) {', '.join(missing)} not among the columns {list(frame.columns)}")
    columns = [*key, *(c for c in frame.columns if c not in key)]
    types: dict[str, str] = frame.attrs.get(ATHENA_TYPES, {})
    ordered = frame[columns].sort_values(list(key), kind="stable", na_position="last") if key else frame
    rows: list[dict[str, str]] = []
    lines = [",".join(_quoted(c) for c in columns)]
    for record in ordered.astype(object).itertuples(index=False, name=None):
        values = [_text(v, types.get(c, "")) for c, v in zip(columns, record, strict=True)]
        rows.append({c: "" if v is None else v for c, v in zip(columns, values, strict=True)})
        # Text (varchar, and arrays Athena returns as text) is quoted, so "" stays apart from NULL.
        fields = (
            "" if text is None else _quoted(text) if isinstance(raw, str) else text
            for raw, text in zip(record, values, strict=True)
        )
        lines.append(",".join(fields))
    return rows, "\n".join(lines) + "\n"


def _remove(folder: Path, names: Sequence[str]) -> None:
    for name in names:
        path = folder / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def export_reports(runtime: LocalRuntime, reports: list[str], out_dir: Path, result: PipelineResult) -> Path:
    """Each report view as ``out/reports/<report>.csv`` (see :func:`typed_csv`) and the dashboard.

    One Athena query per view, in the readers' workgroup like QuickSight: its typed rows feed both the CSV
    and the dashboard. Returns the dashboard's path.
    """
    from dashboard import write_dashboard
    from dashboard.athena import ReportQueryError, read_report_frames, run_report_queries
    from youtube_etl.reports import report_key

    athena = runtime.client("athena")
    try:
        executions = run_report_queries(athena, runtime.settings, reports)
    except ReportQueryError as error:
        raise PipelineError(str(error)) from error
    frames = read_report_frames(athena, executions)
    target = out_dir / "reports"
    target.mkdir(parents=True, exist_ok=True)
    for report, frame in frames.items():
        rows, content = typed_csv(frame, report_key(report))
        path = target / f"{report}.csv"
        path.write_text(content, encoding="utf-8")
        result.reports[report] = rows
        result.exported.append(path)
    return write_dashboard(out_dir / "dashboard.html", frames, dashboard_summary(result))


#: What make run writes into ``out/`` (other files there, e.g. a run history, are left alone).
EXPORTS = ("reports", "dashboard.html")
FAILED_MARKER = "RUN_FAILED.txt"


@contextmanager
def fresh_exports(out_dir: Path) -> Iterator[None]:
    """Remove the previous run's exports before a run, and leave :data:`FAILED_MARKER` when it fails.

    So ``out/`` never holds results that could be mistaken for this run's: after a failure it has no report
    and no dashboard, only the marker saying when the run failed and why.
    """
    _remove(out_dir, (*EXPORTS, FAILED_MARKER))
    try:
        yield
    except BaseException as error:
        _remove(out_dir, EXPORTS)
        out_dir.mkdir(parents=True, exist_ok=True)
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        reason = str(error) or type(error).__name__
        (out_dir / FAILED_MARKER).write_text(
            f"make run failed at {when}: {reason}\n"
            "No report or dashboard is exported for a failed run (the previous run's were removed).\n",
            encoding="utf-8",
        )
        raise


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
            shown = list(row.items())[:PREVIEW_COLUMNS]
            lines.append("  " + ", ".join(f"{k}={_short(v)}" for k, v in shown))
    lines.append("")
    for timing in result.timings:
        lines.append(f"  {timing.name:<28} {timing.seconds:6.1f} s")
    for path in result.exported:
        lines.append(f"exported {path}")
    if result.dashboard:
        lines.append(f"dashboard: {result.dashboard}")
    lines.append(f"done in {elapsed:.1f} s; the local runtime is stopped")
    return "\n".join(lines)


def _short(value: str) -> str:
    return value if len(value) <= PREVIEW_WIDTH else value[: PREVIEW_WIDTH - 1] + "…"


def summarize_lake(runtime: LocalRuntime) -> list[str]:
    """One line per bucket and top-level data folder: object count and bytes."""
    lines = []
    for bucket in runtime.settings.buckets:
        counts: Counter[str] = Counter()
        sizes: Counter[str] = Counter()
        for obj in runtime.list_objects(bucket):
            folder = "/".join(obj["Key"].split("/")[:2])
            counts[folder] += 1
            sizes[folder] += obj["Size"]
        for folder in sorted(counts):
            lines.append(
                f"  s3://{bucket}/{folder}/  {counts[folder]:>5} objects  {sizes[folder]:>12,} bytes"
            )
    return lines


def format_alerts(alerts: list[tuple[str, str]]) -> str:
    """What the alerts topic received during the run (its local inbox), as the operator would read it."""
    if not alerts:
        return "alerts published to the alerts topic: none"
    lines = [f"alerts published to the alerts topic: {len(alerts)}"]
    for subject, message in alerts:
        body = message.split("\n\n", 1)[1] if "\n\n" in message else message
        lines += [f"  {subject}", *(f"    {line}" for line in body.rstrip().splitlines())]
    return "\n".join(lines)
