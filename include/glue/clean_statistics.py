"""Glue job ``clean_statistics``: the raw per-region trending CSVs -> typed, deduplicated Parquet.

Reads every ``*.csv`` under ``--source_path`` (``region=xx/`` folders), in either real format:

* Kaggle "datasnaek" (``video_id,trending_date,title,channel_title,...``; ``trending_date`` is ``YY.DD.MM``;
  tags quoted one by one and joined by ``|``; bare CR or LF inside quoted descriptions; literal ``\\n``);
* "rsrishav" daily files (``video_id,title,publishedAt,channelId,...``; every field quoted; ISO dates).

The format is chosen per file from its header line, so both can sit in one region folder. Output
(``--target_path``, Parquet/snappy, ``region=xx/`` partitions, dynamic partition overwrite: a re-run
replaces exactly the regions it read) has these columns, stable for the crawler and the Athena SQL:

============================  ==============  ===================================================
column                        type            meaning
============================  ==============  ===================================================
video_id                      string          11-character YouTube id
trending_date                 date            day the video was trending
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
source_file                   string          URI of the CSV the row came from
region                        string          partition; lower-case, from the ``region=xx`` folder
============================  ==============  ===================================================

Rows are deduplicated on (region, video_id, trending_date); the last one seen wins (highest source file
name, then last in its file). Rows that cannot be parsed or typed are never dropped: they go, as raw text
with ``reject_reason`` and ``source_file``, to ``<quarantine_path>run_id=<run_id>/`` (JSON lines). Counts
satisfy ``read = written + duplicates + rejected`` (in total and per region) and are written to
``<metrics_path>run_id=<run_id>/metrics.json`` and printed as one JSON line. When a region's rejected
fraction exceeds ``--reject_threshold`` the job fails before writing any statistics, so a file in the wrong
format never silently replaces (or empties) a region.

Self-contained on purpose: Glue uploads this one file; it never imports the project's package.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

JOB_ARGUMENTS = [
    "JOB_NAME",
    "source_path",
    "target_path",
    "quarantine_path",
    "reject_threshold",
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
OUTPUT_COLUMNS = (*RAW_COLUMNS, "source_file", "region")
QUARANTINE_COLUMNS = ("reject_reason", "source_file", "region", "format", *RAW_COLUMNS)

_CORRUPT = "_corrupt_record"
_ROW = "_row"  # position of the record in its read (monotonic within a file's block, see _BLOCK)
#: Byte offset of the split a row was read from (0 for multi-line reads, which never split a file).
_BLOCK = "_block"
#: The row comes from a CRLF-line read (:func:`read_csv` with ``crlf_lines``).
_LINE_READ = "_line_read"
_TRUNCATED = "_truncated"
#: Parquet output per region is aimed at roughly this many CSV bytes per file (~128-200 MB of Parquet).
CSV_BYTES_PER_OUTPUT_FILE = 512 * 1024**2


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


@dataclass
class Counts:
    read: int = 0
    written: int = 0
    duplicates: int = 0
    rejected: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "read": self.read,
            "written": self.written,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
        }


@dataclass
class CleanResult:
    """What a run did; ``metrics()`` is what lands in metrics.json."""

    run_id: str
    regions: dict[str, Counts] = field(default_factory=dict)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)
    reject_threshold: float = 0.01
    failed_regions: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> Counts:
        return Counts(
            *(
                sum(getattr(c, f) for c in self.regions.values())
                for f in ("read", "written", "duplicates", "rejected")
            )
        )

    def metrics(self) -> dict[str, Any]:
        return {
            "job": "clean_statistics",
            "run_id": self.run_id,
            **self.total.as_dict(),
            "reject_threshold": self.reject_threshold,
            "failed_regions": self.failed_regions,
            "regions": {r: c.as_dict() for r, c in sorted(self.regions.items())},
            "rejected_by_reason": dict(sorted(self.rejected_by_reason.items())),
            "files": self.files,
            "ignored_files": self.ignored_files,
            "seconds": round(self.seconds, 2),
        }


class RejectThresholdExceeded(RuntimeError):
    """Too many rows of a region could not be parsed: most likely a file in the wrong format."""

    def __init__(self, message: str, result: CleanResult) -> None:
        super().__init__(message)
        self.result = result


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


def files_per_region(sources: Sequence[SourceFile], parallelism: int = 1) -> dict[str, int]:
    """Output files per region, from its input bytes: one file for small regions, more for big ones.

    When a region needs several files, the total is rounded up to a multiple of ``parallelism`` (extra
    files for the biggest region) so the dedupe/write tasks keep every core busy to the end.
    """
    sizes: dict[str, int] = {}
    for source in sources:
        if source.region:
            sizes[source.region] = sizes.get(source.region, 0) + source.size
    files = {region: max(1, math.ceil(size / CSV_BYTES_PER_OUTPUT_FILE)) for region, size in sizes.items()}
    if files and max(files.values()) > 1 and parallelism > 1:
        biggest = max(sorted(files), key=lambda r: sizes[r])
        files[biggest] += -sum(files.values()) % parallelism
    return files


def murmur3_int(value: int, seed: int = 42) -> int:
    """Spark's ``hash()`` of one int column (Murmur3 x86_32, seed 42), as a signed 32-bit int."""
    mask = 0xFFFFFFFF

    def rotl(x: int, r: int) -> int:
        return ((x << r) | (x >> (32 - r))) & mask

    k1 = rotl((value & mask) * 0xCC9E2D51 & mask, 15) * 0x1B873593 & mask
    h1 = (rotl(seed ^ k1, 13) * 5 + 0xE6546B64) & mask
    h1 ^= 4
    h1 ^= h1 >> 16
    h1 = h1 * 0x85EBCA6B & mask
    h1 ^= h1 >> 13
    h1 = h1 * 0xC2B2AE35 & mask
    h1 ^= h1 >> 16
    return h1 - (1 << 32) if h1 & 0x80000000 else h1


def partition_labels(partitions: int) -> list[int]:
    """``labels[p]``: an int that ``repartition(partitions, col)`` sends to partition ``p``.

    Hash partitioning of ``0..n-1`` themselves collides (two output files in one task, another task
    idle); these labels give every output file its own task.
    """
    labels: dict[int, int] = {}
    candidate = 0
    while len(labels) < partitions:
        labels.setdefault(murmur3_int(candidate) % partitions, candidate)
        candidate += 1
    return [labels[p] for p in range(partitions)]


def exceeded_regions(regions: dict[str, Counts], threshold: float) -> list[str]:
    """Regions whose rejected fraction is above the threshold (a region with no rows never fails)."""
    return sorted(r for r, c in regions.items() if c.read and c.rejected / c.read > threshold)


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
    a short line as corrupt here), so such a piece is rejected. :func:`threshold_verdict` therefore makes
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
    return raw.withColumn(_BLOCK, F.col("_metadata.file_block_start")).withColumn(_LINE_READ, F.lit(True))


#: Files at least this big, in the datasnaek layout and ending with CRLF, are parsed in parallel.
SPLIT_MIN_BYTES = 64 * 1024**2


def splittable(source: SourceFile) -> bool:
    """A Kaggle original big enough to gain from a parallel parse (every record ends with CRLF)."""
    return (
        source.crlf
        and not source.truncated
        and source.size >= SPLIT_MIN_BYTES
        and source.header.lstrip("\ufeff") == DATASNAEK_HEADER
    )


def standardize(raw: DataFrame, fmt: str, region: Column | None = None) -> DataFrame:
    """Positional raw columns -> the canonical string columns of ``RAW_COLUMNS`` plus bookkeeping.

    ``fmt`` is the format of every file in ``raw``; an unknown format keeps the text in the canonical
    slots of the datasnaek layout so the quarantine shows it.
    """
    names = FORMATS.get(fmt, FORMATS["datasnaek"])
    by_name = {name: F.col(f"`{raw.columns[i]}`") for i, name in enumerate(names)}
    region_col = (
        region if region is not None else F.regexp_extract("source_file", r"(?i)/region=([A-Za-z]{2})/", 1)
    )
    columns = [by_name.get(c, F.lit(None).cast("string")).alias(c) for c in RAW_COLUMNS]
    truncated = F.col(_TRUNCATED) if _TRUNCATED in raw.columns else F.lit(False)
    line_read = F.col(_LINE_READ) if _LINE_READ in raw.columns else F.lit(False)
    return raw.select(
        *columns,
        "source_file",
        F.lower(F.nullif(region_col, F.lit(""))).alias("region"),
        F.lit(fmt).alias("format"),
        F.col(_CORRUPT).isNotNull().alias("_wrong_width"),
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
    """ISO-8601 with ``Z`` (with or without milliseconds) -> timestamp (UTC session)."""
    iso = text.rlike(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
    return F.when(iso, text.cast("timestamp")).otherwise(F.lit(None).cast("timestamp"))


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
    # Few descriptions hold a CR: one scan to find out instead of two replacements.
    crlf = F.replace(F.replace(text, F.lit("\r\n"), F.lit("\n")), F.lit("\r"), F.lit("\n"))
    lf = F.when(F.instr(text, "\r") > 0, crlf).otherwise(text)
    return F.when(fmt == "datasnaek", F.replace(lf, F.lit("\\n"), F.lit("\n"))).otherwise(lf)


def _is_count(text: Column) -> Column:
    return text.rlike(r"^[0-9]{1,18}$")


def _is_negative(text: Column) -> Column:
    return text.rlike(r"^-[0-9]{1,18}$")


#: Every reason a row can be rejected for, in the order the checks run (the first that applies wins).
REJECT_REASONS = (
    "truncated record (file ends inside a quoted field)",
    "unrecognised header (not a known statistics format)",
    "wrong column count",
    "file not in a region=xx folder",
    "invalid video_id",
    "unparseable trending_date",
    "unparseable publish_time",
    "invalid category_id",
    *(f"{kind} {name}" for name in COUNT_COLUMNS for kind in ("negative", "non-numeric")),
    *(f"invalid boolean {name}" for name in BOOLEAN_COLUMNS),
)


def reject_reason(df: DataFrame) -> Column:
    """First reason a standardized row cannot be typed, or null when it is good (one CASE, no UDF)."""
    c = F.col
    checks: list[Column] = [
        c(_TRUNCATED),
        c("format") == UNKNOWN_FORMAT,
        c("_wrong_width"),
        c("region").isNull(),
        ~F.coalesce(c("video_id").rlike(r"^[A-Za-z0-9_-]{11}$"), F.lit(False)),
        parse_trending_date(c("trending_date")).isNull(),
        parse_timestamp(c("publish_time")).isNull(),
        ~F.coalesce(c("category_id").rlike(r"^[0-9]{1,9}$"), F.lit(False)),
    ]
    for name in COUNT_COLUMNS:
        checks.append(F.coalesce(_is_negative(c(name)), F.lit(False)))
        checks.append(~F.coalesce(_is_count(c(name)), F.lit(False)))
    for name in BOOLEAN_COLUMNS:
        present = c(name).isNotNull() | (c("format") != "rsrishav")
        checks.append(present & parse_boolean(c(name)).isNull())
    if len(checks) != len(REJECT_REASONS):
        raise AssertionError("one reason per check")
    reason = F.when(checks[0], F.lit(REJECT_REASONS[0]))
    for check, text in zip(checks[1:], REJECT_REASONS[1:], strict=True):
        reason = reason.when(check, F.lit(text))
    return reason


def classify(standardized: DataFrame) -> DataFrame:
    """Standardized rows with ``reject_reason`` (null for good rows); the check-only flags dropped."""
    return standardized.withColumn("reject_reason", reject_reason(standardized)).drop(
        "_wrong_width", _TRUNCATED
    )


def to_typed(good: DataFrame) -> DataFrame:
    """Good rows typed to the output schema (``_date``, when present, is the already typed date)."""
    c = F.col
    typed = {
        "trending_date": c("_date") if "_date" in good.columns else parse_trending_date(c("trending_date")),
        "category_id": c("category_id").cast("bigint"),
        "publish_time": parse_timestamp(c("publish_time")),
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


_LABEL = "_label"
_REGION_KEY = "_region_key"
#: Marks the error the verdict raises inside the write query when a region has too many rejected rows.
THRESHOLD_MARKER = "clean_statistics reject threshold exceeded"
#: Marks the error the verdict raises when a line-split read cut a record (CRLF inside a quoted field).
SPLIT_MARKER = "clean_statistics rejected row in a CRLF-line read"


def shuffle_by_output_file(classified: DataFrame, files: dict[str, int]) -> DataFrame:
    """Every row (good or not) sent to the task that writes its output file: one shuffle for everything.

    A region's rows are spread over ``files[region]`` buckets of ``xxhash64(video_id)``; bucket ``i`` of
    the region at offset ``o`` goes to partition ``o + i`` (through :func:`partition_labels`), so each
    output file gets its own task and a key's duplicates always meet in one task.
    """
    offsets: dict[str, int] = {}
    for name in sorted(files):
        offsets[name] = sum(files[r] for r in offsets)
    partitions = max(1, sum(files.values()))
    region: Column = F.coalesce(F.col("region"), F.lit(""))
    offset: Column = F.lit(0)
    count: Column = F.lit(1)
    for name in sorted(files):
        offset = F.when(region == F.lit(name), F.lit(offsets[name])).otherwise(offset)
        count = F.when(region == F.lit(name), F.lit(files[name])).otherwise(count)
    index = offset + F.pmod(F.xxhash64(F.coalesce(F.col("video_id"), F.lit(""))), count).cast("int")
    labels = F.array(*[F.lit(label) for label in partition_labels(partitions)])
    return classified.withColumn(_LABEL, F.element_at(labels, index + 1)).repartition(partitions, _LABEL)


def threshold_verdict(rows: DataFrame, threshold: float, every_column: bool = False) -> DataFrame:
    """(region, _ok) per region key: raises inside the query when the rejected fraction is too high.

    ``every_column``: the verdict reads every column of ``rows`` (a cheap hash), so column pruning leaves
    the shuffle below ``rows`` as the write's and Spark reuses it: the CSVs are scanned once.
    """
    # A rejected row of a line read may be a piece of a record cut by a CRLF inside quotes.
    broken = F.col(_LINE_READ) & F.col("reject_reason").isNotNull()
    digest = F.xxhash64(*[F.col(f"`{c}`") for c in rows.columns]) if every_column else F.lit(0)
    counts = rows.groupBy(F.coalesce(F.col("region"), F.lit("")).alias(_REGION_KEY)).agg(
        F.count(F.lit(1)).alias("_read"),
        F.count("reject_reason").alias("_rejected"),
        F.count_if(broken).alias("_broken_rows"),
        F.max(digest).alias("_digest"),
    )
    # Checked first and over all regions: counts of a line-split read with a cut record mean nothing.
    any_broken = F.sum("_broken_rows").over(Window.partitionBy()) > 0
    exceeded = F.col("_rejected") / F.col("_read") > F.lit(float(threshold))
    message = F.concat(
        F.lit(THRESHOLD_MARKER + ": "),
        F.col(_REGION_KEY),
        F.lit(" "),
        F.col("_rejected").cast("string"),
        F.lit("/"),
        F.col("_read").cast("string"),
    )
    return counts.select(
        F.col(_REGION_KEY).alias("region"),
        # Never false: raises instead. The write filters on it, so the optimizer cannot drop the check.
        F.when(any_broken, F.raise_error(F.lit(SPLIT_MARKER)))
        .when(exceeded, F.raise_error(message))
        .otherwise((F.col("_read") > 0) | F.col("_digest").isNull())
        .alias("_ok"),
    )


def deduplicate(good: DataFrame) -> DataFrame:
    """One row per (region, video_id, trending_date): the last seen (source_file, then row order).

    ``good`` comes from :func:`shuffle_by_output_file`: the window adds the partition label to its keys
    (a function of region and video_id, so the groups are the same) and needs no second shuffle; region
    first, so the partitioned write needs no extra sort. Rows of a line-split read are ordered by their
    split's offset first (``_BLOCK``), then by their number within it.
    """
    window = Window.partitionBy("region", _LABEL, "video_id", "_date").orderBy(
        F.col("source_file").desc(), F.col(_BLOCK).desc(), F.col(_ROW).desc()
    )
    return (
        good.withColumn("_date", parse_trending_date(F.col("trending_date")))
        .withColumn("_rank", F.row_number().over(window))
        .where(F.col("_rank") == 1)
    )


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


def list_csv_files(spark: SparkSession, source_path: str) -> tuple[list[tuple[str, int]], list[str]]:
    """(CSV files with sizes, other files ignored) under a folder, recursively, through Hadoop's FS."""
    fs, root = _hadoop_fs(spark, source_path)
    csvs: list[tuple[str, int]] = []
    ignored: list[str] = []
    if not fs.exists(root):
        return csvs, ignored
    iterator = fs.listFiles(root, True)
    while iterator.hasNext():
        status = iterator.next()
        path = status.getPath().toString()
        name = path.rsplit("/", 1)[-1]
        if name.startswith(("_", ".")):
            continue
        if name.lower().endswith(".csv"):
            csvs.append((path, int(status.getLen())))
        else:
            ignored.append(path)
    return sorted(csvs), sorted(ignored)


#: Files without a final newline are checked for quote parity on the driver up to this many bytes in
#: total (a Spark job costs more than reading a few MB); beyond, in parallel with Spark.
DRIVER_PARITY_BYTES = 64 * 1024**2


def inspect_files(spark: SparkSession, files: Sequence[tuple[str, int]]) -> list[SourceFile]:
    """Header (-> format) and last byte of each file; quote parity for files that do not end in a newline.

    Only files without a final newline can end inside a quoted field unnoticed by the CSV reader, so only
    those are scanned for an odd number of quote characters.
    """
    jvm = _jvm(spark)
    sources: list[SourceFile] = []
    suspects: list[tuple[str, int]] = []
    for path, size in files:
        fs, hpath = _hadoop_fs(spark, path)
        header = ""
        last = -1
        before_last = -1
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
        odd = {path for path, _ in suspects if _read_bytes(spark, path).count(b'"') % 2 == 1}
    else:
        odd = _odd_quote_files(spark, [path for path, _ in suspects])
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
    """All files, standardized to ``RAW_COLUMNS`` strings, one scan per format.

    Big Kaggle originals (:func:`splittable`, unless ``split`` is false) are read as CRLF lines, in
    parallel. Files that end inside a quoted field get their own scan, where the last record of each file
    (the highest row number: a multi-line file is never split, so its rows are numbered in file order) is
    flagged; the small window this needs only sees those files.
    """
    frames: list[DataFrame] = []
    by_format: dict[tuple[bool, str], list[str]] = {}
    lines: list[str] = []
    for source in sources:
        if split and splittable(source):
            lines.append(source.path)
        else:
            by_format.setdefault((source.truncated, source.format), []).append(source.path)
    if lines:
        frames.append(standardize(read_csv(spark, lines, "datasnaek", crlf_lines=True), "datasnaek"))
    for (truncated, fmt), paths in sorted(by_format.items()):
        raw = read_csv(spark, paths, fmt)
        if truncated:
            last = F.max(_ROW).over(Window.partitionBy("source_file"))
            raw = raw.withColumn(_TRUNCATED, F.col(_ROW) == last)
        frames.append(standardize(raw, fmt))
    return reduce(DataFrame.unionByName, frames)


def region_counts(classified: DataFrame, regions: Sequence[str]) -> tuple[dict[str, Counts], dict[str, int]]:
    """Read and rejected rows per region, and rejects per reason, in one aggregation."""
    rows = (
        classified.groupBy(F.coalesce("region", F.lit("")).alias("region"), "reject_reason").count().collect()
    )
    counts = {r: Counts() for r in regions}
    reasons: dict[str, int] = {}
    for row in rows:
        entry = counts.setdefault(row["region"], Counts())
        entry.read += row["count"]
        if row["reject_reason"] is not None:
            entry.rejected += row["count"]
            reasons[row["reject_reason"]] = reasons.get(row["reject_reason"], 0) + row["count"]
    return counts, reasons


#: Parquet dictionaries pay off for repeated values only: free text is written plain, without first
#: building a dictionary that overflows and is thrown away.
PARQUET_OPTIONS = {
    "compression": "snappy",
    **{
        f"parquet.enable.dictionary#{name}": "false" for name in ("title", "description", "tags.list.element")
    },
}


def write_statistics(deduped: DataFrame, target_path: str) -> None:
    """Parquet/snappy partitioned by region; dynamic overwrite replaces exactly the regions present."""
    (
        deduped.write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .options(**PARQUET_OPTIONS)
        .partitionBy("region")
        .parquet(target_path)
    )


def clean_and_write(
    spark: SparkSession,
    standardized: DataFrame,
    files: dict[str, int],
    regions: Sequence[str],
    target_path: str,
    reject_threshold: float,
) -> tuple[dict[str, Counts], dict[str, int]]:
    """Checks, counts, threshold, dedupe, typing and the write in one Spark action.

    Two scans of the CSVs run side by side in that action: the write's (every row crosses one shuffle,
    :func:`shuffle_by_output_file`, then is classified, deduplicated, typed and written by the tasks that
    own its output file) and a narrower one that only counts rows and rejects per region. Those counts
    are broadcast as a verdict that raises (``THRESHOLD_MARKER``) when a region has too many rejected
    rows; the write's tasks wait for the broadcast, so a failed check writes nothing. A multi-line CSV is
    parsed by a single task, so on a big file the counting scan runs on an otherwise idle core instead
    of being paid for by caching the rows. Counts for the metrics come back through observations.
    """
    shuffled = classify(shuffle_by_output_file(standardized, files))
    region_key = F.coalesce(F.col("region"), F.lit(""))
    rejected = F.col("reject_reason").isNotNull()
    keys = sorted({*regions, *files})
    seen = Observation("clean_statistics_read")
    observed = shuffled.observe(
        seen,
        *[F.count_if(region_key == r).alias(f"read:{r}") for r in keys],
        F.count_if(region_key == "").alias("read:"),
        *[F.count_if((region_key == r) & rejected).alias(f"rejected:{r}") for r in keys],
        F.count_if((region_key == "") & rejected).alias("rejected:"),
        *[
            F.count_if(F.col("reject_reason") == text).alias(f"reason:{i}")
            for i, text in enumerate(REJECT_REASONS)
        ],
    )
    verdict = threshold_verdict(classify(standardized), reject_threshold)
    good = observed.where(~rejected).join(F.broadcast(verdict), "region").where(F.col("_ok"))
    written = Observation("clean_statistics_written")
    deduped = deduplicate(good)
    deduped = deduped.observe(written, *[F.count_if(F.col("region") == r).alias(r) for r in keys])
    write_statistics(to_typed(deduped), target_path)
    read, out = seen.get, written.get
    counts: dict[str, Counts] = {r: Counts() for r in regions}
    for key in ["", *keys]:
        total = int(read.get(f"read:{key}", 0))
        if total or key in regions:
            entry = counts.setdefault(key, Counts())
            entry.read = total
            entry.rejected = int(read.get(f"rejected:{key}", 0))
            entry.written = int(out.get(key, 0)) if key else 0
            entry.duplicates = entry.read - entry.rejected - entry.written
    reasons = {
        text: int(read[f"reason:{i}"]) for i, text in enumerate(REJECT_REASONS) if int(read[f"reason:{i}"])
    }
    return counts, reasons


def write_quarantine(classified: DataFrame, quarantine_path: str, run_id: str) -> None:
    """Rejected rows as JSON lines, with reason and source file, under ``run_id=<run_id>/``."""
    rejected_rows(classified).write.mode("overwrite").json(run_folder(quarantine_path, run_id))


def _exists(spark: SparkSession, path: str) -> bool:
    fs, hpath = _hadoop_fs(spark, path)
    return bool(fs.exists(hpath))


def _remove_if_empty(spark: SparkSession, path: str) -> None:
    """The folder a failed write leaves behind (its staging folder is gone), when nothing is in it."""
    fs, hpath = _hadoop_fs(spark, path)
    if fs.exists(hpath) and not [
        s for s in fs.listStatus(hpath) if not s.getPath().getName().startswith(".")
    ]:
        fs.delete(hpath, True)


def write_text(spark: SparkSession, uri: str, text: str) -> None:
    """Write a small text object (metrics.json) through Hadoop's FS, so s3:// and local paths both work."""
    fs, hpath = _hadoop_fs(spark, uri)
    stream = fs.create(hpath, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def run_folder(base: str, run_id: str) -> str:
    return f"{base.rstrip('/')}/run_id={run_id}/"


def run(
    spark: SparkSession,
    source_path: str,
    target_path: str,
    quarantine_path: str,
    metrics_path: str,
    run_id: str,
    reject_threshold: float = 0.01,
) -> CleanResult:
    """The whole job; raises :class:`RejectThresholdExceeded` (after writing quarantine and metrics)."""
    started = time.perf_counter()
    result = CleanResult(run_id=run_id, reject_threshold=reject_threshold)
    listed, result.ignored_files = list_csv_files(spark, source_path)
    sources = inspect_files(spark, listed)
    result.files = [
        {"path": s.path, "bytes": s.size, "region": s.region, "format": s.format, "truncated": s.truncated}
        for s in sources
    ]
    regions = sorted({s.region for s in sources if s.region})
    if not sources:
        result.seconds = time.perf_counter() - started
        write_text(spark, run_folder(metrics_path, run_id) + "metrics.json", json.dumps(result.metrics()))
        return result

    split = True
    standardized = read_sources(spark, sources, split)
    files = files_per_region(sources, spark.sparkContext.defaultParallelism)
    target_existed = _exists(spark, target_path)
    try:
        try:
            counts, result.rejected_by_reason = clean_and_write(
                spark, standardized, files, regions, target_path, reject_threshold
            )
        except Exception as error:  # raise_error arrives wrapped in Spark/Py4J exceptions
            if SPLIT_MARKER not in str(error):
                raise
            # A CRLF inside a quoted field: the line-split read cut a record; read every file whole.
            if not target_existed:
                _remove_if_empty(spark, target_path)
            split = False
            standardized = read_sources(spark, sources, split)
            counts, result.rejected_by_reason = clean_and_write(
                spark, standardized, files, regions, target_path, reject_threshold
            )
    except Exception as error:  # the verdict's raise_error arrives wrapped in Spark/Py4J exceptions
        if THRESHOLD_MARKER not in str(error):
            raise
        if not target_existed:
            _remove_if_empty(spark, target_path)
        # Failure path: count again (exactly, per reason) for the metrics and the message.
        counts, result.rejected_by_reason = region_counts(classify(standardized), regions)
        result.failed_regions = exceeded_regions(counts, reject_threshold)
        if not result.failed_regions:
            raise RuntimeError(
                "the threshold check failed but the recount finds no region over it"
            ) from error
    result.regions = counts
    if result.total.rejected:
        # Re-read only the regions that had rejected rows.
        bad = {r for r, c in counts.items() if c.rejected}
        affected = [s for s in sources if (s.region or "") in bad]
        write_quarantine(classify(read_sources(spark, affected, split)), quarantine_path, run_id)
    result.seconds = time.perf_counter() - started
    write_text(
        spark, run_folder(metrics_path, run_id) + "metrics.json", json.dumps(result.metrics(), indent=1)
    )
    if result.failed_regions:
        details = ", ".join(f"{r}: {counts[r].rejected}/{counts[r].read} rows" for r in result.failed_regions)
        raise RejectThresholdExceeded(
            f"clean_statistics: rejected rows above the threshold of {reject_threshold:.2%} in {details}; "
            f"nothing written to {target_path}. Reasons: {result.rejected_by_reason}. "
            f"Rejected rows: {run_folder(quarantine_path, run_id)}",
            result,
        )
    return result


def main(argv: Sequence[str] | None = None) -> None:
    """Glue entry point: arguments from ``getResolvedOptions``, session from the Glue runtime."""
    from awsglue.utils import getResolvedOptions

    args = getResolvedOptions(list(argv if argv is not None else sys.argv), JOB_ARGUMENTS)
    spark = SparkSession.builder.getOrCreate()
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    try:
        result = run(
            spark,
            source_path=args["source_path"],
            target_path=args["target_path"],
            quarantine_path=args["quarantine_path"],
            metrics_path=args["metrics_path"],
            run_id=args["run_id"],
            reject_threshold=float(args["reject_threshold"]),
        )
    except RejectThresholdExceeded as error:
        print(json.dumps(summary_line(error.result)), flush=True)
        raise
    print(json.dumps(summary_line(result)), flush=True)


def summary_line(result: CleanResult) -> dict[str, Any]:
    """The stdout summary: metrics without the per-file and per-region detail."""
    return {k: v for k, v in result.metrics().items() if k not in ("files", "regions")}


if __name__ == "__main__":
    main()
