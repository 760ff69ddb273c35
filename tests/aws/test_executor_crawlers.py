"""The project's crawlers on the local runtime: what they catalog from the lake's folders, and Airflow's
GlueCrawlerRunOperator driving them (the crawler itself is tested with the runtime, in
``localaws/tests/test_crawlers.py``).

The real Kaggle statistics and category files are written as region-partitioned Parquet to the lake's
prefixes; the provisioned crawlers (named by settings) must register tables, columns and partitions that
read back to the same rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import awswrangler as wr
import pandas as pd
import pytest

from local.runtime import LocalRuntime
from localaws.tests.test_crawlers import (
    crawl_until_ready,
    crawler_metrics,
    partitions_by_value,
    statistics_frame,
    table_columns,
    write_partitioned,
)
from tests.airflow_dags import run_dag_file
from youtube_etl.settings import Settings

__all__ = ["statistics_frame"]  # a fixture of the runtime's tests, used here too

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


def test_processed_crawler_catalogs_statistics_and_categories(
    clean_aws: LocalRuntime, settings: Settings, statistics_frame: pd.DataFrame, category_frame: pd.DataFrame
) -> None:
    ledger = clean_aws.client("glue").get_table(
        DatabaseName=settings.processed_database, Name=settings.landing_ledger_table
    )["Table"]
    write_partitioned(statistics_frame, settings.statistics_uri)
    write_partitioned(category_frame, settings.category_reference_uri)
    crawler = crawl_until_ready(clean_aws, settings.processed_crawler)
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"

    glue = clean_aws.client("glue")
    tables = {t["Name"]: t for t in glue.get_tables(DatabaseName=settings.processed_database)["TableList"]}
    # The crawler adds its two tables beside the provisioned ledger table, which it leaves untouched.
    assert set(tables) == {
        settings.statistics_table,
        settings.category_reference_table,
        settings.landing_ledger_table,
    }
    assert tables[settings.landing_ledger_table] == ledger

    stats = tables[settings.statistics_table]
    expected = [(c, _glue_type(statistics_frame[c])) for c in statistics_frame.columns if c != "region"]
    assert table_columns(stats) == expected
    assert stats["PartitionKeys"] == [{"Name": "region", "Type": "string"}]
    assert stats["TableType"] == "EXTERNAL_TABLE"
    descriptor = stats["StorageDescriptor"]
    assert descriptor["Location"] == settings.statistics_uri
    assert descriptor["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
    assert descriptor["InputFormat"].endswith("MapredParquetInputFormat")
    assert descriptor["OutputFormat"].endswith("MapredParquetOutputFormat")
    assert stats["Parameters"]["classification"] == "parquet"
    assert int(stats["Parameters"]["recordCount"]) == len(statistics_frame)

    partitions = partitions_by_value(clean_aws, settings.processed_database, settings.statistics_table)
    regions = sorted(statistics_frame["region"].unique())
    assert sorted(partitions) == regions
    for region, partition in partitions.items():
        location = partition["StorageDescriptor"]["Location"]
        assert location == f"{settings.statistics_uri}region={region}/"
        assert table_columns(partition) == expected  # partitions inherit the table's schema
        assert len(wr.s3.read_parquet(location)) == int((statistics_frame["region"] == region).sum())

    categories = tables[settings.category_reference_table]
    assert table_columns(categories) == [
        ("category_id", "bigint"),
        ("title", "string"),
        ("assignable", "boolean"),
    ]
    category_partitions = partitions_by_value(
        clean_aws, settings.processed_database, settings.category_reference_table
    )
    assert sorted(category_partitions) == sorted(category_frame["region"].unique())

    metrics = crawler_metrics(clean_aws, settings.processed_crawler)
    assert (metrics["TablesCreated"], metrics["TablesUpdated"], metrics["TablesDeleted"]) == (2, 0, 0)
    assert metrics["LastRuntimeSeconds"] > 0
    crawls = glue.list_crawls(CrawlerName=settings.processed_crawler)["Crawls"]
    assert [c["State"] for c in crawls] == ["COMPLETED"]


def test_analytics_crawler_names_table_after_its_folder(
    clean_aws: LocalRuntime, settings: Settings, statistics_frame: pd.DataFrame
) -> None:
    trending = statistics_frame[["video_id", "region", "views", "trending"]].copy()
    write_partitioned(trending, settings.analytics_uri)
    assert crawl_until_ready(clean_aws, settings.analytics_crawler)["LastCrawl"]["Status"] == "SUCCEEDED"
    table = clean_aws.client("glue").get_table(
        DatabaseName=settings.analytics_database, Name=settings.analytics_table
    )["Table"]
    assert table_columns(table) == [("video_id", "string"), ("views", "bigint"), ("trending", "date")]
    assert sorted(
        partitions_by_value(clean_aws, settings.analytics_database, settings.analytics_table)
    ) == sorted(trending["region"].unique())


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
    write_partitioned(statistics_frame[["video_id", "views", "region"]], settings.statistics_uri)
    dag_id = f"test_executor_crawler_{'deferrable' if deferrable else 'polling'}"
    source = DAG_SOURCE.format(dag_id=dag_id, crawler=settings.processed_crawler, deferrable=deferrable)
    run = run_dag_file(source, dag_id, tmp_path, monkeypatch)
    assert run.state == "success"
    partitions = partitions_by_value(clean_aws, settings.processed_database, settings.statistics_table)
    assert sorted(partitions) == sorted(statistics_frame["region"].unique())
