"""The local runtime's crawler executor: StartCrawler catalogs the Parquet under each target, like AWS.

The real Kaggle statistics and category files are written as region-partitioned Parquet to the lake's
prefixes; the provisioned crawlers (named by settings) must register tables, columns and partitions that
read back to the same rows.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import awswrangler as wr
import pandas as pd
import pytest
from botocore.exceptions import ClientError

from infra.local.executors import crawlers
from infra.local.runtime import LocalRuntime
from tests.airflow_dags import run_dag_file
from youtube_etl.settings import Settings

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"


def _glue_type(series: pd.Series) -> str:
    """The Hive type each pandas column is expected to be cataloged as (independent of the executor)."""
    if series.name == "tags_list":
        return "array<string>"
    if series.name == "trending":
        return "date"
    kind = series.dtype.kind
    return {"i": "bigint", "b": "boolean", "f": "double", "M": "timestamp"}.get(kind, "string")


@pytest.fixture(scope="module")
def statistics_frame(data_dir: Path) -> pd.DataFrame:
    """Every datasnaek statistics CSV, with a region column and a date and an array column added."""
    frames = []
    for csv in sorted((data_dir / "raw_statistics").glob("region=*/*.csv")):
        frame = pd.read_csv(csv)
        frame["region"] = csv.parent.name.split("=", 1)[1]
        frames.append(frame)
    df = pd.concat(frames, ignore_index=True)
    df["publish_time"] = pd.to_datetime(df["publish_time"], utc=True)
    df["trending"] = pd.to_datetime(df["trending_date"], format="%y.%d.%m").dt.date
    df["tags_list"] = df["tags"].str.split("|")
    return df


@pytest.fixture(scope="module")
def category_frame(data_dir: Path) -> pd.DataFrame:
    rows = []
    for path in sorted((data_dir / "raw_statistics_reference_data").glob("*_category_id.json")):
        region = path.name.split("_", 1)[0].lower()
        for item in json.loads(path.read_bytes())["items"]:
            rows.append(
                {
                    "category_id": int(item["id"]),
                    "title": item["snippet"]["title"],
                    "assignable": item["snippet"]["assignable"],
                    "region": region,
                }
            )
    return pd.DataFrame(rows)


def _write(frame: pd.DataFrame, uri: str) -> None:
    wr.s3.to_parquet(frame, uri, dataset=True, partition_cols=["region"], mode="overwrite_partitions")


def _crawl(runtime: LocalRuntime, name: str, timeout: float = 180) -> dict[str, Any]:
    """Start a crawler and poll GetCrawler until READY, as the provider's waiter does."""
    glue = runtime.client("glue")
    glue.start_crawler(Name=name)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        crawler: dict[str, Any] = glue.get_crawler(Name=name)["Crawler"]
        if crawler["State"] == "READY":
            return crawler
        time.sleep(0.2)
    raise AssertionError(f"crawler {name} still {crawler['State']} after {timeout} s")


def _columns(table: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]


def _partitions(runtime: LocalRuntime, database: str, table: str) -> dict[str, dict[str, Any]]:
    pages = (
        runtime.client("glue")
        .get_paginator("get_partitions")
        .paginate(DatabaseName=database, TableName=table)
    )
    return {p["Values"][0]: p for page in pages for p in page["Partitions"]}


def _metrics(runtime: LocalRuntime, name: str) -> dict[str, Any]:
    (metrics,) = runtime.client("glue").get_crawler_metrics(CrawlerNameList=[name])["CrawlerMetricsList"]
    return metrics  # type: ignore[no-any-return]


def test_processed_crawler_catalogs_statistics_and_categories(
    clean_aws: LocalRuntime, settings: Settings, statistics_frame: pd.DataFrame, category_frame: pd.DataFrame
) -> None:
    _write(statistics_frame, settings.statistics_uri)
    _write(category_frame, settings.category_reference_uri)
    crawler = _crawl(clean_aws, settings.processed_crawler)
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"

    glue = clean_aws.client("glue")
    tables = {t["Name"]: t for t in glue.get_tables(DatabaseName=settings.processed_database)["TableList"]}
    assert set(tables) == {settings.statistics_table, settings.category_reference_table}

    stats = tables[settings.statistics_table]
    expected = [(c, _glue_type(statistics_frame[c])) for c in statistics_frame.columns if c != "region"]
    assert _columns(stats) == expected
    assert stats["PartitionKeys"] == [{"Name": "region", "Type": "string"}]
    assert stats["TableType"] == "EXTERNAL_TABLE"
    descriptor = stats["StorageDescriptor"]
    assert descriptor["Location"] == settings.statistics_uri
    assert descriptor["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
    assert descriptor["InputFormat"].endswith("MapredParquetInputFormat")
    assert descriptor["OutputFormat"].endswith("MapredParquetOutputFormat")
    assert stats["Parameters"]["classification"] == "parquet"
    assert int(stats["Parameters"]["recordCount"]) == len(statistics_frame)

    partitions = _partitions(clean_aws, settings.processed_database, settings.statistics_table)
    regions = sorted(statistics_frame["region"].unique())
    assert sorted(partitions) == regions
    for region, partition in partitions.items():
        location = partition["StorageDescriptor"]["Location"]
        assert location == f"{settings.statistics_uri}region={region}/"
        assert _columns(partition) == expected  # partitions inherit the table's schema
        assert len(wr.s3.read_parquet(location)) == int((statistics_frame["region"] == region).sum())

    categories = tables[settings.category_reference_table]
    assert _columns(categories) == [("category_id", "bigint"), ("title", "string"), ("assignable", "boolean")]
    category_partitions = _partitions(
        clean_aws, settings.processed_database, settings.category_reference_table
    )
    assert sorted(category_partitions) == sorted(category_frame["region"].unique())

    metrics = _metrics(clean_aws, settings.processed_crawler)
    assert (metrics["TablesCreated"], metrics["TablesUpdated"], metrics["TablesDeleted"]) == (2, 0, 0)
    assert metrics["LastRuntimeSeconds"] > 0
    crawls = glue.list_crawls(CrawlerName=settings.processed_crawler)["Crawls"]
    assert [c["State"] for c in crawls] == ["COMPLETED"]


def test_analytics_crawler_names_table_after_its_folder(
    clean_aws: LocalRuntime, settings: Settings, statistics_frame: pd.DataFrame
) -> None:
    trending = statistics_frame[["video_id", "region", "views", "trending"]].copy()
    _write(trending, settings.analytics_uri)
    assert _crawl(clean_aws, settings.analytics_crawler)["LastCrawl"]["Status"] == "SUCCEEDED"
    table = clean_aws.client("glue").get_table(
        DatabaseName=settings.analytics_database, Name=settings.analytics_table
    )["Table"]
    assert _columns(table) == [("video_id", "string"), ("views", "bigint"), ("trending", "date")]
    assert sorted(_partitions(clean_aws, settings.analytics_database, settings.analytics_table)) == sorted(
        trending["region"].unique()
    )


def test_recrawl_merges_new_columns_and_partitions(
    clean_aws: LocalRuntime, settings: Settings, statistics_frame: pd.DataFrame
) -> None:
    columns = ["video_id", "views", "likes", "region"]
    first = statistics_frame[statistics_frame["region"].isin(["us", "ca"])][columns]
    _write(first, settings.statistics_uri)
    _crawl(clean_aws, settings.processed_crawler)
    glue = clean_aws.client("glue")
    before = glue.get_table(DatabaseName=settings.processed_database, Name=settings.statistics_table)["Table"]
    assert _columns(before) == [("video_id", "string"), ("views", "bigint"), ("likes", "bigint")]

    later = statistics_frame[statistics_frame["region"] == "gb"][columns].copy()
    later["views"] = later["views"].astype(
        "int32"
    )  # a narrower type in the new files: widened back to bigint
    later["like_ratio"] = later["likes"] / later["views"].clip(lower=1)
    _write(later, settings.statistics_uri)
    crawler = _crawl(clean_aws, settings.processed_crawler)
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"

    after = glue.get_table(DatabaseName=settings.processed_database, Name=settings.statistics_table)["Table"]
    merged = [("video_id", "string"), ("views", "bigint"), ("likes", "bigint"), ("like_ratio", "double")]
    assert _columns(after) == merged
    assert int(after["Parameters"]["recordCount"]) == len(first) + len(later)
    partitions = _partitions(clean_aws, settings.processed_database, settings.statistics_table)
    assert sorted(partitions) == ["ca", "gb", "us"]
    assert all(_columns(p) == merged for p in partitions.values())
    metrics = _metrics(clean_aws, settings.processed_crawler)
    assert (metrics["TablesCreated"], metrics["TablesUpdated"]) == (0, 1)


def test_exclusions_hidden_and_non_parquet_files_are_skipped(
    clean_aws: LocalRuntime, settings: Settings, statistics_frame: pd.DataFrame, data_dir: Path
) -> None:
    glue = clean_aws.client("glue")
    glue.update_crawler(
        Name=settings.processed_crawler,
        Targets={"S3Targets": [{"Path": settings.statistics_uri, "Exclusions": ["region=fr/**", "**.csv"]}]},
    )
    _write(statistics_frame[["video_id", "views", "region"]], settings.statistics_uri)
    s3 = clean_aws.client("s3")
    prefix = settings.prefixes.statistics
    csv = (data_dir / "raw_statistics" / "region=ca" / "CAvideos.csv").read_bytes()
    s3.put_object(Bucket=settings.processed_bucket, Key=f"{prefix}region=ca/CAvideos.csv", Body=csv)
    s3.put_object(Bucket=settings.processed_bucket, Key=f"{prefix}region=ca/_SUCCESS", Body=b"")
    s3.put_object(Bucket=settings.processed_bucket, Key=f"{prefix}region=ca/notes.txt", Body=b"not parquet")
    crawler = _crawl(clean_aws, settings.processed_crawler)
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    table = glue.get_table(DatabaseName=settings.processed_database, Name=settings.statistics_table)["Table"]
    expected_regions = sorted(set(statistics_frame["region"]) - {"fr"})
    assert (
        sorted(_partitions(clean_aws, settings.processed_database, settings.statistics_table))
        == expected_regions
    )
    kept = statistics_frame[statistics_frame["region"] != "fr"]
    assert int(table["Parameters"]["recordCount"]) == len(kept)


def test_start_while_running_raises_crawler_running_exception(
    clean_aws: LocalRuntime, settings: Settings, statistics_frame: pd.DataFrame
) -> None:
    _write(statistics_frame[["video_id", "region"]], settings.statistics_uri)
    glue = clean_aws.client("glue")
    glue.start_crawler(Name=settings.processed_crawler)
    assert glue.get_crawler(Name=settings.processed_crawler)["Crawler"]["State"] in ("RUNNING", "STOPPING")
    with pytest.raises(ClientError) as error:
        glue.start_crawler(Name=settings.processed_crawler)
    assert error.value.response["Error"]["Code"] == "CrawlerRunningException"
    with pytest.raises(ClientError) as update_error:
        glue.update_crawler(Name=settings.processed_crawler, TablePrefix="x_")
    assert update_error.value.response["Error"]["Code"] == "CrawlerRunningException"
    assert crawlers.wait_idle(clean_aws, timeout=120)
    crawler = glue.get_crawler(Name=settings.processed_crawler)["Crawler"]
    assert (crawler["State"], crawler["LastCrawl"]["Status"]) == ("READY", "SUCCEEDED")


@pytest.mark.parametrize(
    "case",
    [
        pytest.param("missing-database", id="missing-database"),
        pytest.param("incompatible-types", id="incompatible-types"),
    ],
)
def test_failed_crawl_reports_failed_with_message(
    clean_aws: LocalRuntime, settings: Settings, statistics_frame: pd.DataFrame, case: str
) -> None:
    glue = clean_aws.client("glue")
    if case == "missing-database":
        _write(statistics_frame[["video_id", "region"]], settings.statistics_uri)
        glue.update_crawler(Name=settings.processed_crawler, DatabaseName="no_such_database")
        expected = "no_such_database"
    else:
        us = statistics_frame[statistics_frame["region"] == "us"][["video_id", "views", "region"]]
        gb = statistics_frame[statistics_frame["region"] == "gb"][["video_id", "views", "region"]].astype(
            {"views": "str"}
        )
        _write(us, settings.statistics_uri)  # two writes: each region's files keep their own types
        _write(gb, settings.statistics_uri)
        expected = "views"
    crawler = _crawl(clean_aws, settings.processed_crawler)
    assert crawler["LastCrawl"]["Status"] == "FAILED"
    assert expected in crawler["LastCrawl"]["ErrorMessage"]
    assert glue.get_tables(DatabaseName=settings.processed_database)["TableList"] == []


DAG_SOURCE = """
from airflow.providers.amazon.aws.operators.glue_crawler import GlueCrawlerRunOperator
from airflow.sdk import DAG

with DAG(dag_id="{dag_id}", schedule=None) as dag:
    GlueCrawlerRunOperator(
        task_id="crawl_processed",
        crawler_name="{crawler}",
        poll_interval=1,
        deferrable={deferrable},
    )
"""


@pytest.mark.parametrize(
    "deferrable", [pytest.param(False, id="polling"), pytest.param(True, id="deferrable")]
)
def test_glue_crawler_run_operator_in_a_dag(
    clean_aws: LocalRuntime,
    settings: Settings,
    statistics_frame: pd.DataFrame,
    airflow_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    deferrable: bool,
) -> None:
    _write(statistics_frame[["video_id", "views", "region"]], settings.statistics_uri)
    dag_id = f"test_executor_crawler_{'deferrable' if deferrable else 'polling'}"
    source = DAG_SOURCE.format(dag_id=dag_id, crawler=settings.processed_crawler, deferrable=deferrable)
    run = run_dag_file(source, dag_id, tmp_path, monkeypatch)
    assert run.state == "success"
    partitions = _partitions(clean_aws, settings.processed_database, settings.statistics_table)
    assert sorted(partitions) == sorted(statistics_frame["region"].unique())
