"""The AWS edges of ``youtube_ingest``'s own tasks: list the landing and the ledger, plan, record verdicts.

Each function takes an injected boto3 S3 client (the DAG passes the Airflow connection's), reads or writes
small objects, and leaves every decision to the planner (:mod:`youtube_etl.landing`) and to the lake's
contracts (``youtube_lake``: the ledger document, the plan file, Glue metrics, the Lambda's result). Imported
inside tasks only, never while a DAG file is parsed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from youtube_etl import landing
from youtube_etl.settings import Settings
from youtube_lake import ledger
from youtube_lake.invocation import CONVERTED, QUARANTINED, SUPERSEDED, LambdaResult, RunInfo, s3_event
from youtube_lake.metrics import GlueMetrics
from youtube_lake.plan import IngestPlan, PlanObject
from youtube_lake.runs import safe_run_id
from youtube_lake.timestamps import iso
from youtube_lake.uris import split_s3_uri

#: Parallel small GETs/PUTs/HEADs (ledger documents, object versions).
# No more than a boto3 client's connection pool (10 by default): extra threads only make urllib3 discard
# connections, with a warning each time.
IO_THREADS = 10


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


def write_plan(s3: Any, uri: str, plan: IngestPlan) -> None:
    bucket, key = split_s3_uri(uri)
    body = plan.dumps().encode("utf-8")
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


def read_object(s3: Any, uri: str) -> bytes | None:
    """A small object's body, None when it does not exist."""
    bucket, key = split_s3_uri(uri)
    try:
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def read_json(s3: Any, uri: str) -> dict[str, Any] | None:
    """A small JSON object, None when it does not exist."""
    body = read_object(s3, uri)
    return None if body is None else dict(json.loads(body))


def write_documents(s3: Any, settings: Settings, documents: Sequence[Mapping[str, Any]]) -> list[str]:
    """Put ledger documents (their names from key + ETag); returns the keys written."""

    def put(doc: Mapping[str, Any]) -> str:
        key = settings.prefixes.landing_ledger + ledger.document_name(doc["key"], doc["etag"])
        body = ledger.document_body(doc)
        s3.put_object(Bucket=settings.processed_bucket, Key=key, Body=body, ContentType="application/json")
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


def ignored_document(obj: PlanObject, plan: IngestPlan, run_id: str) -> dict[str, Any]:
    """The ledger document of an object the plan ignores (``record_verdicts`` writes it)."""
    return ledger.document(
        key=obj.key,
        bucket=split_s3_uri(obj.uri)[0],
        etag=obj.etag,
        kind=obj.kind,
        verdict=ledger.IGNORED,
        reason=obj.reason,
        run_id=run_id,
        recorded_by="youtube_ingest",
        version_id=obj.version_id,
        size=obj.size,
        last_modified=obj.last_modified,
        arrival=iso(obj.arrival),
        region=obj.region,
        interval=plan.interval,
    )


def plan_task(s3: Any, settings: Settings, start: datetime, end: datetime, run_id: str) -> dict[str, Any]:
    """``plan_increment``: plan, write the plan for clean_statistics, return counts and Lambda payloads."""
    plan = build_plan(s3, settings, start, end).ingest_plan(settings.raw_bucket, run_id)
    uri = settings.plan_uri(run_id)
    write_plan(s3, uri, plan)
    run = RunInfo(run_id, *plan.interval)
    payloads = [json.dumps(s3_event(plan.bucket, [obj.to_json()], run=run)) for obj in plan.reference]
    return {"plan_uri": uri, **plan.summary(), "payloads": payloads}


def glue_metrics(s3: Any, settings: Settings, job: str, run_id: str) -> dict[str, Any] | None:
    """The counts a Glue job wrote for an Airflow run (None when it wrote none): for readers outside the
    DAG run (``make run``'s summary); inside it the job's task reads them once and passes them on."""
    return read_json(s3, settings.glue_metrics_uri(job, safe_run_id(run_id)))


def parse_lambda_results(results: Any) -> list[LambdaResult]:
    """The Lambda's answers as ``convert_reference_data`` passes them on: one answer (a mapping once
    parsed, or its JSON text), a list of them (mapped invocations; None for one that was skipped), or
    None. Each answer's text is decoded once, here."""
    if results is None:
        return []
    answers = [results] if isinstance(results, str | bytes | Mapping) else list(results)
    return [LambdaResult.from_json(answer) for answer in answers if answer]


#: Changed partitions listed in an asset event; more are counted, not listed.
MAX_LISTED_PARTITIONS = 200


def asset_extras(
    plan: Mapping[str, Any] | None, metrics: GlueMetrics, lambda_results: Sequence[LambdaResult]
) -> dict[str, dict[str, Any]]:
    """The extras of the two processed assets' events: what this run changed, for youtube_reporting.

    ``plan``: the plan's summary (``plan_increment``'s XCom); ``metrics``: clean_statistics' (empty when it
    did not run); ``lambda_results``: the Lambda's answers.
    """
    plan = plan or {}
    interval = {"interval_start": plan.get("interval_start"), "interval_end": plan.get("interval_end")}
    partitions = sorted(metrics.partitions)
    statistics = {
        **interval,
        **metrics.totals(),
        "files": len(metrics.files),
        "quarantined_files": metrics.count("files_quarantined"),
        "changed_partitions": partitions[:MAX_LISTED_PARTITIONS],
        "changed_partitions_total": len(partitions),
    }
    records = [r for result in lambda_results for r in result.records]
    reference = {
        **interval,
        "converted": sum(r.status == CONVERTED for r in records),
        "quarantined": sum(r.status == QUARANTINED for r in records),
        "superseded": sum(r.status == SUPERSEDED for r in records),
        "regions": sorted({str(r.region) for r in records if r.status == CONVERTED and r.region}),
    }
    return {"statistics": statistics, "category_reference": reference}


def record_verdicts_task(
    s3: Any,
    settings: Settings,
    run_id: str,
    plan_uri: str | None,
    metrics: GlueMetrics,
    lambda_results: Sequence[LambdaResult],
) -> Verdicts:
    """``record_verdicts``: ledger documents for the ignored objects; every quarantined file of the run.

    ``metrics``: clean_statistics' metrics (empty when it did not run), ``lambda_results``: the Lambda's
    answers, both as their tasks passed them on.
    """
    plan = read_plan(s3, plan_uri) if plan_uri else None
    verdicts = Verdicts()
    if plan is not None:
        documents = [ignored_document(obj, plan, run_id) for obj in plan.ignored]
        write_documents(s3, settings, documents)
        verdicts.ignored = [{"key": d["key"], "reason": d["reason"]} for d in documents]
    verdicts.quarantined = [f.quarantine() for f in metrics.quarantined()] + [
        q for result in lambda_results for q in result.quarantines()
    ]
    verdicts.processed = metrics.processed() + sum(result.count(CONVERTED) for result in lambda_results)
    return verdicts


def read_plan(s3: Any, uri: str) -> IngestPlan | None:
    """The run's plan file, None when it does not exist."""
    body = read_object(s3, uri)
    return None if body is None else IngestPlan.from_json(body, uri)
