"""Reading a set of inspected files into one DataFrame of canonical string columns (``RAW_COLUMNS``).

Each format's declaration names the reader's fields and maps them, by position, onto the canonical
columns; big Kaggle originals are read as CRLF lines, split across tasks. API pages were parsed on the
driver when they were inspected: their rows come from their items (:func:`read_pages`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window
from statistics_formats import (
    FALLBACK_FORMAT,
    RAW_COLUMNS,
    STATISTICS_FORMATS,
    UNKNOWN_FORMAT,
    format_named,
)
from statistics_inspect import SourceFile, hadoop_fs, is_compressed
from statistics_pages import item_row
from statistics_rules import BLOCK, CORRUPT, LINE_READ, REPLACEMENT, ROW, TRUNCATED, WRONG_WIDTH

__all__ = [
    "PAGE_REGION",
    "SPLIT_MIN_BYTES",
    "normalized_file_name",
    "raw_schema",
    "read_csv",
    "read_pages",
    "read_sources",
    "spark_file_name",
    "splittable",
    "standardize",
]

#: Files at least this big, in a format whose records end with CRLF, are parsed in parallel.
SPLIT_MIN_BYTES = 64 * 1024**2
#: Fields of every known CSV format (the reader's schema width).
RAW_WIDTH = 16
#: :func:`read_pages`' column of each page's region folder (pages of every region are read together).
PAGE_REGION = "_page_region"


def raw_schema(fmt: str = UNKNOWN_FORMAT) -> T.StructType:
    """16 string columns plus the corrupt-record column (rows with a wrong column count land there).

    Known formats name the fields as their header does, so Spark's header check stays quiet; columns are
    still taken by position.
    """
    known = format_named(fmt)
    names = list(known.header_names) if known else [f"_c{i}" for i in range(RAW_WIDTH)]
    fields = [T.StructField(n, T.StringType()) for n in names]
    return T.StructType([*fields, T.StructField(CORRUPT, T.StringType())])


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
    a short line as corrupt here), so such a piece is rejected. The staging phase therefore reads the
    files whole instead as soon as a row of a line read is rejected (only a description holding a whole
    valid-looking record after a CRLF would slip through). Univocity keeps the Kaggle tags ``"a"|"b"`` as
    raw text (``unescapedQuoteHandling`` default), which ``parse_tags`` splits.
    """
    reader = (
        spark.read.schema(raw_schema(fmt))
        .option("header", True)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
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
        .withColumn(ROW, F.monotonically_increasing_id())
    )
    if not crlf_lines:
        return raw.withColumn(BLOCK, F.lit(0).cast("long"))
    # Rows are numbered in file order within a split; the split's offset orders the splits of a file.
    return raw.withColumn(BLOCK, F.input_file_block_start()).withColumn(LINE_READ, F.lit(True))


def read_pages(spark: SparkSession, sources: Sequence[SourceFile], fmt: str) -> DataFrame:
    """The items of API pages (inspected, of format ``fmt``) as raw rows, like :func:`read_csv`'s, plus
    each page's region folder (:data:`PAGE_REGION`).

    Rows are numbered by their position in their page (the last of a duplicated id wins, as in a CSV).
    All the pages of a run make one frame: a frame per region folder would cost Spark a scan per region
    (44 tasks of ~50 rows for a day of 11 regions instead of 4), and Spark's name of each page is asked
    once per page, not per item (a JVM round trip each).
    """
    layout = format_named(fmt)
    if layout is None or layout.page is None:
        raise ValueError(f"{fmt!r} is not a page format")
    rows: list[tuple[object, ...]] = []
    for s in sources:
        name = spark_file_name(spark, s.path)
        rows.extend(
            (*item_row(item, layout.page, s.day, s.first_rank + i), None, name, i, 0, s.region)
            for i, item in enumerate(s.items)
        )
    schema = T.StructType(
        [
            *raw_schema(fmt).fields,
            T.StructField("source_file", T.StringType()),
            T.StructField(ROW, T.LongType()),
            T.StructField(BLOCK, T.LongType()),
            T.StructField(PAGE_REGION, T.StringType()),
        ]
    )
    return spark.createDataFrame(rows, schema)


def splittable(source: SourceFile) -> bool:
    """A big file of a format whose records all end with CRLF: it gains from a parallel parse."""
    crlf_headers = {f.header for f in STATISTICS_FORMATS if f.crlf_records}
    return (
        not is_compressed(source.path)
        and source.crlf
        and not source.truncated
        and source.size >= SPLIT_MIN_BYTES
        and source.header.lstrip("\ufeff") in crlf_headers
    )


def standardize(raw: DataFrame, fmt: str, region: str | Column | None) -> DataFrame:
    """Positional raw columns -> the canonical string columns of ``RAW_COLUMNS`` plus bookkeeping.

    ``fmt`` is the format and ``region`` the region folder of every file in ``raw`` (or the column that
    holds each row's); an unknown format keeps the text in the canonical slots of the fallback format so
    the quarantine shows it.
    """
    names = (format_named(fmt) or FALLBACK_FORMAT).columns
    by_name = {name: F.col(f"`{raw.columns[i]}`") for i, name in enumerate(names)}
    columns = [by_name.get(c, F.lit(None).cast("string")).alias(c) for c in RAW_COLUMNS]
    truncated = F.col(TRUNCATED) if TRUNCATED in raw.columns else F.lit(False)
    line_read = F.col(LINE_READ) if LINE_READ in raw.columns else F.lit(False)
    # Spark decodes invalid UTF-8 as U+FFFD without a word: a row holding one sends its file to the
    # driver's byte scan (the decide phase). A byte search per field; rows of valid files rarely hold U+FFFD.
    texts = [F.col(f"`{name}`") for name in raw.columns[: len(names)]] + [F.col(CORRUPT)]
    replacement = reduce(lambda a, b: a | b, [F.coalesce(t.contains("\ufffd"), F.lit(False)) for t in texts])
    return raw.select(
        *columns,
        "source_file",
        (region if isinstance(region, Column) else F.lit(region)).cast("string").alias("region"),
        F.lit(fmt).alias("format"),
        F.col(CORRUPT).isNotNull().alias(WRONG_WIDTH),
        replacement.alias(REPLACEMENT),
        truncated.alias(TRUNCATED),
        F.col(ROW),
        F.col(BLOCK),
        line_read.alias(LINE_READ),
    )


def read_sources(spark: SparkSession, sources: Sequence[SourceFile], split: bool = True) -> DataFrame:
    """All files, standardized to ``RAW_COLUMNS`` strings: one scan per CSV layout and region folder, one
    frame for every API page (:func:`read_pages`, each row carrying its page's region folder).

    A CSV scan's region is the driver's region of its files, a constant, instead of an expression
    evaluated on every row's file name. Big Kaggle originals (:func:`splittable`, unless ``split`` is
    false) are read as CRLF lines, in parallel. Files that end inside a quoted field get their own scan,
    where the last record of each file (the highest row number: a multi-line file is never split, so its
    rows are numbered in file order) is flagged; the small window this needs only sees those files.
    """
    frames: list[DataFrame] = []
    groups: dict[tuple[bool, bool, str, str], list[SourceFile]] = {}
    for source in sources:
        known = format_named(source.format)
        if known is not None and known.page is not None:  # one frame for the pages of every region
            groups.setdefault((False, False, source.format, PAGE_REGION), []).append(source)
            continue
        lines = split and splittable(source)
        key = (lines, source.truncated and not lines, source.format, source.region or "")
        groups.setdefault(key, []).append(source)
    for (lines, truncated, fmt, region), group in sorted(groups.items(), key=lambda kv: kv[0]):
        if region == PAGE_REGION:
            frames.append(standardize(read_pages(spark, group, fmt), fmt, F.col(PAGE_REGION)))
            continue
        raw = read_csv(spark, [s.path for s in group], fmt, crlf_lines=lines)
        if truncated:
            last = F.max(ROW).over(Window.partitionBy("source_file"))
            raw = raw.withColumn(TRUNCATED, F.col(ROW) == last)
        frames.append(standardize(raw, fmt, region or None))
    return reduce(DataFrame.unionByName, frames)


def normalized_file_name(name: Column) -> Column:
    """Spark names local files ``file:///x`` where Hadoop paths print ``file:/x``: one spelling."""
    return F.when(name.startswith("file:///"), F.concat(F.lit("file:/"), name.substr(9, 1 << 30))).otherwise(
        name
    )


def spark_file_name(spark: SparkSession, path: str) -> str:
    """How ``input_file_name()`` names ``path`` (qualified, URI-encoded), normalized like the column."""
    fs, hpath = hadoop_fs(spark, path)
    name = str(fs.makeQualified(hpath).toUri().toString())
    return "file:/" + name[len("file:///") :] if name.startswith("file:///") else name
