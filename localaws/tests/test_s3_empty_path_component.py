"""S3 locations with an empty path component: ``s3://bucket//table`` and ``s3://bucket/a//b``.

S3 and Athena accept them (the keys start with ``/``, or hold ``//``); the Amazon provider's system tests
build such locations. Athena (SELECT, MSCK, CTAS), the crawler and Glue Data Quality must read and write
them like any other location: pyarrow's S3 filesystem alone refuses them ("Empty path component").
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from localaws import LocalAWS
from localaws.tests.lake import Names
from localaws.tests.test_athena import all_rows, run_query, succeeded

REGIONS = ["ca", "us"]
#: Where the data lives under a bucket: the empty component first (keys start with ``/``), or inside.
LAYOUTS = [
    pytest.param("/empty-component/leading/", id="leading"),
    pytest.param("empty-component//inner/", id="inner"),
]


@pytest.fixture(scope="module")
def statistics(data_dir: Path) -> pd.DataFrame:
    frames = []
    for region in REGIONS:
        (path,) = (data_dir / "raw_statistics" / f"region={region}").glob("*.csv")
        frames.append(pd.read_csv(path)[["video_id", "views"]].assign(region=region))
    return pd.concat(frames, ignore_index=True)


def put_partitioned(aws: LocalAWS, bucket: str, prefix: str, frame: pd.DataFrame) -> list[str]:
    """``frame`` as one Parquet object per region under ``prefix`` (through boto3: keys as given)."""
    keys = []
    for region, rows in frame.groupby("region"):
        body = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(rows.drop(columns="region"), preserve_index=False), body)
        keys.append(f"{prefix}region={region}/part-00000.parquet")
        aws.client("s3").put_object(Bucket=bucket, Key=keys[-1], Body=body.getvalue())
    return keys


def keys_under(aws: LocalAWS, bucket: str, prefix: str) -> list[str]:
    return sorted(o["Key"] for o in aws.list_objects(bucket, prefix))


def suffix(layout: str) -> str:
    return layout.strip("/").rsplit("/", 1)[-1]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_athena_selects_repairs_and_ctas_writes_under_an_empty_component(
    aws: LocalAWS, names: Names, statistics: pd.DataFrame, layout: str
) -> None:
    db, analytics, name = names.database, names.analytics_database, suffix(layout)
    source = f"s3://{names.data_bucket}/{layout}source/"
    put_partitioned(aws, names.data_bucket, f"{layout}source/", statistics)
    succeeded(
        aws,
        f"CREATE EXTERNAL TABLE {db}.empty_src_{name} (video_id string, views bigint) "
        f"PARTITIONED BY (region string) STORED AS PARQUET LOCATION '{source}'",
    )
    succeeded(aws, f"MSCK REPAIR TABLE {db}.empty_src_{name}")
    partitions = aws.client("glue").get_partitions(DatabaseName=db, TableName=f"empty_src_{name}")
    assert sorted(p["StorageDescriptor"]["Location"] for p in partitions["Partitions"]) == [
        f"{source}region={r}/" for r in REGIONS
    ]
    counted = succeeded(
        aws, f"SELECT region, count(*), sum(views) FROM empty_src_{name} GROUP BY 1 ORDER BY 1"
    )
    grouped = statistics.groupby("region")["views"]
    assert all_rows(aws, counted["QueryExecutionId"])[0][1:] == [
        [r, str(n), str(s)] for (r, n), s in zip(grouped.size().items(), grouped.sum(), strict=True)
    ]

    target = f"s3://{names.reports_bucket}/{layout}ctas/"
    ctas = succeeded(
        aws,
        f"CREATE TABLE {analytics}.empty_top_{name} WITH (format='PARQUET', external_location='{target}', "
        f"partitioned_by=ARRAY['region']) AS SELECT video_id, max(views) AS views, region "
        f"FROM {db}.empty_src_{name} GROUP BY region, video_id",
    )
    written = keys_under(aws, names.reports_bucket, f"{layout}ctas/")
    assert [k.rsplit("/", 2)[1] for k in written] == [f"region={r}" for r in REGIONS]
    manifest = aws.client("s3").get_object(
        Bucket=names.results_bucket,
        Key=ctas["Statistics"]["DataManifestLocation"].split("/", 3)[3],
    )
    assert manifest["Body"].read().decode().split() == [f"s3://{names.reports_bucket}/{k}" for k in written]
    table = aws.client("glue").get_table(DatabaseName=analytics, Name=f"empty_top_{name}")["Table"]
    assert table["StorageDescriptor"]["Location"] == target
    back = succeeded(aws, f"SELECT region, count(*) FROM {analytics}.empty_top_{name} GROUP BY 1 ORDER BY 1")
    distinct = statistics.groupby("region")["video_id"].nunique()
    assert all_rows(aws, back["QueryExecutionId"])[0][1:] == [[r, str(n)] for r, n in distinct.items()]

    succeeded(
        aws,
        f"INSERT INTO {analytics}.empty_top_{name} SELECT 'x' AS video_id, CAST(1 AS bigint) AS views, "
        "'zz' AS region",
    )
    assert len(keys_under(aws, names.reports_bucket, f"{layout}ctas/region=zz/")) == 1
    partitions = aws.client("glue").get_partitions(DatabaseName=analytics, TableName=f"empty_top_{name}")
    assert f"{target}region=zz/" in {p["StorageDescriptor"]["Location"] for p in partitions["Partitions"]}


def test_athena_reads_a_text_table_under_an_empty_component(aws: LocalAWS, names: Names) -> None:
    aws.client("s3").put_object(
        Bucket=names.data_bucket, Key="//empty-component/csv/rows.csv", Body=b"a,1\nb,2\nc,3\n"
    )
    location = f"s3://{names.data_bucket}///empty-component/csv/"
    succeeded(
        aws,
        f"CREATE EXTERNAL TABLE {names.database}.empty_csv (name string, n bigint) "
        f"ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' LOCATION '{location}'",
    )
    summed = succeeded(aws, "SELECT count(*), sum(n), max(name) FROM empty_csv")
    assert all_rows(aws, summed["QueryExecutionId"])[0][1] == ["3", "6", "c"]


def test_ctas_refuses_a_non_empty_location_with_an_empty_component(aws: LocalAWS, names: Names) -> None:
    """The emptiness check sees keys under ``//``: nothing is written next to them."""
    aws.client("s3").put_object(
        Bucket=names.reports_bucket, Key="/empty-component/full/old.parquet", Body=b"x"
    )
    target = f"s3://{names.reports_bucket}//empty-component/full/"
    failed = run_query(
        aws,
        f"CREATE TABLE {names.analytics_database}.empty_full WITH (external_location='{target}') "
        "AS SELECT 1 AS a",
    )
    assert failed["Status"]["State"] == "FAILED"
    assert failed["Status"]["StateChangeReason"].startswith("HIVE_PATH_ALREADY_EXISTS")
    assert keys_under(aws, names.reports_bucket, "/empty-component/full/") == [
        "/empty-component/full/old.parquet"
    ]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_crawler_catalogs_a_target_under_an_empty_component(
    aws: LocalAWS, names: Names, statistics: pd.DataFrame, layout: str
) -> None:
    name = f"empty_crawl_{suffix(layout)}"
    put_partitioned(aws, names.landing_bucket, f"{layout}{name}/", statistics)
    target = f"s3://{names.landing_bucket}/{layout}{name}/"
    glue = aws.client("glue")
    glue.create_crawler(
        Name=name,
        Role=names.role_arn("glue"),
        DatabaseName=names.database,
        Targets={"S3Targets": [{"Path": target}]},
    )
    glue.start_crawler(Name=name)
    assert aws.wait_idle(timeout=120)
    last = glue.get_crawler(Name=name)["Crawler"]["LastCrawl"]
    assert last["Status"] == "SUCCEEDED", last
    table = glue.get_table(DatabaseName=names.database, Name=name)["Table"]
    assert table["StorageDescriptor"]["Location"] == target
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [
        ("video_id", "string"),
        ("views", "bigint"),
    ]
    partitions = glue.get_partitions(DatabaseName=names.database, TableName=name)["Partitions"]
    assert sorted(p["StorageDescriptor"]["Location"] for p in partitions) == [
        f"{target}region={r}/" for r in REGIONS
    ]
    assert int(table["Parameters"]["recordCount"]) == len(statistics)  # every footer was read


def evaluate(aws: LocalAWS, database: str, table: str, rules: str, role: str) -> dict[str, Any]:
    """Run a Data Quality evaluation of ``rules`` over ``table`` to its end; returns its one result."""
    glue, ruleset = aws.client("glue"), table
    glue.create_data_quality_ruleset(
        Name=ruleset, Ruleset=rules, TargetTable={"TableName": table, "DatabaseName": database}
    )
    run_id = glue.start_data_quality_ruleset_evaluation_run(
        DataSource={"GlueTable": {"DatabaseName": database, "TableName": table}},
        Role=role,
        RulesetNames=[ruleset],
    )["RunId"]
    deadline = time.monotonic() + 120
    while (run := glue.get_data_quality_ruleset_evaluation_run(RunId=run_id))["Status"] not in (
        "SUCCEEDED",
        "FAILED",
    ):
        assert time.monotonic() < deadline, run
        time.sleep(0.2)
    assert run["Status"] == "SUCCEEDED", run.get("ErrorString")
    (result,) = glue.batch_get_data_quality_result(ResultIds=run["ResultIds"])["Results"]
    return dict(result)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_data_quality_evaluates_a_table_under_an_empty_component(
    aws: LocalAWS, names: Names, statistics: pd.DataFrame, layout: str
) -> None:
    name = f"empty_dq_{suffix(layout)}"
    location = f"s3://{names.landing_bucket}/{layout}{name}/"
    put_partitioned(aws, names.landing_bucket, f"{layout}{name}/", statistics)
    storage = {
        "Columns": [{"Name": "video_id", "Type": "string"}, {"Name": "views", "Type": "bigint"}],
        "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
    }
    glue = aws.client("glue")
    glue.create_table(
        DatabaseName=names.database,
        TableInput={
            "Name": name,
            "TableType": "EXTERNAL_TABLE",
            "PartitionKeys": [{"Name": "region", "Type": "string"}],
            "StorageDescriptor": {**storage, "Location": location},
        },
    )
    glue.batch_create_partition(
        DatabaseName=names.database,
        TableName=name,
        PartitionInputList=[
            {"Values": [r], "StorageDescriptor": {**storage, "Location": f"{location}region={r}/"}}
            for r in REGIONS
        ],
    )
    regions = json.dumps(REGIONS)
    rules = (
        f'Rules = [ RowCount = {len(statistics)}, IsComplete "video_id", ColumnValues "region" in {regions} ]'
    )
    result = evaluate(aws, names.database, name, rules, names.role_arn("glue"))
    assert [r["Result"] for r in result["RuleResults"]] == ["PASS"] * 3, result["RuleResults"]
