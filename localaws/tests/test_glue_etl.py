"""Glue's own programming model in the local Glue executor: scripts written the way AWS's examples write them
(``GlueContext``, ``create_dynamic_frame.from_catalog``, the transforms, ``write_dynamic_frame``,
``getSink``, ``Job`` with bookmarks) run unchanged through ``StartJobRun`` on the real Kaggle files.

Every expected value is computed here with Python's ``csv`` and ``json`` modules from the same files, never
with the library under test.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import awswrangler as wr
import pytest
from botocore.exceptions import ClientError

from localaws import LocalAWS
from localaws.tests.lake import NAMES, Names, crawl
from localaws.tests.test_glue_jobs import job_maker, wait_for_run

pytestmark = [pytest.mark.spark, pytest.mark.timeout(900)]

PREFIX = "test-glue-etl"
RAW_TABLE = "glue_etl_raw_statistics"
SINK_TABLE = "glue_etl_popular"
#: The likes threshold of ETL_SCRIPT's Filter.
LIKES = 1_000

ETL_SCRIPT = """\
import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.transforms import *
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(
    sys.argv, ["JOB_NAME", "database", "table", "categories_path", "target_path", "sink_path", "sink_table"]
)
sc = SparkContext()
glueContext = GlueContext(sc)
spark = glueContext.spark_session
job = Job(glueContext)
job.init(args["JOB_NAME"], args)

raw = glueContext.create_dynamic_frame.from_catalog(
    database=args["database"],
    table_name=args["table"],
    push_down_predicate="region in ('us', 'ca')",
    transformation_ctx="raw",
)
mapped = ApplyMapping.apply(
    frame=raw,
    mappings=[
        ("video_id", "string", "video_id", "string"),
        ("trending_date", "string", "trending_date", "string"),
        ("category_id", "long", "category_id", "int"),
        ("views", "long", "views", "long"),
        ("likes", "long", "likes", "long"),
        ("comments_disabled", "boolean", "comments_disabled", "boolean"),
        ("region", "string", "region", "string"),
        ("no_such_field", "string", "always_null", "string"),
    ],
    transformation_ctx="mapped",
)
resolved = ResolveChoice.apply(frame=mapped, specs=[("views", "cast:double")], transformation_ctx="resolved")
popular = Filter.apply(frame=resolved, f=lambda row: row["likes"] >= 1000, transformation_ctx="popular")
renamed = RenameField.apply(frame=popular, old_name="views", new_name="view_count")

# The category files (one JSON document per region) flattened the Glue way: items become their own frame.
documents = glueContext.create_dynamic_frame.from_options(
    connection_type="s3",
    connection_options={"paths": [args["categories_path"]], "recurse": True},
    format="json",
    format_options={"multiLine": True},
    transformation_ctx="documents",
)
tables = Relationalize.apply(frame=documents, staging_path=args["TempDir"], name="root")
items = Join.apply(
    SelectFields.apply(frame=tables.select("root"), paths=["region", "items"]),
    tables.select("root_items"),
    "items",
    "id",
)
categories = ApplyMapping.apply(
    frame=items,
    mappings=[
        ("region", "string", "category_region", "string"),
        ("`items.val.id`", "string", "category_id", "int"),
        ("`items.val.snippet.title`", "string", "category", "string"),
    ],
)
joined = Join.apply(renamed, categories, ["category_id", "region"], ["category_id", "category_region"])
final = DropNullFields.apply(frame=joined.drop_fields(["category_region"]), transformation_ctx="final")
final.printSchema()

glueContext.write_dynamic_frame.from_options(
    frame=final,
    connection_type="s3",
    connection_options={"path": args["target_path"], "partitionKeys": ["region"]},
    format="parquet",
    transformation_ctx="write",
)
sink = glueContext.getSink(
    connection_type="s3",
    path=args["sink_path"],
    enableUpdateCatalog=True,
    updateBehavior="UPDATE_IN_DATABASE",
    partitionKeys=["region"],
    transformation_ctx="sink",
)
sink.setFormat("glueparquet")
sink.setCatalogInfo(catalogDatabase=args["database"], catalogTableName=args["sink_table"])
sink.writeFrame(final)
print("wrote", final.count(), "rows")
job.commit()
"""

BOOKMARK_SCRIPT = """\
import json
import sys

import boto3
from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "source_path", "report_key", "fail"])
glueContext = GlueContext(SparkContext.getOrCreate())
job = Job(glueContext)
job.init(args["JOB_NAME"], args)
frame = glueContext.create_dynamic_frame.from_options(
    connection_type="s3",
    connection_options={"paths": [args["source_path"]], "recurse": True},
    format="csv",
    format_options={"withHeader": True, "multiLine": True},
    transformation_ctx="statistics",
)
df = frame.toDF()
counts = {r["region"]: r["count"] for r in df.groupBy("region").count().collect()} if df.columns else {}
bucket, key = args["report_key"][5:].split("/", 1)
boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(counts).encode())
if args["fail"] == "yes":
    raise RuntimeError("failing after the read, before job.commit()")
job.commit()
"""

NOT_COVERED_SCRIPT = """\
from awsglue.transforms import Unbox
"""


# ---- expectations from the files, with Python's csv and json -------------------------------------------
def rows_of(data_dir: Path, region: str) -> list[dict[str, str]]:
    (path,) = sorted((data_dir / "raw_statistics" / f"region={region}").glob("*.csv"))
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def categories_of(data_dir: Path, region: str) -> dict[int, str]:
    path = data_dir / "raw_statistics_reference_data" / f"{region.upper()}_category_id.json"
    return {int(item["id"]): item["snippet"]["title"] for item in json.loads(path.read_text())["items"]}


def expected_popular(data_dir: Path, regions: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """(video_id, trending_date, category_id, view_count, likes, comments_disabled, category, region)."""
    expected = []
    for region in regions:
        categories = categories_of(data_dir, region)
        for row in rows_of(data_dir, region):
            category_id = int(row["category_id"])
            if int(row["likes"]) >= LIKES and category_id in categories:
                expected.append(
                    (
                        row["video_id"],
                        row["trending_date"],
                        category_id,
                        float(row["views"]),
                        int(row["likes"]),
                        row["comments_disabled"] == "True",
                        categories[category_id],
                        region,
                    )
                )
    return sorted(expected)


def written_popular(uri: str) -> list[tuple[Any, ...]]:
    frame = wr.s3.read_parquet(uri, dataset=True)
    return sorted(
        (
            r.video_id,
            r.trending_date,
            int(r.category_id),
            float(r.view_count),
            int(r.likes),
            bool(r.comments_disabled),
            r.category,
            str(r.region),
        )
        for r in frame.itertuples()
    )


# ---- fixtures ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lake(aws: LocalAWS, data_dir: Path) -> Iterator[LocalAWS]:
    """The raw CSVs of us, ca and gb and their category files in S3; a crawler catalogs the CSVs."""
    s3, glue = aws.client("s3"), aws.client("glue")
    for region in ("us", "ca", "gb"):
        (path,) = (data_dir / "raw_statistics" / f"region={region}").glob("*.csv")
        s3.upload_file(str(path), NAMES.landing_bucket, f"{PREFIX}/{RAW_TABLE}/region={region}/{path.name}")
        name = f"{region.upper()}_category_id.json"
        s3.upload_file(
            str(data_dir / "raw_statistics_reference_data" / name),
            NAMES.landing_bucket,
            f"{PREFIX}/categories/region={region}/{name}",
        )
    path = f"s3://{NAMES.landing_bucket}/{PREFIX}/{RAW_TABLE}/"
    crawl(aws, RAW_TABLE, path, NAMES.database, NAMES.role_arn("glue"))
    table = glue.get_table(DatabaseName=NAMES.database, Name=RAW_TABLE)["Table"]
    assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"].endswith("OpenCSVSerde")
    yield aws
    assert aws.wait_idle(timeout=60)
    glue.delete_crawler(Name=RAW_TABLE)
    for name in (RAW_TABLE, SINK_TABLE):
        try:
            glue.delete_table(DatabaseName=NAMES.database, Name=name)
        except ClientError:
            pass


@pytest.fixture
def make_job(lake: LocalAWS) -> Iterator[Callable[..., str]]:
    with job_maker(lake, NAMES.assets_bucket, NAMES.role_arn("glue")) as make:
        yield make


def report(aws: LocalAWS, uri: str) -> Any:
    bucket, key = uri[5:].split("/", 1)
    return json.loads(aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


# ---- the tests --------------------------------------------------------------------------------------------
def test_glue_style_script_reads_the_catalog_transforms_writes_and_updates_the_catalog(
    lake: LocalAWS, make_job: Any, data_dir: Path, names: Names
) -> None:
    target = f"s3://{names.data_bucket}/{PREFIX}/popular/"
    sink = f"s3://{names.data_bucket}/{PREFIX}/popular_catalogued/"
    job = make_job(
        ETL_SCRIPT,
        {
            "--database": names.database,
            "--table": RAW_TABLE,
            "--categories_path": f"s3://{names.landing_bucket}/{PREFIX}/categories/",
            "--target_path": target,
            "--sink_path": sink,
            "--sink_table": SINK_TABLE,
        },
    )
    glue = lake.client("glue")
    run_id = glue.start_job_run(JobName=job)["JobRunId"]
    run, _ = wait_for_run(glue, job, run_id, timeout=600)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")

    expected = expected_popular(data_dir, ("ca", "us"))  # gb is outside the push-down predicate
    assert len(expected) > 100 and {row[-1] for row in expected} == {"ca", "us"}
    # CA rows of category 29 (absent from CA's category file) are dropped by the inner join.
    assert any(int(r["category_id"]) == 29 and int(r["likes"]) >= LIKES for r in rows_of(data_dir, "ca"))
    assert written_popular(target) == expected
    assert written_popular(sink) == expected
    written = wr.s3.read_parquet(target, dataset=True)
    assert "always_null" not in written.columns  # DropNullFields dropped the all-NULL field

    table = glue.get_table(DatabaseName=names.database, Name=SINK_TABLE)["Table"]
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [
        ("video_id", "string"),
        ("trending_date", "string"),
        ("category_id", "int"),
        ("view_count", "double"),
        ("likes", "bigint"),
        ("comments_disabled", "boolean"),
        ("category", "string"),
    ]
    assert [(c["Name"], c["Type"]) for c in table["PartitionKeys"]] == [("region", "string")]
    assert table["StorageDescriptor"]["Location"] == sink
    partitions = glue.get_partitions(DatabaseName=names.database, TableName=SINK_TABLE)["Partitions"]
    assert sorted((p["Values"], p["StorageDescriptor"]["Location"]) for p in partitions) == [
        (["ca"], f"{sink}region=ca/"),
        (["us"], f"{sink}region=us/"),
    ]
    # The catalogued table is what Athena reads.
    athena = lake.client("athena")
    query_id = athena.start_query_execution(
        QueryString=f"SELECT region, count(*) FROM {SINK_TABLE} GROUP BY region ORDER BY region",
        QueryExecutionContext={"Database": names.database},
        ResultConfiguration={"OutputLocation": names.results_uri},
    )["QueryExecutionId"]
    assert lake.wait_idle(timeout=120)
    rows = athena.get_query_results(QueryExecutionId=query_id)["ResultSet"]["Rows"][1:]
    counted = {r["Data"][0]["VarCharValue"]: int(r["Data"][1]["VarCharValue"]) for r in rows}
    assert counted == {region: sum(1 for r in expected if r[-1] == region) for region in ("ca", "us")}


def test_bookmarks_read_each_object_once_a_failed_run_records_nothing_and_reset_reads_all(
    lake: LocalAWS, make_job: Any, data_dir: Path, names: Names
) -> None:
    source = f"{PREFIX}/bookmarked/"
    report_key = f"s3://{names.assets_bucket}/{PREFIX}/bookmark-report.json"
    job = make_job(
        BOOKMARK_SCRIPT,
        {
            "--source_path": f"s3://{names.landing_bucket}/{source}",
            "--report_key": report_key,
            "--fail": "no",
            "--job-bookmark-option": "job-bookmark-enable",
        },
    )
    glue, s3 = lake.client("glue"), lake.client("s3")
    rows = {region: len(rows_of(data_dir, region)) for region in ("us", "ca")}

    def upload(region: str) -> None:
        (path,) = (data_dir / "raw_statistics" / f"region={region}").glob("*.csv")
        s3.upload_file(str(path), names.landing_bucket, f"{source}region={region}/{path.name}")

    def run(**arguments: str) -> tuple[str, dict[str, Any], dict[str, int]]:
        run_id = glue.start_job_run(JobName=job, Arguments=arguments)["JobRunId"]
        finished, _ = wait_for_run(glue, job, run_id, timeout=600)
        return run_id, finished, report(lake, report_key)

    with pytest.raises(ClientError) as missing:
        glue.get_job_bookmark(JobName=job)
    assert missing.value.response["Error"]["Code"] == "EntityNotFoundException"

    upload("us")
    first_id, first, read = run()
    assert first["JobRunState"] == "SUCCEEDED", first.get("ErrorMessage")
    assert read == {"us": rows["us"]}

    upload("ca")
    _, failed, read = run(**{"--fail": "yes"})
    assert failed["JobRunState"] == "FAILED"
    assert failed["ErrorMessage"].startswith("RuntimeError: failing after the read")
    assert read == {"ca": rows["ca"]}  # us was skipped: the first run recorded it

    third_id, third, read = run()
    assert third["JobRunState"] == "SUCCEEDED", third.get("ErrorMessage")
    assert read == {"ca": rows["ca"]}  # the failed run recorded nothing

    entry = glue.get_job_bookmark(JobName=job)["JobBookmarkEntry"]
    assert (entry["JobName"], entry["RunId"], entry["PreviousRunId"], entry["Run"]) == (
        job,
        third_id,
        first_id,
        2,
    )
    recorded = json.loads(entry["JobBookmark"])
    assert sorted(recorded) == ["statistics"]
    assert sorted(uri.rsplit("/", 1)[1] for uri in recorded["statistics"]) == ["CAvideos.csv", "USvideos.csv"]

    _, nothing_new, read = run()
    assert nothing_new["JobRunState"] == "SUCCEEDED", nothing_new.get("ErrorMessage")
    assert read == {}

    reset = glue.reset_job_bookmark(JobName=job)["JobBookmarkEntry"]
    assert json.loads(reset["JobBookmark"]) == {}
    _, again, read = run()
    assert again["JobRunState"] == "SUCCEEDED", again.get("ErrorMessage")
    assert read == rows


def test_a_part_of_glue_the_library_does_not_cover_fails_naming_it(lake: LocalAWS, make_job: Any) -> None:
    job = make_job(NOT_COVERED_SCRIPT)
    glue = lake.client("glue")
    run_id = glue.start_job_run(JobName=job)["JobRunId"]
    run, _ = wait_for_run(glue, job, run_id)
    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"].splitlines()[0] == (
        "NotCoveredError: the transform Unbox is not covered by the local Glue ETL library "
        "(localaws/README.md lists what is)"
    )
