"""The Glue job executor: StartJobRun really runs a PySpark script against the local AWS runtime.

Tiny job scripts are uploaded to the runtime's S3 and registered with ``create_job`` like infra does; they
read the real Kaggle CSVs through ``s3://`` (S3A), write partitioned Parquet back, and the test reads the
result with awswrangler and compares it with what Python's ``csv`` module computes from the same files.
"""

from __future__ import annotations

import csv
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import awswrangler as wr
import pytest
from botocore.exceptions import ClientError

from infra.local import spark as local_spark
from infra.local.executors import glue_jobs
from infra.local.runtime import LocalRuntime
from tests.airflow_dags import run_dag_file

pytestmark = [pytest.mark.spark, pytest.mark.timeout(600)]

REGIONS = ("us", "ca", "gb")
FINAL_STATES = {"SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR"}

#: Groups the real statistics by region (Hive partition folder) and category; echoes what it was given.
COUNT_SCRIPT = """\
import json
import sys

import boto3
from awsglue.utils import getResolvedOptions
from pyspark.sql import SparkSession, functions as F

args = getResolvedOptions(sys.argv, ["JOB_NAME", "source_path", "target_path", "echo_key"])
spark = SparkSession.builder.getOrCreate()
frame = (
    spark.read.option("header", True).option("multiLine", True).option("escape", '"')
    .csv(args["source_path"])
)
counts = frame.groupBy("region", "category_id").agg(
    F.count("*").alias("rows"), F.countDistinct("video_id").alias("videos")
)
counts.write.mode("overwrite").partitionBy("region").parquet(args["target_path"])
print("wrote", counts.count(), "groups")
bucket, key = args["echo_key"][5:].split("/", 1)
echo = {"argv": sys.argv[1:], "args": args, "tz": spark.conf.get("spark.sql.session.timeZone"),
        "overwrite": spark.conf.get("spark.sql.sources.partitionOverwriteMode")}
boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(echo).encode())
"""

RAISING_SCRIPT = """\
import sys
from awsglue.utils import getResolvedOptions

args = getResolvedOptions(sys.argv, ["JOB_NAME", "region"])
print("checking region", args["region"])
raise ValueError(f"unknown region {args['region']!r}")
"""

MISSING_INPUT_SCRIPT = """\
import sys
from awsglue.utils import getResolvedOptions
from pyspark.sql import SparkSession

args = getResolvedOptions(sys.argv, ["JOB_NAME", "source_path"])
SparkSession.builder.getOrCreate().read.parquet(args["source_path"]).count()
"""

SLEEP_SCRIPT = """\
import sys
import time

print("sleeping", flush=True)
time.sleep(float(sys.argv[sys.argv.index("--seconds") + 1]))
"""


# ---- helpers ---------------------------------------------------------------------------------------------
def expected_counts(data_dir: Path) -> dict[tuple[str, str], tuple[int, int]]:
    """(region, category_id) -> (rows, distinct video ids), by Python's csv module over the same files."""
    rows: Counter[tuple[str, str]] = Counter()
    videos: dict[tuple[str, str], set[str]] = {}
    for region in REGIONS:
        (path,) = sorted((data_dir / "raw_statistics" / f"region={region}").glob("*.csv"))
        with path.open(encoding="utf-8", newline="") as handle:
            for record in csv.DictReader(handle):
                key = (region, record["category_id"])
                rows[key] += 1
                videos.setdefault(key, set()).add(record["video_id"])
    return {key: (rows[key], len(videos[key])) for key in rows}


def wait_for_run(glue: Any, job: str, run_id: str, timeout: float = 300) -> tuple[dict[str, Any], list[str]]:
    """Poll GetJobRun until a final state; returns the run and the distinct states seen, in order."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]
        if not seen or seen[-1] != run["JobRunState"]:
            seen.append(run["JobRunState"])
        if run["JobRunState"] in FINAL_STATES:
            return run, seen
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} of {job} still {seen[-1]} after {timeout} s")


@pytest.fixture(scope="module")
def runtime(local_aws: LocalRuntime, data_dir: Path) -> Iterator[LocalRuntime]:
    """The session runtime with the real statistics CSVs under a test prefix of the raw bucket."""
    s3 = local_aws.client("s3")
    for region in REGIONS:
        for path in (data_dir / "raw_statistics" / f"region={region}").glob("*.csv"):
            s3.upload_file(
                str(path), local_aws.settings.raw_bucket, f"test-glue/in/region={region}/{path.name}"
            )
    yield local_aws
    assert glue_jobs.wait_idle(local_aws, timeout=60)


@pytest.fixture
def make_job(runtime: LocalRuntime) -> Iterator[Any]:
    """Upload a script and register a job for it (unique name); deleted afterwards."""
    glue = runtime.client("glue")
    created: list[str] = []

    def make(script: str, default_arguments: dict[str, str] | None = None, **spec: Any) -> str:
        name = f"test-glue-{uuid.uuid4().hex[:8]}"
        key = f"{runtime.settings.prefixes.glue_scripts}tests/{name}.py"
        runtime.client("s3").put_object(Bucket=runtime.settings.assets_bucket, Key=key, Body=script.encode())
        glue.create_job(
            Name=name,
            Role=runtime.role_arn("glue"),
            Command={
                "Name": "glueetl",
                "ScriptLocation": f"s3://{runtime.settings.assets_bucket}/{key}",
                "PythonVersion": "3",
            },
            DefaultArguments=default_arguments or {},
            GlueVersion="5.1",
            **spec,
        )
        created.append(name)
        return name

    yield make
    assert glue_jobs.wait_idle(runtime, timeout=60)
    for name in created:
        glue.delete_job(JobName=name)


# ---- happy path on the real data -------------------------------------------------------------------------
def test_job_run_reads_real_csvs_and_writes_partitioned_parquet_then_reruns_one_region(
    runtime: LocalRuntime, make_job: Any, data_dir: Path
) -> None:
    s = runtime.settings
    target = f"s3://{s.processed_bucket}/test-glue/counts/"
    echo = f"s3://{s.assets_bucket}/test-glue/echo.json"
    job = make_job(
        COUNT_SCRIPT,
        {
            "--source_path": f"s3://{s.raw_bucket}/test-glue/in/",
            "--target_path": "s3://overridden/",
            "--echo_key": echo,
            "--job-bookmark-option": "job-bookmark-disable",
        },
        ExecutionProperty={"MaxConcurrentRuns": 2},
    )
    glue = runtime.client("glue")
    run_id = glue.start_job_run(JobName=job, Arguments={"--target_path": target})["JobRunId"]
    run, states = wait_for_run(glue, job, run_id)

    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    assert states[-1] == "SUCCEEDED"
    order = ["STARTING", "RUNNING", "SUCCEEDED"]
    assert [order.index(state) for state in states] == sorted(order.index(state) for state in states)
    assert run["StartedOn"] <= run["CompletedOn"]
    elapsed = (run["CompletedOn"] - run["StartedOn"]).total_seconds()
    assert 1 <= run["ExecutionTime"] and abs(run["ExecutionTime"] - elapsed) <= 5
    assert run["Arguments"]["--target_path"] == target  # the run's argument wins over the default
    assert run["Arguments"]["--echo_key"] == echo

    written = wr.s3.read_parquet(target, dataset=True)
    actual = {(str(r.region), str(r.category_id)): (int(r.rows), int(r.videos)) for r in written.itertuples()}
    assert actual == expected_counts(data_dir)

    bucket, key = echo[5:].split("/", 1)
    echoed = json.loads(runtime.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert echoed["args"]["JOB_NAME"] == job
    assert echoed["args"]["JOB_RUN_ID"] == run_id
    assert echoed["args"]["JOB_ID"].startswith("j_")
    assert echoed["args"]["TempDir"] == f"s3://{s.assets_bucket}/{s.prefixes.glue_temp}"
    assert echoed["args"]["target_path"] == target
    assert echoed["args"]["job_bookmark_option"] == "job-bookmark-disable"
    assert (echoed["tz"], echoed["overwrite"]) == ("UTC", "dynamic")

    # The driver's stdout is in CloudWatch Logs where Glue puts it (stream = run id).
    events = runtime.client("logs").get_log_events(
        logGroupName=f"{run['LogGroupName']}/output", logStreamName=run_id
    )["events"]
    expected_groups = len(expected_counts(data_dir))
    assert f"wrote {expected_groups} groups" in [e["message"] for e in events]

    runs = glue.get_job_runs(JobName=job)["JobRuns"]
    assert [r["Id"] for r in runs] == [run_id]

    # A re-run over one region replaces only that partition (dynamic overwrite through S3A): GB's rows
    # filed as region=us make the new content recognisable.
    (gb_csv,) = (data_dir / "raw_statistics" / "region=gb").glob("*.csv")
    runtime.client("s3").upload_file(str(gb_csv), s.raw_bucket, "test-glue/in-us-only/region=us/data.csv")
    rerun_id = glue.start_job_run(
        JobName=job,
        Arguments={"--target_path": target, "--source_path": f"s3://{s.raw_bucket}/test-glue/in-us-only/"},
    )["JobRunId"]
    rerun, _ = wait_for_run(glue, job, rerun_id)
    assert rerun["JobRunState"] == "SUCCEEDED", rerun.get("ErrorMessage")
    rewritten = wr.s3.read_parquet(target, dataset=True)
    actual = {
        (str(r.region), str(r.category_id)): (int(r.rows), int(r.videos)) for r in rewritten.itertuples()
    }
    full = expected_counts(data_dir)
    expected = {k: v for k, v in full.items() if k[0] != "us"}
    expected |= {("us", category): v for (region, category), v in full.items() if region == "gb"}
    assert actual == expected
    assert [r["Id"] for r in glue.get_job_runs(JobName=job)["JobRuns"]] == [rerun_id, run_id]


# ---- failure paths ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("script", "arguments", "first_line"),
    [
        pytest.param(
            RAISING_SCRIPT, {"--region": "zz"}, "ValueError: unknown region 'zz'", id="script-raises"
        ),
        pytest.param(
            RAISING_SCRIPT,
            {},
            "GlueArgumentError: the following arguments are required: --region",
            id="missing-argument",
        ),
        pytest.param(
            MISSING_INPUT_SCRIPT,
            {"--source_path": "s3://youtube-dev-processed/test-glue/does-not-exist/"},
            "AnalysisException: [PATH_NOT_FOUND] Path does not exist: "
            "s3://youtube-dev-processed/test-glue/does-not-exist.",
            id="spark-error",
        ),
    ],
)
def test_failed_script_reports_its_error(
    runtime: LocalRuntime, make_job: Any, script: str, arguments: dict[str, str], first_line: str
) -> None:
    job = make_job(script)
    glue = runtime.client("glue")
    run_id = glue.start_job_run(JobName=job, Arguments=arguments)["JobRunId"]
    run, states = wait_for_run(glue, job, run_id)

    assert run["JobRunState"] == "FAILED"
    assert "SUCCEEDED" not in states
    message = run["ErrorMessage"]
    assert message.splitlines()[0] == first_line
    # The message points at the kept driver log, whose tail it repeats.
    log_path = Path(message.splitlines()[1].split("local driver log ", 1)[1].split(" ", 1)[0])
    assert log_path.is_file() and first_line.split(":")[0] in log_path.read_text()
    errors = runtime.client("logs").get_log_events(logGroupName="/aws-glue/jobs/error", logStreamName=run_id)
    assert any("Traceback" in e["message"] for e in errors["events"])
    assert run["CompletedOn"] >= run["StartedOn"]


def test_missing_script_fails_the_run(runtime: LocalRuntime, make_job: Any) -> None:
    job = make_job(SLEEP_SCRIPT)
    glue = runtime.client("glue")
    location = glue.get_job(JobName=job)["Job"]["Command"]["ScriptLocation"]
    bucket, key = glue_jobs.split_s3_uri(location)
    runtime.client("s3").delete_object(Bucket=bucket, Key=key)
    run_id = glue.start_job_run(JobName=job, Arguments={"--seconds": "0"})["JobRunId"]
    run, _ = wait_for_run(glue, job, run_id)
    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"].startswith(f"FileNotFoundError: cannot download the script {location}")


def test_concurrent_runs_limit_and_stop(runtime: LocalRuntime, make_job: Any) -> None:
    job = make_job(SLEEP_SCRIPT, {"--seconds": "120"}, ExecutionProperty={"MaxConcurrentRuns": 1})
    glue = runtime.client("glue")
    first = glue.start_job_run(JobName=job)["JobRunId"]
    with pytest.raises(ClientError) as excinfo:
        glue.start_job_run(JobName=job)
    assert excinfo.value.response["Error"]["Code"] == "ConcurrentRunsExceededException"
    assert job in excinfo.value.response["Error"]["Message"]

    _wait_running(glue, job, first)
    process = _local_run(job, first).process
    assert process is not None and process.poll() is None

    stopped = glue.batch_stop_job_run(JobName=job, JobRunIds=[first, "jr_unknown"])
    assert [s["JobRunId"] for s in stopped["SuccessfulSubmissions"]] == [first]
    assert [(e["JobRunId"], e["ErrorDetail"]["ErrorCode"]) for e in stopped["Errors"]] == [
        ("jr_unknown", "EntityNotFoundException")
    ]
    run, _ = wait_for_run(glue, job, first, timeout=30)
    assert run["JobRunState"] == "STOPPED"
    assert process.poll() is not None  # the script's process is gone

    # The slot is free again; a second job's limit of 2 lets two runs overlap.
    again = glue.start_job_run(JobName=job, Arguments={"--seconds": "0"})["JobRunId"]
    assert wait_for_run(glue, job, again)[0]["JobRunState"] == "SUCCEEDED"
    wide = make_job(SLEEP_SCRIPT, {"--seconds": "1"}, ExecutionProperty={"MaxConcurrentRuns": 2})
    runs = [glue.start_job_run(JobName=wide)["JobRunId"] for _ in range(2)]
    assert [wait_for_run(glue, wide, r)[0]["JobRunState"] for r in runs] == ["SUCCEEDED", "SUCCEEDED"]
    listed = glue.get_job_runs(JobName=wide)["JobRuns"]
    assert [r["Id"] for r in listed] == runs[::-1]  # newest first, like Glue


def _wait_running(glue: Any, job: str, run_id: str) -> None:
    deadline = time.monotonic() + 30
    while glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]["JobRunState"] != "RUNNING":
        assert time.monotonic() < deadline, "the run never reached RUNNING"
        time.sleep(0.1)


def test_run_past_its_timeout_is_killed(
    runtime: LocalRuntime, make_job: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run's Timeout (minutes; shrunk to seconds here) ends the process and reports TIMEOUT."""
    monkeypatch.setattr(glue_jobs, "TIMEOUT_UNIT_SECONDS", 1.0)
    job = make_job(SLEEP_SCRIPT, {"--seconds": "120"}, Timeout=60)
    glue = runtime.client("glue")
    run_id = glue.start_job_run(JobName=job, Timeout=2)["JobRunId"]
    run, _ = wait_for_run(glue, job, run_id, timeout=60)
    assert run["JobRunState"] == "TIMEOUT"
    assert run["ErrorMessage"] == "Job run timed out after 2 minutes"
    assert run["Timeout"] == 2
    process = _local_run(job, run_id).process
    assert process is not None and process.poll() is not None
    assert 2 <= run["ExecutionTime"] < 60


def test_runtime_reset_stops_running_jobs(runtime: LocalRuntime, make_job: Any) -> None:
    """``reset`` and ``shutdown`` share ``stop_all``: no job process outlives the runtime's state."""
    job = make_job(SLEEP_SCRIPT, {"--seconds": "120"})
    glue = runtime.client("glue")
    run_id = glue.start_job_run(JobName=job)["JobRunId"]
    _wait_running(glue, job, run_id)
    local = _local_run(job, run_id)
    assert local.process is not None and local.process.poll() is None
    glue_jobs.reset(runtime)
    assert local.process.poll() is not None
    assert local.status == "STOPPED" and local.done.is_set()
    assert glue_jobs.wait_idle(runtime, timeout=1)


def _local_run(job: str, run_id: str) -> glue_jobs.LocalJobRun:
    for executor in glue_jobs._executors.values():
        for run in executor.runs:
            if run.job_run_id == run_id and run.job_name == job:
                return run
    raise AssertionError(f"no local run {run_id}")


# ---- pure helpers ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("stderr", "returncode", "expected"),
    [
        pytest.param(
            "26/11/24 10:00:00 WARN Utils: noise\nTraceback (most recent call last):\n"
            '  File "job.py", line 3, in <module>\n    raise KeyError("x")\nKeyError: \'x\'\n'
            "26/11/24 10:00:01 WARN ShutdownHookManager: later noise\n",
            1,
            "KeyError: 'x'",
            id="python-exception",
        ),
        pytest.param(
            'Traceback (most recent call last):\n  File "a.py", line 1\nValueError: first\n\n'
            "During handling of the above exception, another exception occurred:\n\n"
            'Traceback (most recent call last):\n  File "a.py", line 2\n'
            "pyspark.errors.exceptions.captured.AnalysisException: [X] second\n",
            1,
            "AnalysisException: [X] second",
            id="chained-module-qualified",
        ),
        pytest.param(
            'Traceback (most recent call last):\n  File "a"\nSystemExit\n',
            3,
            "SystemExit",
            id="bare-exception-name",
        ),
        pytest.param("", 137, "Command failed with exit code 137", id="killed-without-output"),
        pytest.param(
            "java.lang.OutOfMemoryError: Java heap space\n",
            1,
            "java.lang.OutOfMemoryError: Java heap space",
            id="no-traceback",
        ),
    ],
)
def test_error_message(stderr: str, returncode: int, expected: str) -> None:
    assert glue_jobs.error_message(stderr, returncode) == expected


def test_job_arguments_like_glue() -> None:
    argv = glue_jobs.job_arguments(
        "job", "j_1", "jr_1", {"--a": "1 2", "b": "x", "--TempDir": "s3://t/"}, "s3://default/"
    )
    pairs = dict(zip(argv[::2], argv[1::2], strict=True))
    assert pairs == {
        "--JOB_ID": "j_1",
        "--JOB_RUN_ID": "jr_1",
        "--JOB_NAME": "job",
        "--a": "1 2",
        "--b": "x",
        "--TempDir": "s3://t/",
    }
    assert "s3://default/" in glue_jobs.job_arguments("job", "j", "jr", {}, "s3://default/")


def test_spark_conf_from_glue_conf_argument() -> None:
    raw = {"--conf": "spark.sql.shuffle.partitions=8 --conf spark.x.y=a=b"}
    assert glue_jobs.spark_conf_from_arguments(raw) == {
        "spark.sql.shuffle.partitions": "8",
        "spark.x.y": "a=b",
    }
    assert glue_jobs.spark_conf_from_arguments({}) == {}


def test_spark_defaults_map_every_s3_scheme_to_s3a(tmp_path: Path) -> None:
    conf = local_spark.spark_conf("http://127.0.0.1:5000", master="local[1]")
    folder = local_spark.write_conf_dir(tmp_path / "conf", conf)
    lines = dict(line.split(" ", 1) for line in (folder / "spark-defaults.conf").read_text().splitlines())
    for scheme in ("s3", "s3a", "s3n"):
        assert lines[f"spark.hadoop.fs.{scheme}.impl"] == local_spark.S3A_FILE_SYSTEM
    assert lines["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:5000"
    assert lines["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    jars = [Path(p) for p in lines["spark.jars"].split(",")]
    assert [p.name for p in jars] == list(local_spark.S3A_JARS) and all(p.is_file() for p in jars)
    assert all(v.isdigit() for k, v in lines.items() if k.endswith("timeout"))
    with pytest.raises(ValueError):
        local_spark.render_spark_defaults({"spark.bad": "two\nlines"})


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
    bucket, key = glue_jobs.split_s3_uri(uri)
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
    clean = glue.start_job_run(
        JobName=s.clean_statistics_job,
        Arguments={
            "--source_path": f"s3://{s.raw_bucket}/test-glue/raw/",
            "--target_path": f"{base}statistics/",
            "--quarantine_path": f"{base}quarantine/",
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
    # Staged output moved into place over S3A: only region folders of Parquet files remain.
    listed = runtime.client("s3").list_objects_v2(
        Bucket=s.processed_bucket, Prefix="test-glue/pipeline/statistics/"
    )
    keys = [o["Key"].removeprefix("test-glue/pipeline/statistics/") for o in listed.get("Contents", [])]
    assert keys and all(k.startswith("region=") and k.endswith(".parquet") for k in keys), keys
    assert {k.split("/")[0] for k in keys} == {f"region={r}" for r in records}

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
