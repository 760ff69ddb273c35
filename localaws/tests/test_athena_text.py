"""Athena over text tables through boto3: OpenCSVSerDe and LazySimpleSerDe over the real CSV files byte for
byte, the OpenX JSON SerDe over one-document-per-object JSON (the landing ledger's layout), and the DDL
Athena cannot honour here refused with NOT_SUPPORTED before anything is registered."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from localaws import LocalAWS
from localaws.tests.lake import NAMES, Names
from localaws.tests.test_athena import all_rows, run_query, succeeded

REGIONS = ["ca", "gb"]
OPEN_CSV = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
COLUMNS = (
    "video_id string, trending_date string, title string, channel_title string, category_id bigint, "
    "publish_time string, tags string, views bigint, likes bigint, dislikes bigint, comment_count bigint, "
    "thumbnail_link string, comments_disabled boolean, ratings_disabled boolean, "
    "video_error_or_removed boolean, description string"
)


@pytest.fixture(scope="module")
def text_lake(aws: LocalAWS, data_dir: Path) -> Iterator[LocalAWS]:
    """A clean runtime with the real CA and GB statistics CSVs uploaded unchanged under ``raw/region=xx/``."""
    aws.reset()
    s3 = aws.client("s3")
    for region in REGIONS:
        path = next((data_dir / "raw_statistics" / f"region={region}").glob("*.csv"))
        s3.put_object(
            Bucket=NAMES.data_bucket, Key=f"raw/region={region}/{path.name}", Body=path.read_bytes()
        )
    yield aws


def real_csv(data_dir: Path, region: str) -> pd.DataFrame:
    return pd.read_csv(next((data_dir / "raw_statistics" / f"region={region}").glob("*.csv")), dtype=str)


def rows_of(runtime: LocalAWS, query: str) -> list[list[str | None]]:
    return all_rows(runtime, succeeded(runtime, query)["QueryExecutionId"])[0][1:]


def failure(runtime: LocalAWS, query: str) -> str:
    execution = run_query(runtime, query)
    assert execution["Status"]["State"] == "FAILED", query
    return str(execution["Status"]["StateChangeReason"])


def test_open_csv_table_reads_the_real_files_like_pandas(
    text_lake: LocalAWS, names: Names, data_dir: Path
) -> None:
    succeeded(
        text_lake,
        f"CREATE EXTERNAL TABLE raw_open_csv ({COLUMNS}) PARTITIONED BY (region string) "
        f"ROW FORMAT SERDE '{OPEN_CSV}' WITH SERDEPROPERTIES ('separatorChar' = ',', 'quoteChar' = '\"') "
        f"STORED AS TEXTFILE LOCATION 's3://{names.data_bucket}/raw/' "
        "TBLPROPERTIES ('skip.header.line.count' = '1')",
    )
    table = text_lake.client("glue").get_table(DatabaseName=names.database, Name="raw_open_csv")["Table"]
    assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == OPEN_CSV
    assert table["StorageDescriptor"]["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    succeeded(text_lake, "MSCK REPAIR TABLE raw_open_csv")

    rows = rows_of(
        text_lake,
        "SELECT region, count(*), sum(views), count_if(comments_disabled), max(length(description)) "
        "FROM raw_open_csv GROUP BY region ORDER BY region",
    )
    expected = []
    for region in REGIONS:
        frame = real_csv(data_dir, region)
        expected.append(
            [
                region,
                str(len(frame)),
                str(frame["views"].astype("int64").sum()),
                str((frame["comments_disabled"] == "True").sum()),
                str(frame["description"].fillna("").str.len().max()),
            ]
        )
    assert rows == expected
    # An empty quoted description is an empty string, not NULL (OpenCSVSerDe has no null format).
    empty = rows_of(text_lake, "SELECT count(*) FROM raw_open_csv WHERE description = ''")
    total_empty = sum(int(real_csv(data_dir, r)["description"].isna().sum()) for r in REGIONS)
    assert empty == [[str(total_empty)]]


def test_lazy_simple_serde_splits_lines_and_keeps_quotes(
    text_lake: LocalAWS, names: Names, data_dir: Path
) -> None:
    """LazySimpleSerDe has no quoting: every line is a record (descriptions with line breaks make several),
    quotes stay in the values, and a field that is not a number reads as NULL in a bigint column."""
    succeeded(
        text_lake,
        f"CREATE EXTERNAL TABLE raw_lazy ({COLUMNS}) "
        "ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' "
        f"LOCATION 's3://{names.data_bucket}/raw/region=ca/' TBLPROPERTIES ('skip.header.line.count'='1')",
    )
    body = next((data_dir / "raw_statistics" / "region=ca").glob("*.csv")).read_text("utf-8")
    lines = body.split("\n")[1:]  # CA is LF-only, with LF inside quoted descriptions
    rows = rows_of(text_lake, "SELECT count(*), count(views) FROM raw_lazy")
    naive = [line.split(",") for line in lines]
    parsed_views = sum(1 for f in naive if len(f) > 7 and f[7].strip().lstrip("-").isdigit())
    assert rows == [[str(len(lines)), str(parsed_views)]]
    first = naive[0]
    title = rows_of(text_lake, f"SELECT title FROM raw_lazy WHERE video_id = '{first[0]}' LIMIT 1")
    assert title == [[first[2]]] and first[2].startswith('"')  # the quotes are part of the value


def test_openx_json_table_reads_one_document_per_object(text_lake: LocalAWS, names: Names) -> None:
    """The landing ledger's layout: one JSON line per object, an array of strings, NULLs, and a key spelt in
    another case (OpenX matches keys case-insensitively by default)."""
    s3 = text_lake.client("s3")
    documents = [
        {"key": "a.csv", "Size": 10, "verdict": "processed", "partitions": ["region=us", "region=ca"]},
        {"key": "b.json", "Size": None, "verdict": "quarantined", "partitions": []},
        {"key": "c.csv", "Size": 7, "verdict": "processed", "partitions": ["region=gb"]},
    ]
    for index, document in enumerate(documents):
        body = (json.dumps(document) + "\n").encode()
        s3.put_object(Bucket=names.data_bucket, Key=f"ledger/{index}.json", Body=body)
    succeeded(
        text_lake,
        "CREATE EXTERNAL TABLE ledger (key string, size bigint, verdict string, partitions array<string>) "
        "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' "
        f"LOCATION 's3://{names.data_bucket}/ledger/'",
    )
    rows = rows_of(
        text_lake,
        "SELECT key, size, cardinality(partitions), contains(partitions, 'region=ca') "
        "FROM ledger ORDER BY key",
    )
    assert rows == [
        ["a.csv", "10", "2", "true"],
        ["b.json", None, "0", "false"],
        ["c.csv", "7", "1", "false"],
    ]
    assert rows_of(text_lake, "SELECT count_if(size IS NULL), sum(size) FROM ledger WHERE verdict = 'x'") == [
        ["0", None]
    ]
    refused = failure(text_lake, "INSERT INTO ledger (key) VALUES ('d.csv')")
    assert refused.startswith("NOT_SUPPORTED") and "JsonSerDe" in refused
    assert rows_of(text_lake, "SELECT count(*) FROM ledger") == [["3"]]  # nothing written


@pytest.mark.parametrize(
    ("ignore", "expected"),
    [
        pytest.param("TRUE", "rows", id="ignore-malformed-gives-a-null-row"),
        pytest.param("FALSE", "fails", id="malformed-fails-the-query"),
    ],
)
def test_malformed_json_lines(text_lake: LocalAWS, names: Names, ignore: str, expected: str) -> None:
    s3 = text_lake.client("s3")
    s3.put_object(Bucket=names.data_bucket, Key="bad-json/0.json", Body=b'{"key":"ok"}\nnot json\n')
    table = f"bad_json_{ignore.lower()}"
    succeeded(
        text_lake,
        f"CREATE EXTERNAL TABLE {table} (key string) ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' "
        f"WITH SERDEPROPERTIES ('ignore.malformed.json' = '{ignore}') "
        f"LOCATION 's3://{names.data_bucket}/bad-json/'",
    )
    query = f"SELECT count(*), count(key) FROM {table}"
    if expected == "rows":
        assert rows_of(text_lake, query) == [["2", "1"]]
    else:
        reason = failure(text_lake, query)
        assert (
            reason.startswith("HIVE_CURSOR_ERROR") and f"s3://{names.data_bucket}/bad-json/0.json" in reason
        )


@pytest.mark.parametrize(
    ("ddl", "fragment"),
    [
        pytest.param("(a string) STORED AS ORC", "ORC", id="orc"),
        pytest.param(
            "(a string) ROW FORMAT SERDE 'com.example.MySerDe'", "com.example.MySerDe", id="unknown-serde"
        ),
        pytest.param(
            "(a string) ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' ESCAPED BY '\\\\'",
            "escape.delim",
            id="escaped-by",
        ),
        pytest.param(
            "(a array<string>) ROW FORMAT DELIMITED FIELDS TERMINATED BY ','",
            "complex types",
            id="array-in-csv",
        ),
        pytest.param(
            f"(a string) ROW FORMAT SERDE '{OPEN_CSV}' STORED AS PARQUET",
            "cannot read",
            id="csv-serde-parquet",
        ),
        pytest.param(
            "(a string) ROW FORMAT DELIMITED FIELDS TERMINATED BY '||'",
            "2 characters",
            id="two-char-delimiter",
        ),
    ],
)
def test_unsupported_ddl_fails_at_ddl_time_and_registers_nothing(
    text_lake: LocalAWS, names: Names, ddl: str, fragment: str
) -> None:
    reason = failure(
        text_lake, f"CREATE EXTERNAL TABLE refused {ddl} LOCATION 's3://{names.data_bucket}/raw/region=ca/'"
    )
    assert reason.startswith("NOT_SUPPORTED") and fragment in reason, reason
    glue = text_lake.client("glue")
    assert "refused" not in [t["Name"] for t in glue.get_tables(DatabaseName=names.database)["TableList"]]


def test_crawled_csv_table_reads_back_through_athena(
    text_lake: LocalAWS, names: Names, data_dir: Path
) -> None:
    """What the crawler registers for the real CSVs is what Athena reads: same rows as Python's csv."""
    glue = text_lake.client("glue")
    glue.create_crawler(
        Name="raw_csv_crawler",
        Role=names.role_arn("glue"),
        DatabaseName=names.database,
        Targets={"S3Targets": [{"Path": f"{names.data_bucket}/raw/"}]},
    )
    glue.start_crawler(Name="raw_csv_crawler")
    assert text_lake.wait_idle(timeout=120)
    rows = rows_of(text_lake, "SELECT region, count(*), sum(likes) FROM raw GROUP BY region ORDER BY region")
    expected = []
    for region in REGIONS:
        path = next((data_dir / "raw_statistics" / f"region={region}").glob("*.csv"))
        records = list(csv.DictReader(io.StringIO(path.read_text("utf-8"), newline="")))
        expected.append([region, str(len(records)), str(sum(int(r["likes"]) for r in records))])
    assert rows == expected


def test_table_metadata_is_athena_shaped(text_lake: LocalAWS, names: Names) -> None:
    """GetTableMetadata / ListTableMetadata (the provider's OpenLineage extractor reads ``location``)."""
    succeeded(
        text_lake,
        "CREATE EXTERNAL TABLE IF NOT EXISTS meta_csv (video_id string, views bigint) "
        f"PARTITIONED BY (region string) ROW FORMAT SERDE '{OPEN_CSV}' "
        f"LOCATION 's3://{names.data_bucket}/raw/' TBLPROPERTIES ('skip.header.line.count'='1')",
    )
    athena = text_lake.client("athena")
    metadata = athena.get_table_metadata(
        CatalogName="AwsDataCatalog", DatabaseName=names.database, TableName="meta_csv"
    )["TableMetadata"]
    assert metadata["Name"] == "meta_csv" and metadata["TableType"] == "EXTERNAL_TABLE"
    assert metadata["Columns"] == [
        {"Name": "video_id", "Type": "string"},
        {"Name": "views", "Type": "bigint"},
    ]
    assert metadata["PartitionKeys"] == [{"Name": "region", "Type": "string"}]
    parameters = metadata["Parameters"]
    assert parameters["location"] == f"s3://{names.data_bucket}/raw/"
    assert parameters["serde.serialization.lib"] == OPEN_CSV
    assert parameters["skip.header.line.count"] == "1"
    assert "CreateTime" in metadata

    listed = athena.list_table_metadata(
        CatalogName="AwsDataCatalog", DatabaseName=names.database, Expression="meta_.*", MaxResults=50
    )
    assert [t["Name"] for t in listed["TableMetadataList"]] == ["meta_csv"]
    for kwargs, fragment in (
        ({"TableName": "no_such_table", "DatabaseName": names.database}, "no_such_table"),
        ({"TableName": "meta_csv", "DatabaseName": "no_such_db"}, "no_such_db"),
    ):
        with pytest.raises(athena.exceptions.MetadataException, match=fragment):
            athena.get_table_metadata(CatalogName="AwsDataCatalog", **kwargs)
