"""One Glue catalog for the crawler and Athena: the same types, the same refusals, the same table shape."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from localaws import LocalAWS
from localaws._catalog import (
    PARQUET_INPUT_FORMAT,
    PARQUET_SERDE,
    UnsupportedType,
    glue_type,
    inherited_storage,
    is_hidden,
)
from localaws.tests.lake import Names


@pytest.mark.parametrize(
    ("arrow_type", "expected"),
    [
        pytest.param(pa.string(), "string", id="string"),
        pytest.param(pa.large_string(), "string", id="large-string"),
        pytest.param(pa.string_view(), "string", id="string-view"),
        pytest.param(pa.null(), "string", id="all-null"),
        pytest.param(pa.dictionary(pa.int32(), pa.string()), "string", id="dictionary"),
        pytest.param(pa.int8(), "tinyint", id="int8"),
        pytest.param(pa.uint8(), "smallint", id="uint8-widened"),
        pytest.param(pa.uint16(), "int", id="uint16-widened"),
        pytest.param(pa.uint32(), "bigint", id="uint32-widened"),
        pytest.param(pa.float16(), "float", id="float16"),
        pytest.param(pa.decimal128(12, 3), "decimal(12,3)", id="decimal"),
        pytest.param(pa.date64(), "date", id="date64"),
        pytest.param(pa.timestamp("ns", tz="UTC"), "timestamp", id="timestamp-tz"),
        pytest.param(pa.binary(16), "binary", id="fixed-binary"),
        pytest.param(pa.large_list(pa.int64()), "array<bigint>", id="large-list"),
        pytest.param(pa.list_(pa.string(), 3), "array<string>", id="fixed-list"),
        pytest.param(pa.map_(pa.string(), pa.float64()), "map<string,double>", id="map"),
        pytest.param(
            pa.struct([("a", pa.int32()), ("b", pa.list_(pa.bool_()))]),
            "struct<a:int,b:array<boolean>>",
            id="struct",
        ),
    ],
)
def test_glue_type_of_arrow_types(arrow_type: pa.DataType, expected: str) -> None:
    assert glue_type(arrow_type) == expected


@pytest.mark.parametrize(
    "arrow_type",
    [
        pytest.param(pa.time64("us"), id="time"),
        pytest.param(pa.duration("s"), id="duration"),
        pytest.param(pa.list_(pa.time32("ms")), id="time-inside-a-list"),
    ],
)
def test_types_without_a_glue_type_are_refused_not_guessed(arrow_type: pa.DataType) -> None:
    with pytest.raises(UnsupportedType, match="has no Glue column type"):
        glue_type(arrow_type)


@pytest.mark.parametrize(
    ("key", "hidden"),
    [
        pytest.param("region=us/part-0.parquet", False, id="data"),
        pytest.param("region=us/_SUCCESS", True, id="marker"),
        pytest.param("_temporary/0/part-0.parquet", True, id="temporary-folder"),
        pytest.param("region=us/.part-0.parquet.crc", True, id="dot-file"),
        pytest.param("region=us/", True, id="folder-object"),
        pytest.param("region=us_$folder$", True, id="folder-marker"),
    ],
)
def test_hidden_objects(key: str, hidden: bool) -> None:
    assert is_hidden(key) is hidden


def test_a_partition_inherits_its_tables_columns_and_formats() -> None:
    table = {
        "StorageDescriptor": {
            "Columns": [{"Name": "views", "Type": "bigint"}],
            "Location": "s3://b/t/",
            "SerdeInfo": {"SerializationLibrary": "x.CustomSerDe"},
            "Parameters": {"recordCount": "12"},
        }
    }
    storage = inherited_storage(table, "s3://b/t/region=us/")
    assert storage["Location"] == "s3://b/t/region=us/"
    assert storage["Columns"] == [{"Name": "views", "Type": "bigint"}]
    assert storage["SerdeInfo"] == {"SerializationLibrary": "x.CustomSerDe"}
    assert storage["InputFormat"] == PARQUET_INPUT_FORMAT  # the table had none: Parquet's
    assert "Parameters" not in storage  # the table's figures are not the partition's


# ---- the crawler and Athena agree ----------------------------------------------------------------------
def _query(aws: LocalAWS, names: Names, sql: str) -> dict[str, Any]:
    athena = aws.client("athena")
    query_id = athena.start_query_execution(
        QueryString=sql, QueryExecutionContext={"Database": names.database}, WorkGroup=names.workgroup
    )["QueryExecutionId"]
    assert aws.wait_idle(timeout=120)
    return dict(athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"])


def _crawl(aws: LocalAWS, names: Names) -> dict[str, Any]:
    glue = aws.client("glue")
    glue.start_crawler(Name=names.crawler)
    assert aws.wait_idle(timeout=120)
    deadline = time.monotonic() + 30
    while (crawler := glue.get_crawler(Name=names.crawler)["Crawler"])["State"] != "READY":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return dict(crawler)


def test_a_time_column_is_refused_by_athena_and_the_crawler_alike(clean_aws: LocalAWS, names: Names) -> None:
    """Before, the crawler registered an unknown Arrow type as ``string`` (unreadable later) while Athena
    refused it: both refuse now, naming the type."""
    location = f"s3://{names.data_bucket}/ctas_time/"
    ctas = _query(
        clean_aws,
        names,
        f"CREATE TABLE t_time WITH (external_location = '{location}') AS "
        "SELECT 'a' AS id, CAST('10:30:00' AS time) AS at",
    )
    assert ctas["Status"]["State"] == "FAILED"
    assert ctas["Status"]["StateChangeReason"].startswith("NOT_SUPPORTED: Unsupported column type")
    assert "time64" in ctas["Status"]["StateChangeReason"]

    table = pa.table({"id": ["a"], "at": pa.array([37_800_000_000], pa.time64("us"))})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    key = "statistics/region=us/part-0.parquet"
    clean_aws.client("s3").put_object(Bucket=names.data_bucket, Key=key, Body=buffer.getvalue())
    crawler = _crawl(clean_aws, names)
    assert crawler["LastCrawl"]["Status"] == "FAILED"
    message = crawler["LastCrawl"]["ErrorMessage"]
    assert f"s3://{names.data_bucket}/{key}" in message and "time64" in message
    assert clean_aws.client("glue").get_tables(DatabaseName=names.database)["TableList"] == []


def test_crawled_and_ctas_tables_have_the_same_shape(clean_aws: LocalAWS, names: Names) -> None:
    """A table the crawler registers and one Athena's CTAS registers over the same data: same SerDe,
    formats, columns and types — and Athena reads the crawled one back."""
    table = pa.table({"video_id": ["a", "b"], "views": pa.array([1, 2], pa.int64()), "liked": [True, False]})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    clean_aws.client("s3").put_object(
        Bucket=names.data_bucket, Key="statistics/region=us/part-0.parquet", Body=buffer.getvalue()
    )
    assert _crawl(clean_aws, names)["LastCrawl"]["Status"] == "SUCCEEDED"
    location = f"s3://{names.data_bucket}/copy/"
    ctas = _query(
        clean_aws,
        names,
        f"CREATE TABLE copy WITH (external_location = '{location}', partitioned_by = ARRAY['region']) "
        "AS SELECT video_id, views, liked, region FROM statistics",
    )
    assert ctas["Status"]["State"] == "SUCCEEDED", ctas["Status"].get("StateChangeReason")
    glue = clean_aws.client("glue")
    crawled = glue.get_table(DatabaseName=names.database, Name="statistics")["Table"]
    copied = glue.get_table(DatabaseName=names.database, Name="copy")["Table"]
    for made in (crawled, copied):
        storage = made["StorageDescriptor"]
        assert storage["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
        assert (storage["InputFormat"], storage["OutputFormat"]) == (
            crawled["StorageDescriptor"]["InputFormat"],
            crawled["StorageDescriptor"]["OutputFormat"],
        )
        assert [(c["Name"], c["Type"]) for c in storage["Columns"]] == [
            ("video_id", "string"),
            ("views", "bigint"),
            ("liked", "boolean"),
        ]
        assert [k["Name"] for k in made["PartitionKeys"]] == ["region"]
    assert json.loads(json.dumps(copied["Parameters"]))["classification"] == "parquet"
