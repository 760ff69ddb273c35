"""Glue crawlers: StartCrawler catalogs the Parquet under each target, like AWS.

The real Kaggle statistics are written as region-partitioned Parquet under the test lake's crawler target;
the crawler must register tables, columns and partitions that read back to the same rows, merge schemas
over recrawls and fail the way AWS reports failures.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import awswrangler as wr
import pandas as pd
import pytest
from botocore.exceptions import ClientError

from localaws import LocalAWS
from localaws.tests.lake import Names


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


def write_partitioned(frame: pd.DataFrame, uri: str) -> None:
    wr.s3.to_parquet(frame, uri, dataset=True, partition_cols=["region"], mode="overwrite_partitions")


def crawl_until_ready(runtime: LocalAWS, name: str, timeout: float = 180) -> dict[str, Any]:
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


def table_columns(table: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]


def partitions_by_value(runtime: LocalAWS, database: str, table: str) -> dict[str, dict[str, Any]]:
    pages = (
        runtime.client("glue")
        .get_paginator("get_partitions")
        .paginate(DatabaseName=database, TableName=table)
    )
    return {p["Values"][0]: p for page in pages for p in page["Partitions"]}


def crawler_metrics(runtime: LocalAWS, name: str) -> dict[str, Any]:
    (metrics,) = runtime.client("glue").get_crawler_metrics(CrawlerNameList=[name])["CrawlerMetricsList"]
    return metrics  # type: ignore[no-any-return]


def test_recrawl_merges_new_columns_andpartitions(
    clean_aws: LocalAWS, names: Names, statistics_frame: pd.DataFrame
) -> None:
    columns = ["video_id", "views", "likes", "region"]
    first = statistics_frame[statistics_frame["region"].isin(["us", "ca"])][columns]
    write_partitioned(first, names.statistics_uri)
    crawl_until_ready(clean_aws, names.crawler)
    glue = clean_aws.client("glue")
    before = glue.get_table(DatabaseName=names.database, Name="statistics")["Table"]
    assert table_columns(before) == [("video_id", "string"), ("views", "bigint"), ("likes", "bigint")]

    later = statistics_frame[statistics_frame["region"] == "gb"][columns].copy()
    later["views"] = later["views"].astype(
        "int32"
    )  # a narrower type in the new files: widened back to bigint
    later["like_ratio"] = later["likes"] / later["views"].clip(lower=1)
    write_partitioned(later, names.statistics_uri)
    crawler = crawl_until_ready(clean_aws, names.crawler)
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"

    after = glue.get_table(DatabaseName=names.database, Name="statistics")["Table"]
    merged = [("video_id", "string"), ("views", "bigint"), ("likes", "bigint"), ("like_ratio", "double")]
    assert table_columns(after) == merged
    assert int(after["Parameters"]["recordCount"]) == len(first) + len(later)
    partitions = partitions_by_value(clean_aws, names.database, "statistics")
    assert sorted(partitions) == ["ca", "gb", "us"]
    assert all(table_columns(p) == merged for p in partitions.values())
    metrics = crawler_metrics(clean_aws, names.crawler)
    assert (metrics["TablesCreated"], metrics["TablesUpdated"]) == (0, 1)


def test_exclusions_hidden_and_non_parquet_files_are_skipped(
    clean_aws: LocalAWS, names: Names, statistics_frame: pd.DataFrame, data_dir: Path
) -> None:
    glue = clean_aws.client("glue")
    glue.update_crawler(
        Name=names.crawler,
        Targets={"S3Targets": [{"Path": names.statistics_uri, "Exclusions": ["region=fr/**", "**.csv"]}]},
    )
    write_partitioned(statistics_frame[["video_id", "views", "region"]], names.statistics_uri)
    s3 = clean_aws.client("s3")
    prefix = "statistics/"
    csv = (data_dir / "raw_statistics" / "region=ca" / "CAvideos.csv").read_bytes()
    s3.put_object(Bucket=names.data_bucket, Key=f"{prefix}region=ca/CAvideos.csv", Body=csv)
    s3.put_object(Bucket=names.data_bucket, Key=f"{prefix}region=ca/_SUCCESS", Body=b"")
    s3.put_object(Bucket=names.data_bucket, Key=f"{prefix}region=ca/notes.txt", Body=b"not parquet")
    # JSON beside the Parquet: the table is what most files are (AWS would make a second table of it).
    s3.put_object(Bucket=names.data_bucket, Key=f"{prefix}region=ca/meta.json", Body=b'{"a":1}\n{"a":2}\n')
    crawler = crawl_until_ready(clean_aws, names.crawler)
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    table = glue.get_table(DatabaseName=names.database, Name="statistics")["Table"]
    expected_regions = sorted(set(statistics_frame["region"]) - {"fr"})
    assert sorted(partitions_by_value(clean_aws, names.database, "statistics")) == expected_regions
    kept = statistics_frame[statistics_frame["region"] != "fr"]
    assert int(table["Parameters"]["recordCount"]) == len(kept)
    assert table["Parameters"]["classification"] == "parquet"


def test_start_while_running_raises_crawler_running_exception(
    clean_aws: LocalAWS, names: Names, statistics_frame: pd.DataFrame
) -> None:
    write_partitioned(statistics_frame[["video_id", "region"]], names.statistics_uri)
    glue = clean_aws.client("glue")
    glue.start_crawler(Name=names.crawler)
    assert glue.get_crawler(Name=names.crawler)["Crawler"]["State"] in ("RUNNING", "STOPPING")
    with pytest.raises(ClientError) as error:
        glue.start_crawler(Name=names.crawler)
    assert error.value.response["Error"]["Code"] == "CrawlerRunningException"
    with pytest.raises(ClientError) as update_error:
        glue.update_crawler(Name=names.crawler, TablePrefix="x_")
    assert update_error.value.response["Error"]["Code"] == "CrawlerRunningException"
    assert clean_aws.wait_idle(timeout=120)
    crawler = glue.get_crawler(Name=names.crawler)["Crawler"]
    assert (crawler["State"], crawler["LastCrawl"]["Status"]) == ("READY", "SUCCEEDED")


@pytest.mark.parametrize(
    "case",
    [
        pytest.param("missing-bucket", id="missing-bucket"),
        pytest.param("incompatible-types", id="incompatible-types"),
    ],
)
def test_failed_crawl_reports_failed_with_message(
    clean_aws: LocalAWS, names: Names, statistics_frame: pd.DataFrame, case: str
) -> None:
    glue = clean_aws.client("glue")
    if case == "missing-bucket":
        glue.update_crawler(Name=names.crawler, Targets={"S3Targets": [{"Path": "s3://no-such-bucket/x/"}]})
        expected = "no-such-bucket"
    else:
        us = statistics_frame[statistics_frame["region"] == "us"][["video_id", "views", "region"]]
        gb = statistics_frame[statistics_frame["region"] == "gb"][["video_id", "views", "region"]].astype(
            {"views": "str"}
        )
        write_partitioned(us, names.statistics_uri)  # two writes: each region's files keep their own types
        write_partitioned(gb, names.statistics_uri)
        expected = "views"
    crawler = crawl_until_ready(clean_aws, names.crawler)
    assert crawler["LastCrawl"]["Status"] == "FAILED"
    assert expected in crawler["LastCrawl"]["ErrorMessage"]
    assert glue.get_tables(DatabaseName=names.database)["TableList"] == []
    log = crawler_log(clean_aws, names.crawler)
    assert any(line.startswith("ERROR") and expected in line for line in log), log
    assert log[-1].endswith("in state FAILED")


def crawler_log(runtime: LocalAWS, name: str) -> list[str]:
    """The crawler's lines in /aws-glue/crawlers (stream = crawler name), without the crawl id prefix."""
    events = runtime.client("logs").get_log_events(logGroupName="/aws-glue/crawlers", logStreamName=name)
    return [e["message"].split("] ", 1)[-1] for e in events["events"]]


def new_crawler(runtime: LocalAWS, names: Names, name: str, path: str, database: str | None = None) -> str:
    runtime.client("glue").create_crawler(
        Name=name,
        Role=names.role_arn("glue"),
        DatabaseName=database or names.database,
        Targets={"S3Targets": [{"Path": path}]},
    )
    return name


def upload_regions(runtime: LocalAWS, data_dir: Path, bucket: str, prefix: str, regions: list[str]) -> int:
    """The real datasnaek CSVs, byte for byte, under ``prefix/region=xx/``; returns their records."""
    s3 = runtime.client("s3")
    records = 0
    for region in regions:
        path = next((data_dir / "raw_statistics" / f"region={region}").glob("*.csv"))
        s3.put_object(Bucket=bucket, Key=f"{prefix}region={region}/{path.name}", Body=path.read_bytes())
        records += len(pd.read_csv(path))
    return records


def test_csv_crawl_registers_an_open_csv_table_with_a_header_and_hive_partitions(
    clean_aws: LocalAWS, names: Names, data_dir: Path
) -> None:
    """The real files (quoted titles, header) become what AWS registers: OpenCSVSerde, the header skipped,
    column names from the header, numbers typed, region partitions; the database is created when missing."""
    upload_regions(clean_aws, data_dir, names.data_bucket, "raw_csv/", ["ca", "gb"])
    crawler = new_crawler(clean_aws, names, "csv_raw", f"{names.data_bucket}/raw_csv", database="created_db")
    assert crawl_until_ready(clean_aws, crawler)["LastCrawl"]["Status"] == "SUCCEEDED"
    table = clean_aws.client("glue").get_table(DatabaseName="created_db", Name="raw_csv")["Table"]
    storage = table["StorageDescriptor"]
    assert storage["SerdeInfo"] == {
        "SerializationLibrary": "org.apache.hadoop.hive.serde2.OpenCSVSerde",
        "Parameters": {"separatorChar": ",", "quoteChar": '"'},
    }
    assert storage["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert table["Parameters"]["classification"] == "csv"
    assert table["Parameters"]["skip.header.line.count"] == "1"
    assert table["Parameters"]["areColumnsQuoted"] == "true"
    columns = dict(table_columns(table))
    assert list(columns)[:3] == ["video_id", "trending_date", "title"]
    assert (columns["views"], columns["category_id"], columns["description"]) == (
        "bigint",
        "bigint",
        "string",
    )
    assert [k["Name"] for k in table["PartitionKeys"]] == ["region"]
    assert sorted(partitions_by_value(clean_aws, "created_db", "raw_csv")) == ["ca", "gb"]
    log = crawler_log(clean_aws, crawler)
    assert "created database created_db" in " ".join(log)
    assert log[-1].endswith("in state COMPLETED")


@pytest.mark.parametrize(
    ("body", "serde", "parameters", "columns"),
    [
        pytest.param(
            b"id|views|ratio\n1|10|0.5\n2|20|1\n",
            "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
            {"field.delim": "|"},
            [("id", "bigint"), ("views", "bigint"), ("ratio", "double")],
            id="pipe-header-unquoted-lazy-simple",
        ),
        pytest.param(
            b"a\t1\ttrue\nb\t2\tfalse\n",
            "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
            {"field.delim": "\t"},
            [("col0", "string"), ("col1", "bigint"), ("col2", "boolean")],
            id="tab-no-header",
        ),
        pytest.param(
            b"name,city\nann,paris\nbob,rome\n",
            "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
            {"field.delim": ","},
            [("col0", "string"), ("col1", "string")],
            id="all-strings-first-row-is-data",
        ),
        pytest.param(
            b'{"key":"a","size":3,"partitions":["x","y"],"meta":{"ok":true}}\n{"key":"b","size":null}\n',
            "org.openx.data.jsonserde.JsonSerDe",
            {"paths": "key,size,partitions,meta"},
            [
                ("key", "string"),
                ("size", "bigint"),
                ("partitions", "array<string>"),
                ("meta", "struct<ok:boolean>"),
            ],
            id="json-lines",
        ),
    ],
)
def test_text_classifiers_choose_serde_header_and_types(
    clean_aws: LocalAWS,
    names: Names,
    body: bytes,
    serde: str,
    parameters: dict[str, str],
    columns: list[tuple[str, str]],
) -> None:
    clean_aws.client("s3").put_object(Bucket=names.data_bucket, Key="text/part-0", Body=body)
    crawler = new_crawler(clean_aws, names, "text", f"s3://{names.data_bucket}/text/")
    assert crawl_until_ready(clean_aws, crawler)["LastCrawl"]["Status"] == "SUCCEEDED"
    table = clean_aws.client("glue").get_table(DatabaseName=names.database, Name="text")["Table"]
    assert table["StorageDescriptor"]["SerdeInfo"] == {
        "SerializationLibrary": serde,
        "Parameters": parameters,
    }
    assert table_columns(table) == columns


def test_objects_no_classifier_recognises_are_skipped_and_logged(clean_aws: LocalAWS, names: Names) -> None:
    s3 = clean_aws.client("s3")
    s3.put_object(Bucket=names.data_bucket, Key="odd/notes.txt", Body=b"just one line of prose\n")
    crawler = new_crawler(clean_aws, names, "odd", f"s3://{names.data_bucket}/odd/")
    assert crawl_until_ready(clean_aws, crawler)["LastCrawl"]["Status"] == "SUCCEEDED"
    assert clean_aws.client("glue").get_tables(DatabaseName=names.database)["TableList"] == []
    assert any("notes.txt" in line and "UNKNOWN" in line for line in crawler_log(clean_aws, crawler))
