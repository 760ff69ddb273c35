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
    """Every current object under ``prefixes`` (``[""]``: the whole bucket)."""
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
    """The run's plan: one listing of the raw bucket, one of the ledger, and the ledger documents a rebuild
    needs.

    The whole raw bucket in one paginated listing (1,000 keys a request), so an object dropped outside the
    landing prefixes gets its ``ignored`` verdict too. Every run must list every landing object anyway (to
    compare it with the ledger): years of daily drops (~8k objects a year) are the bulk of the pages either
    way; the whole bucket adds only ``quarantine/`` (expired after 30 days by the bucket's lifecycle) and
    stray objects. Listing each prefix plus "the rest" would need a delimiter walk of the bucket's folders
    to find the rest: at least two more requests a run and more code, to skip a page or two.
    """
    objects = list_landing(s3, settings.raw_bucket, [""])
    plan = landing.plan_from_listings(
        objects,
        list_ledger(s3, settings),
        start,
        end,
        kinds(settings),
        lambda keys: read_documents(s3, settings.processed_bucket, keys),
        settings.raw_owned_prefixes,
    )
    taken = [p.item.obj for p in plan.statistics] + [i.obj for i in plan.reference]
    return plan.with_versions(with_versions(s3, settings.raw_bucket, taken))


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

    def summary(self) -> dict[str, Any]:
        return {"processed": self.processed, "ignored": len(self.ignored), "quarantined": self.quarantined}

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


def glue_metrics(s3: Any, settings: Settings, job: str, run_id: str) -> dict[str, Any] | None:
    """The counts a Glue job wrote for this run (None when it wrote none)."""
    from youtube_etl.dag_support import glue_metrics_location

    bucket, key = glue_metrics_location(settings, job, run_id)
    return read_json(s3, f"s3://{bucket}/{key}")


#: Changed partitions listed in an asset event; more are counted, not listed.
MAX_LISTED_PARTITIONS = 200


def asset_extras(
    plan: Mapping[str, Any] | None, metrics: Mapping[str, Any] | None, lambda_results: Iterable[str | None]
) -> dict[str, dict[str, Any]]:
    """The extras of the two processed assets' events: what this run changed, for youtube_reporting."""
    plan, metrics = plan or {}, metrics or {}
    interval = {"interval_start": plan.get("interval_start"), "interval_end": plan.get("interval_end")}
    partitions = sorted(metrics.get("partitions", {}))
    statistics = {
        **interval,
        **{k: int(metrics.get(k, 0)) for k in ("read", "written", "duplicates", "rejected")},
        "files": len(metrics.get("files", [])),
        "quarantined_files": int(metrics.get("files_quarantined", 0)),
        "changed_partitions": partitions[:MAX_LISTED_PARTITIONS],
        "changed_partitions_total": len(partitions),
    }
    records = [r for p in lambda_results if p for r in json.loads(p).get("records", [])]
    converted = [r for r in records if r.get("status") == "converted"]
    reference = {
        **interval,
        "converted": len(converted),
        "quarantined": sum(r.get("status") == "quarantined" for r in records),
        "superseded": sum(r.get("status") == "superseded" for r in records),
        "regions": sorted({str(r.get("region")) for r in converted if r.get("region")}),
    }
    return {"statistics": statistics, "category_reference": reference}


def record_verdicts_task(
    s3: Any,
    settings: Settings,
    run_id: str,
    plan_uri: str | None,
    clean_ran: bool,
    lambda_results: Iterable[str | None],
) -> Verdicts:
    """``record_verdicts``: ledger documents for the ignored objects; every quarantined file of the run."""
    plan_json = read_json(s3, plan_uri) if plan_uri else None
    verdicts = Verdicts()
    if plan_json:
        documents = ignored_documents(plan_json, run_id)
        write_documents(s3, settings, documents)
        verdicts.ignored = [{"key": d["key"], "reason": d["reason"]} for d in documents]
    metrics = glue_metrics(s3, settings, settings.clean_statistics_job, run_id) if clean_ran else None
    results = list(lambda_results)
    verdicts.quarantined = glue_quarantines(metrics) + lambda_quarantines(results)
    verdicts.processed = sum(f.get("verdict") == "processed" for f in (metrics or {}).get("files", [])) + sum(
        r.get("status") == "converted" for p in results if p for r in json.loads(p).get("records", [])
    )
    return verdicts
