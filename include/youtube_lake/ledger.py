"""The landing ledger: one JSON document per landing object version with its verdict.

Documents live under the ledger prefix of the processed bucket, named
``<sha256 hex of the key>_<ETag without quotes>.json``: listing the prefix tells which (key, ETag) pairs
already have a verdict without reading any document. Each is one line of JSON (the OpenX JSON SerDe of the
``landing_ledger`` table reads one document per line) with exactly :data:`FIELDS`, in that order — the
table of ``docs/daily-pipeline.md``. The Glue job, the Lambda and the DAG's ``record_verdicts`` all write
them with :func:`document`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from youtube_lake.timestamps import now_iso

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
PROCESSED = "processed"
QUARANTINED = "quarantined"
IGNORED = "ignored"
SUPERSEDED = "superseded"
VERDICTS = (PROCESSED, QUARANTINED, IGNORED, SUPERSEDED)
#: Who writes documents: the Glue job (statistics), the Lambda (categories), the DAG (ignored objects).
RECORDERS = ("clean_statistics", "json_to_parquet", "youtube_ingest")
#: The row counts of a document, in :data:`FIELDS` order.
COUNT_FIELDS = ("rows_read", "rows_written", "duplicates", "rejected")

OPENX_JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"


class LedgerError(ValueError):
    """A ledger document or name that breaks the format; the message names it."""


def key_hash(key: str) -> str:
    """The sha256 hex of a landing key: the first part of its documents' names."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def document_name(key: str, etag: str) -> str:
    """``<sha256 hex of the key>_<ETag without quotes>.json``; LedgerError for an unusable ETag."""
    etag = etag.strip('"')
    if not etag or "/" in etag:
        raise LedgerError(f"{key}: ETag {etag!r} cannot name a ledger document")
    return f"{key_hash(key)}_{etag}.json"


def parse_listing(names: Iterable[str]) -> dict[str, set[str]]:
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


def document(
    *,
    key: str,
    bucket: str,
    etag: str,
    kind: str,
    verdict: str,
    run_id: str,
    recorded_by: str,
    version_id: str | None = None,
    size: int | None = None,
    last_modified: str | None = None,
    arrival: str | None = None,
    region: str | None = None,
    reason: str | None = None,
    interval: tuple[str | None, str | None] = (None, None),
    counts: Mapping[str, int | None] | None = None,
    partitions: Iterable[str] = (),
    output: str | None = None,
    recorded_at: str | None = None,
) -> dict[str, Any]:
    """One ledger document, fields in table order. Instants are ISO strings (``timestamps.iso``);
    ``counts`` holds :data:`COUNT_FIELDS` (missing ones are null). A processed verdict has no reason, every
    other verdict needs one."""
    if verdict not in VERDICTS:
        raise LedgerError(f"unknown verdict {verdict!r}; expected one of {', '.join(VERDICTS)}")
    if recorded_by not in RECORDERS:
        raise LedgerError(f"unknown recorder {recorded_by!r}")
    if (verdict == PROCESSED) == bool(reason):
        raise LedgerError(f"{key}: a {verdict!r} verdict {'has no' if reason else 'needs a'} reason")
    counts = counts or {}
    return {
        "key": key,
        "bucket": bucket,
        "version_id": version_id,
        "etag": etag.strip('"'),
        "size": size,
        "last_modified": last_modified,
        "arrival": arrival,
        "kind": kind,
        "region": region,
        "verdict": verdict,
        "reason": reason,
        "run_id": run_id,
        "interval_start": interval[0],
        "interval_end": interval[1],
        **{name: counts.get(name) for name in COUNT_FIELDS},
        "partitions": sorted(partitions),
        "output": output,
        "recorded_by": recorded_by,
        "recorded_at": recorded_at or now_iso(),
    }


def document_body(doc: Mapping[str, Any]) -> bytes:
    """One line of JSON and a newline (the OpenX SerDe reads one document per line)."""
    return (json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def parse_document(body: bytes | str, source: str) -> dict[str, Any]:
    """A stored document; LedgerError naming ``source`` when it is not one."""
    try:
        doc = json.loads(body)
    except ValueError as error:
        raise LedgerError(f"{source}: not a ledger document ({error})") from None
    if not isinstance(doc, dict) or "key" not in doc or "etag" not in doc:
        raise LedgerError(f"{source}: not a ledger document (no key/etag)")
    return doc


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
