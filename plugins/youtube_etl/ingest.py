"""The AWS edges of ``youtube_ingest``'s own tasks: list the landing and the ledger, plan, record verdicts.

Each function takes an injected boto3 S3 client (the DAG passes the Airflow connection's), reads or writes
small objects, and leaves every decision to the pure modules :mod:`youtube_etl.landing` and
:mod:`youtube_etl.ledger`. Imported inside tasks only, never while a DAG file is parsed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from youtube_etl import landing
from youtube_etl.ledger import document, document_body
from youtube_etl.settings import Settings

#: Parallel small GETs/PUTs/HEADs (ledger documents, object versions).
# No more than a boto3 client's connection pool (10 by default): extra threads only make urllib3 discard
# connections, with a warning each time.
IO_THREADS = 10


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def list_keys(s3: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def list_landing(s3: Any, bucket: str, prefixes: Iterable[str]) -> list[landing.LandingObject]:
    """Every current object under the landing prefixes."""
    return [
        landing.LandingObject(
            key=o["Key"], etag=o["ETag"], size=int(o["Size"]), last_modified=o["LastModified"]
        )
        for prefix in prefixes
        for o in list_keys(s3, bucket, prefix)
    ]


def list_ledger(s3: Any, settings: Settings) -> list[str]:
    return [o["Key"] for o in list_keys(s3, settings.processed_bucket, settings.prefixes.landing_ledger)]


def kinds(settings: Settings) -> tuple[landing.LandingKind, ...]:
    return landing.landing_kinds(*settings.landing_prefixes)


def _parallel(function: Any, items: Sequence[Any]) -> list[Any]:
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(IO_THREADS, len(items))) as pool:
        return list(pool.map(function, items))


def read_documents(s3: Any, bucket: str, keys: Sequence[str]) -> list[dict[str, Any]]:
    def read(key: str) -> dict[str, Any]:
        return dict(json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))

    return _parallel(read, list(keys))


def with_versions(s3: Any, bucket: str, objects: Sequence[landing.LandingObject]) -> dict[str, str | None]:
    """key -> S3 version id of the listed version (None when the bucket is not versioned or it changed)."""

    def head(obj: landing.LandingObject) -> tuple[str, str | None]:
        response = s3.head_object(Bucket=bucket, Key=obj.key)
        if response["ETag"].strip('"') != obj.etag:
            return obj.key, None
        version = response.get("VersionId")
        return obj.key, None if version in (None, "null") else str(version)

    return dict(_parallel(head, list(objects)))


def build_plan(s3: Any, settings: Settings, start: datetime, end: datetime) -> landing.Plan:
    """The run's plan: one landing listing, one ledger listing, and the ledger documents a rebuild needs."""
    objects = list_landing(s3, settings.raw_bucket, settings.landing_prefixes)
    names = list_ledger(s3, settings)
    rules = kinds(settings)
    plan = landing.plan_increment(objects, names, start, end, rules)
    previous_names = landing.previous_documents(plan, names)
    if previous_names:
        bucket = settings.processed_bucket
        flat = [n for group in previous_names.values() for n in group]
        by_name = dict(zip(flat, read_documents(s3, bucket, flat), strict=True))
        previous = {key: [by_name[n] for n in group] for key, group in previous_names.items()}
        regions = landing.partition_regions(
            p for docs in previous.values() for d in docs for p in d.get("partitions") or []
        )
        contributor_names = (
            landing.contributor_documents(plan, objects, names, regions, rules) if regions else []
        )
        contributors = read_documents(s3, bucket, contributor_names)
        plan = landing.add_rebuilds(plan, previous, contributors, objects, rules)
    versions = with_versions(
        s3, settings.raw_bucket, [p.item.obj for p in plan.statistics] + [i.obj for i in plan.reference]
    )
    return plan.with_versions(versions)


def write_plan(s3: Any, uri: str, plan_json: Mapping[str, Any]) -> None:
    bucket, key = split_uri(uri)
    body = json.dumps(plan_json, indent=1).encode("utf-8")
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


def read_json(s3: Any, uri: str) -> dict[str, Any] | None:
    """A small JSON object, None when it does not exist."""
    bucket, key = split_uri(uri)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return dict(json.loads(body))


def write_documents(s3: Any, settings: Settings, documents: Sequence[Mapping[str, Any]]) -> list[str]:
    """Put ledger documents (their names from key + ETag); returns the keys written."""
    from youtube_etl.ledger import ledger_document_name

    def put(doc: Mapping[str, Any]) -> str:
        key = settings.prefixes.landing_ledger + ledger_document_name(doc["key"], doc["etag"])
        s3.put_object(
            Bucket=settings.processed_bucket, Key=key, Body=document_body(doc), ContentType="application/json"
        )
        return key

    return _parallel(put, list(documents))


@dataclass
class Verdicts:
    """What one run decided, for ``record_verdicts``: quarantined files (from the Glue metrics and the
    Lambda results) and ignored objects (from the plan)."""

    quarantined: list[dict[str, Any]] = field(default_factory=list)
    ignored: list[dict[str, Any]] = field(default_factory=list)
    processed: int = 0

    def failure_message(self, run_id: str) -> str:
        lines = [
            f"region {q.get('region') or '?'}: {q.get('key')}: {q.get('reason')}"
            + (f" (rejected rows / copy: {q['output']})" if q.get("output") else "")
            for q in self.quarantined
        ]
        return (
            f"run {run_id}: {len(self.quarantined)} file(s) quarantined (not retried until they change; the "
            "other files were published): " + "; ".join(lines)
        )


def lambda_quarantines(results: Iterable[str | None]) -> list[dict[str, Any]]:
    """Quarantined records of the mapped Lambda results (JSON strings; None for a skipped mapping)."""
    out = []
    for payload in results:
        if not payload:
            continue
        for record in json.loads(payload).get("records", []):
            if record.get("status") == "quarantined":
                out.append(
                    {
                        "key": record.get("key"),
                        "region": record.get("region"),
                        "reason": record.get("reason"),
                        "output": record.get("quarantine_key"),
                    }
                )
    return out


def glue_quarantines(metrics: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Quarantined files of clean_statistics' metrics (``files``: one entry per planned file)."""
    files = (metrics or {}).get("files", [])
    return [
        {"key": f.get("key"), "region": f.get("region"), "reason": f.get("reason"), "output": f.get("output")}
        for f in files
        if f.get("verdict") == "quarantined"
    ]


def ignored_documents(plan_json: Mapping[str, Any], run_id: str) -> list[dict[str, Any]]:
    interval = (plan_json.get("interval_start"), plan_json.get("interval_end"))
    return [
        document(
            obj,
            verdict="ignored",
            reason=obj["reason"],
            run_id=run_id,
            recorded_by="youtube_ingest",
            interval=interval,
        )
        for obj in plan_json.get("ignored", [])
    ]


def plan_task(s3: Any, settings: Settings, start: datetime, end: datetime, run_id: str) -> dict[str, Any]:
    """``plan_increment``: plan, write the plan for clean_statistics, return counts and Lambda payloads."""
    from youtube_etl.dag_support import s3_event_payload

    plan = build_plan(s3, settings, start, end)
    uri = settings.plan_uri(run_id)
    plan_json = plan.as_json(settings.raw_bucket, run_id)
    write_plan(s3, uri, plan_json)
    run = {
        "run_id": run_id,
        "interval_start": plan_json["interval_start"],
        "interval_end": plan_json["interval_end"],
    }
    payloads = [s3_event_payload(settings.raw_bucket, [obj], run=run) for obj in plan_json["reference"]]
    return {"plan_uri": uri, **plan.summary(), "payloads": payloads}
