"""Glue job ``clean_statistics``: one ingest run's planned trending files -> typed, deduplicated Parquet.

Reads exactly the files of the run's plan (``--plan_path``, written by ``youtube_ingest``'s
``plan_increment``: key, ETag, version, arrival and region of each object, in arrival order; see
``docs/daily-pipeline.md``), in any format :mod:`statistics_formats` declares (a CSV's chosen from its
header line, so formats can share a region folder; the YouTube Data API's response pages that
``youtube_extract`` lands, by their file name: :mod:`statistics_pages`). Output
(``--target_path``, Parquet/snappy): one partition per region and trending day,
``region=xx/dt=YYYY-MM-DD/``, each holding exactly one object named ``data.snappy.parquet``. Columns,
stable for the crawler and the Athena SQL:

============================  ==============  ===================================================
column                        type            meaning
============================  ==============  ===================================================
video_id                      string          11-character YouTube id
trending_date                 date            day the video was trending (``dt`` is its text); an API
                                              page's: its landing day (the interval it was fetched for)
chart_rank                    int             position in that day's chart, 1..200 (API pages only)
title                         string
channel_id                    string          rsrishav only (null for datasnaek rows)
channel_title                 string
category_id                   bigint          joins category_reference on (region, category_id)
publish_time                  timestamp       UTC
tags                          array<string>   ``[none]``/``[None]`` -> empty array
views, likes, dislikes,       bigint          >= 0; API pages: null where the API returns no count
comment_count                                 (dislikes always: private since 2021-12-13)
thumbnail_link                string
comments_disabled,            boolean         ``True``/``False`` (exact spelling of both formats)
ratings_disabled,
video_error_or_removed                        (null for rsrishav rows: that format has no such column)
description                   string          line breaks normalised to LF (literal ``\\n``, CRLF, CR)
source_file                   string          ``s3://`` URI of the CSV the row came from
source_arrival                timestamp       arrival of that CSV (its ``landing_date=``, else LastModified)
region, dt                    string          partitions; lower-case region, trending date as text
============================  ==============  ===================================================

One run is a sequence of phases, each a function of its inputs that returns a value: ``scope -> inspect ->
stage -> decide -> publish -> quarantine -> record``. It

1. (scope, :mod:`statistics_increment`) deletes whatever killed runs left in the staging folder
   (``_clean_statistics_staging/``, which readers and crawlers skip) and checks each planned object's current
   ETag: an object changed since planning is left for the next run;
2. (inspect, :mod:`statistics_inspect`: once per file and run) reads each file's header and ending; (stage,
   :mod:`statistics_read`, :mod:`statistics_rules`, :mod:`statistics_increment`) parses the planned files —
   plus, for the partitions that earlier versions of changed objects wrote, every other current object that
   wrote them (the plan's ``rebuild_sources``) — checks every row, deduplicates on (region, video_id,
   trending_date) in arrival order (``source_arrival``, ``source_file``, split offset, row: the last wins) and
   writes one object per partition to staging;
3. (decide, :mod:`statistics_verdicts`) gives each planned file its verdict: a file whose rejected fraction
   exceeds ``--reject_threshold`` is quarantined whole (the increment is computed again without it); the
   others are processed. A file in the folder of a region outside ``--allowed_regions`` (the settings'
   ``data_regions``, the one region definition the Lambda gets too) has every row rejected, so it is
   quarantined. A file whose bytes are not UTF-8 (a leading BOM is fine) is quarantined with
   ``not_utf8: byte 0xE9 at offset 1234``: Spark reads invalid bytes as U+FFFD, so the files whose rows hold
   one are scanned on the driver (streamed; a ``.gz`` file was checked while it was inspected), and a U+FFFD
   really in the file stays. A row trending before
   ``--earliest_trending_date`` or after the day after the ingest is rejected as ``implausible
   trending_date``;
4. (publish) merges each touched partition that already holds data with it (the later arrival wins), except
   the rebuilt ones, which are replaced;
5. commits: each partition's object is replaced by one S3 ``CopyObject`` from staging onto its fixed name
   (readers list the previous object or the new one, never none), then other objects of the partition folder
   are deleted; a rebuilt partition left without rows is deleted;
6. (quarantine, record) writes the quarantined rows (JSON lines with ``reject_reason`` and ``source_file``
   under ``<quarantine_path>run_id=<run_id>/``), one ledger document per planned file under ``--ledger_path``
   (after the commit: a crash in between re-processes the file, which is idempotent) and the metrics (per
   file, per partition; ``read = written + duplicates + rejected`` per file) to
   ``<metrics_path>run_id=<run_id>/metrics.json``, and prints a one-line summary.

A quarantined file is a verdict, not an error: the job succeeds and ``youtube_ingest``'s
``record_verdicts`` fails the run naming it. S3 is written through boto3 (Glue provides it; the endpoint
comes from the environment), local folders through the file system (tests, benchmarks).

Deployed with ``lake_io.py``, the ``statistics_*.py`` modules and the lake's contracts (``youtube_lake.zip``)
as ``--extra-py-files`` (the settings' ``glue_libraries``); it never imports the project's package.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from lake_io import Store, store_for
from pyspark.sql import SparkSession
from statistics_increment import Published, Scope, publish, restage, scope_increment, stage, staging_folder
from statistics_inspect import SourceFile, inspect_files
from statistics_rules import TrendingDates
from statistics_verdicts import (
    CleanResult,
    Decision,
    FileResult,
    Quarantined,
    decide,
    final_verdict,
    ledger_document,
    summary_line,
    unreadable,
    write_quarantine,
)

from youtube_lake import ledger
from youtube_lake.metrics import metrics_uri
from youtube_lake.plan import IngestPlan, PlanError, PlanObject
from youtube_lake.runs import run_folder
from youtube_lake.timestamps import now_iso
from youtube_lake.uris import bucket_of, join

__all__ = ["JOB_ARGUMENTS", "CleanResult", "PlanError", "main", "run", "summary_line"]

JOB_ARGUMENTS = [
    "JOB_NAME",
    "plan_path",
    "target_path",
    "quarantine_path",
    "ledger_path",
    "reject_threshold",
    "allowed_regions",
    "earliest_trending_date",
    "run_id",
    "metrics_path",
]


@dataclass(frozen=True)
class Options:
    """A run's arguments (``--target_path`` …), as the phases read them."""

    target_path: str
    quarantine_path: str
    ledger_path: str
    metrics_path: str
    run_id: str
    reject_threshold: float
    #: None accepts any region folder.
    allowed_regions: frozenset[str] | None
    dates: TrendingDates

    def region(self, planned: PlanObject) -> str | None:
        """The file's region for its rows: None (every row rejected) outside the allowed regions."""
        allowed = self.allowed_regions is None or planned.region in self.allowed_regions
        return planned.region if allowed else None


@dataclass(frozen=True)
class Outcome:
    """What the Spark phases did: each taken file's decision, the commit and the quarantined rows."""

    decisions: dict[str, Decision] = field(default_factory=dict)
    published: Published = Published({}, {})
    quarantined: Quarantined = Quarantined("")


def configure(spark: SparkSession) -> None:
    """Session settings the rules and the partition reads rely on."""
    # Timestamps are parsed without their "Z" (parse_timestamp): the session zone must be UTC. Partition
    # values stay text (dt is a string partition key, as the crawler types it).
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
    # Generated code above HotSpot's 8,000-byte limit is never JIT-compiled: Spark's documentation advises
    # this limit on HotSpot; the wide CSV projections otherwise run interpreted (~10% of the job's time).
    spark.conf.set("spark.sql.codegen.hugeMethodLimit", "8000")


def load_plan(store: Store, plan_path: str) -> IngestPlan:
    text = store.read_text(plan_path)
    if text is None:
        raise PlanError(f"no plan at {plan_path}: youtube_ingest's plan_increment writes it for each run")
    return IngestPlan.from_json(text, plan_path)


def inspect(
    spark: SparkSession, store: Store, files: Sequence[PlanObject], options: Options
) -> list[tuple[PlanObject, SourceFile]]:
    """Each file of the run inspected once (header, format, ending), with the region its rows get and, for
    an API page, the day its chart is of: its arrival's (UTC) day, which the planner takes from its
    ``landing_date=`` folder, the interval the extract fetched it for."""
    sources = inspect_files(spark, [(f.uri, f.size) for f in files], store)
    return [
        (f, dataclasses.replace(s, region=options.region(f), day=f.arrival.astimezone(UTC).date()))
        for f, s in zip(files, sources, strict=True)
    ]


def quarantine(
    spark: SparkSession,
    inspected: Sequence[tuple[PlanObject, SourceFile]],
    decisions: dict[str, Decision],
    split: bool,
    options: Options,
) -> Quarantined:
    """The rejected rows of the taken files that have any, from their first inspection."""
    rejecting = [(f, s) for f, s in inspected if f.uri in decisions and decisions[f.uri].rejected]
    folder = run_folder(options.quarantine_path, options.run_id)
    if not rejecting:
        return Quarantined(folder)
    files, sources = [f for f, _ in rejecting], [s for _, s in rejecting]
    return Quarantined(folder, write_quarantine(spark, files, sources, split, folder, options.dates))


def process(spark: SparkSession, store: Store, scope: Scope, options: Options, staging: str) -> Outcome:
    """inspect -> stage -> decide -> (stage again without the quarantined files) -> publish -> quarantine."""
    configure(spark)
    inspected = inspect(spark, store, scope.files, options)
    decisions = {f.uri: unreadable(s) for f, s in inspected if s.unreadable and f.uri in scope.heads}
    readable = [(f, s) for f, s in inspected if not s.unreadable]
    if not readable:
        return Outcome(decisions)
    increment = join(staging, "increment")
    staged = stage(spark, store, [f for f, _ in readable], [s for _, s in readable], increment, options.dates)
    decisions |= decide(store, readable, staged.staged, options.reject_threshold)
    dropped = {uri for uri, d in decisions.items() if d.verdict == "quarantined"}
    if dropped:
        kept = [(f, s) for f, s in readable if f.uri not in dropped]
        restage(spark, store, kept, staged.split, increment, options.dates)
    regions = {f.region for f in scope.files if f.region}
    published = publish(spark, store, options.target_path, staging, scope.rebuild, regions)
    return Outcome(decisions, published, quarantine(spark, readable, decisions, staged.split, options))


def file_result(planned: PlanObject, scope: Scope, outcome: Outcome, options: Options) -> FileResult:
    """A taken file's final verdict and counts."""
    decision = final_verdict(
        outcome.decisions.get(planned.uri, Decision()),
        outcome.quarantined.reasons.get(planned.uri),
        outcome.quarantined.folder,
        options.reject_threshold,
        options.target_path,
    )
    etag, version_id = scope.heads[planned.uri]
    return FileResult(
        planned,
        read=decision.read,
        rejected=decision.rejected,
        written=outcome.published.written.get(planned.uri, 0),
        partitions=list(decision.partitions),
        verdict=decision.verdict,
        reason=decision.reason,
        output=decision.output,
        version_id=version_id,
        etag=etag,
    )


def record(
    store: Store, plan: IngestPlan, scope: Scope, outcome: Outcome, options: Options, started: float
) -> CleanResult:
    """One ledger document per taken file (after the commit), then the run's metrics."""
    files = [file_result(f, scope, outcome, options) for f in scope.take]
    recorded_at = now_iso()
    for r in files:
        doc = ledger_document(r, plan, options.run_id, bucket_of(r.file.uri), recorded_at)
        name = ledger.document_name(doc["key"], doc["etag"])
        store.write_text(join(options.ledger_path, name), ledger.document_body(doc).decode("utf-8"))
    published = outcome.published
    result = CleanResult(
        run_id=options.run_id,
        files=files,
        deferred=list(scope.deferred),
        partitions=published.partitions,
        merged=list(published.merged),
        rebuilt=list(published.rebuilt),
        deleted=list(published.deleted),
        rebuild_sources=scope.rebuild_sources,
        rejected_by_reason=outcome.quarantined.by_reason,
        reject_threshold=options.reject_threshold,
        seconds=time.perf_counter() - started,
    )
    store.write_text(
        metrics_uri(options.metrics_path, options.run_id), json.dumps(result.metrics(), indent=1)
    )
    return result


def run(
    spark: SparkSession,
    plan_path: str,
    target_path: str,
    quarantine_path: str,
    ledger_path: str,
    metrics_path: str,
    run_id: str,
    reject_threshold: float = 0.01,
    store: Store | None = None,
    allowed_regions: Collection[str] | None = None,
    earliest_trending_date: date | None = None,
    ingest_time: datetime | None = None,
) -> CleanResult:
    """The whole job (see the module docstring); returns what it did (also written as metrics).

    ``allowed_regions``: the regions the pipeline accepts (``--allowed_regions``, from the settings'
    ``data_regions``); every row of a file in another region's folder is rejected, so the file is
    quarantined. None accepts any region folder. A row whose trending day is before
    ``earliest_trending_date`` (``--earliest_trending_date``, the settings' ``trending_feed_start``) or
    after the day after ``ingest_time`` (default: now) is rejected as ``implausible trending_date``.
    """
    started = time.perf_counter()
    store = store or store_for(target_path)
    options = Options(
        target_path,
        quarantine_path,
        ledger_path,
        metrics_path,
        run_id,
        reject_threshold,
        None if allowed_regions is None else frozenset(allowed_regions),
        TrendingDates.at(ingest_time or datetime.now(UTC), earliest_trending_date),
    )
    plan = load_plan(store, plan_path)
    scope = scope_increment(store, plan, target_path)
    staging = staging_folder(target_path, run_id)
    try:
        outcome = process(spark, store, scope, options, staging) if scope.files else Outcome()
    finally:
        store.delete_prefix(staging)
    return record(store, plan, scope, outcome, options, started)


def main(argv: Sequence[str] | None = None) -> None:
    """Glue entry point: arguments from ``getResolvedOptions``, session from the Glue runtime."""
    from awsglue.utils import getResolvedOptions

    args = getResolvedOptions(list(argv if argv is not None else sys.argv), JOB_ARGUMENTS)
    spark = SparkSession.builder.getOrCreate()
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    result = run(
        spark,
        plan_path=args["plan_path"],
        target_path=args["target_path"],
        quarantine_path=args["quarantine_path"],
        ledger_path=args["ledger_path"],
        metrics_path=args["metrics_path"],
        run_id=args["run_id"],
        reject_threshold=float(args["reject_threshold"]),
        allowed_regions=[r.strip() for r in args["allowed_regions"].split(",") if r.strip()],
        earliest_trending_date=date.fromisoformat(args["earliest_trending_date"]),
    )
    print(json.dumps(summary_line(result)), flush=True)


if __name__ == "__main__":
    main()
