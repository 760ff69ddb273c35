"""Row rules: which raw row is good, why another is rejected, and how a good one is typed.

Pure Spark expressions (``Column -> Column``) and transforms (``DataFrame -> DataFrame``) over the
standardized rows :mod:`statistics_read` produces; no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from statistics_formats import (
    RAW_COLUMNS,
    STATISTICS_FORMATS,
    UNKNOWN_FORMAT,
    formats_where,
    formats_with_null_count,
)

from youtube_lake.columns import BOOLEAN_COLUMNS, COUNT_COLUMNS, STATISTICS, STATISTICS_KEY

__all__ = [
    "BOOLEAN_COLUMNS",
    "COUNT_COLUMNS",
    "KEY",
    "QUARANTINE_COLUMNS",
    "REJECT_REASONS",
    "TrendingDates",
    "classify",
    "normalize_description",
    "parse_boolean",
    "parse_tags",
    "parse_timestamp",
    "parse_trending_date",
    "reject_reason",
    "rejected_rows",
    "to_typed",
]

#: One output row per key: the last in arrival order.
KEY = STATISTICS_KEY
QUARANTINE_COLUMNS = ("reject_reason", "source_file", "region", "format", *RAW_COLUMNS)

# Bookkeeping columns of a standardized row (statistics_read writes them, the rules and staging read them).
CORRUPT = "_corrupt_record"
ROW = "_row"  # position of the record in its read (monotonic within a file's block, see BLOCK)
#: Byte offset of the split a row was read from (0 for multi-line reads, which never split a file).
BLOCK = "_block"
#: The row comes from a CRLF-line read (a record may have been cut by a CRLF inside a quoted field).
LINE_READ = "_line_read"
#: The row is the last record of a file that ends inside a quoted field.
TRUNCATED = "_truncated"
FILE = "_file"  # index of the row's file in the run's arrival order
#: The row's text holds U+FFFD: either in the file (EF BF BD) or Spark's replacement of invalid bytes.
REPLACEMENT = "_replacement"
#: The row has more or fewer fields than its header.
WRONG_WIDTH = "_wrong_width"


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
    """Any known format's trending date -> date (``17.14.11`` is 2017-11-14; ``2020-08-12[T00:00:00Z]``).

    Each format's :class:`~statistics_formats.DatePattern` is tried in turn (once per distinct pattern),
    whatever the row's format.
    """
    parsed = None
    for pattern in dict.fromkeys(fmt.trending_date for fmt in STATISTICS_FORMATS):
        value = F.substring(text, 1, pattern.length) if pattern.length else text
        matches, day = text.rlike(pattern.regex), F.to_date(value, pattern.spark_format)
        parsed = F.when(matches, day) if parsed is None else parsed.when(matches, day)
    if parsed is None:
        return F.lit(None).cast("date")
    return parsed.otherwise(F.lit(None).cast("date"))


def parse_timestamp(text: Column) -> Column:
    """ISO-8601 with ``Z`` (with or without milliseconds) -> timestamp; needs a UTC session.

    The ``Z`` is cut off before the cast: with it, Spark resolves the zone id per row through a regular
    expression compiled each time (the most expensive step of the typing); without it the cast uses the
    session zone, which the job sets to UTC.
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
    """One line-break convention: CRLF / bare CR -> LF; a literal ``\\n`` -> LF where the format writes one.

    Byte-level replacements, not regular expressions: descriptions are most of the bytes.
    """
    # Few descriptions hold a CR: one scan to find out instead of two replacements. ``contains`` checks
    # the first byte before comparing (``instr``/``replace`` compare at every position).
    crlf = F.replace(F.replace(text, F.lit("\r\n"), F.lit("\n")), F.lit("\r"), F.lit("\n"))
    lf = F.when(text.contains("\r"), crlf).otherwise(text)
    literal = F.when(lf.contains("\\n"), F.replace(lf, F.lit("\\n"), F.lit("\n"))).otherwise(lf)
    return F.when(fmt.isin(*formats_where("literal_newlines")), literal).otherwise(lf)


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


def _row_checks(dates: TrendingDates | None) -> list[tuple[Column, Column]]:
    """(check, reason) of the whole-row and field checks, in :data:`REJECT_REASONS` order."""
    c = F.col
    return [
        (c(TRUNCATED), F.lit(REJECT_REASONS[0])),
        (c("format") == UNKNOWN_FORMAT, F.lit(REJECT_REASONS[1])),
        (c(WRONG_WIDTH), F.lit(REJECT_REASONS[2])),
        (c("region").isNull(), F.lit(REJECT_REASONS[3])),
        (~F.coalesce(c("video_id").rlike(r"^[A-Za-z0-9_-]{11}$"), F.lit(False)), F.lit(REJECT_REASONS[4])),
        (c("_date").isNull(), F.lit(REJECT_REASONS[5])),
        (dates.implausible(c("_date")) if dates else F.lit(False), F.lit(REJECT_REASONS[6])),
        (c("_publish_ts").isNull(), F.lit(REJECT_REASONS[7])),
        (~F.coalesce(c("category_id").rlike(r"^[0-9]{1,9}$"), F.lit(False)), F.lit(REJECT_REASONS[8])),
    ]


def reject_reason(df: DataFrame, dates: TrendingDates | None = None) -> Column:
    """First reason a standardized row cannot be typed, or null when it is good (one CASE, no UDF).

    ``dates``: the plausible trending days (None: any parseable day; ``99.14.11`` would be 2099-11-14).

    ``df`` carries the parsed ``_date`` and ``_publish_ts`` (:func:`classify` adds them), so the typing
    reuses them instead of parsing again. A count is first checked for the valid form; only a value that
    fails it is checked for a minus sign (one regular expression per count on good rows). A null count is
    good in the formats that declare it may be (``null_counts``: a count the API does not return).
    """
    c = F.col
    cases = _row_checks(dates)
    texts = list(REJECT_REASONS[: len(cases)])
    for name in COUNT_COLUMNS:
        negative = F.coalesce(_is_negative(c(name)), F.lit(False))
        reason = F.when(negative, F.lit(f"negative {name}")).otherwise(F.lit(f"non-numeric {name}"))
        bad = ~F.coalesce(_is_count(c(name)), F.lit(False))
        nullable = formats_with_null_count(name)
        if nullable:
            bad = bad & ~(c(name).isNull() & c("format").isin(*nullable))
        cases.append((bad, reason))
        texts += [f"negative {name}", f"non-numeric {name}"]
    may_be_null = formats_where("null_booleans")
    for name in BOOLEAN_COLUMNS:
        present = c(name).isNotNull() | ~c("format").isin(*may_be_null)
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
    return parsed.withColumn("reject_reason", reject_reason(parsed, dates)).drop(WRONG_WIDTH, TRUNCATED)


def to_typed(good: DataFrame, arrivals: Sequence[datetime]) -> DataFrame:
    """Classified good rows typed to the output schema; ``arrivals`` by file index (``FILE``)."""
    c = F.col
    typed = {
        "source_arrival": F.element_at(F.array(*[F.lit(a) for a in arrivals]), c(FILE) + 1),
        "trending_date": c("_date"),
        "chart_rank": c("chart_rank").cast("int"),
        "category_id": c("category_id").cast("bigint"),
        "publish_time": c("_publish_ts"),
        "tags": parse_tags(c("tags")),
        # Spark reads a quoted empty field ("") as null; both formats always carry a description.
        "description": F.coalesce(normalize_description(c("description"), c("format")), F.lit("")),
        **{name: c(name).cast("bigint") for name in COUNT_COLUMNS},
        **{name: parse_boolean(c(name)) for name in BOOLEAN_COLUMNS},
    }
    return good.select(*[typed.get(name, c(name)).alias(name) for name in STATISTICS])


def rejected_rows(classified: DataFrame) -> DataFrame:
    """Rejected rows as raw text, with reason and source, for the quarantine."""
    return classified.where(F.col("reject_reason").isNotNull()).select(*QUARANTINE_COLUMNS)
