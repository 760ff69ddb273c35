"""The landing ledger: one JSON document per landing object version with its verdict (pure, no AWS).

Documents live under ``Prefixes.landing_ledger`` in the processed bucket, named
``<sha256 hex of the key>_<ETag without quotes>.json``: listing the prefix tells which (key, ETag) pairs
already have a verdict without reading any document. The fields are the table of
``docs/daily-pipeline.md``; the Glue job and the Lambda write the same documents (they are deployed alone,
so they carry their own copy of :data:`FIELDS`; tests compare them).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

#: Field -> Glue/Athena type, in the documented order.
FIELDS: dict[str, str] = {
    "key": "string",
    "bucket": "string",
    "version_id": "string",
    "etag": "string",
    "size": "bigint",
    "last_modified": "string",
    "arrival": "string",
    "kind": "string",
    "region": "string",
    "verdict": "string",
    "reason": "string",
    "run_id": "string",
    "interval_start": "string",
    "interval_end": "string",
    "rows_read": "bigint",
    "rows_written": "bigint",
    "duplicates": "bigint",
    "rejected": "bigint",
    "partitions": "array<string>",
    "output": "string",
    "recorded_by": "string",
    "recorded_at": "string",
}
VERDICTS = ("processed", "quarantined", "ignored", "superseded")
RECORDERS = ("clean_statistics", "json_to_parquet", "youtube_ingest")

OPENX_JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"


class LedgerError(ValueError):
    """A ledger document or name that breaks the format; the message names it."""


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def ledger_document_name(key: str, etag: str) -> str:
    """``<sha256 hex of the key>_<ETag without quotes>.json``."""
    etag = etag.strip('"')
    if not etag or "/" in etag:
        raise LedgerError(f"{key}: ETag {etag!r} cannot name a ledger document")
    return f"{key_hash(key)}_{etag}.json"


def parse_ledger_listing(names: Iterable[str]) -> dict[str, set[str]]:
    """Listed ledger keys (or bare names) -> {sha256 of the landing key: ETags with a verdict}.

    Anything that is not a ledger document name (a folder marker, a stray file) is left out.
    """
    out: dict[str, set[str]] = {}
    for name in names:
        leaf = name.rsplit("/", 1)[-1]
        if not leaf.endswith(".json"):
            continue
        digest, sep, etag = leaf[: -len(".json")].partition("_")
        if sep and etag and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest):
            out.setdefault(digest, set()).add(etag)
    return out


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def document(
    obj: Mapping[str, Any],
    *,
    verdict: str,
    run_id: str,
    recorded_by: str,
    reason: str | None = None,
    interval: tuple[str | None, str | None] = (None, None),
    counts: Mapping[str, int] | None = None,
    partitions: Iterable[str] = (),
    output: str | None = None,
) -> dict[str, Any]:
    """One ledger document for a planned object (``landing.object_json`` shape), fields in table order."""
    if verdict not in VERDICTS:
        raise LedgerError(f"unknown verdict {verdict!r}; expected one of {', '.join(VERDICTS)}")
    if recorded_by not in RECORDERS:
        raise LedgerError(f"unknown recorder {recorded_by!r}")
    if (verdict == "processed") == bool(reason):
        raise LedgerError(
            f"{obj.get('key')}: a {verdict!r} verdict {'has no' if reason else 'needs a'} reason"
        )
    counts = counts or {}
    doc = {
        "key": obj["key"],
        "bucket": obj.get("bucket") or obj["uri"].removeprefix("s3://").split("/", 1)[0],
        "version_id": obj.get("version_id"),
        "etag": str(obj["etag"]).strip('"'),
        "size": obj.get("size"),
        "last_modified": obj.get("last_modified"),
        "arrival": obj.get("arrival"),
        "kind": obj.get("kind") or "other",
        "region": obj.get("region"),
        "verdict": verdict,
        "reason": reason,
        "run_id": run_id,
        "interval_start": interval[0],
        "interval_end": interval[1],
        "rows_read": counts.get("rows_read"),
        "rows_written": counts.get("rows_written"),
        "duplicates": counts.get("duplicates"),
        "rejected": counts.get("rejected"),
        "partitions": sorted(partitions),
        "output": output,
        "recorded_by": recorded_by,
        "recorded_at": now_iso(),
    }
    return doc


def document_body(doc: Mapping[str, Any]) -> bytes:
    """One line of JSON (the OpenX SerDe reads one document per line)."""
    return (json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def glue_table_input(table: str, location: str) -> dict[str, Any]:
    """The ``landing_ledger`` Glue table (Athena-queryable), for the CDK stack and the local runtime."""
    return {
        "Name": table,
        "Description": "One row per landing object version and its verdict (docs/daily-pipeline.md)",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "json", "EXTERNAL": "TRUE"},
        "StorageDescriptor": {
            "Columns": [{"Name": name, "Type": kind} for name, kind in FIELDS.items()],
            "Location": location,
            "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {
                "SerializationLibrary": OPENX_JSON_SERDE,
                "Parameters": {"ignore.malformed.json": "FALSE", "case.insensitive": "TRUE"},
            },
        },
    }
