"""The local runtime on CSV objects against DuckDB's own ``read_csv`` on the same bytes (target: ≤ 1.5×).

The real US statistics file (byte for byte) is put ``COPIES`` times under one region folder of the runtime's
S3. Side by side, run alternately, medians of ``RUNS``:

* crawl: ``StartCrawler`` until READY (classify every object, write the table and its partition) vs DuckDB
  sniffing the same files (``DESCRIBE read_csv``: header and column types);
* Athena: a grouped aggregate over the crawled OpenCSVSerDe table through the API (start, poll, results) vs
  the same aggregate by DuckDB over ``read_csv`` of local copies of the objects.

DuckDB is told the dialect (delimiter, quote, escape) on both rows.

DuckDB cannot read the runtime's S3 (no httpfs offline), so its side reads local files: the reference is
the cheaper one.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from localaws import LocalAWS

DATA = Path(
    os.environ.get("YOUTUBE_ETL_DATA", Path(__file__).resolve().parents[2] / "shared" / "data" / "youtube")
)
SOURCE = DATA / "raw_statistics" / "region=us" / "USvideos.csv"
COPIES = 12
RUNS = 5
BUCKET = "bench-text"
CRAWLER = "bench_csv"
DATABASE = "bench_text"
QUERY = (
    "SELECT category_id, count(*) AS n, sum(views) AS views, count_if(comments_disabled) AS closed "
    "FROM {table} GROUP BY category_id ORDER BY category_id"
)


def _provision(aws: LocalAWS) -> None:
    aws.client("s3").create_bucket(Bucket=BUCKET)
    aws.client("athena").create_work_group(
        Name="bench", Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{BUCKET}/results/"}}
    )
    aws.client("glue").create_crawler(
        Name=CRAWLER,
        Role="arn:aws:iam::123456789012:role/bench",
        DatabaseName=DATABASE,
        Targets={"S3Targets": [{"Path": f"s3://{BUCKET}/statistics/"}]},
    )


def _crawl(aws: LocalAWS) -> None:
    glue = aws.client("glue")
    glue.start_crawler(Name=CRAWLER)
    while (crawler := glue.get_crawler(Name=CRAWLER)["Crawler"])["State"] != "READY":
        time.sleep(0.02)
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED", crawler["LastCrawl"]


def _athena(aws: LocalAWS) -> list[list[str | None]]:
    athena = aws.client("athena")
    query_id = athena.start_query_execution(
        QueryString=QUERY.format(table="statistics"),
        QueryExecutionContext={"Database": DATABASE},
        WorkGroup="bench",
    )["QueryExecutionId"]
    while (state := athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"])[
        "State"
    ] in ("QUEUED", "RUNNING"):
        time.sleep(0.01)
    assert state["State"] == "SUCCEEDED", state
    rows = athena.get_query_results(QueryExecutionId=query_id)["ResultSet"]["Rows"][1:]
    return [[d.get("VarCharValue") for d in row["Data"]] for row in rows]


#: DuckDB's reader told the file's dialect (its own dialect sniffing of the real file, whose tags field is
#: not RFC 4180, takes ~4x longer with strict_mode off): the fastest reference DuckDB offers.
LENIENT = "delim = ',', quote = '\"', escape = '\"', strict_mode = false"


def _duckdb_sniff(files: list[str]) -> None:
    duckdb.connect().sql(f"DESCRIBE SELECT * FROM read_csv({files}, {LENIENT})").fetchall()


def _duckdb_query(files: list[str]) -> list[tuple[object, ...]]:
    table = f"read_csv({files}, header = true, {LENIENT})"
    return duckdb.connect().sql(QUERY.format(table=table)).fetchall()


def _median(run: Callable[[], object]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    body = SOURCE.read_bytes()
    print(
        f"load average {os.getloadavg()[0]:.2f}; {COPIES} objects x {len(body) / 1e6:.1f} MB (real US file)"
    )
    with (
        tempfile.TemporaryDirectory() as scratch,
        LocalAWS(provision=_provision, crawler_stopping_seconds=0) as aws,
    ):
        files = []
        for index in range(COPIES):
            key = f"statistics/region=us/part-{index:02d}.csv"
            aws.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
            local = Path(scratch) / f"part-{index:02d}.csv"
            local.write_bytes(body)
            files.append(str(local))
        _crawl(aws)
        local_rows = [[str(v) if v is not None else None for v in row] for row in _duckdb_query(files)]
        assert _athena(aws) == local_rows, "Athena over the crawled table and DuckDB disagree"
        figures = []
        for name, ours, reference in (
            ("crawl CSV (classify + catalog)", lambda: _crawl(aws), lambda: _duckdb_sniff(files)),
            ("Athena over the CSV table", lambda: _athena(aws), lambda: _duckdb_query(files)),
        ):
            figures.append((name, _median(ours), _median(reference)))
    print(f"{'':34} {'localaws':>10} {'DuckDB':>10} {'ratio':>7}")
    for name, ours_s, reference_s in figures:
        print(f"{name:34} {ours_s:>9.3f}s {reference_s:>9.3f}s {ours_s / reference_s:>6.2f}x")
    print(f"load average {os.getloadavg()[0]:.2f}")
