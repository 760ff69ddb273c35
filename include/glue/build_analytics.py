"""Glue job ``build_analytics``: cleaned statistics joined with category titles -> the ``trending`` table.

Inputs: ``--statistics_path`` (clean_statistics output, ``region=xx/`` Parquet) and ``--category_path``
(the Lambda's ``category_reference``, ``region=xx/`` Parquet with ``category_id`` bigint and
``category_title``). The join is on (region, category_id): category ids are only unique per region, and
joining on the id alone multiplies rows across regions.

Category ids missing from a region's own file (real case: id 29 "Nonprofits & Activism" is used in FR, CA,
KR, MX, RU but only US's file defines it) keep their rows: the title comes from another region's file when
one defines the id (the most common title for it, ties broken alphabetically), else ``'Unknown'``.
``category_title_source`` says which, so reports can tell the two apart. The row count of the output
always equals that of the statistics.

Output (``--target_path``, Parquet/snappy): ``region=xx/dt=YYYY-MM-DD/`` partitions like the statistics',
each one object, rebuilt from the whole statistics table on every run (the category titles of a region
may have changed) and published atomically for readers (``lake_io``: staging folder
``_build_analytics_staging/<run_id>/``, one ``CopyObject`` per partition, then the partitions the
statistics no longer have are deleted). Columns (``youtube_lake.columns.ANALYTICS``), stable for the
crawler and Athena SQL:

every statistics column (video_id, trending_date, chart_rank, title, channel_id, channel_title, category_id,
publish_time, tags, views, likes, dislikes, comment_count, thumbnail_link, comments_disabled,
ratings_disabled, video_error_or_removed, description, source_file, source_arrival), then

=====================  =======  ==========================================================================
category_title         string   title from the region's file / another region's / ``'Unknown'``
category_title_source  string   ``region`` | ``other_region`` | ``unknown``
engagement_rate        double   (likes + dislikes + comment_count) / views over the counts the source gave
                                (API rows: no dislikes); null when views = 0 or none of the three is known
like_ratio             double   likes / (likes + dislikes); null when both are 0 (e.g. ratings disabled)
                                or either is unknown (API rows: dislikes are private since 2021-12-13)
days_to_trend          int      trending_date - publish date (UTC days)
region, dt             string   partitions (dt: the trending date as text)
=====================  =======  ==========================================================================

Counts (rows, unknown_category rows = rows whose category is not in their region's file, per region) go to
``<metrics_path>run_id=<run_id>/metrics.json`` (``youtube_lake.metrics.metrics_uri``) and stdout (one JSON
line). Deployed with ``lake_io.py`` and ``youtube_lake.zip`` (``--extra-py-files``); the DAG side's package
is never imported.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from lake_io import Store, commit, published_objects, staged_objects, store_for
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from youtube_lake.columns import ANALYTICS, STATISTICS_DATA, STATISTICS_TYPES
from youtube_lake.metrics import metrics_uri
from youtube_lake.partitions import PARTITION_COLUMNS
from youtube_lake.uris import join

JOB_ARGUMENTS = ["JOB_NAME", "statistics_path", "category_path", "target_path", "run_id", "metrics_path"]

UNKNOWN_TITLE = "Unknown"
#: Folder inside the target where runs stage their output (``_``: readers and crawlers skip it).
STAGING_FOLDER = "_build_analytics_staging"


def category_titles(categories: DataFrame) -> DataFrame:
    """One title per (region, category_id): the reference may hold a key twice (re-ingested files)."""
    return (
        categories.where(F.col("category_id").isNotNull() & F.col("region").isNotNull())
        .groupBy(F.lower("region").alias("region"), F.col("category_id").cast("bigint").alias("category_id"))
        .agg(F.min("category_title").alias("category_title"))
    )


def fallback_titles(titles: DataFrame) -> DataFrame:
    """One title per category_id across all regions: the most common, ties broken alphabetically."""
    counted = titles.groupBy("category_id", "category_title").agg(F.count(F.lit(1)).alias("_n"))
    best = Window.partitionBy("category_id").orderBy(F.col("_n").desc(), F.col("category_title"))
    return (
        counted.withColumn("_rank", F.row_number().over(best))
        .where(F.col("_rank") == 1)
        .select("category_id", F.col("category_title").alias("fallback_title"))
    )


def join_categories(statistics: DataFrame, categories: DataFrame) -> DataFrame:
    """Statistics with ``category_title`` and ``category_title_source``; never drops or multiplies rows."""
    titles = category_titles(categories)
    fallback = fallback_titles(titles)
    joined = statistics.join(F.broadcast(titles), ["region", "category_id"], "left").join(
        F.broadcast(fallback), ["category_id"], "left"
    )
    return (
        joined.withColumn(
            "category_title_source",
            F.when(F.col("category_title").isNotNull(), F.lit("region"))
            .when(F.col("fallback_title").isNotNull(), F.lit("other_region"))
            .otherwise(F.lit("unknown")),
        )
        .withColumn("category_title", F.coalesce("category_title", "fallback_title", F.lit(UNKNOWN_TITLE)))
        .drop("fallback_title")
    )


def add_metrics(df: DataFrame) -> DataFrame:
    """Derived per-row metrics; divisions by zero give null, not infinity or an error.

    A count the source does not give is NULL (the API returns no dislikes since 2021-12-13, no comment
    count when comments are off, no likes when they are hidden): ``engagement_rate`` adds the interactions
    that are known and is NULL only when none is; ``like_ratio`` needs both likes and dislikes.
    """
    c = F.col
    reactions = c("likes") + c("dislikes")
    interactions = [c("likes"), c("dislikes"), c("comment_count")]
    known = F.coalesce(*interactions).isNotNull()
    engaged = sum((F.coalesce(i, F.lit(0)) for i in interactions[1:]), F.coalesce(interactions[0], F.lit(0)))
    return df.select(
        "*",
        F.when((c("views") > 0) & known, engaged / c("views")).alias("engagement_rate"),
        F.when(reactions > 0, c("likes") / reactions).alias("like_ratio"),
        F.datediff(c("trending_date"), F.to_date(c("publish_time"))).alias("days_to_trend"),
    )


def build(statistics: DataFrame, categories: DataFrame) -> DataFrame:
    """The analytics table, columns in ``ANALYTICS`` order."""
    return add_metrics(join_categories(statistics, categories)).select(*ANALYTICS)


# ---- I/O at the edges ----------------------------------------------------------------------------


def read_parquet(spark: SparkSession, path: str) -> DataFrame:
    """A partitioned Parquet folder; partition columns come back as strings (``dt`` too, not a date)."""
    spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
    return spark.read.option("basePath", path.rstrip("/") + "/").parquet(path)


def read_statistics(spark: SparkSession, path: str) -> DataFrame:
    """The statistics, footers merged: partitions written before a column existed (``chart_rank``) give it
    as null instead of hiding it from the newer ones."""
    spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
    read = spark.read.option("basePath", path.rstrip("/") + "/").option("mergeSchema", "true").parquet(path)
    missing = [c for c in STATISTICS_DATA if c not in read.columns]
    return read.select("*", *[F.lit(None).cast(STATISTICS_TYPES[c]).alias(c) for c in missing])


def write_analytics(df: DataFrame, path: str, tasks: int) -> None:
    """Into a fresh staging folder, one file per (region, dt): each partition's rows meet in one task.

    The folder is new and the whole of it is written, so the overwrite is static whatever the session's
    ``partitionOverwriteMode``: a dynamic overwrite would stage every partition once more and rename it
    into place (a copy and a delete per object on S3).
    """
    (
        df.repartition(tasks, *PARTITION_COLUMNS)
        .write.mode("overwrite")
        .option("partitionOverwriteMode", "static")
        .option("compression", "snappy")
        .partitionBy(*PARTITION_COLUMNS)
        .parquet(path)
    )


def run(
    spark: SparkSession,
    statistics_path: str,
    category_path: str,
    target_path: str,
    metrics_path: str,
    run_id: str,
    store: Store | None = None,
) -> dict[str, Any]:
    """The whole job; returns the metrics it wrote."""
    started = time.perf_counter()
    store = store or store_for(target_path)
    store.delete_prefix(join(target_path, STAGING_FOLDER) + "/")  # what killed runs left
    staging = join(target_path, STAGING_FOLDER, run_id)
    statistics = read_statistics(spark, statistics_path)
    regions = sorted(r["region"] for r in statistics.select("region").distinct().collect())
    analytics = build(statistics, read_parquet(spark, category_path))
    observation = Observation("analytics")
    unknown = F.col("category_title_source") != "region"
    aggregates = [F.count(F.lit(1)).alias("rows"), F.count_if(unknown).alias("unknown_category")]
    for region in regions:
        here = F.col("region") == region
        aggregates += [
            F.count_if(here).alias(f"rows:{region}"),
            F.count_if(here & unknown).alias(f"unk:{region}"),
        ]
    try:
        tasks = max(1, spark.sparkContext.defaultParallelism)
        write_analytics(analytics.observe(observation, *aggregates), staging, tasks)
        final = staged_objects(store, staging)
        published = published_objects(store, target_path)
        gone = [p for p in published if p and p not in final]
        deleted = commit(store, target_path, final, gone, published)
    finally:
        store.delete_prefix(staging + "/")
    observed = observation.get
    metrics = {
        "job": "build_analytics",
        "run_id": run_id,
        "rows": int(observed["rows"]),
        "unknown_category": int(observed["unknown_category"]),
        "partitions_written": len(final),
        "partitions_deleted": deleted,
        "regions": {
            r: {"rows": int(observed[f"rows:{r}"]), "unknown_category": int(observed[f"unk:{r}"])}
            for r in regions
        },
        "seconds": round(time.perf_counter() - started, 2),
    }
    store.write_text(metrics_uri(metrics_path, run_id), json.dumps(metrics, indent=1))
    return metrics


def main(argv: Sequence[str] | None = None) -> None:
    """Glue entry point: arguments from ``getResolvedOptions``, session from the Glue runtime."""
    from awsglue.utils import getResolvedOptions

    args = getResolvedOptions(list(argv if argv is not None else sys.argv), JOB_ARGUMENTS)
    spark = SparkSession.builder.getOrCreate()
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    metrics = run(
        spark,
        statistics_path=args["statistics_path"],
        category_path=args["category_path"],
        target_path=args["target_path"],
        metrics_path=args["metrics_path"],
        run_id=args["run_id"],
    )
    print(json.dumps({k: v for k, v in metrics.items() if k != "regions"}), flush=True)


if __name__ == "__main__":
    main()
