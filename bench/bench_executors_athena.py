"""Athena executor: a grouped report query on 1M rows of real-shaped statistics vs the same query in DuckDB.

The rows are resampled from the real datasnaek CSVs (``../shared/data/youtube``), with views/likes scaled
so the groups differ, written as region-partitioned Parquet into a local runtime and registered in Glue.
The executor's time is end to end through boto3 (StartQueryExecution, polling, every result page); the
references run the same SQL in DuckDB directly, over the same S3 data (same pyarrow reads) and over a
local copy. Target: executor <= 1.5x DuckDB over the same S3 data.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import awswrangler as wr
import duckdb
import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from local.runtime import REPO_ROOT, LocalRuntime, patched_environ
from youtube_etl.settings import get_settings

ROWS = 1_000_000
REPEAT = 5
DATA = REPO_ROOT.parent / "shared" / "data" / "youtube"
COLUMNS = [
    "video_id",
    "trending_date",
    "category_id",
    "channel_title",
    "views",
    "likes",
    "dislikes",
    "comment_count",
]
REPORT = """
SELECT region, category_id, count(*) AS rows, count(DISTINCT video_id) AS videos, sum(views) AS views,
       approx_percentile(views, 0.9) AS p90_views, avg(CAST(likes AS double) / nullif(views, 0)) AS like_rate,
       max_by(video_id, views) AS top_video
FROM {table}
WHERE date_parse(trending_date, '%y.%d.%m') >= DATE '2017-11-15'
GROUP BY region, category_id
ORDER BY region, category_id
"""


def real_shaped(rows: int) -> pd.DataFrame:
    frames = []
    for path in sorted((DATA / "raw_statistics").glob("region=*/*.csv")):
        frame = pd.read_csv(path)[COLUMNS]
        frames.append(frame.assign(region=path.parent.name.removeprefix("region=")))
    real = pd.concat(frames, ignore_index=True)
    rng = np.random.default_rng(7)
    sample = real.sample(rows, replace=True, random_state=7, ignore_index=True)
    scale = rng.uniform(0.5, 1.5, rows)
    for column in ("views", "likes", "dislikes", "comment_count"):
        sample[column] = (sample[column] * scale).astype("int64")
    return sample


def timed(function: Callable[[], object]) -> tuple[float, object]:
    times, result = [], None
    for _ in range(REPEAT):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def through_executor(athena: Any, runtime: LocalRuntime, query: str, database: str) -> list[list[str | None]]:
    """One query end to end through boto3, with a client made once (making one costs ~0.1-0.2 s)."""
    query_id = athena.start_query_execution(
        QueryString=query,
        QueryExecutionContext={"Database": database},
        WorkGroup=runtime.settings.athena_workgroup,
    )["QueryExecutionId"]
    while True:
        state = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        if state["State"] not in ("QUEUED", "RUNNING"):
            break
        time.sleep(0.005)
    if state["State"] != "SUCCEEDED":
        raise RuntimeError(state.get("StateChangeReason"))
    rows: list[list[str | None]] = []
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id):
        rows += [[d.get("VarCharValue") for d in r["Data"]] for r in page["ResultSet"]["Rows"]]
    return rows


def duckdb_sql(table: str) -> str:
    """The report in DuckDB's own dialect, written by hand (the reference does not use the translator)."""
    return f"""
    SELECT region, category_id, count(*) AS rows, count(DISTINCT video_id) AS videos, sum(views) AS views,
           approx_quantile(views, 0.9) AS p90_views,
           avg(CAST(likes AS double) / nullif(views, 0)) AS like_rate, arg_max(video_id, views) AS top_video
    FROM {table}
    WHERE strptime(trending_date, '%y.%d.%m') >= DATE '2017-11-15'
    GROUP BY region, category_id ORDER BY region, category_id
    """


def main() -> None:
    settings = get_settings({})
    frame = real_shaped(ROWS)
    with LocalRuntime(settings=settings) as runtime, patched_environ(runtime.client_env()):
        location = f"s3://{settings.processed_bucket}/bench/athena_statistics/"
        start = time.perf_counter()
        wr.s3.to_parquet(
            frame,
            location,
            dataset=True,
            database=settings.processed_database,
            table="bench_statistics",
            partition_cols=["region"],
            boto3_session=runtime.session(),
        )
        print(f"loaded {ROWS:,} real-shaped rows into the runtime in {time.perf_counter() - start:.1f} s")

        s3 = pafs.S3FileSystem(
            endpoint_override=runtime.endpoint.split("://")[1],
            scheme="http",
            access_key="testing",
            secret_key="testing",
            region=settings.region,
        )
        prefix = location.removeprefix("s3://").rstrip("/")

        def duckdb_on_s3() -> list[tuple[object, ...]]:
            con = duckdb.connect()
            con.register("stats", ds.dataset(prefix, filesystem=s3, format="parquet", partitioning="hive"))
            return con.sql(duckdb_sql("stats")).fetchall()

        local = Path(tempfile.mkdtemp(prefix="bench-athena-"))
        frame.to_parquet(local, partition_cols=["region"])

        def duckdb_on_local() -> list[tuple[object, ...]]:
            return duckdb.sql(
                duckdb_sql(f"read_parquet('{local}/**/*.parquet', hive_partitioning = true)")
            ).fetchall()

        athena = runtime.client("athena")
        report = REPORT.format(table="bench_statistics")
        through_executor(
            athena, runtime, report, settings.processed_database
        )  # warm-up (imports, first connection)
        executor_s, rows = timed(
            lambda: through_executor(athena, runtime, report, settings.processed_database)
        )
        s3_s, reference = timed(duckdb_on_s3)
        local_s, _ = timed(duckdb_on_local)
        assert isinstance(rows, list) and isinstance(reference, list)
        assert len(rows) - 1 == len(reference), "executor and DuckDB disagree on the number of groups"
        print(f"grouped report, {len(reference)} groups, median of {REPEAT}:")
        print(f"  Athena executor (boto3 end to end)   {executor_s * 1000:8.0f} ms")
        ratio = executor_s / s3_s
        print(
            f"  DuckDB directly, same S3 data       {s3_s * 1000:8.0f} ms   ratio {ratio:5.2f}x (target<=1.5)"
        )
        ratio = executor_s / local_s
        print(f"  DuckDB directly, local Parquet copy   {local_s * 1000:8.0f} ms   ratio {ratio:5.2f}x")

        trivial_s, _ = timed(
            lambda: through_executor(athena, runtime, "SELECT 1", settings.processed_database)
        )
        direct_s, _ = timed(lambda: duckdb.connect().sql("SELECT 1").fetchall())
        print("trivial query (SELECT 1), median:")
        print(f"  Athena executor (boto3 end to end)   {trivial_s * 1000:8.1f} ms")
        overhead = trivial_s - direct_s
        print(
            f"  DuckDB in-process                     {direct_s * 1000:8.1f} ms   +{overhead * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
