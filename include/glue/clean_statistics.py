"""Glue job ``clean_statistics``: the raw per-region trending CSVs -> typed, deduplicated Parquet.

Reads every ``*.csv`` under ``--source_path`` (``region=xx/`` folders), in either real format:

* Kaggle "datasnaek" (``video_id,trending_date,title,channel_title,...``; ``trending_date`` is ``YY.DD.MM``;
  tags quoted one by one and joined by ``|``; bare CR or LF inside quoted descriptions; literal ``\\n``);
* "rsrishav" daily files (``video_id,title,publishedAt,channelId,...``; every field quoted; ISO dates).

The format is chosen per file from its header line, so both can sit in one region folder. Output
(``--target_path``, Parquet/snappy, ``region=xx/`` partitions, dynamic partition overwrite: a re-run
replaces exactly the regions it wrote, see :func:`commit_regions`) has these columns, stable for the
crawler and the Athena SQL:

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
``<metrics_path>run_id=<run_id>/metrics.json`` and printed as one JSON line. The statistics are written
to a staging folder inside the target (``_clean_statistics_staging/<run_id>/``, which readers and crawlers
skip) and moved into place region by region only after the counts are checked: when a region's rejected
fraction exceeds ``--reject_threshold`` the job fails without touching the target, so a file in the wrong
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
CSV_BYTES_PER_OUTPUT_FILE = 256 * 1024**2


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


def splittable(source: SourceFile) -> bool:
    """A Kaggle original big enough to gain from a parallel parse (every record ends with CRLF)."""
    return (
        source.crlf
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
    return raw.select(
        *columns,
        "source_file",
        F.lit(region).cast("string").alias("region"),
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
    "file not in a region=xx folder",
    "invalid video_id",
    "unparseable trending_date",
    "unparseable publish_time",
    "invalid category_id",
    *(f"{kind} {name}" for name in COUNT_COLUMNS for kind in ("negative", "non-numeric")),
    *(f"invalid boolean {name}" for name in BOOLEAN_COLUMNS),
)


def reject_reason(df: DataFrame) -> Column:
    """First reason a standardized row cannot be typed, or null when it is good (one CASE, no UDF).

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
        (c("_publish_ts").isNull(), F.lit(REJECT_REASONS[6])),
        (~F.coalesce(c("category_id").rlike(r"^[0-9]{1,9}$"), F.lit(False)), F.lit(REJECT_REASONS[7])),
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


def classify(standardized: DataFrame) -> DataFrame:
    """Standardized rows with ``reject_reason`` (null for good rows) and the parsed ``_date`` and
    ``_publish_ts``; the check-only flags dropped."""
    parsed = standardized.withColumn("_date", parse_trending_date(F.col("trending_date"))).withColumn(
        "_publish_ts", parse_timestamp(F.col("publish_time"))
    )
    return parsed.withColumn("reject_reason", reject_reason(parsed)).drop("_wrong_width", _TRUNCATED)


def to_typed(good: DataFrame) -> DataFrame:
    """Classified good rows typed to the output schema."""
    c = F.col
    typed = {
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


_LABEL = "_label"


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
    return good.withColumn("_rank", F.row_number().over(window)).where(F.col("_rank") == 1)


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


def write_statistics(deduped: DataFrame, path: str) -> None:
    """Parquet/snappy partitioned by region, into a fresh folder (the run's staging folder)."""
    (
        deduped.write.mode("overwrite")
        .option("partitionOverwriteMode", "static")
        .options(**PARQUET_OPTIONS)
        .partitionBy("region")
        .parquet(path)
    )


@dataclass
class Staged:
    """What one write to the staging folder saw: counts per region, rejects per reason, cut records."""

    counts: dict[str, Counts]
    reasons: dict[str, int]
    #: Rejected rows of CRLF-line reads: a record may have been cut by a CRLF inside a quoted field.
    broken_rows: int


def clean_and_write(
    standardized: DataFrame, files: dict[str, int], regions: Sequence[str], staging_path: str
) -> Staged:
    """Checks, counts, dedupe, typing and the write to the staging folder in one Spark action.

    The CSVs are scanned once: every row crosses one shuffle (:func:`shuffle_by_output_file`), then is
    classified, counted, deduplicated, typed and written by the task that owns its output file. The
    counts come back through observations; :func:`run` checks them before anything reaches the target.
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
        F.count_if(F.col(_LINE_READ) & rejected).alias("broken"),
    )
    written = Observation("clean_statistics_written")
    deduped = deduplicate(observed.where(~rejected))
    deduped = deduped.observe(written, *[F.count_if(F.col("region") == r).alias(r) for r in keys])
    write_statistics(to_typed(deduped), staging_path)
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
    return Staged(counts, reasons, int(read["broken"]))


#: Folder inside the target where a run's output waits for its checks (``_``: readers and crawlers skip it).
STAGING_FOLDER = "_clean_statistics_staging"


def staging_folder(target_path: str, run_id: str) -> str:
    """Where a run writes before its counts are checked: inside the target, so a commit is a rename."""
    return f"{target_path.rstrip('/')}/{STAGING_FOLDER}/{run_id}/"


def commit_regions(spark: SparkSession, staging_path: str, target_path: str) -> list[str]:
    """Replace each ``region=xx`` folder of the target by the staged one (dynamic partition overwrite).

    Regions the run did not write keep their data. Like Spark's own dynamic overwrite, a region is
    deleted and then renamed into place, one region at a time.
    """
    jvm = _jvm(spark)
    fs, staged = _hadoop_fs(spark, staging_path)
    _, target = _hadoop_fs(spark, target_path)
    committed: list[str] = []
    if not fs.exists(staged):
        return committed
    for status in sorted(fs.listStatus(staged), key=lambda s: s.getPath().getName()):
        name = status.getPath().getName()
        if not status.isDirectory() or not name.startswith("region="):
            continue
        destination = jvm.org.apache.hadoop.fs.Path(target, name)
        if fs.exists(destination):
            fs.delete(destination, True)
        if not fs.rename(status.getPath(), destination):
            raise RuntimeError(f"clean_statistics: could not move {status.getPath()} to {destination}")
        committed.append(name.split("=", 1)[1])
    return committed


def discard_staging(spark: SparkSession, staging_path: str, target_path: str, target_existed: bool) -> None:
    """Delete the run's staging folder, the staging parent when empty, and a target this run created."""
    fs, staged = _hadoop_fs(spark, staging_path)
    if fs.exists(staged):
        fs.delete(staged, True)
    _remove_if_empty(spark, staged.getParent().toString())
    if not target_existed:
        _remove_if_empty(spark, target_path)


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
    """The whole job; raises :class:`RejectThresholdExceeded` (after writing quarantine and metrics).

    The output is written to a staging folder inside the target first; only when no region is over the
    reject threshold are its regions moved into place, so a failed check leaves the target as it was.
    """
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

    # Timestamps are parsed without their "Z" (parse_timestamp): the session zone must be UTC.
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    # Generated code above HotSpot's 8,000-byte limit is never JIT-compiled: Spark's documentation advises
    # this limit on HotSpot; the wide CSV projections otherwise run interpreted (~10% of the job's time).
    spark.conf.set("spark.sql.codegen.hugeMethodLimit", "8000")
    split = True
    files = files_per_region(sources, spark.sparkContext.defaultParallelism)
    target_existed = _exists(spark, target_path)
    staging = staging_folder(target_path, run_id)
    try:
        staged = clean_and_write(read_sources(spark, sources, split), files, regions, staging)
        if staged.broken_rows:
            # A CRLF inside a quoted field may have cut a record of a line-split read: read every file whole.
            discard_staging(spark, staging, target_path, target_existed=True)
            split = False
            staged = clean_and_write(read_sources(spark, sources, split), files, regions, staging)
        counts, result.rejected_by_reason = staged.counts, staged.reasons
        result.failed_regions = exceeded_regions(counts, reject_threshold)
        if not result.failed_regions:
            commit_regions(spark, staging, target_path)
    finally:
        discard_staging(spark, staging, target_path, target_existed)
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
