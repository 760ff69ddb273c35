"""Glue jobs of the project on the local runtime: Airflow's GlueJobOperator driving job runs, and the
project's real Glue scripts as provisioned (the job executor itself is tested with the runtime, in
``localaws/tests/test_glue_jobs.py``).
"""

from __future__ import annotations

import csv
import json
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import awswrangler as wr
import pytest

from local.runtime import REPO_ROOT, LocalRuntime
from localaws.tests.test_glue_jobs import RAISING_SCRIPT, job_maker, wait_for_run
from tests.airflow_dags import run_dag_file

pytestmark = [pytest.mark.spark, pytest.mark.timeout(600)]


@pytest.fixture
def runtime(local_aws: LocalRuntime) -> Iterator[LocalRuntime]:
    yield local_aws
    assert local_aws.wait_idle(timeout=60)


@pytest.fixture
def make_job(runtime: LocalRuntime) -> Iterator[Callable[..., str]]:
    """Jobs of test scripts in the project's assets bucket, with the project's Glue role."""
    with job_maker(runtime, runtime.settings.assets_bucket, runtime.role_arn("glue")) as make:
        yield make


# ---- Airflow's GlueJobOperator -----------------------------------------------------------------------------
MARKER_SCRIPT = """\
import json
import sys
import time

import boto3
from awsglue.utils import getResolvedOptions

args = getResolvedOptions(sys.argv, ["JOB_NAME", "marker_uri", "seconds"])
time.sleep(float(args["seconds"]))
bucket, key = args["marker_uri"][5:].split("/", 1)
boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(args).encode())
print("marker written", flush=True)
"""


OPERATOR_DAG = """\
from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.sdk import DAG

with DAG(dag_id={dag_id!r}, schedule=None, catchup=False) as dag:
    GlueJobOperator(
        task_id="run_job",
        job_name={job!r},
        script_args={script_args!r},
        aws_conn_id={conn_id!r},
        region_name={region!r},
        wait_for_completion={wait!r},
        deferrable={deferrable!r},
        verbose=True,
        job_poll_interval=1,
        waiter_delay=1,
        waiter_max_attempts=120,
        retries=0,
    )
"""


def run_operator_dag(
    runtime: LocalRuntime,
    job: str,
    script_args: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wait: bool = True,
    deferrable: bool = False,
) -> Any:
    """``dag.test()`` of a one-task GlueJobOperator DAG against the runtime."""
    dag_id = f"test_glue_operator_{uuid.uuid4().hex[:8]}"
    source = OPERATOR_DAG.format(
        dag_id=dag_id,
        job=job,
        script_args=script_args,
        conn_id=runtime.settings.aws_conn_id,
        region=runtime.settings.region,
        wait=wait,
        deferrable=deferrable,
    )
    return run_dag_file(source, dag_id, tmp_path, monkeypatch)


@pytest.mark.parametrize(
    ("wait_for_completion", "deferrable"),
    [
        pytest.param(True, False, id="wait-polling"),
        pytest.param(False, False, id="no-wait"),
        pytest.param(True, True, id="wait-deferrable"),
    ],
)
def test_glue_job_operator_in_a_dag(
    runtime: LocalRuntime,
    make_job: Any,
    airflow_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wait_for_completion: bool,
    deferrable: bool,
) -> None:
    s = runtime.settings
    job = make_job(MARKER_SCRIPT, {"--seconds": "2"})
    marker = f"s3://{s.assets_bucket}/test-glue/markers/{uuid.uuid4().hex}.json"
    dag_run = run_operator_dag(
        runtime, job, {"--marker_uri": marker}, tmp_path, monkeypatch, wait_for_completion, deferrable
    )
    assert dag_run.state == "success"

    glue = runtime.client("glue")
    (listed,) = glue.get_job_runs(JobName=job)["JobRuns"]
    assert listed["Arguments"]["--marker_uri"] == marker
    if wait_for_completion:
        assert listed["JobRunState"] == "SUCCEEDED"  # the task waited for it
    run, _ = wait_for_run(glue, job, listed["Id"])
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    bucket, key = marker[5:].split("/", 1)
    written = json.loads(runtime.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert (written["JOB_NAME"], written["marker_uri"], written["seconds"]) == (job, marker, "2")


def test_glue_job_operator_fails_the_task_when_the_script_fails(
    runtime: LocalRuntime, make_job: Any, airflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = make_job(RAISING_SCRIPT)
    dag_run = run_operator_dag(runtime, job, {"--region": "zz"}, tmp_path, monkeypatch)
    assert dag_run.state == "failed"
    (run,) = runtime.client("glue").get_job_runs(JobName=job)["JobRuns"]
    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"].startswith("ValueError: unknown region 'zz'")


# ---- the project's real Glue scripts, as provisioned ------------------------------------------------------
def _csv_records(data_dir: Path) -> dict[str, list[dict[str, str]]]:
    records = {}
    for folder in sorted((data_dir / "raw_statistics").glob("region=*")):
        (path,) = sorted(folder.glob("*.csv"))
        with path.open(encoding="utf-8", newline="") as handle:
            records[folder.name.split("=", 1)[1]] = list(csv.DictReader(handle))
    return records


def _category_titles(data_dir: Path) -> dict[tuple[str, int], str]:
    titles = {}
    for path in sorted((data_dir / "raw_statistics_reference_data").glob("*_category_id.json")):
        region = path.name[:2].lower()
        for item in json.loads(path.read_text(encoding="utf-8"))["items"]:
            titles[(region, int(item["id"]))] = item["snippet"]["title"]
    return titles


def _read_json(runtime: LocalRuntime, uri: str) -> dict[str, Any]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return dict(json.loads(runtime.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()))


def test_real_glue_scripts_run_through_start_job_run(runtime: LocalRuntime, data_dir: Path) -> None:
    """clean_statistics then build_analytics, as the runtime provisions them, on the real sample files.

    Paths are overridden per run (run Arguments win over DefaultArguments) so the shared session runtime's
    pipeline prefixes stay untouched; everything else comes from the provisioned job definitions.
    """
    import pandas as pd

    s = runtime.settings
    glue = runtime.client("glue")
    session = runtime.session()
    base = f"s3://{s.processed_bucket}/test-glue/pipeline/"
    records = _csv_records(data_dir)
    for region in records:
        (path,) = sorted((data_dir / "raw_statistics" / f"region={region}").glob("*.csv"))
        runtime.client("s3").upload_file(
            str(path), s.raw_bucket, f"test-glue/raw/region={region}/{path.name}"
        )
    # The category reference as the Lambda writes it (region partitions, category_id bigint, title).
    titles = _category_titles(data_dir)
    reference = pd.DataFrame(
        [{"category_id": i, "category_title": t, "region": r} for (r, i), t in titles.items()]
    )
    wr.s3.to_parquet(
        reference,
        f"{base}category_reference/",
        dataset=True,
        partition_cols=["region"],
        boto3_session=session,
    )

    run_id = f"glue_executor_{uuid.uuid4().hex[:8]}"
    s3 = runtime.client("s3")
    planned = []
    for region in sorted(records):
        (path,) = sorted((data_dir / "raw_statistics" / f"region={region}").glob("*.csv"))
        key = f"test-glue/raw/region={region}/{path.name}"
        head = s3.head_object(Bucket=s.raw_bucket, Key=key)
        planned.append(
            {
                "key": key,
                "uri": f"s3://{s.raw_bucket}/{key}",
                "etag": head["ETag"].strip('"'),
                "version_id": head.get("VersionId"),
                "size": head["ContentLength"],
                "arrival": "2017-11-14T00:00:00Z",
                "region": region,
            }
        )
    plan_key = f"test-glue/plans/{run_id}/plan.json"
    s3.put_object(
        Bucket=s.assets_bucket, Key=plan_key, Body=json.dumps({"run_id": run_id, "statistics": planned})
    )
    clean = glue.start_job_run(
        JobName=s.clean_statistics_job,
        Arguments={
            "--plan_path": f"s3://{s.assets_bucket}/{plan_key}",
            "--target_path": f"{base}statistics/",
            "--quarantine_path": f"{base}quarantine/",
            "--ledger_path": f"{base}ledger/",
            "--metrics_path": f"{base}metrics/clean/",
            "--run_id": run_id,
        },
    )["JobRunId"]
    run, _ = wait_for_run(glue, s.clean_statistics_job, clean, timeout=600)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    assert run["Arguments"]["--reject_threshold"] == str(s.reject_threshold)  # from DefaultArguments

    metrics = _read_json(runtime, f"{base}metrics/clean/run_id={run_id}/metrics.json")
    statistics = wr.s3.read_parquet(f"{base}statistics/", dataset=True, boto3_session=session)
    statistics["region"] = statistics["region"].astype(str)
    written = statistics.groupby("region").size().to_dict()
    for region, rows in records.items():
        entry = metrics["regions"][region]
        assert entry["read"] == len(rows), region  # every CSV record, counted by Python's csv module
        pairs = {(r["video_id"], r["trending_date"]) for r in rows}
        assert entry["written"] == written[region] == len(pairs) - entry["rejected"], region
    assert not statistics.duplicated(["region", "video_id", "trending_date"]).any()
    # Staged output published with CopyObject: one object per region and day, no staging left behind.
    listed = s3.list_objects_v2(Bucket=s.processed_bucket, Prefix="test-glue/pipeline/statistics/")
    keys = [o["Key"].removeprefix("test-glue/pipeline/statistics/") for o in listed.get("Contents", [])]
    assert keys and all(
        re.fullmatch(r"region=[a-z]{2}/dt=\d{4}-\d{2}-\d{2}/data\.snappy\.parquet", k) for k in keys
    ), keys
    assert {k.split("/")[0] for k in keys} == {f"region={r}" for r in records}
    ledger = s3.list_objects_v2(Bucket=s.processed_bucket, Prefix="test-glue/pipeline/ledger/")
    assert len(ledger.get("Contents", [])) == len(records)

    analytics_run = glue.start_job_run(
        JobName=s.build_analytics_job,
        Arguments={
            "--statistics_path": f"{base}statistics/",
            "--category_path": f"{base}category_reference/",
            "--target_path": f"{base}trending/",
            "--metrics_path": f"{base}metrics/analytics/",
            "--run_id": run_id,
        },
    )["JobRunId"]
    run, _ = wait_for_run(glue, s.build_analytics_job, analytics_run, timeout=600)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")

    trending = wr.s3.read_parquet(f"{base}trending/", dataset=True, boto3_session=session)
    trending["region"] = trending["region"].astype(str)
    assert trending.groupby("region").size().to_dict() == written
    own = trending[trending["category_title_source"] == "region"]
    assert len(own) > 0
    expected_titles = [titles[(r, int(c))] for r, c in zip(own["region"], own["category_id"], strict=True)]
    assert own["category_title"].tolist() == expected_titles
    # CA uses category 29, which only other regions' files define (SOURCES.md): its rows keep a title.
    ca29 = trending[(trending["region"] == "ca") & (trending["category_id"] == 29)]
    assert len(ca29) > 0 and set(ca29["category_title_source"]) == {"other_region"}
    assert set(ca29["category_title"]) == {titles[("us", 29)]}
    analytics_metrics = _read_json(runtime, f"{base}metrics/analytics/run_id={run_id}/metrics.json")
    assert analytics_metrics["rows"] == len(trending)


WHERE_SCRIPT = """\
import json
import sys

import boto3
import lake_io
import youtube_lake
from awsglue.utils import getResolvedOptions

from pyspark.sql import SparkSession

args = getResolvedOptions(sys.argv, ["JOB_NAME", "marker_uri"])
bucket, key = args["marker_uri"][5:].split("/", 1)
where = {"youtube_lake": youtube_lake.__file__, "lake_io": lake_io.__file__}


def in_a_worker(rows):
    import os

    import pyspark
    import youtube_lake

    archives = [p for p in sys.path if p.endswith((".zip", ".jar")) and os.path.isfile(p)]
    yield {"youtube_lake": youtube_lake.__file__, "pyspark": pyspark.__file__, "archives": archives}


spark = SparkSession.builder.getOrCreate()
where["worker"] = spark.sparkContext.parallelize([0], 1).mapPartitions(in_a_worker).collect()[0]
boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(where).encode())
"""


def test_glue_jobs_import_the_lake_contracts_from_the_deployed_zip(
    runtime: LocalRuntime, make_job: Callable[..., str]
) -> None:
    """youtube_lake comes from the youtube_lake.zip provisioning uploaded (the jobs' --extra-py-files), not
    from this checkout: the venv's editable install would hide a zip that is missing or stale."""
    s = runtime.settings
    extra = s.glue_job_arguments(s.build_analytics_job)["--extra-py-files"]
    job = make_job(WHERE_SCRIPT, {"--extra-py-files": extra, "--job-bookmark-option": "job-bookmark-disable"})
    marker = f"s3://{s.assets_bucket}/test-glue/where-{uuid.uuid4().hex[:8]}.json"
    glue = runtime.client("glue")
    run_id = glue.start_job_run(JobName=job, Arguments={"--marker_uri": marker})["JobRunId"]
    run, _ = wait_for_run(glue, job, run_id, timeout=300)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    where = _read_json(runtime, marker)
    lake = Path(where["youtube_lake"])
    assert lake.parts[-3:] == ("youtube_lake.zip", "youtube_lake", "__init__.py"), lake
    assert not lake.is_relative_to(REPO_ROOT / "include"), "imported from the checkout, not the zip"
    assert Path(where["lake_io"]).name == "lake_io.py"
    assert not Path(where["lake_io"]).is_relative_to(REPO_ROOT / "include"), "lake_io.py as uploaded"
    # A Python task of the job sees the same zip (a pre-started driver ships it to its workers, as Glue
    # ships --extra-py-files), and PySpark installed, without Spark's own archives on its path (the
    # runtime's lean worker daemon: each of them made every Python task ~3x slower).
    worker = where["worker"]
    assert Path(worker["youtube_lake"]).parts[-3:] == lake.parts[-3:], worker
    assert ".zip" not in worker["pyspark"] and Path(worker["pyspark"]).parent.name == "pyspark", worker
    assert [Path(p).name for p in worker["archives"]] == ["youtube_lake.zip"], worker
