"""What ``make run`` leaves in ``.lake/``, looked at afterwards: ``make query`` and ``make cat``.

Each command resumes the runtime from the lake folder (:class:`localaws.LocalAWS` ``state_dir``), does
its one thing through the AWS API, and stops it again (which saves the lake, with the query in its history).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from local.runtime import LocalRuntime
from youtube_etl.reports import split_s3_uri

#: Widest a cell is printed (longer values end in "…").
CELL_WIDTH = 40


class LakeError(Exception):
    """No lake to look at, a query that failed, an object that is not there."""


def open_lake(folder: Path) -> LocalRuntime:
    """The runtime resumed from ``folder`` (not started yet: use it in a ``with``)."""
    if not (folder / "state.pickle").exists():
        raise LakeError(f"no lake in {folder}: `make run` leaves one there")
    return LocalRuntime(state_dir=folder)


def query(runtime: LocalRuntime, sql: str, timeout: float = 300) -> tuple[list[str], list[list[str | None]]]:
    """Run ``sql`` in the pipeline's workgroup (default database: the analytics one); its header and rows."""
    s = runtime.settings
    athena = runtime.client("athena")
    query_id = athena.start_query_execution(
        QueryString=sql,
        WorkGroup=s.athena_workgroup,
        QueryExecutionContext={"Database": s.analytics_database},
    )["QueryExecutionId"]
    deadline = time.monotonic() + timeout
    while True:
        status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        if status["State"] not in ("QUEUED", "RUNNING"):
            break
        if time.monotonic() > deadline:
            raise LakeError(f"query {query_id} still {status['State']} after {timeout:.0f} s")
        time.sleep(0.05)
    if status["State"] != "SUCCEEDED":
        raise LakeError(f"query {status['State']}: {status.get('StateChangeReason', '')}")
    header: list[str] = []
    rows: list[list[str | None]] = []
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id):
        for row in page["ResultSet"].get("Rows", []):
            cells = [cell.get("VarCharValue") for cell in row["Data"]]
            if not header:
                header = [c or "" for c in cells]
            else:
                rows.append(cells)
    return header, rows


def format_table(header: Sequence[str], rows: Sequence[Sequence[str | None]]) -> str:
    """A plain-text table (NULL shown as such), then the row count."""

    def show(value: str | None) -> str:
        text = "NULL" if value is None else value.replace("\n", " ")
        return text if len(text) <= CELL_WIDTH else text[: CELL_WIDTH - 1] + "…"

    shown = [[show(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in shown)]) for i, h in enumerate(header)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in shown]
    lines.append(f"({len(rows)} row{'' if len(rows) == 1 else 's'})")
    return "\n".join(lines)


def cat(runtime: LocalRuntime, uri: str) -> bytes:
    """The body of the object at ``s3://bucket/key`` (e.g. a quarantine copy an error message names)."""
    bucket, key = split_s3_uri(uri)
    s3 = runtime.client("s3")
    try:
        body: Any = s3.get_object(Bucket=bucket, Key=key)["Body"]
    except (s3.exceptions.NoSuchKey, s3.exceptions.NoSuchBucket) as error:
        raise LakeError(f"{uri}: not in the lake ({error.response['Error']['Code']})") from error
    return bytes(body.read())
