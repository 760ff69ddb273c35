"""Glue job ``clean_statistics``: one ingest run's planned trending CSVs -> typed, deduplicated Parquet.

Reads exactly the CSVs of the run's plan (``--plan_path``, written by ``youtube_ingest``'s
``plan_increment``: key, ETag, version, arrival and region of each object, in arrival order; see
``docs/daily-pipeline.md``), in either real format:

* Kaggle "datasnaek" (``video_id,trending_date,title,channel_title,...``; ``trending_date`` is ``YY.DD.MM``;
  tags quoted one by one and joined by ``|``; bare CR or LF inside quoted descriptions; literal ``\\n``);
* "rsrishav" daily files (``video_id,title,publishedAt,channelId,...``; every field quoted; ISO dates).

The format is chosen per file from its header line, so both can sit in one region folder. Output
(``--target_path``, Parquet/snappy): one partition per region and trending day,
``region=xx/dt=YYYY-MM-DD/``, each holding exactly one object named ``data.snappy.parquet``. Columns,
stable for the crawler and the Athena SQL:

============================  ==============  ===================================================
column                        type            meaning
============================  ==============  ===================================================
video_id                      string          11-character YouTube id
trending_date                 date            day the video was trending (``dt`` is its text)
title                         string
channel_id                    string          rsrishav only (null for datasnaek rows)
channel_title                 string
category_id                   bigint          joins category_reference on (region, category_id)
publish_time                  timestamp       UTC
tags                          array<string>   ``[none]``/``[None]`` -> empty array
views, likes, dislikes,       bigint          >= 0
comment_count
thumbnail_link                string
comments_disabled,            boolean         ``True``/``False`` (exact spelling of both formats)
ratings_disabled,
video_error_or_removed                        (null for rsrishav rows: that format has no such column)
description                   string          line breaks normalised to LF (literal ``\\n``, CRLF, CR)
source_file                   string          ``s3://`` URI of the CSV the row came from
source_arrival                timestamp       arrival of that CSV (its ``landing_date=``, else LastModified)
region, dt                    string          partitions; lower-case region, trending date as text
============================  ==============  ===================================================

One run:

1. deletes whatever killed runs left in the staging folder (``_clean_statistics_staging/``, which readers
   and crawlers skip) and checks each planned object's current ETag: an object changed since planning is
   left for the next run;
2. parses the planned files — plus, for the partitions that earlier versions of changed objects wrote,
   every other current object that wrote them (the plan's ``rebuild_sources``) — checks every row,
   deduplicates on (region, video_id, trending_date) in arrival order (``source_arrival``, ``source_file``,
   split offset, row: the last wins) and writes one object per partition to staging;
3. gives each planned file its verdict: a file whose rejected fraction exceeds ``--reject_threshold`` is
   quarantined whole (the increment is computed again without it); the others are processed. A file in
   the folder of a region outside ``--allowed_regions`` (the settings' ``data_regions``, the one region
   definition the Lambda gets too) has every row rejected, so it is quarantined. A file whose bytes are not
   UTF-8 (a leading BOM is fine) is quarantined with ``not_utf8: byte 0xE9 at offset 1234``: Spark reads
   invalid bytes as U+FFFD, so the files whose rows hold one are scanned on the driver (streamed), and a
   U+FFFD really in the file stays. A row trending before ``--earliest_trending_date`` or after the day
   after the ingest is rejected as ``implausible trending_date``;
4. merges each touched partition that already holds data with it (the later arrival wins), except the
   rebuilt ones, which are replaced;
5. commits: each partition's object is replaced by one S3 ``CopyObject`` from staging onto its fixed name
   (readers list the previous object or the new one, never none), then other objects of the partition
   folder are deleted; a rebuilt partition left without rows is deleted;
6. writes the quarantined rows (JSON lines with ``reject_reason`` and ``source_file`` under
   ``<quarantine_path>run_id=<run_id>/``), one ledger document per planned file under ``--ledger_path``
   (after the commit: a crash in between re-processes the file, which is idempotent) and the metrics
   (per file, per partition; ``read = written + duplicates + rejected`` per file) to
   ``<metrics_path>run_id=<run_id>/metrics.json``, and prints a one-line summary.

A quarantined file is a verdict, not an error: the job succeeds and ``youtube_ingest``'s
``record_verdicts`` fails the run naming it. S3 is written through boto3 (Glue provides it; the endpoint
comes from the environment), local folders through the file system (tests, benchmarks).

Deployed alone with ``lake_io.py`` (``--extra-py-files``: the atomic publish both jobs share); it never
imports the project's package.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import math
import sys
import time
import zlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import reduce
from typing import Any, BinaryIO

from lake_io import (
    PARTITION_OBJECT,
    Store,
    bucket_of,
    commit,
    join,
    partition_name,
    published_objects,
    run_folder,
    staged_objects,
    store_for,
)
from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

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


#: Header line -> the canonical column each position maps to (None: the format has no such column).
DATASNAEK_HEADER = (
    "video_id,trending_date,title,channel_title,category_id,publish_time,tags,views,likes,dislikes,"
    "comment_count,thumbnail_link,comments_disabled,ratings_disabled,video_error_or_removed,description"
)
RSRISHAV_HEADER = (
    "video_id,title,publishedAt,channelId,channelTitle,categoryId,trending_date,tags,view_count,likes,"
    "dislikes,comment_count,thumbnail_link,comments_disabled,ratings_disabled,description"
)
_RSRISHAV_CANONICAL = {
    "publishedAt": "publish_time",
    "channelId": "channel_id",
    "channelTitle": "channel_title",
    "categoryId": "category_id",
    "view_count": "views",
}
FORMATS: dict[str, tuple[str, ...]] = {
    "datasnaek": tuple(DATASNAEK_HEADER.split(",")),
    "rsrishav": tuple(_RSRISHAV_CANONICAL.get(c, c) for c in RSRISHAV_HEADER.split(",")),
}
HEADERS = {DATASNAEK_HEADER: "datasnaek", RSRISHAV_HEADER: "rsrishav"}
UNKNOWN_FORMAT = "unknown"

#: Every text column a raw row may carry, as read (all strings), in output order.
RAW_COLUMNS = (
    "video_id",
    "trending_date",
    "title",
    "channel_id",
    "channel_title",
    "category_id",
    "publish_time",
    "tags",
    "views",
    "likes",
    "dislikes",
    "comment_count",
    "thumbnail_link",
    "comments_disabled",
    "ratings_disabled",
    "video_error_or_removed",
    "description",
)
COUNT_COLUMNS = ("views", "likes", "dislikes", "comment_count")
BOOLEAN_COLUMNS = ("comments_disabled", "ratings_disabled", "video_error_or_removed")
KEY = ("region", "video_id", "trending_date")
PARTITION_COLUMNS = ("region", "dt")
DATA_COLUMNS = (*RAW_COLUMNS, "source_file", "source_arrival")
OUTPUT_COLUMNS = (*DATA_COLUMNS, *PARTITION_COLUMNS)
QUARANTINE_COLUMNS = ("reject_reason", "source_file", "region", "format", *RAW_COLUMNS)
#: Folder inside the target where runs stage their output (``_``: readers and crawlers skip it).
STAGING_FOLDER = "_clean_statistics_staging"
#: Ledger document fields, in the order of docs/daily-pipeline.md (the project's ledger module has the same).
LEDGER_FIELDS = (
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


_CORRUPT = "_corrupt_record"
_ROW = "_row"  # position of the record in its read (monotonic within a file's block, see _BLOCK)
#: Byte offset of the split a row was read from (0 for multi-line reads, which never split a file).
_BLOCK = "_block"
#: The row comes from a CRLF-line read (:func:`read_csv` with ``crlf_lines``).
_LINE_READ = "_line_read"
_TRUNCATED = "_truncated"
_FILE = "_file"  # index of the row's file in the run's arrival order
#: The row's text holds U+FFFD: either in the file (EF BF BD) or Spark's replacement of invalid bytes.
_REPLACEMENT = "_replacement"
#: CSV bytes per shuffle partition (one task deduplicates and writes the partitions hashed to it).
CSV_BYTES_PER_TASK = 128 * 1024**2


@dataclass(frozen=True)
class PlannedFile:
    """One object of the plan: a file to take, or (``rebuild``) a processed one read again for a rebuild."""

    key: str
    uri: str
    etag: str | None
    version_id: str | None
    size: int
    arrival: datetime
    region: str | None
    last_modified: str | None = None
    #: Partitions earlier versions of this key wrote: rebuilt from their current writers.
    previous_partitions: tuple[str, ...] = ()
    #: Rebuild source: the partitions whose rows are read again (its other rows are already in place).
    partitions: tuple[str, ...] = ()
    rebuild: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any], rebuild: bool = False) -> PlannedFile:
        try:
            return cls(
                key=str(data["key"]),
                uri=str(data["uri"]),
                etag=str(data["etag"]).strip('"') if data.get("etag") else None,
                version_id=data.get("version_id"),
                size=int(data.get("size") or 0),
                arrival=parse_instant(str(data["arrival"])),
                region=(str(data["region"]).lower() if data.get("region") else None),
                last_modified=data.get("last_modified"),
                previous_partitions=tuple(data.get("previous_partitions") or ()),
                partitions=tuple(data.get("partitions") or ()),
                rebuild=rebuild,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise PlanError(f"plan entry {dict(data)!r} is invalid: {error!r}") from None

    @property
    def order(self) -> tuple[datetime, str]:
        """Arrival order: later arrival wins, then the key that sorts last."""
        return (self.arrival, self.uri)


class PlanError(ValueError):
    """The plan file is missing or malformed; the message names it."""


@dataclass
class Plan:
    run_id: str
    interval: tuple[str | None, str | None]
    take: list[PlannedFile]
    rebuild_sources: list[PlannedFile]


def parse_instant(text: str) -> datetime:
    """ISO-8601 (``Z`` or offset) -> an aware UTC datetime."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"instant {text!r} has no time zone")
    return value.astimezone(UTC)


def parse_plan(text: str, source: str) -> Plan:
    try:
        data = json.loads(text)
        plan = Plan(
            run_id=str(data.get("run_id") or ""),
            interval=(data.get("interval_start"), data.get("interval_end")),
            take=[PlannedFile.from_json(d) for d in data["statistics"]],
            rebuild_sources=[PlannedFile.from_json(d, rebuild=True) for d in data.get("rebuild_sources", [])],
        )
    except (ValueError, KeyError, TypeError) as error:
        raise PlanError(f"{source}: not a clean_statistics plan ({error})") from None
    plan.take.sort(key=lambda f: f.order)
    plan.rebuild_sources.sort(key=lambda f: f.order)
    return plan


@dataclass
class FileResult:
    """One planned file's counts and verdict (metrics ``files`` entry and its ledger document)."""

    file: PlannedFile
    read: int = 0
    rejected: int = 0
    written: int = 0
    partitions: list[str] = field(default_factory=list)
    verdict: str = "processed"
    reason: str | None = None
    output: str | None = None
    version_id: str | None = None
    etag: str | None = None

    @property
    def duplicates(self) -> int:
        return self.read - self.rejected - self.written if self.verdict == "processed" else 0

    def counts(self) -> dict[str, int]:
        """``read = written + duplicates + rejected``; a quarantined file's rows all count as rejected (none
        is published), its rows that failed a check are ``bad_rows`` in the metrics."""
        quarantined = self.verdict == "quarantined"
        return {
            "read": self.read,
            "written": 0 if quarantined else self.written,
            "duplicates": self.duplicates,
            "rejected": self.read if quarantined else self.rejected,
        }

    def metrics(self) -> dict[str, Any]:
        return {
            "key": self.file.key,
            "uri": self.file.uri,
            "region": self.file.region,
            "etag": self.etag or self.file.etag,
            "version_id": self.version_id or self.file.version_id,
            "arrival": iso(self.file.arrival),
            "verdict": self.verdict,
            "reason": self.reason,
            **self.counts(),
            "bad_rows": self.rejected,
            "partitions": sorted(self.partitions),
            "output": self.output,
        }


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


COUNT_FIELDS = ("read", "written", "duplicates", "rejected")


@dataclass
class CleanResult:
    """What a run did; ``metrics()`` is what lands in metrics.json."""

    run_id: str
    files: list[FileResult] = field(default_factory=list)
    #: Planned objects left for the next run (changed or gone since planning), with the reason.
    deferred: list[dict[str, Any]] = field(default_factory=list)
    #: Partition -> rows after the commit.
    partitions: dict[str, int] = field(default_factory=dict)
    merged: list[str] = field(default_factory=list)
    rebuilt: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    rebuild_sources: list[str] = field(default_factory=list)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    reject_threshold: float = 0.01
    seconds: float = 0.0

    def total(self) -> dict[str, int]:
        return {f: sum(r.counts()[f] for r in self.files) for f in COUNT_FIELDS}

    def regions(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for r in self.files:
            entry = out.setdefault(r.file.region or "", dict.fromkeys(COUNT_FIELDS, 0))
            for name, value in r.counts().items():
                entry[name] += value
        return dict(sorted(out.items()))

    @property
    def quarantined(self) -> list[FileResult]:
        return [r for r in self.files if r.verdict == "quarantined"]

    def metrics(self) -> dict[str, Any]:
        return {
            "job": "clean_statistics",
            "run_id": self.run_id,
            **self.total(),
            "files_processed": sum(r.verdict == "processed" for r in self.files),
            "files_quarantined": len(self.quarantined),
            "files_deferred": len(self.deferred),
            "reject_threshold": self.reject_threshold,
            "regions": self.regions(),
            "rejected_by_reason": dict(sorted(self.rejected_by_reason.items())),
            "partitions_written": len(self.partitions),
            "partitions": {p: self.partitions[p] for p in sorted(self.partitions)},
            "merged": sorted(self.merged),
            "rebuilt": sorted(self.rebuilt),
            "deleted": sorted(self.deleted),
            "rebuild_sources": self.rebuild_sources,
            "files": [r.metrics() for r in self.files],
            "deferred": self.deferred,
            "seconds": round(self.seconds, 2),
        }


@dataclass(frozen=True)
class SourceFile:
    """One input CSV as listed before reading: what the driver learns from its first and last bytes."""

    path: str
    size: int
    region: str | None
    format: str
    header: str
    #: The file ends inside a quoted field (odd number of ``"``): its last record was cut off.
    truncated: bool = False
    #: The file ends with CRLF (Kaggle original): it can be read as CRLF-separated lines, split in parallel.
    crlf: bool = False
    #: Why the file cannot be read at all (``not_gzip: …``): it is quarantined without being parsed.
    unreadable: str | None = None


# ---- pure helpers (no Spark) ---------------------------------------------------------------------


def detect_format(header: str) -> str:
    """The format named by a file's header line (BOM, quotes, spaces and line ends ignored)."""
    cleaned = header.lstrip("\ufeff").strip().replace('"', "").replace(" ", "")
    return HEADERS.get(cleaned, UNKNOWN_FORMAT)


def region_of(path: str) -> str | None:
    """``region=xx`` folder of a path, lower case; None when the file is not in such a folder."""
    for part in reversed(path.split("/")[:-1]):
        if part.lower().startswith("region="):
            value = part.split("=", 1)[1].strip().lower()
            return value if len(value) == 2 and value.isalpha() else None
    return None


def exceeds_threshold(read: int, rejected: int, threshold: float) -> bool:
    """A file with no rows never exceeds it."""
    return bool(read) and rejected / read > threshold


#: Bytes the driver reads at a time when it checks a file's encoding.
SCAN_CHUNK_BYTES = 8 * 1024**2


def first_invalid_utf8(chunks: Iterable[bytes]) -> tuple[int, int] | None:
    """(offset, value) of the first byte of ``chunks`` (one stream, in order) not valid in UTF-8, or None.

    A leading BOM is valid UTF-8 (EF BB BF), and so is a real U+FFFD (EF BF BD). A sequence cut by a chunk
    boundary is carried over to the next chunk; one still incomplete at the end is invalid.
    """
    offset = 0
    carry = b""
    for chunk in chunks:
        data = carry + chunk
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as error:
            if error.reason != "unexpected end of data" or error.end != len(data):
                return offset + error.start, data[error.start]
            offset, carry = offset + error.start, data[error.start :]
        else:
            offset, carry = offset + len(data), b""
    return (offset, carry[0]) if carry else None


def not_utf8_reason(invalid: tuple[int, int], compressed: bool = False) -> str:
    """``not_utf8: byte 0xE9 at offset 1234`` (offset in the decompressed text of a ``.gz`` object)."""
    offset, value = invalid
    where = " of the decompressed text" if compressed else ""
    return f"not_utf8: byte 0x{value:02X} at offset {offset}{where}"


def stream_chunks(stream: BinaryIO | gzip.GzipFile, size: int = SCAN_CHUNK_BYTES) -> Iterable[bytes]:
    return iter(lambda: stream.read(size), b"")


def scan_utf8(store: Store, uri: str) -> str | None:
    """The ``not_utf8`` reason of an object whose bytes are not valid UTF-8 (streamed), else None."""
    with store.open_binary(uri) as raw:
        compressed = is_compressed(uri)
        stream = gzip.GzipFile(fileobj=raw) if compressed else raw
        invalid = first_invalid_utf8(stream_chunks(stream))
    return not_utf8_reason(invalid, compressed) if invalid else None


@dataclass(frozen=True)
class TrendingDates:
    """The trending days a row may carry: not before the trending feed existed (``--earliest_trending_date``,
    a setting), not after the ingest (its UTC day + 1, for time zones ahead of UTC)."""

    earliest: date | None
    latest: date

    @classmethod
    def at(cls, ingest: datetime, earliest: date | None) -> TrendingDates:
        return cls(earliest, (ingest.astimezone(UTC) + timedelta(days=1)).date())

    def implausible(self, day: Column) -> Column:
        late = day > F.lit(self.latest)
        return late if self.earliest is None else (day < F.lit(self.earliest)) | late


def quarantine_reason(read: int, rejected: int, threshold: float, reasons: Mapping[str, int]) -> str:
    """``reject_threshold: 966 of 966 rows rejected (100.00% > 1.00%): wrong column count 900, ...``."""
    detail = ", ".join(f"{text} {n}" for text, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    return (
        f"reject_threshold: {rejected} of {read} rows rejected ({rejected / read:.2%} > {threshold:.2%})"
        + (f": {detail}" if detail else "")
    )


def shuffle_partitions(sizes: Iterable[int], parallelism: int) -> int:
    """Tasks that deduplicate and write: ~``CSV_BYTES_PER_TASK`` of CSV each, a multiple of the cores."""
    parallelism = max(1, parallelism)
    wanted = max(parallelism, math.ceil(sum(sizes) / CSV_BYTES_PER_TASK))
    return wanted + (-wanted % parallelism)


def ledger_document_name(key: str, etag: str) -> str:
    """``<sha256 hex of the key>_<ETag without quotes>.json`` (docs/daily-pipeline.md)."""
    return f"{hashlib.sha256(key.encode('utf-8')).hexdigest()}_{etag.strip(chr(34))}.json"


def ledger_document(
    result: FileResult, plan: Plan, run_id: str, bucket: str, recorded_at: str
) -> dict[str, Any]:
    """The ledger document of one planned file, after its data was committed."""
    f = result.file
    processed = result.verdict == "processed"
    counts = result.counts()
    doc = {
        "key": f.key,
        "bucket": bucket,
        "version_id": result.version_id or f.version_id,
        "etag": result.etag or f.etag,
        "size": f.size,
        "last_modified": f.last_modified,
        "arrival": iso(f.arrival),
        "kind": "statistics",
        "region": f.region,
        "verdict": result.verdict,
        "reason": result.reason,
        "run_id": plan.run_id or run_id,
        "interval_start": plan.interval[0],
        "interval_end": plan.interval[1],
        "rows_read": counts["read"],
        "rows_written": counts["written"],
        "duplicates": counts["duplicates"],
        "rejected": counts["rejected"],
        "partitions": sorted(result.partitions) if processed else [],
        "output": result.output,
        "recorded_by": "clean_statistics",
        "recorded_at": recorded_at,
    }
    if tuple(doc) != LEDGER_FIELDS:
        raise AssertionError("ledger documents carry exactly LEDGER_FIELDS, in order")
    return doc


# ---- Spark transforms (DataFrame -> DataFrame) ---------------------------------------------------


def raw_schema(fmt: str = UNKNOWN_FORMAT) -> T.StructType:
    """16 string columns plus the corrupt-record column (rows with a wrong column count land there).

    Known formats name the fields as their header does, so Spark's header check stays quiet; columns are
    still taken by position.
    """
    names = [f"_c{i}" for i in range(16)]
    for header, name in HEADERS.items():
        if name == fmt:
            names = header.split(",")
    fields = [T.StructField(n, T.StringType()) for n in names]
    return T.StructType([*fields, T.StructField(_CORRUPT, T.StringType())])


def read_csv(
    spark: SparkSession, paths: Sequence[str], fmt: str = UNKNOWN_FORMAT, crlf_lines: bool = False
) -> DataFrame:
    """Read CSVs of one layout as strings, header skipped, multi-line quoted fields allowed.

    ``multiLine`` is required in general: quoted descriptions hold bare CR (Kaggle originals) or LF
    (converted copies and rsrishav files), and a multi-line file is parsed by one task. With
    ``crlf_lines`` the files are read as CRLF-separated records instead, which splits them across tasks
    (Kaggle originals end every record with CRLF; see :func:`splittable`). A CRLF inside a quoted field
    would cut a record in two: every piece after the first starts inside a quoted field, where no
    11-character id, ``YY.DD.MM`` date, timestamp, counts and booleans follow (Spark does not even flag
    a short line as corrupt here), so such a piece is rejected. :func:`run` therefore makes
    the run read the files whole instead as soon as a row of a line read is rejected (only a description
    holding a whole valid-looking record after a CRLF would slip through). Univocity keeps the Kaggle
    tags ``"a"|"b"`` as raw text (``unescapedQuoteHandling`` default), which :func:`parse_tags` splits.
    """
    reader = (
        spark.read.schema(raw_schema(fmt))
        .option("header", True)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", _CORRUPT)
        .option("quote", '"')
        .option("escape", '"')
        .option("encoding", "UTF-8")
        .option("ignoreLeadingWhiteSpace", False)
        .option("ignoreTrailingWhiteSpace", False)
    )
    if crlf_lines:
        reader = reader.option("multiLine", False).option("lineSep", "\r\n")
    else:
        reader = reader.option("multiLine", True)
    raw = (
        reader.csv(list(paths))
        .withColumn("source_file", F.input_file_name())
        .withColumn(_ROW, F.monotonically_increasing_id())
    )
    if not crlf_lines:
        return raw.withColumn(_BLOCK, F.lit(0).cast("long"))
    # Rows are numbered in file order within a split; the split's offset orders the splits of a file.
    return raw.withColumn(_BLOCK, F.input_file_block_start()).withColumn(_LINE_READ, F.lit(True))


#: Files at least this big, in the datasnaek layout and ending with CRLF, are parsed in parallel.
SPLIT_MIN_BYTES = 64 * 1024**2


def is_compressed(path: str) -> bool:
    """A ``.gz`` object: Spark inflates it by its extension, one task per file (gzip is not splittable)."""
    return path.endswith(".gz")


def splittable(source: SourceFile) -> bool:
    """A Kaggle original big enough to gain from a parallel parse (every record ends with CRLF)."""
    return (
        not is_compressed(source.path)
        and source.crlf
        and not source.truncated
        and source.size >= SPLIT_MIN_BYTES
        and source.header.lstrip("\ufeff") == DATASNAEK_HEADER
    )


def standardize(raw: DataFrame, fmt: str, region: str | None) -> DataFrame:
    """Positional raw columns -> the canonical string columns of ``RAW_COLUMNS`` plus bookkeeping.

    ``fmt`` is the format and ``region`` the region folder (:func:`region_of`) of every file in ``raw``;
    an unknown format keeps the text in the canonical slots of the datasnaek layout so the quarantine
    shows it.
    """
    names = FORMATS.get(fmt, FORMATS["datasnaek"])
    by_name = {name: F.col(f"`{raw.columns[i]}`") for i, name in enumerate(names)}
    columns = [by_name.get(c, F.lit(None).cast("string")).alias(c) for c in RAW_COLUMNS]
    truncated = F.col(_TRUNCATED) if _TRUNCATED in raw.columns else F.lit(False)
    line_read = F.col(_LINE_READ) if _LINE_READ in raw.columns else F.lit(False)
    # Spark decodes invalid UTF-8 as U+FFFD without a word: a row holding one sends its file to the
    # driver's byte scan (run). A byte search per field; rows of valid files rarely hold U+FFFD.
    texts = [F.col(f"`{name}`") for name in raw.columns[: len(names)]] + [F.col(_CORRUPT)]
    replacement = reduce(lambda a, b: a | b, [F.coalesce(t.contains("\ufffd"), F.lit(False)) for t in texts])
    return raw.select(
        *columns,
        "source_file",
        F.lit(region).cast("string").alias("region"),
        F.lit(fmt).alias("format"),
        F.col(_CORRUPT).isNotNull().alias("_wrong_width"),
        replacement.alias(_REPLACEMENT),
        truncated.alias(_TRUNCATED),
        F.col(_ROW),
        F.col(_BLOCK),
        line_read.alias(_LINE_READ),
    )


def parse_tags(tags: Column) -> Column:
    """``"a"|"b"`` (datasnaek), ``a|b`` (rsrishav) -> [a, b]; ``[none]``/``[None]``/empty -> [].

    Each tag loses at most one quote at each end: with ``|`` added at both ends, every tag's edge quote
    sits next to a ``|``, and two plain replacements drop it. No regular expression and no per-element
    lambda (both several times slower; this runs on every row).
    """
    fenced = F.concat(F.lit("|"), tags, F.lit("|"))
    joined = F.replace(F.replace(fenced, F.lit('"|'), F.lit("|")), F.lit('|"'), F.lit("|"))
    cleaned = F.array_remove(F.split(joined, r"\|"), "")
    # octet_length is O(1): only short values are lower-cased to look for the untagged markers.
    untagged = tags.isNull() | ((F.octet_length(tags) <= 8) & F.lower(F.trim(tags)).isin("[none]", ""))
    return F.when(untagged, F.array().cast("array<string>")).otherwise(cleaned)


def parse_trending_date(text: Column) -> Column:
    """``YY.DD.MM`` (datasnaek: 17.14.11 is 2017-11-14) or ISO ``2020-08-12[T00:00:00Z]`` -> date."""
    kaggle = text.rlike(r"^\d{2}\.\d{2}\.\d{2}$")
    iso = text.rlike(r"^\d{4}-\d{2}-\d{2}($|T)")
    return (
        F.when(kaggle, F.to_date(text, "yy.dd.MM"))
        .when(iso, F.to_date(F.substring(text, 1, 10), "yyyy-MM-dd"))
        .otherwise(F.lit(None).cast("date"))
    )


def parse_timestamp(text: Column) -> Column:
    """ISO-8601 with ``Z`` (with or without milliseconds) -> timestamp; needs a UTC session (see :func:`run`).

    The ``Z`` is cut off before the cast: with it, Spark resolves the zone id per row through a regular
    expression compiled each time (the most expensive step of the typing); without it the cast uses the
    session zone, which :func:`run` sets to UTC.
    """
    iso = text.rlike(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
    local = text.substr(F.lit(1), F.length(text) - 1)
    return F.when(iso, local.cast("timestamp")).otherwise(F.lit(None).cast("timestamp"))


def parse_boolean(text: Column) -> Column:
    """Exactly ``True``/``False`` as both real formats write them; anything else is not a boolean here.

    Upper-case ``TRUE``/``FALSE`` is the signature of a spreadsheet re-save (the altered IN copy), which
    also mangles other values (``#NAME?`` ids), so such files are rejected rather than half trusted.
    """
    return F.when(text == "True", F.lit(True)).when(text == "False", F.lit(False))


def normalize_description(text: Column, fmt: Column) -> Column:
    """One line-break convention: CRLF / bare CR -> LF; datasnaek's literal ``\\n`` -> LF.

    Byte-level replacements, not regular expressions: descriptions are most of the bytes.
    """
    # Few descriptions hold a CR: one scan to find out instead of two replacements. ``contains`` checks
    # the first byte before comparing (``instr``/``replace`` compare at every position).
    crlf = F.replace(F.replace(text, F.lit("\r\n"), F.lit("\n")), F.lit("\r"), F.lit("\n"))
    lf = F.when(text.contains("\r"), crlf).otherwise(text)
    literal = F.when(lf.contains("\\n"), F.replace(lf, F.lit("\\n"), F.lit("\n"))).otherwise(lf)
    return F.when(fmt == "datasnaek", literal).otherwise(lf)


def _is_count(text: Column) -> Column:
    return text.rlike(r"^[0-9]{1,18}$")


def _is_negative(text: Column) -> Column:
    return text.rlike(r"^-[0-9]{1,18}$")


#: Every reason a row can be rejected for, in the order the checks run (the first that applies wins).
REJECT_REASONS = (
    "truncated record (file ends inside a quoted field)",
    "unrecognised header (not a known statistics format)",
    "wrong column count",
    "file not in a region=xx folder of an allowed region",
    "invalid video_id",
    "unparseable trending_date",
    "implausible trending_date",
    "unparseable publish_time",
    "invalid category_id",
    *(f"{kind} {name}" for name in COUNT_COLUMNS for kind in ("negative", "non-numeric")),
    *(f"invalid boolean {name}" for name in BOOLEAN_COLUMNS),
)


def reject_reason(df: DataFrame, dates: TrendingDates | None = None) -> Column:
    """First reason a standardized row cannot be typed, or null when it is good (one CASE, no UDF).

    ``dates``: the plausible trending days (None: any parseable day; ``99.14.11`` would be 2099-11-14).

    ``df`` carries the parsed ``_date`` and ``_publish_ts`` (:func:`classify` adds them), so the typing
    reuses them instead of parsing again. A count is first checked for the valid form; only a value that
    fails it is checked for a minus sign (one regular expression per count on good rows).
    """
    c = F.col
    cases: list[tuple[Column, Column]] = [
        (c(_TRUNCATED), F.lit(REJECT_REASONS[0])),
        (c("format") == UNKNOWN_FORMAT, F.lit(REJECT_REASONS[1])),
        (c("_wrong_width"), F.lit(REJECT_REASONS[2])),
        (c("region").isNull(), F.lit(REJECT_REASONS[3])),
        (~F.coalesce(c("video_id").rlike(r"^[A-Za-z0-9_-]{11}$"), F.lit(False)), F.lit(REJECT_REASONS[4])),
        (c("_date").isNull(), F.lit(REJECT_REASONS[5])),
        (dates.implausible(c("_date")) if dates else F.lit(False), F.lit(REJECT_REASONS[6])),
        (c("_publish_ts").isNull(), F.lit(REJECT_REASONS[7])),
        (~F.coalesce(c("category_id").rlike(r"^[0-9]{1,9}$"), F.lit(False)), F.lit(REJECT_REASONS[8])),
    ]
    texts = list(REJECT_REASONS[: len(cases)])
    for name in COUNT_COLUMNS:
        negative = F.coalesce(_is_negative(c(name)), F.lit(False))
        reason = F.when(negative, F.lit(f"negative {name}")).otherwise(F.lit(f"non-numeric {name}"))
        cases.append((~F.coalesce(_is_count(c(name)), F.lit(False)), reason))
        texts += [f"negative {name}", f"non-numeric {name}"]
    for name in BOOLEAN_COLUMNS:
        present = c(name).isNotNull() | (c("format") != "rsrishav")
        cases.append((present & parse_boolean(c(name)).isNull(), F.lit(f"invalid boolean {name}")))
        texts.append(f"invalid boolean {name}")
    if texts != list(REJECT_REASONS):  # the metrics count rejects per REJECT_REASONS entry
        raise AssertionError("the checks must produce exactly REJECT_REASONS, in order")
    check, value = cases[0]
    reason = F.when(check, value)
    for check, value in cases[1:]:
        reason = reason.when(check, value)
    return reason


def classify(standardized: DataFrame, dates: TrendingDates | None = None) -> DataFrame:
    """Standardized rows with ``reject_reason`` (null for good rows) and the parsed ``_date`` (kept when
    the rows already carry it) and ``_publish_ts``; the check-only flags dropped."""
    if "_date" not in standardized.columns:
        standardized = standardized.withColumn("_date", parse_trending_date(F.col("trending_date")))
    parsed = standardized.withColumn("_publish_ts", parse_timestamp(F.col("publish_time")))
    return parsed.withColumn("reject_reason", reject_reason(parsed, dates)).drop("_wrong_width", _TRUNCATED)


def to_typed(good: DataFrame, arrivals: Sequence[datetime]) -> DataFrame:
    """Classified good rows typed to the output schema; ``arrivals`` by file index (``_FILE``)."""
    c = F.col
    typed = {
        "source_arrival": F.element_at(F.array(*[F.lit(a) for a in arrivals]), c(_FILE) + 1),
        "trending_date": c("_date"),
        "category_id": c("category_id").cast("bigint"),
        "publish_time": c("_publish_ts"),
        "tags": parse_tags(c("tags")),
        # Spark reads a quoted empty field ("") as null; both formats always carry a description.
        "description": F.coalesce(normalize_description(c("description"), c("format")), F.lit("")),
        **{name: c(name).cast("bigint") for name in COUNT_COLUMNS},
        **{name: parse_boolean(c(name)) for name in BOOLEAN_COLUMNS},
    }
    return good.select(*[typed.get(name, c(name)).alias(name) for name in OUTPUT_COLUMNS])


def rejected_rows(classified: DataFrame) -> DataFrame:
    """Rejected rows as raw text, with reason and source, for the quarantine."""
    return classified.where(F.col("reject_reason").isNotNull()).select(*QUARANTINE_COLUMNS)


# ---- I/O at the edges ----------------------------------------------------------------------------


def _jvm(spark: SparkSession) -> Any:
    jvm = spark.sparkContext._jvm
    if jvm is None:
        raise RuntimeError("no JVM behind this SparkSession")
    return jvm


def _hadoop_fs(spark: SparkSession, path: str) -> tuple[Any, Any]:
    jvm = _jvm(spark)
    conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[attr-defined]
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    return hpath.getFileSystem(conf), hpath


#: Files without a final newline are checked for quote parity on the driver up to this many bytes in
#: total (a Spark job costs more than reading a few MB); beyond, in parallel with Spark.
DRIVER_PARITY_BYTES = 64 * 1024**2


#: The longest header line read from a gzip stream (a real header is a few hundred bytes).
MAX_HEADER_BYTES = 64 * 1024


def inspect_gzip(raw: BinaryIO) -> tuple[str, bool]:
    """The header line of a gzip-compressed CSV, and whether its text ends inside a quoted field (no final
    newline and an odd number of ``"``), streamed in chunks; raises on a stream that is not complete gzip."""
    with gzip.GzipFile(fileobj=raw) as text:
        first = text.readline(MAX_HEADER_BYTES)
        quotes, last = first.count(b'"'), first[-1:]
        for chunk in stream_chunks(text):
            quotes, last = quotes + chunk.count(b'"'), chunk[-1:]
    header = first.split(b"\n", 1)[0].decode("utf-8", "replace")
    return header, bool(last) and last not in (b"\n", b"\r") and quotes % 2 == 1


def inspect_files(
    spark: SparkSession, files: Sequence[tuple[str, int]], store: Store | None = None
) -> list[SourceFile]:
    """Header (-> format) and last byte of each file; quote parity for files that do not end in a newline.

    Only files without a final newline can end inside a quoted field unnoticed by the CSV reader, so only
    those are scanned for an odd number of quote characters.
    """
    jvm = _jvm(spark)
    sources: list[SourceFile] = []
    suspects: list[tuple[str, int]] = []
    odd: set[str] = set()
    for path, size in files:
        fs, hpath = _hadoop_fs(spark, path)
        header = ""
        last = -1
        before_last = -1
        if is_compressed(path):
            # No seeking in a gzip stream: the driver inflates it, streamed, to see its first and last bytes.
            try:
                with (store or store_for(path)).open_binary(path) as raw:
                    header, ends_in_quotes = inspect_gzip(raw)
            except (OSError, EOFError, zlib.error) as error:
                reason = f"not_gzip: {error}"
                sources.append(SourceFile(path, size, region_of(path), UNKNOWN_FORMAT, "", unreadable=reason))
                continue
            if ends_in_quotes:
                odd.add(path)
            sources.append(SourceFile(path, size, region_of(path), detect_format(header), header[:300]))
            continue
        if size:
            stream = fs.open(hpath)
            try:
                reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(stream, "UTF-8"))
                header = reader.readLine() or ""
                stream.seek(max(0, size - 2))
                before_last = stream.read() if size >= 2 else -1
                last = stream.read()
            finally:
                stream.close()
        if size and last not in (10, 13):
            suspects.append((path, size))
        crlf = (before_last, last) == (13, 10)
        sources.append(
            SourceFile(path, size, region_of(path), detect_format(header), header[:300], crlf=crlf)
        )
    if sum(size for _, size in suspects) <= DRIVER_PARITY_BYTES:
        odd |= {path for path, _ in suspects if _read_bytes(spark, path).count(b'"') % 2 == 1}
    else:
        odd |= _odd_quote_files(spark, [path for path, _ in suspects])
    return [dataclasses.replace(s, truncated=s.path in odd) for s in sources]


def _read_bytes(spark: SparkSession, path: str) -> bytes:
    """A whole (small) file through Hadoop's FS, so s3:// and local paths both work."""
    fs, hpath = _hadoop_fs(spark, path)
    stream = fs.open(hpath)
    try:
        return bytes(_jvm(spark).org.apache.commons.io.IOUtils.toByteArray(stream))
    finally:
        stream.close()


def _odd_quote_files(spark: SparkSession, paths: Sequence[str]) -> set[str]:
    """Files whose total number of ``"`` characters is odd, i.e. that end inside a quoted field."""
    lines = spark.read.option("wholetext", False).text(list(paths))
    quotes = F.length("value") - F.length(F.replace("value", F.lit('"'), F.lit("")))
    per_file = lines.groupBy(F.input_file_name().alias("file")).agg(F.sum(quotes).alias("quotes"))
    odd = {row["file"] for row in per_file.collect() if row["quotes"] % 2 == 1}
    # input_file_name() gives file:///x where Hadoop listed file:/x: match on the path after the scheme.
    return {p for p in paths if any(_same_file(p, o) for o in odd)}


def _same_file(a: str, b: str) -> bool:
    def strip(uri: str) -> str:
        return uri.split(":", 1)[1].lstrip("/") if ":" in uri else uri.lstrip("/")

    return strip(a) == strip(b)


def read_sources(spark: SparkSession, sources: Sequence[SourceFile], split: bool = True) -> DataFrame:
    """All files, standardized to ``RAW_COLUMNS`` strings: one scan per layout and region folder.

    The region is the driver's :func:`region_of` of the files in the scan, a constant, instead of an
    expression evaluated on every row's file name. Big Kaggle originals (:func:`splittable`, unless
    ``split`` is false) are read as CRLF lines, in parallel. Files that end inside a quoted field get
    their own scan, where the last record of each file (the highest row number: a multi-line file is
    never split, so its rows are numbered in file order) is flagged; the small window this needs only
    sees those files.
    """
    frames: list[DataFrame] = []
    groups: dict[tuple[bool, bool, str, str], list[str]] = {}
    for source in sources:
        lines = split and splittable(source)
        key = (lines, source.truncated and not lines, source.format, source.region or "")
        groups.setdefault(key, []).append(source.path)
    for (lines, truncated, fmt, region), paths in sorted(groups.items()):
        raw = read_csv(spark, paths, fmt, crlf_lines=lines)
        if truncated:
            last = F.max(_ROW).over(Window.partitionBy("source_file"))
            raw = raw.withColumn(_TRUNCATED, F.col(_ROW) == last)
        frames.append(standardize(raw, fmt, region or None))
    return reduce(DataFrame.unionByName, frames)


#: Parquet dictionaries pay off for repeated values only: free text is written plain, without first
#: building a dictionary that overflows and is thrown away.
PARQUET_OPTIONS = {
    "compression": "snappy",
    **{
        f"parquet.enable.dictionary#{name}": "false" for name in ("title", "description", "tags.list.element")
    },
}


def write_partitions(frame: DataFrame, path: str) -> None:
    """Parquet/snappy partitioned by region and day into a fresh staging folder.

    ``frame`` is hash-partitioned on (region, dt) and sorted within its tasks, so every partition folder
    gets exactly one file.
    """
    (
        frame.write.mode("overwrite")
        .option("partitionOverwriteMode", "static")
        .options(**PARQUET_OPTIONS)
        .partitionBy(*PARTITION_COLUMNS)
        .parquet(path)
    )


def _normalized_file_name(name: Column) -> Column:
    """Spark names local files ``file:///x`` where Hadoop paths print ``file:/x``: one spelling."""
    return F.when(name.startswith("file:///"), F.concat(F.lit("file:/"), name.substr(9, 1 << 30))).otherwise(
        name
    )


def spark_file_name(spark: SparkSession, path: str) -> str:
    """How ``input_file_name()`` names ``path`` (qualified, URI-encoded), normalized like the column."""
    fs, hpath = _hadoop_fs(spark, path)
    name = str(fs.makeQualified(hpath).toUri().toString())
    return "file:/" + name[len("file:///") :] if name.startswith("file:///") else name


def _array(values: Sequence[Any]) -> Column:
    return F.array(*[F.lit(v) for v in values])


@dataclass
class Staged:
    """What one staging write saw, per file index: rows read and rejected, the partitions of its good rows."""

    read: dict[int, int]
    rejected: dict[int, int]
    partitions: dict[int, set[str]]
    #: Rejected rows of CRLF-line reads: a record may have been cut by a CRLF inside a quoted field.
    broken_rows: int
    #: Rows holding U+FFFD, per file index (taken files): their files' bytes are checked on the driver.
    replacement: dict[int, int] = field(default_factory=dict)


def stage_increment(
    spark: SparkSession,
    files: Sequence[PlannedFile],
    sources: Sequence[SourceFile],
    split: bool,
    path: str,
    dates: TrendingDates | None = None,
) -> Staged:
    """Parse, check, deduplicate and type ``files`` (in arrival order) into ``path``: one Spark action.

    Rows cross one shuffle on (region, trending day) before they are checked, so the checks run in
    parallel even for a multi-line file that one task parses; duplicates always meet in one task, which
    keeps the last in arrival order (file position, then split offset, then row). Rows of rebuild sources
    are kept only in the partitions being rebuilt. Counts come back through observations.
    """
    names = {spark_file_name(spark, f.uri): i for i, f in enumerate(files)}
    index = F.create_map(*[x for name, i in names.items() for x in (F.lit(name), F.lit(i))])
    raw = read_sources(spark, sources, split)
    with_file = raw.withColumn(_FILE, F.element_at(index, _normalized_file_name(F.col("source_file"))))
    day = parse_trending_date(F.col("trending_date"))
    keyed = with_file.withColumn(
        "source_file", F.element_at(_array([f.uri for f in files]), F.col(_FILE) + 1)
    )
    keyed = keyed.withColumn("_date", day).withColumn("dt", F.date_format("_date", "yyyy-MM-dd"))
    tasks = shuffle_partitions([f.size for f in files], spark.sparkContext.defaultParallelism)
    classified = classify(keyed.repartition(tasks, "region", "dt"), dates)

    take = [i for i, f in enumerate(files) if not f.rebuild]
    rejected = F.col("reject_reason").isNotNull()
    file_col = F.col(_FILE)
    seen = Observation("clean_statistics_files")
    observed = classified.observe(
        seen,
        F.count_if(file_col.isNull()).alias("unknown"),
        *[F.count_if(file_col == i).alias(f"read:{i}") for i in take],
        *[F.count_if((file_col == i) & rejected).alias(f"rejected:{i}") for i in take],
        *[F.count_if((file_col == i) & F.col(_REPLACEMENT)).alias(f"replacement:{i}") for i in take],
        F.count_if(F.col(_LINE_READ) & rejected).alias("broken"),
        # As JSON text: observed arrays come back as Java objects.
        F.to_json(
            F.collect_set(
                F.when(
                    ~rejected,
                    F.struct(file_col.alias("f"), F.col("region").alias("r"), F.col("dt").alias("d")),
                )
            )
        ).alias("partitions"),
    )
    is_take = F.element_at(_array([not f.rebuild for f in files]), file_col + 1)
    allowed = F.element_at(
        F.array(*[F.array(*[F.lit(p) for p in f.partitions]).cast("array<string>") for f in files]),
        file_col + 1,
    )
    name = F.concat(F.lit("region="), F.col("region"), F.lit("/dt="), F.col("dt"))
    good = observed.where(~rejected & (is_take | F.array_contains(allowed, name)))
    write_partitions(to_typed(deduplicate(good), [f.arrival for f in files]), path)

    seen_values = seen.get
    if int(seen_values["unknown"]):
        raise RuntimeError(
            f"clean_statistics: {seen_values['unknown']} rows came from a file not in the plan "
            f"(Spark names: {sorted(names)})"
        )
    partitions: dict[int, set[str]] = {}
    for row in json.loads(seen_values["partitions"] or "[]"):
        partitions.setdefault(int(row["f"]), set()).add(partition_name(row["r"], row["d"]))
    return Staged(
        read={i: int(seen_values[f"read:{i}"]) for i in take},
        rejected={i: int(seen_values[f"rejected:{i}"]) for i in take},
        partitions=partitions,
        broken_rows=int(seen_values["broken"]),
        replacement={i: int(seen_values[f"replacement:{i}"]) for i in take},
    )


def deduplicate(good: DataFrame) -> DataFrame:
    """One row per (region, video_id, trending_date): the last in arrival order.

    Files are numbered in arrival order (``_FILE``); within a file, rows of a line-split read are ordered by
    their split's offset (``_BLOCK``), then by their number within it. ``good`` is hash-partitioned on
    (region, dt), which the window's keys contain: no second shuffle, and the window's sort is the one the
    partitioned write needs.
    """
    window = Window.partitionBy("region", "dt", "video_id").orderBy(
        F.col(_FILE).desc(), F.col(_BLOCK).desc(), F.col(_ROW).desc()
    )
    return good.withColumn("_rank", F.row_number().over(window)).where(F.col("_rank") == 1)


def read_partition_objects(
    spark: SparkSession, root: str, uris: Sequence[str], columns: Sequence[str] = OUTPUT_COLUMNS
) -> DataFrame:
    """Partition objects below ``root`` with ``region`` and ``dt`` as (string) columns."""
    return spark.read.option("basePath", root.rstrip("/") + "/").parquet(*uris).select(*columns)


def merge_partitions(
    spark: SparkSession,
    staged_root: str,
    staged: Sequence[str],
    target_root: str,
    existing: Sequence[str],
    path: str,
    tasks: int,
) -> None:
    """This run's rows of some partitions with the rows already published there: the later arrival wins.

    Existing rows are the winners of earlier runs; a tie on (arrival, file) means the same file was
    processed again (a crash between commit and ledger), and this run's row wins.
    """
    new = read_partition_objects(spark, staged_root, staged).withColumn("_origin", F.lit(1))
    old = read_partition_objects(spark, target_root, existing).withColumn("_origin", F.lit(0))
    window = Window.partitionBy("region", "dt", "video_id").orderBy(
        F.col("source_arrival").desc(), F.col("source_file").desc(), F.col("_origin").desc()
    )
    both = new.unionByName(old).repartition(tasks, "region", "dt")
    merged = both.withColumn("_rank", F.row_number().over(window)).where(F.col("_rank") == 1)
    write_partitions(merged.select(*OUTPUT_COLUMNS), path)


def write_quarantine(
    spark: SparkSession,
    files: Sequence[PlannedFile],
    sources: Sequence[SourceFile],
    split: bool,
    path: str,
    dates: TrendingDates | None = None,
) -> dict[str, dict[str, int]]:
    """Rejected rows of ``files`` as JSON lines with reason and source; returns uri -> reason -> rows."""
    names = {spark_file_name(spark, f.uri): f.uri for f in files}
    uri_of = F.create_map(*[x for name, uri in names.items() for x in (F.lit(name), F.lit(uri))])
    raw = read_sources(spark, sources, split)
    classified = classify(
        raw.withColumn("source_file", F.element_at(uri_of, _normalized_file_name(F.col("source_file")))),
        dates,
    )
    rejected_rows(classified).write.mode("overwrite").json(path)
    counts: dict[str, dict[str, int]] = {}
    for row in spark.read.json(path).groupBy("source_file", "reject_reason").count().collect():
        counts.setdefault(row["source_file"], {})[row["reject_reason"]] = int(row["count"])
    return counts


def staging_folder(target_path: str, run_id: str) -> str:
    return f"{target_path.rstrip('/')}/{STAGING_FOLDER}/{run_id}/"


def check_planned(
    store: Store, files: Sequence[PlannedFile]
) -> tuple[list[PlannedFile], list[dict[str, Any]], dict[str, tuple[str, str | None]]]:
    """Files whose current ETag is the planned one; the others are left for the next run, with why."""
    ok: list[PlannedFile] = []
    deferred: list[dict[str, Any]] = []
    current: dict[str, tuple[str, str | None]] = {}
    for f in files:
        head = store.head(f.uri)
        if head is None:
            deferred.append({"key": f.key, "reason": "gone: the object no longer exists"})
        elif f.etag and head[0] != f.etag:
            deferred.append({"key": f.key, "reason": f"changed: ETag {head[0]} since planning ({f.etag})"})
        else:
            ok.append(f)
            current[f.uri] = head
    return ok, deferred, current


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
    result = CleanResult(run_id=run_id, reject_threshold=reject_threshold)
    text = store.read_text(plan_path)
    if text is None:
        raise PlanError(f"no plan at {plan_path}: youtube_ingest's plan_increment writes it for each run")
    plan = parse_plan(text, plan_path)
    # Whatever a killed run left in staging goes first (one run at a time: the job allows one).
    store.delete_prefix(join(target_path, STAGING_FOLDER) + "/")
    take, result.deferred, heads = check_planned(store, plan.take)
    rebuild = sorted({p for f in take for p in f.previous_partitions})
    sources_to_read = [f for f in plan.rebuild_sources if set(f.partitions) & set(rebuild)]
    rebuild_files = [
        dataclasses.replace(f, partitions=tuple(sorted(set(f.partitions) & set(rebuild))))
        for f in sources_to_read
    ]
    result.rebuild_sources = [f.key for f in rebuild_files]
    files = sorted([*take, *rebuild_files], key=lambda f: f.order)
    results = {f.uri: FileResult(f, etag=heads[f.uri][0], version_id=heads[f.uri][1]) for f in take}
    staging = staging_folder(target_path, run_id)
    try:
        if files:
            _process(
                spark,
                store,
                result,
                results,
                files,
                rebuild,
                plan,
                staging,
                target_path,
                quarantine_path,
                run_id,
                reject_threshold,
                None if allowed_regions is None else frozenset(allowed_regions),
                TrendingDates.at(ingest_time or datetime.now(UTC), earliest_trending_date),
            )
    finally:
        store.delete_prefix(staging)
    result.files = [results[f.uri] for f in take]
    recorded_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for r in result.files:
        bucket = bucket_of(r.file.uri)
        doc = ledger_document(r, plan, run_id, bucket, recorded_at)
        store.write_text(
            join(ledger_path, ledger_document_name(r.file.key, doc["etag"] or "")),
            json.dumps(doc, ensure_ascii=False) + "\n",
        )
    result.seconds = time.perf_counter() - started
    store.write_text(
        run_folder(metrics_path, run_id) + "metrics.json", json.dumps(result.metrics(), indent=1)
    )
    return result


def _process(
    spark: SparkSession,
    store: Store,
    result: CleanResult,
    results: dict[str, FileResult],
    files: list[PlannedFile],
    rebuild: list[str],
    plan: Plan,
    staging: str,
    target_path: str,
    quarantine_path: str,
    run_id: str,
    reject_threshold: float,
    allowed_regions: frozenset[str] | None,
    dates: TrendingDates,
) -> None:
    def region(f: PlannedFile) -> str | None:
        """The file's region for its rows: None (every row rejected) outside the allowed regions."""
        return f.region if allowed_regions is None or f.region in allowed_regions else None

    # Timestamps are parsed without their "Z" (parse_timestamp): the session zone must be UTC. Partition
    # values stay text (dt is a string partition key, as the crawler types it).
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
    # Generated code above HotSpot's 8,000-byte limit is never JIT-compiled: Spark's documentation advises
    # this limit on HotSpot; the wide CSV projections otherwise run interpreted (~10% of the job's time).
    spark.conf.set("spark.sql.codegen.hugeMethodLimit", "8000")
    plan_regions = {f.region for f in files if f.region}
    sources = [
        dataclasses.replace(s, region=region(f))
        for s, f in zip(inspect_files(spark, [(f.uri, f.size) for f in files], store), files, strict=True)
    ]
    for s in sources:
        if s.unreadable and s.path in results:
            r = results[s.path]
            r.verdict, r.reason, r.output = "quarantined", s.unreadable, s.path
    readable = [i for i, s in enumerate(sources) if not s.unreadable]
    files, sources = [files[i] for i in readable], [sources[i] for i in readable]
    if not files:
        return
    increment = join(staging, "increment")
    split = True
    staged = stage_increment(spark, files, sources, split, increment, dates)
    if staged.broken_rows:
        # A CRLF inside a quoted field may have cut a record of a line-split read: read every file whole.
        store.delete_prefix(increment + "/")
        split = False
        staged = stage_increment(spark, files, sources, split, increment, dates)
    index = {f.uri: i for i, f in enumerate(files)}
    for uri, r in results.items():
        if uri not in index:
            continue  # unreadable: quarantined above
        i = index[uri]
        r.read, r.rejected = staged.read[i], staged.rejected[i]
        r.partitions = sorted(staged.partitions.get(i, set()))
        # U+FFFD in its rows or header: the bytes decide whether it is real text or Spark's replacement.
        if staged.replacement[i] or "\ufffd" in sources[i].header:
            r.reason = scan_utf8(store, uri)
            if r.reason:
                r.verdict, r.output = "quarantined", uri
                continue
        if exceeds_threshold(r.read, r.rejected, reject_threshold):
            r.verdict = "quarantined"
    quarantined = {uri for uri, r in results.items() if r.verdict == "quarantined"}
    if quarantined:
        # A quarantined file contributes nothing: the increment is computed again without it.
        store.delete_prefix(increment + "/")
        keep = [i for i, f in enumerate(files) if f.uri not in quarantined]
        files, sources = [files[i] for i in keep], [sources[i] for i in keep]
        if files:
            stage_increment(spark, files, sources, split, increment, dates)
    staged_final = staged_objects(store, increment)
    touched_regions = {p.split("/", 1)[0].split("=", 1)[1] for p in [*staged_final, *rebuild]} | plan_regions
    published = published_objects(store, target_path, touched_regions)
    root = target_path.rstrip("/") + "/"
    merge = sorted(
        p
        for p in staged_final
        if p not in rebuild and f"{root}{p}/{PARTITION_OBJECT}" in published.get(p, [])
    )
    final = dict(staged_final)
    if merge:
        merged_path = join(staging, "merged")
        tasks = shuffle_partitions([], spark.sparkContext.defaultParallelism)
        merge_partitions(
            spark,
            increment,
            [staged_final[p] for p in merge],
            target_path,
            [f"{root}{p}/{PARTITION_OBJECT}" for p in merge],
            merged_path,
            tasks,
        )
        final.update(staged_objects(store, merged_path))
    result.merged = merge
    result.rebuilt = sorted(p for p in rebuild if p in final)
    result.deleted = commit(store, target_path, final, rebuild, published)
    if final:
        objects = [f"{root}{p}/{PARTITION_OBJECT}" for p in sorted(final)]
        counted = read_partition_objects(spark, root, objects, ("region", "dt", "source_file"))
        for row in counted.groupBy("region", "dt", "source_file").count().collect():
            partition = partition_name(row["region"], row["dt"])
            result.partitions[partition] = result.partitions.get(partition, 0) + int(row["count"])
            if row["source_file"] in results:
                results[row["source_file"]].written += int(row["count"])
    rejecting = [f for f in files if f.uri in results and results[f.uri].rejected] + [
        f for f in plan.take if f.uri in quarantined and results[f.uri].rejected
    ]
    by_reason: dict[str, int] = {}
    if rejecting:
        q_files = sorted({f.uri: f for f in rejecting}.values(), key=lambda f: f.order)
        q_sources = [
            dataclasses.replace(s, region=region(f))
            for s, f in zip(
                inspect_files(spark, [(f.uri, f.size) for f in q_files], store), q_files, strict=True
            )
        ]
        folder = run_folder(quarantine_path, run_id)
        counts = write_quarantine(spark, q_files, q_sources, split, folder, dates)
        for uri, reasons in counts.items():
            for text, n in reasons.items():
                by_reason[text] = by_reason.get(text, 0) + n
            r = results[uri]
            if r.verdict == "quarantined" and r.reason is None:
                r.output = folder
                r.reason = quarantine_reason(r.read, r.rejected, reject_threshold, reasons)
    result.rejected_by_reason = by_reason
    for r in results.values():
        if r.verdict == "processed":
            r.output = target_path
        elif r.reason is None:
            r.reason = quarantine_reason(r.read, r.rejected, reject_threshold, {})


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


def summary_line(result: CleanResult) -> dict[str, Any]:
    """The stdout summary: metrics without the per-file and per-partition detail."""
    return {k: v for k, v in result.metrics().items() if k not in ("files", "regions", "partitions")}


if __name__ == "__main__":
    main()
