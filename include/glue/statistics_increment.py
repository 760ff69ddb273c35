"""The increment: which planned files a run takes, their rows staged, deduplicated, merged and committed.

Staging writes one object per touched partition into ``_clean_statistics_staging/<run_id>/`` (readers and
crawlers skip ``_`` folders); publishing merges the partitions that already hold data (the later arrival
wins) and commits each with one ``CopyObject`` (``lake_io.commit``).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lake_io import Store, commit, published_objects, staged_objects
from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window
from statistics_inspect import SourceFile
from statistics_read import normalized_file_name, read_sources, spark_file_name
from statistics_rules import (
    BLOCK,
    FILE,
    LINE_READ,
    REPLACEMENT,
    ROW,
    TrendingDates,
    classify,
    parse_trending_date,
    to_typed,
)

from youtube_lake.columns import STATISTICS, STATISTICS_TYPES
from youtube_lake.partitions import PARTITION_COLUMNS, PARTITION_OBJECT, partition_name, partition_regions
from youtube_lake.plan import IngestPlan, PlanObject
from youtube_lake.uris import join

__all__ = [
    "CSV_BYTES_PER_TASK",
    "STAGING_FOLDER",
    "Published",
    "Scope",
    "Staged",
    "Staging",
    "check_planned",
    "deduplicate",
    "merge_partitions",
    "publish",
    "restage",
    "scope_increment",
    "shuffle_partitions",
    "stage",
    "stage_increment",
    "staging_folder",
    "write_partitions",
]

#: Folder inside the target where runs stage their output (``_``: readers and crawlers skip it).
STAGING_FOLDER = "_clean_statistics_staging"
#: CSV bytes per shuffle partition (one task deduplicates and writes the partitions hashed to it).
CSV_BYTES_PER_TASK = 128 * 1024**2
#: Parquet dictionaries pay off for repeated values only: free text is written plain, without first
#: building a dictionary that overflows and is thrown away.
PARQUET_OPTIONS = {
    "compression": "snappy",
    **{
        f"parquet.enable.dictionary#{name}": "false" for name in ("title", "description", "tags.list.element")
    },
}


def staging_folder(target_path: str, run_id: str) -> str:
    return f"{target_path.rstrip('/')}/{STAGING_FOLDER}/{run_id}/"


def shuffle_partitions(sizes: Iterable[int], parallelism: int) -> int:
    """Tasks that deduplicate and write: ~``CSV_BYTES_PER_TASK`` of CSV each, a multiple of the cores."""
    parallelism = max(1, parallelism)
    wanted = max(parallelism, math.ceil(sum(sizes) / CSV_BYTES_PER_TASK))
    return wanted + (-wanted % parallelism)


# ---- scope: what the run takes -------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The files a run reads, in arrival order, and what it leaves for the next run."""

    #: Planned files whose current ETag is the planned one.
    take: tuple[PlanObject, ...]
    #: Planned objects left for the next run (changed or gone since planning), with the reason.
    deferred: tuple[dict[str, Any], ...]
    #: uri -> (current ETag, version id) of each taken file.
    heads: dict[str, tuple[str, str | None]]
    #: Partitions earlier versions of the taken files wrote: rebuilt from their current writers.
    rebuild: tuple[str, ...]
    #: Taken files and the rebuild sources that wrote a rebuilt partition, in arrival order.
    files: tuple[PlanObject, ...]

    @property
    def rebuild_sources(self) -> list[str]:
        return [f.key for f in self.files if f.rebuild]


def check_planned(
    store: Store, files: Sequence[PlanObject]
) -> tuple[list[PlanObject], list[dict[str, Any]], dict[str, tuple[str, str | None]]]:
    """Files whose current ETag is the planned one; the others are left for the next run, with why."""
    ok: list[PlanObject] = []
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


def scope_increment(store: Store, plan: IngestPlan, target_path: str) -> Scope:
    """Clear what killed runs left in staging, then check the plan against the bucket's current objects."""
    # One run at a time (the job allows one): whatever is in staging is a killed run's.
    store.delete_prefix(join(target_path, STAGING_FOLDER) + "/")
    take, deferred, heads = check_planned(store, plan.statistics)
    rebuild = sorted({p for f in take for p in f.previous_partitions})
    rebuild_files = [
        dataclasses.replace(f, partitions=tuple(sorted(set(f.partitions) & set(rebuild))))
        for f in plan.rebuild_sources
        if set(f.partitions) & set(rebuild)
    ]
    files = sorted([*take, *rebuild_files], key=lambda f: f.order)
    return Scope(tuple(take), tuple(deferred), heads, tuple(rebuild), tuple(files))


# ---- staging -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Staged:
    """What one staging write saw, per file index: rows read and rejected, the partitions of its good rows."""

    read: dict[int, int]
    rejected: dict[int, int]
    partitions: dict[int, set[str]]
    #: Rejected rows of CRLF-line reads: a record may have been cut by a CRLF inside a quoted field.
    broken_rows: int
    #: Rows holding U+FFFD, per file index (taken files): their files' bytes are checked on the driver.
    replacement: dict[int, int] = field(default_factory=dict)


def _array(values: Sequence[Any]) -> Column:
    return F.array(*[F.lit(v) for v in values])


def _observe(classified: DataFrame, files: Sequence[PlanObject]) -> tuple[DataFrame, Observation]:
    """Per taken file: rows read, rejected and holding U+FFFD; broken line reads; partitions of good rows."""
    take = [i for i, f in enumerate(files) if not f.rebuild]
    rejected = F.col("reject_reason").isNotNull()
    file_col = F.col(FILE)
    seen = Observation("clean_statistics_files")
    observed = classified.observe(
        seen,
        F.count_if(file_col.isNull()).alias("unknown"),
        *[F.count_if(file_col == i).alias(f"read:{i}") for i in take],
        *[F.count_if((file_col == i) & rejected).alias(f"rejected:{i}") for i in take],
        *[F.count_if((file_col == i) & F.col(REPLACEMENT)).alias(f"replacement:{i}") for i in take],
        F.count_if(F.col(LINE_READ) & rejected).alias("broken"),
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
    return observed, seen


def _staged(values: dict[str, Any], files: Sequence[PlanObject], names: Iterable[str]) -> Staged:
    """The observed counts as :class:`Staged`; rows of a file outside the plan are an error."""
    if int(values["unknown"]):
        raise RuntimeError(
            f"clean_statistics: {values['unknown']} rows came from a file not in the plan "
            f"(Spark names: {sorted(names)})"
        )
    take = [i for i, f in enumerate(files) if not f.rebuild]
    partitions: dict[int, set[str]] = {}
    for row in json.loads(values["partitions"] or "[]"):
        partitions.setdefault(int(row["f"]), set()).add(partition_name(row["r"], row["d"]))
    return Staged(
        read={i: int(values[f"read:{i}"]) for i in take},
        rejected={i: int(values[f"rejected:{i}"]) for i in take},
        partitions=partitions,
        broken_rows=int(values["broken"]),
        replacement={i: int(values[f"replacement:{i}"]) for i in take},
    )


def stage_increment(
    spark: SparkSession,
    files: Sequence[PlanObject],
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
    with_file = raw.withColumn(FILE, F.element_at(index, normalized_file_name(F.col("source_file"))))
    day = parse_trending_date(F.col("trending_date"))
    keyed = with_file.withColumn("source_file", F.element_at(_array([f.uri for f in files]), F.col(FILE) + 1))
    keyed = keyed.withColumn("_date", day).withColumn("dt", F.date_format("_date", "yyyy-MM-dd"))
    tasks = shuffle_partitions([f.size for f in files], spark.sparkContext.defaultParallelism)
    observed, seen = _observe(classify(keyed.repartition(tasks, "region", "dt"), dates), files)
    is_take = F.element_at(_array([not f.rebuild for f in files]), F.col(FILE) + 1)
    allowed = F.element_at(
        F.array(*[F.array(*[F.lit(p) for p in f.partitions]).cast("array<string>") for f in files]),
        F.col(FILE) + 1,
    )
    name = F.concat(F.lit("region="), F.col("region"), F.lit("/dt="), F.col("dt"))
    rejected = F.col("reject_reason").isNotNull()
    good = observed.where(~rejected & (is_take | F.array_contains(allowed, name)))
    write_partitions(to_typed(deduplicate(good), [f.arrival for f in files]), path)
    return _staged(seen.get, files, names)


@dataclass(frozen=True)
class Staging:
    """The staged increment of the readable files: their counts, and whether big files were line-split."""

    staged: Staged
    split: bool


def stage(
    spark: SparkSession,
    store: Store,
    files: Sequence[PlanObject],
    sources: Sequence[SourceFile],
    path: str,
    dates: TrendingDates | None,
) -> Staging:
    """Stage ``files`` into ``path``, line-splitting big Kaggle originals; read every file whole instead
    when a CRLF inside a quoted field may have cut a record of a line read (a rejected row of one)."""
    staged = stage_increment(spark, files, sources, True, path, dates)
    if not staged.broken_rows:
        return Staging(staged, split=True)
    store.delete_prefix(path + "/")
    return Staging(stage_increment(spark, files, sources, False, path, dates), split=False)


def restage(
    spark: SparkSession,
    store: Store,
    files: Sequence[tuple[PlanObject, SourceFile]],
    split: bool,
    path: str,
    dates: TrendingDates | None,
) -> None:
    """Stage the increment again from ``files`` only (quarantined files contribute nothing)."""
    store.delete_prefix(path + "/")
    if files:
        stage_increment(spark, [f for f, _ in files], [s for _, s in files], split, path, dates)


def deduplicate(good: DataFrame) -> DataFrame:
    """One row per (region, video_id, trending_date): the last in arrival order.

    Files are numbered in arrival order (``FILE``); within a file, rows of a line-split read are ordered by
    their split's offset (``BLOCK``), then by their number within it. ``good`` is hash-partitioned on
    (region, dt), which the window's keys contain: no second shuffle, and the window's sort is the one the
    partitioned write needs.
    """
    window = Window.partitionBy("region", "dt", "video_id").orderBy(
        F.col(FILE).desc(), F.col(BLOCK).desc(), F.col(ROW).desc()
    )
    return good.withColumn("_rank", F.row_number().over(window)).where(F.col("_rank") == 1)


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


# ---- merge and commit ----------------------------------------------------------------------------


def read_partition_objects(
    spark: SparkSession, root: str, uris: Sequence[str], columns: Sequence[str] = STATISTICS
) -> DataFrame:
    """Partition objects below ``root`` with ``region`` and ``dt`` as (string) columns.

    Objects written before a column existed (``chart_rank``) give it as null: footers are merged, and a
    column none of them has is added.
    """
    read = spark.read.option("basePath", root.rstrip("/") + "/").option("mergeSchema", "true").parquet(*uris)
    return read.select(
        *[F.col(c) if c in read.columns else F.lit(None).cast(STATISTICS_TYPES[c]).alias(c) for c in columns]
    )


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
    write_partitions(merged.select(*STATISTICS), path)


@dataclass(frozen=True)
class Published:
    """What the commit did: rows per partition and per source file after it, and which partitions it
    merged with published rows, rebuilt from their current writers, or deleted."""

    partitions: dict[str, int]
    written: dict[str, int]
    merged: tuple[str, ...] = ()
    rebuilt: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()


def _count_published(spark: SparkSession, root: str, partitions: Iterable[str]) -> Published:
    """Rows per partition and per source file in the committed objects of ``partitions``."""
    by_partition: dict[str, int] = {}
    by_file: dict[str, int] = {}
    objects = [f"{root}{p}/{PARTITION_OBJECT}" for p in sorted(partitions)]
    if objects:
        counted = read_partition_objects(spark, root, objects, ("region", "dt", "source_file"))
        for row in counted.groupBy("region", "dt", "source_file").count().collect():
            partition = partition_name(row["region"], row["dt"])
            by_partition[partition] = by_partition.get(partition, 0) + int(row["count"])
            by_file[row["source_file"]] = by_file.get(row["source_file"], 0) + int(row["count"])
    return Published(by_partition, by_file)


def publish(
    spark: SparkSession,
    store: Store,
    target_path: str,
    staging: str,
    rebuild: Sequence[str],
    regions: set[str],
) -> Published:
    """Merge the staged partitions that already hold data, commit every staged partition and delete the
    rebuilt ones left without rows; ``regions``: the plan's, whose stray objects go too."""
    increment = join(staging, "increment")
    staged = staged_objects(store, increment)
    touched = partition_regions([*staged, *rebuild]) | regions
    published = published_objects(store, target_path, touched)
    root = target_path.rstrip("/") + "/"
    merge = sorted(
        p for p in staged if p not in rebuild and f"{root}{p}/{PARTITION_OBJECT}" in published.get(p, [])
    )
    final = dict(staged)
    if merge:
        merged_path = join(staging, "merged")
        tasks = shuffle_partitions([], spark.sparkContext.defaultParallelism)
        existing = [f"{root}{p}/{PARTITION_OBJECT}" for p in merge]
        merge_partitions(
            spark, increment, [staged[p] for p in merge], target_path, existing, merged_path, tasks
        )
        final.update(staged_objects(store, merged_path))
    deleted = commit(store, target_path, final, rebuild, published)
    counts = _count_published(spark, root, final)
    rebuilt = tuple(sorted(p for p in rebuild if p in final))
    return dataclasses.replace(counts, merged=tuple(merge), rebuilt=rebuilt, deleted=tuple(deleted))
