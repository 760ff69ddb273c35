"""Glue jobs: StartJobRun really runs a PySpark script against the local AWS runtime.

Tiny job scripts are uploaded to the runtime's S3 and registered with ``create_job``; they read the real
Kaggle CSVs through ``s3://`` (S3A), write partitioned Parquet back, and the test reads the result with
awswrangler and compares it with what Python's ``csv`` module computes from the same files.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import awswrangler as wr
import psutil
import pytest
from botocore.exceptions import ClientError

from localaws import LocalAWS, spark_conf
from localaws._glue_jobs import classes, spec
from localaws._glue_jobs import spark as local_spark
from localaws._glue_jobs.executor import GlueJobExecutor
from localaws.tests.lake import NAMES, Names

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
        "overwrite": spark.conf.get("spark.sql.sources.partitionOverwriteMode"),
        "master": spark.sparkContext.master, "app_id": spark.sparkContext.applicationId}
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


def create_job(
    aws: LocalAWS,
    script: str,
    bucket: str,
    role: str,
    default_arguments: dict[str, str] | None = None,
    **job: Any,
) -> str:
    """Upload ``script`` to ``bucket`` and register a Glue 5.1 job running it (a unique name)."""
    name = f"test-glue-{uuid.uuid4().hex[:8]}"
    key = f"scripts/tests/{name}.py"
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=script.encode())
    aws.client("glue").create_job(
        Name=name,
        Role=role,
        Command={"Name": "glueetl", "ScriptLocation": f"s3://{bucket}/{key}", "PythonVersion": "3"},
        DefaultArguments=default_arguments or {},
        GlueVersion="5.1",
        **job,
    )
    return name


def job_process(run_id: str) -> psutil.Process | None:
    """The driver process of a job run while it runs (a cold start's or the pre-started driver's)."""
    for run in GlueJobExecutor.serving().runs:
        if run.job_run_id != run_id or run.process is None or run.process.poll() is not None:
            continue
        try:
            process = psutil.Process(run.process.pid)
            return process if process.status() != psutil.STATUS_ZOMBIE else None
        except psutil.NoSuchProcess:
            return None
    return None


@pytest.fixture(scope="module")
def runtime(aws: LocalAWS, data_dir: Path) -> Iterator[LocalAWS]:
    """The session runtime with the real statistics CSVs under a test prefix of the landing bucket."""
    s3 = aws.client("s3")
    for region in REGIONS:
        for path in (data_dir / "raw_statistics" / f"region={region}").glob("*.csv"):
            s3.upload_file(str(path), NAMES.landing_bucket, f"test-glue/in/region={region}/{path.name}")
    yield aws
    assert aws.wait_idle(timeout=60)


@contextmanager
def job_maker(aws: LocalAWS, bucket: str, role: str) -> Iterator[Callable[..., str]]:
    """``make(script, default_arguments, **job)`` registers a job (:func:`create_job`); on exit, once no
    run is left running, the jobs are deleted."""
    created: list[str] = []

    def make(script: str, default_arguments: dict[str, str] | None = None, **job: Any) -> str:
        created.append(create_job(aws, script, bucket, role, default_arguments, **job))
        return created[-1]

    yield make
    assert aws.wait_idle(timeout=60)
    for name in created:
        aws.client("glue").delete_job(JobName=name)


@pytest.fixture
def make_job(runtime: LocalAWS) -> Iterator[Callable[..., str]]:
    with job_maker(runtime, NAMES.assets_bucket, NAMES.role_arn("glue")) as make:
        yield make


# ---- happy path on the real data -------------------------------------------------------------------------
def test_job_run_reads_real_csvs_and_writes_partitioned_parquet_then_reruns_one_region(
    runtime: LocalAWS, make_job: Any, data_dir: Path, names: Names
) -> None:
    target = f"s3://{names.data_bucket}/test-glue/counts/"
    echo = f"s3://{names.assets_bucket}/test-glue/echo.json"
    job = make_job(
        COUNT_SCRIPT,
        {
            "--source_path": f"s3://{names.landing_bucket}/test-glue/in/",
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
    assert echoed["args"]["TempDir"] == runtime.glue_temp_dir  # Glue's default: the job sets none
    assert echoed["args"]["target_path"] == target
    assert echoed["args"]["job_bookmark_option"] == "job-bookmark-disable"
    assert (echoed["tz"], echoed["overwrite"]) == ("UTC", "dynamic")
    assert echoed["master"] == "local[*]"

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
    runtime.client("s3").upload_file(
        str(gb_csv), names.landing_bucket, "test-glue/in-us-only/region=us/data.csv"
    )
    rerun_id = glue.start_job_run(
        JobName=job,
        Arguments={
            "--target_path": target,
            "--source_path": f"s3://{names.landing_bucket}/test-glue/in-us-only/",
        },
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


# ---- scale out: an existing Spark cluster ----------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cluster_state(ui: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{ui}/json/", timeout=5) as response:
        return dict(json.loads(response.read()))


@pytest.fixture(scope="module")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A standalone Spark master and one worker on 127.0.0.1 (pyspark's own ``spark-class``), stopped by
    PID afterwards; yields the master URL and the master's web UI URL."""
    import pyspark

    spark_class = str(Path(pyspark.__file__).parent / "bin" / "spark-class")
    logs = tmp_path_factory.mktemp("spark-cluster")
    port, ui_port, worker_ui = _free_port(), _free_port(), _free_port()
    env = {
        **os.environ,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(logs),
        "SPARK_WORKER_DIR": str(logs),
    }
    master_url, ui = f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{ui_port}"
    commands = [
        ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port)]
        + ["--webui-port", str(ui_port)],
        ["org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", "2", "--memory", "1500m"]
        + ["--webui-port", str(worker_ui), "--work-dir", str(logs), master_url],
    ]
    started: list[subprocess.Popen[bytes]] = []
    try:
        for name, command in zip(("master", "worker"), commands, strict=True):
            with (logs / f"{name}.log").open("wb") as out:
                started.append(
                    subprocess.Popen([spark_class, *command], env=env, stdout=out, stderr=subprocess.STDOUT)
                )
            deadline = time.monotonic() + 120
            while True:
                try:
                    state = _cluster_state(ui)
                    if name == "master" or any(w["state"] == "ALIVE" for w in state["workers"]):
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline or started[-1].poll() is not None:
                    raise AssertionError(
                        f"spark {name} did not start: {(logs / f'{name}.log').read_text()[-2000:]}"
                    )
                time.sleep(0.5)
        yield master_url, ui
    finally:
        for process in reversed(started):
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_job_runs_submit_to_an_existing_spark_cluster(
    runtime: LocalAWS, data_dir: Path, names: Names, spark_cluster: tuple[str, str]
) -> None:
    master_url, ui = spark_cluster
    with LocalAWS(region=runtime.region, glue_spark_master=master_url) as clustered:  # its executors serve
        with job_maker(clustered, names.assets_bucket, names.role_arn("glue")) as make:
            target = f"s3://{names.data_bucket}/test-glue/cluster-counts/"
            echo = f"s3://{names.assets_bucket}/test-glue/cluster-echo.json"
            job = make(
                COUNT_SCRIPT,
                {
                    "--source_path": f"s3://{names.landing_bucket}/test-glue/in/",
                    "--target_path": target,
                    "--echo_key": echo,
                },
            )
            glue = clustered.client("glue")
            run, _ = wait_for_run(glue, job, glue.start_job_run(JobName=job)["JobRunId"])
            assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    written = wr.s3.read_parquet(target, dataset=True)
    actual = {(str(r.region), str(r.category_id)): (int(r.rows), int(r.videos)) for r in written.itertuples()}
    assert actual == expected_counts(data_dir)
    bucket, key = echo[5:].split("/", 1)
    echoed = json.loads(runtime.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert echoed["master"] == master_url
    # The cluster ran it: the master lists the job's application as completed, its tasks on the worker.
    state = _cluster_state(ui)
    completed = {app["id"]: app for app in state["completedapps"]}
    assert echoed["app_id"] in completed
    # No pre-started driver sits on the cluster holding its cores (it could starve the next run).
    assert [app["id"] for app in state["activeapps"]] == []
    assert list(completed) == [echoed["app_id"]]


# ---- the pre-started driver ----------------------------------------------------------------------------
PID_SCRIPT = """\
import json
import os
import sys

import boto3
from awsglue.utils import getResolvedOptions
from pyspark.sql import SparkSession

args = getResolvedOptions(sys.argv, ["JOB_NAME", "echo_key"])
spark = SparkSession.builder.getOrCreate()
MARK = globals().setdefault("MARK", 0) + 1  # module state of an earlier run would show here
bucket, key = args["echo_key"][5:].split("/", 1)
echo = {"pid": os.getpid(), "rows": spark.range(10).count(), "app": spark.sparkContext.applicationId,
        "run_id": args["JOB_RUN_ID"], "mark": MARK, "cwd": os.getcwd(),
        "bookmark_env": sorted(k for k in os.environ if "BOOKMARK" in k)}
boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(echo).encode())
print("served by", os.getpid())
"""

#: Echoes the class-data-sharing archives its driver's JVM has mapped (from the JVM's /proc maps).
ARCHIVE_SCRIPT = """\
import json
import sys

import boto3
from awsglue.utils import getResolvedOptions
from pyspark.sql import SparkSession

args = getResolvedOptions(sys.argv, ["JOB_NAME", "echo_key"])
spark = SparkSession.builder.getOrCreate()
pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
with open(f"/proc/{pid}/maps") as maps:
    mapped = sorted({line.split()[-1] for line in maps if line.rstrip().endswith(".jsa")})
bucket, key = args["echo_key"][5:].split("/", 1)
echo = {"mapped": mapped, "rows": spark.range(10).count()}
boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(echo).encode())
"""


def test_a_pre_started_driver_serves_the_next_run_once(
    runtime: LocalAWS, make_job: Any, names: Names
) -> None:
    from localaws._glue_jobs.executor import GlueJobExecutor

    executor = GlueJobExecutor.serving()
    glue = runtime.client("glue")
    echoes = []
    for n in range(2):
        echo = f"s3://{names.assets_bucket}/test-glue/driver-{n}.json"
        job = make_job(PID_SCRIPT, {"--echo_key": echo})
        spare = executor.spare  # None before the first run this runtime was asked for
        run, _ = wait_for_run(glue, job, glue.start_job_run(JobName=job)["JobRunId"])
        assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
        bucket, key = echo[5:].split("/", 1)
        echoed = json.loads(runtime.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
        echoes.append(echoed)
        if spare is not None:  # the waiting driver ran it; it serves no other run
            assert echoed["pid"] == spare.proc.pid and spare.proc.wait(30) == 0
        assert echoed["run_id"] == run["Id"] and echoed["rows"] == 10 and echoed["mark"] == 1
        assert (
            echoed["cwd"].endswith(run["Id"]) and echoed["bookmark_env"]
        )  # the run's folder and environment
        out = runtime.client("logs").get_log_events(
            logGroupName="/aws-glue/jobs/output", logStreamName=run["Id"]
        )
        assert f"served by {echoed['pid']}" in [e["message"] for e in out["events"]]
        assert executor.spare is not None and executor.spare is not spare  # the next one is waiting
    assert echoes[0]["pid"] != echoes[1]["pid"] and echoes[0]["app"] != echoes[1]["app"]


def test_after_no_more_spares_the_next_run_takes_the_waiting_driver_and_none_starts(
    runtime: LocalAWS, make_job: Any, names: Names
) -> None:
    """``no_more_glue_spares`` (make run before its last job run): the next run is still served by the
    waiting driver, and no driver starts for a run that will not come."""
    executor = GlueJobExecutor.serving()
    glue = runtime.client("glue")
    assert runtime.prestart_glue_driver()
    spare = executor.spare
    assert spare is not None
    echo = f"s3://{names.assets_bucket}/test-glue/last-run.json"
    job = make_job(PID_SCRIPT, {"--echo_key": echo})
    runtime.no_more_glue_spares()
    try:
        run, _ = wait_for_run(glue, job, glue.start_job_run(JobName=job)["JobRunId"])
        assert executor.spare is None
    finally:
        executor.more_spares = True  # the session's runtime serves the other tests as before
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    bucket, key = echo[5:].split("/", 1)
    echoed = json.loads(runtime.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert echoed["pid"] == spare.proc.pid and spare.proc.wait(30) == 0


def test_the_tests_runtime_pre_starts_its_glue_drivers_without_the_warm_up(runtime: LocalAWS) -> None:
    """``glue_warmup=False`` reaches the driver: the tests' job runs follow one another at once, and each
    would wait for the warm-up of the driver started beside the run before it."""
    executor = GlueJobExecutor.serving()
    assert runtime.glue_warmup is False and runtime.prestart_glue_driver()
    assert executor.spare is not None
    assert psutil.Process(executor.spare.proc.pid).environ().get("LOCAL_GLUE_WARMUP") == "0"


def test_job_runs_map_the_class_archive(runtime: LocalAWS, make_job: Any, names: Names) -> None:
    """The driver's JVM maps the class archive (``make`` builds it; this test does when it is missing), so
    it does not parse and verify Spark's classes anew; a Spark configured otherwise starts without it."""
    archive = classes.build()
    executor = GlueJobExecutor.serving()
    executor._drop_spare()  # one started before the archive existed would not map it
    glue = runtime.client("glue")
    echo = f"s3://{names.assets_bucket}/test-glue/archive.json"
    job = make_job(ARCHIVE_SCRIPT, {"--echo_key": echo})
    run, _ = wait_for_run(glue, job, glue.start_job_run(JobName=job)["JobRunId"])
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    bucket, key = echo[5:].split("/", 1)
    echoed = json.loads(runtime.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert str(archive) in echoed["mapped"] and echoed["rows"] == 10
    errors = runtime.client("logs").get_log_events(
        logGroupName="/aws-glue/jobs/error", logStreamName=run["Id"]
    )
    lines = [e["message"] for e in errors["events"]]
    # Spark logs through the runtime's log4j2.properties, which silences e.g. Hadoop's native-library warning.
    assert not [line for line in lines if "NativeCodeLoader" in line or " INFO " in line], lines

    # A job's own driver options replace the runtime's: same job, no archive, same result.
    run, _ = wait_for_run(
        glue,
        job,
        glue.start_job_run(
            JobName=job, Arguments={"--conf": "spark.driver.extraJavaOptions=-XX:+UseSerialGC"}
        )["JobRunId"],
    )
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    echoed = json.loads(runtime.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert str(archive) not in echoed["mapped"] and echoed["rows"] == 10


def test_the_class_archive_is_named_after_the_jdk_and_the_spark_jars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = local_spark.class_archive()
    assert archive is not None and archive.name.startswith("spark-classes-")
    assert archive.parent == Path(sys.prefix) / "share" / "localaws"
    # Another JDK (JAVA_HOME wins over the PATH) is another archive; none exists for it yet.
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_bytes(b"")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    other = local_spark.class_archive()
    assert other is not None and other != archive and local_spark.class_archive_options() == ""
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert local_spark.class_archive() is None and local_spark.class_archive_options() == ""


def test_a_truncated_class_archive_is_refused_naming_it(tmp_path: Path) -> None:
    """A JVM maps a truncated archive and dies of SIGBUS where it reads past the end: the build checks that a
    driver starts on what it wrote, and says which file could not serve and what to do."""
    archive = classes.build()
    truncated = tmp_path / "truncated.jsa"
    shutil.copyfile(archive, truncated)
    os.truncate(truncated, archive.stat().st_size // 3)
    with pytest.raises(classes.ClassArchiveError) as refused:
        classes.verify(truncated)
    assert str(truncated) in str(refused.value) and "SIGBUS" in str(refused.value)
    assert "python -m localaws spark-classes" in str(refused.value)
    classes.verify(archive)  # the whole archive serves


def test_a_killed_builds_work_folder_is_removed_by_the_next_build_and_a_running_ones_kept(
    tmp_path: Path,
) -> None:
    """A build killed mid-way (SIGTERM, a closed terminal) leaves its work folder, an archive's size; the next
    build removes it, and other JDKs' archives, but not the folder of a build still running."""
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    builders = {"killed": gone.stdout.strip(), "running": str(os.getpid()), "killed-early": None, "new": None}
    for name, pid in builders.items():
        folder = tmp_path / f"spark-classes-{name}"
        (folder / "warmup").mkdir(parents=True)
        (folder / "classes.jsa").write_bytes(b"partial")
        if pid is not None:
            (folder / classes.BUILDER_FILE).write_text(pid)
    old = time.time() - 2 * classes.BUILD_TIMEOUT_SECONDS - 60
    os.utime(tmp_path / "spark-classes-killed-early", (old, old))  # killed before it wrote its id
    (tmp_path / "spark-classes-0123456789abcdef.jsa").write_bytes(b"another JDK's")
    (tmp_path / "other.txt").write_text("not ours")
    classes.remove_leftovers(tmp_path)
    kept = ["other.txt", "spark-classes-new", "spark-classes-running"]
    assert sorted(p.name for p in tmp_path.iterdir()) == kept
    assert (tmp_path / "spark-classes-running" / "classes.jsa").read_bytes() == b"partial"


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
            {"--source_path": f"s3://{NAMES.data_bucket}/test-glue/does-not-exist/"},
            "AnalysisException: [PATH_NOT_FOUND] Path does not exist: "
            f"s3://{NAMES.data_bucket}/test-glue/does-not-exist.",
            id="spark-error",
        ),
    ],
)
def test_failed_script_reports_its_error(
    runtime: LocalAWS, make_job: Any, script: str, arguments: dict[str, str], first_line: str
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


def test_missing_script_fails_the_run(runtime: LocalAWS, make_job: Any) -> None:
    job = make_job(SLEEP_SCRIPT)
    glue = runtime.client("glue")
    location = glue.get_job(JobName=job)["Job"]["Command"]["ScriptLocation"]
    bucket, key = location.removeprefix("s3://").split("/", 1)
    runtime.client("s3").delete_object(Bucket=bucket, Key=key)
    run_id = glue.start_job_run(JobName=job, Arguments={"--seconds": "0"})["JobRunId"]
    run, _ = wait_for_run(glue, job, run_id)
    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"].startswith(f"FileNotFoundError: cannot download the script {location}")


def test_concurrent_runs_limit_and_stop(runtime: LocalAWS, make_job: Any) -> None:
    job = make_job(SLEEP_SCRIPT, {"--seconds": "120"}, ExecutionProperty={"MaxConcurrentRuns": 1})
    glue = runtime.client("glue")
    first = glue.start_job_run(JobName=job)["JobRunId"]
    with pytest.raises(ClientError) as excinfo:
        glue.start_job_run(JobName=job)
    assert excinfo.value.response["Error"]["Code"] == "ConcurrentRunsExceededException"
    assert job in excinfo.value.response["Error"]["Message"]

    _wait_running(glue, job, first)
    process = job_process(first)
    assert process is not None and process.is_running()

    stopped = glue.batch_stop_job_run(JobName=job, JobRunIds=[first, "jr_unknown"])
    assert [s["JobRunId"] for s in stopped["SuccessfulSubmissions"]] == [first]
    assert [(e["JobRunId"], e["ErrorDetail"]["ErrorCode"]) for e in stopped["Errors"]] == [
        ("jr_unknown", "EntityNotFoundException")
    ]
    run, _ = wait_for_run(glue, job, first, timeout=30)
    assert run["JobRunState"] == "STOPPED"
    assert job_process(first) is None  # the script's process is gone

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


def test_run_past_its_timeout_is_killed(runtime: LocalAWS, names: Names) -> None:
    """The run's Timeout (minutes; one second each in a runtime of its own) ends the process: TIMEOUT."""
    with LocalAWS(region=names.region, glue_minute_seconds=1.0) as quick:  # serves moto while it runs
        job = create_job(
            quick, SLEEP_SCRIPT, names.assets_bucket, names.role_arn("glue"), {"--seconds": "120"}
        )
        glue = quick.client("glue")
        run_id = glue.start_job_run(JobName=job, Timeout=2)["JobRunId"]
        run, _ = wait_for_run(glue, job, run_id, timeout=60)
        assert run["JobRunState"] == "TIMEOUT"
        assert run["ErrorMessage"] == "Job run timed out after 2 minutes"
        assert run["Timeout"] == 2
        assert job_process(run_id) is None
        assert 2 <= run["ExecutionTime"] < 60
        glue.delete_job(JobName=job)


def test_stopping_a_runtime_stops_its_running_jobs(runtime: LocalAWS, names: Names) -> None:
    """No job process outlives the runtime that started it."""
    with LocalAWS(region=names.region) as own:
        job = create_job(own, SLEEP_SCRIPT, names.assets_bucket, names.role_arn("glue"), {"--seconds": "120"})
        glue = own.client("glue")
        run_id = glue.start_job_run(JobName=job)["JobRunId"]
        _wait_running(glue, job, run_id)
        process = job_process(run_id)
        assert process is not None and process.is_running()
        executor = GlueJobExecutor.serving()
        spare = executor.spare  # the driver waiting for the next run
        assert spare is not None
    assert not psutil.wait_procs([process], timeout=10)[1]  # the run's driver is gone
    assert spare.proc.poll() is not None  # and so is the spare
    assert [p.name for p in executor.root.glob(f"*/{run_id}/stderr*")]  # the run's logs are kept
    assert not list(executor.root.glob("spare-*"))  # the spares' folders are not


def test_a_runtime_that_ran_no_job_leaves_no_work_folder(names: Names) -> None:
    with LocalAWS(region=names.region):
        root = GlueJobExecutor.serving().root
        assert root.is_dir()
    assert not root.exists()


def test_reset_stops_running_jobs(clean_aws: LocalAWS, names: Names) -> None:
    """A reset forgets the runs, so their processes end too, and nothing is left running."""
    job = create_job(
        clean_aws, SLEEP_SCRIPT, names.assets_bucket, names.role_arn("glue"), {"--seconds": "120"}
    )
    glue = clean_aws.client("glue")
    run_id = glue.start_job_run(JobName=job)["JobRunId"]
    _wait_running(glue, job, run_id)
    process = job_process(run_id)
    assert process is not None
    clean_aws.reset()
    assert not psutil.wait_procs([process], timeout=10)[1]
    assert clean_aws.wait_idle(timeout=1)


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
    assert spec.error_message(stderr, returncode) == expected


def test_job_arguments_like_glue() -> None:
    argv = spec.job_arguments(
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
    assert "s3://default/" in spec.job_arguments("job", "j", "jr", {}, "s3://default/")


def test_spark_conf_from_glue_conf_argument() -> None:
    raw = {"--conf": "spark.sql.shuffle.partitions=8 --conf spark.x.y=a=b"}
    assert spec.spark_conf_from_arguments(raw) == {
        "spark.sql.shuffle.partitions": "8",
        "spark.x.y": "a=b",
    }
    assert spec.spark_conf_from_arguments({}) == {}


#: Runs the worker daemon's path step in a fresh interpreter whose path starts with the daemon's folder and
#: Spark's archives, as Spark starts it; prints whether it dropped them and the archives left on the path.
DAEMON_PATH_STEP = """\
import json, sys
sys.path[:0] = json.loads(sys.argv[1])
import localaws_pyspark_daemon as daemon
dropped = daemon.lean_path()
print(json.dumps([dropped, [p for p in sys.path if daemon.is_spark_archive(p)]]))
"""


@pytest.mark.parametrize("site_packages", [True, False])
def test_the_worker_daemon_drops_sparks_archives_only_where_pyspark_is_installed(site_packages: bool) -> None:
    """Spark puts pyspark.zip, py4j's zip and spark-core's jar first on its workers' path; with PySpark
    installed the daemon drops them (each made every Python task re-read it), without (``-S``: no
    site-packages) it keeps them, or the workers could not import PySpark at all."""
    import pyspark

    home = Path(pyspark.__file__).parent
    archives = [str(p) for p in sorted((home / "python" / "lib").glob("*.zip"))]
    archives += [str(p) for p in sorted((home / "jars").glob("spark-core*.jar"))]
    assert [Path(p).name.split("-")[0] for p in archives] == ["py4j", "pyspark.zip", "spark"], archives
    path = json.dumps([str(local_spark.PYTHON_DAEMON_FOLDER), *archives])
    flags = [] if site_packages else ["-S"]
    done = subprocess.run(
        [sys.executable, *flags, "-c", DAEMON_PATH_STEP, path], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    dropped, left = json.loads(done.stdout)
    assert (dropped, left) == ((True, []) if site_packages else (False, archives))


def test_spark_defaults_map_every_s3_scheme_to_s3a(tmp_path: Path) -> None:
    conf = spark_conf("http://127.0.0.1:5000", master="local[1]")
    folder = local_spark.write_conf_dir(tmp_path / "conf", conf)
    lines = dict(line.split(" ", 1) for line in (folder / "spark-defaults.conf").read_text().splitlines())
    for scheme in ("s3", "s3a", "s3n"):
        assert lines[f"spark.hadoop.fs.{scheme}.impl"] == local_spark.S3A_FILE_SYSTEM
    assert lines["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:5000"
    assert lines["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    jars = [Path(p) for p in lines["spark.jars"].split(",")]
    assert [p.name for p in jars] == list(local_spark.S3A_JARS) and all(p.is_file() for p in jars)
    assert all(v.isdigit() for k, v in lines.items() if k.endswith("timeout"))
    # Spark's logs through the quiet log4j2.properties beside it, given by path: a non-empty folder on the
    # JVM's class path (SPARK_CONF_DIR) would keep it from mapping the class archive.
    log4j = folder / "log4j2.properties"
    assert lines["spark.driver.extraJavaOptions"] == f"-Dlog4j2.configurationFile={log4j}"
    assert "rootLogger.level = warn" in log4j.read_text()
    env = local_spark.subprocess_env(
        folder, {"SPARK_CONF_DIR": "/etc/spark", "PYSPARK_SUBMIT_ARGS": "--master yarn"}
    )
    assert "SPARK_CONF_DIR" not in env
    assert shlex.split(env["PYSPARK_SUBMIT_ARGS"]) == [
        "--properties-file",
        str(folder / "spark-defaults.conf"),
        "pyspark-shell",
    ]
    with pytest.raises(ValueError):
        local_spark.render_spark_defaults({"spark.bad": "two\nlines"})
