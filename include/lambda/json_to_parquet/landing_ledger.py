"""Ledger documents for category files: one verdict per landing object version (pure, no I/O).

The format is the contract of ``docs/daily-pipeline.md`` ("The landing ledger"): documents under the
ledger prefix named ``<sha256 hex of the key>_<ETag without quotes>.json``, one line of JSON each (the
OpenX JSON SerDe of the ``landing_ledger`` table reads one document per line). The Lambda is deployed
alone, so it carries this copy of the field list; a test checks it against the doc's table.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from partition_order import iso

#: Fields in the documented order.
FIELDS: tuple[str, ...] = (
    "key",
    "bucket",
    "version_id",
    "etag",
    "size",
    "last_modified",
    "arrival",
    "kind",
    "region",
    "verdict",
    "reason",
    "run_id",
    "interval_start",
    "interval_end",
    "rows_read",
    "rows_written",
    "duplicates",
    "rejected",
    "partitions",
    "output",
    "recorded_by",
    "recorded_at",
)
VERDICTS = ("processed", "quarantined", "superseded")
RECORDED_BY = "json_to_parquet"
KIND = "reference"


def document_name(key: str, etag: str) -> str:
    """``<sha256 hex of the key>_<ETag without quotes>.json``."""
    etag = etag.strip('"')
    if not etag or "/" in etag:
        raise ValueError(f"{key}: ETag {etag!r} cannot name a ledger document")
    return f"{hashlib.sha256(key.encode('utf-8')).hexdigest()}_{etag}.json"


def document(
    *,
    bucket: str,
    key: str,
    version_id: str | None,
    etag: str,
    size: int | None,
    last_modified: datetime | None,
    arrival: datetime | None,
    region: str | None,
    verdict: str,
    reason: str | None,
    run_id: str,
    interval: tuple[str | None, str | None],
    rows: int | None,
    partitions: Iterable[str],
    output: str | None,
    recorded_at: datetime,
) -> dict[str, Any]:
    """One ledger document. ``rows`` counts a processed file's categories (read = written); the other
    verdicts read nothing that counts, so their counts are null."""
    if verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}; expected one of {', '.join(VERDICTS)}")
    if (verdict == "processed") == bool(reason):
        raise ValueError(f"{key}: a {verdict!r} verdict {'has no' if reason else 'needs a'} reason")
    counted = verdict == "processed"
    doc = {
        "key": key,
        "bucket": bucket,
        "version_id": version_id,
        "etag": etag.strip('"'),
        "size": size,
        "last_modified": iso(last_modified) if last_modified else None,
        "arrival": iso(arrival) if arrival else None,
        "kind": KIND,
        "region": region,
        "verdict": verdict,
        "reason": reason,
        "run_id": run_id,
        "interval_start": interval[0],
        "interval_end": interval[1],
        "rows_read": rows if counted else None,
        "rows_written": rows if counted else None,
        "duplicates": 0 if counted else None,
        "rejected": 0 if counted else None,
        "partitions": sorted(partitions),
        "output": output,
        "recorded_by": RECORDED_BY,
        "recorded_at": iso(recorded_at),
    }
    return doc


def document_body(doc: dict[str, Any]) -> bytes:
    """One line of JSON and a newline."""
    return (json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
