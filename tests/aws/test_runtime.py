"""The local AWS runtime core: provisioning from settings and the `serve` command-line contract."""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import zipfile
from datetime import date
from pathlib import Path

import psutil
import pytest

from local.runtime import REPO_ROOT, LocalRuntime, package_lambda
from tests.servers import started
from youtube_etl.settings import Settings


def test_buckets_exist_and_raw_is_versioned(local_aws: LocalRuntime, settings: Settings) -> None:
    s3 = local_aws.client("s3")
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert set(settings.buckets) <= names
    assert s3.get_bucket_versioning(Bucket=settings.raw_bucket)["Status"] == "Enabled"


def test_glue_databases(local_aws: LocalRuntime, settings: Settings) -> None:
    names = {d["Name"] for d in local_aws.client("glue").get_databases()["DatabaseList"]}
    assert {"youtube_processed", "youtube_analytics"} <= names


def test_lambda_function_as_infra_deploys_it(local_aws: LocalRuntime, settings: Settings) -> None:
    lam = local_aws.client("lambda")
    config = lam.get_function(FunctionName=settings.lambda_function)["Configuration"]
    assert config["Runtime"] == "python3.12"
    assert config["Handler"] == "handler.handler"
    assert config["Environment"]["Variables"] == settings.lambda_environment()
    invoke_config = lam.get_function_event_invoke_config(FunctionName=settings.lambda_function)
    assert invoke_config["MaximumRetryAttempts"] == 2
    # The failure queue has the name the compute stack gives it on AWS.
    destination = invoke_config["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination.endswith(":" + settings.lambda_failure_queue)
    assert settings.lambda_failure_queue.endswith("-json-to-parquet-failures")


def test_lambda_package_holds_the_handler_sources_and_the_lake_contracts() -> None:
    names = zipfile.ZipFile(io.BytesIO(package_lambda())).namelist()
    sources = sorted(
        p.name
        for p in (REPO_ROOT / "include/lambda/json_to_parquet").glob("*.py")
        if not p.name.startswith("test_")
    )
    lake = sorted(f"youtube_lake/{p.name}" for p in (REPO_ROOT / "include/youtube_lake").glob("*.py"))
    assert sorted(names) == sorted([*sources, *lake])
    assert package_lambda() == package_lambda(), "the package must be reproducible (stable code hash)"


def test_s3_notification_targets_the_lambda(local_aws: LocalRuntime, settings: Settings) -> None:
    config = local_aws.client("s3").get_bucket_notification_configuration(Bucket=settings.raw_bucket)
    filters = []
    for target in config["LambdaFunctionConfigurations"]:
        assert target["LambdaFunctionArn"].endswith(":function:" + settings.lambda_function)
        assert target["Events"] == ["s3:ObjectCreated:*"]
        filters.append({r["Name"].lower(): r["Value"] for r in target["Filter"]["Key"]["FilterRules"]})
    assert filters == [
        {"prefix": "youtube/raw_statistics_reference_data/", "suffix": ".json"},
        {"prefix": "youtube/raw_statistics_reference_data/", "suffix": ".json.gz"},
    ]


def test_glue_jobs_with_scripts_and_default_arguments(local_aws: LocalRuntime, settings: Settings) -> None:
    glue = local_aws.client("glue")
    s3 = local_aws.client("s3")
    for job, script in settings.glue_jobs.items():
        spec = glue.get_job(JobName=job)["Job"]
        assert spec["GlueVersion"] == "5.1"
        assert spec["Command"]["ScriptLocation"] == settings.glue_script_uri(script)
        assert spec["DefaultArguments"] == settings.glue_job_arguments(job)
        assert spec["DefaultArguments"]["--job-bookmark-option"] == "job-bookmark-disable"
        if (REPO_ROOT / "include/glue" / script).exists():
            key = settings.glue_script_uri(script).split("/", 3)[3]
            body = s3.get_object(Bucket=settings.assets_bucket, Key=key)["Body"].read()
            assert body == (REPO_ROOT / "include/glue" / script).read_bytes()


def test_crawlers_target_the_lake_folders(local_aws: LocalRuntime, settings: Settings) -> None:
    glue = local_aws.client("glue")
    for crawler, (database, paths) in settings.crawler_targets.items():
        spec = glue.get_crawler(Name=crawler)["Crawler"]
        assert spec["DatabaseName"] == database
        assert [t["Path"] for t in spec["Targets"]["S3Targets"]] == paths
        config = json.loads(spec["Configuration"])
        assert config["Grouping"]["TableGroupingPolicy"] == "CombineCompatibleSchemas"


@pytest.mark.parametrize(
    ("attribute", "enforced"),
    [
        pytest.param("athena_workgroup", False, id="pipeline"),
        pytest.param("readers_workgroup", True, id="readers"),
    ],
)
def test_athena_workgroups(
    local_aws: LocalRuntime, settings: Settings, attribute: str, enforced: bool
) -> None:
    name = getattr(settings, attribute)
    wg = local_aws.client("athena").get_work_group(WorkGroup=name)["WorkGroup"]
    assert wg["Configuration"]["ResultConfiguration"]["OutputLocation"] == settings.athena_results_uri
    assert wg["Configuration"]["EnforceWorkGroupConfiguration"] is enforced
    assert wg["Configuration"]["BytesScannedCutoffPerQuery"] > 0


def test_load_sample_data_keeps_the_documented_layout(clean_aws: LocalRuntime, data_dir: Path) -> None:
    keys = clean_aws.load_sample_data(data_dir)
    csvs = sorted(
        p.relative_to(data_dir / "raw_statistics").as_posix()
        for p in (data_dir / "raw_statistics").rglob("*.csv")
    )
    jsons = sorted(p.name for p in (data_dir / "raw_statistics_reference_data").glob("*.json"))
    assert keys == [f"youtube/raw_statistics/{c}" for c in csvs] + [
        f"youtube/raw_statistics_reference_data/{j}" for j in jsons
    ]
    s3 = clean_aws.client("s3")
    body = s3.get_object(
        Bucket=clean_aws.settings.raw_bucket, Key="youtube/raw_statistics/region=us/USvideos.csv"
    )
    assert body["Body"].read() == (data_dir / "raw_statistics/region=us/USvideos.csv").read_bytes()


def test_load_sample_data_as_a_dated_drop(clean_aws: LocalRuntime, data_dir: Path) -> None:
    keys = clean_aws.load_sample_data(data_dir, landing_date=date(2017, 11, 14))
    assert "youtube/raw_statistics/landing_date=2017-11-14/region=us/USvideos.csv" in keys
    assert "youtube/raw_statistics_reference_data/landing_date=2017-11-14/US_category_id.json" in keys
    assert all("/landing_date=2017-11-14/" in k for k in keys)


def test_load_sample_data_rejects_an_empty_folder(local_aws: LocalRuntime, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no file below raw_statistics/ or raw_statistics_ref"):
        local_aws.load_sample_data(tmp_path)


def test_load_sample_data_uploads_every_file_of_the_drop(clean_aws: LocalRuntime, tmp_path: Path) -> None:
    """Not only *.csv and *.json: a .csv.gz or a stray file reaches the raw bucket, to get its verdict."""
    files = {
        "raw_statistics/region=us/USvideos.csv.gz": b"\x1f\x8b",
        "raw_statistics/readme.txt": b"hello",
        "raw_statistics_reference_data/US_category_id.json.gz": b"\x1f\x8b",
    }
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    keys = clean_aws.load_sample_data(tmp_path)
    assert keys == [
        "youtube/raw_statistics/readme.txt",
        "youtube/raw_statistics/region=us/USvideos.csv.gz",
        "youtube/raw_statistics_reference_data/US_category_id.json.gz",
    ]
    s3 = clean_aws.client("s3")
    bodies = [s3.get_object(Bucket=clean_aws.settings.raw_bucket, Key=k)["Body"].read() for k in keys]
    assert bodies == [b"hello", b"\x1f\x8b", b"\x1f\x8b"]


def test_reset_forgets_objects_and_provisions_again(clean_aws: LocalRuntime, settings: Settings) -> None:
    s3 = clean_aws.client("s3")
    s3.put_object(Bucket=settings.processed_bucket, Key="x/leftover.txt", Body=b"1")
    clean_aws.reset()
    assert list(clean_aws.list_objects(settings.processed_bucket)) == []
    assert clean_aws.client("lambda").get_function(FunctionName=settings.lambda_function)


def test_serve_prints_one_ready_line_binds_loopback_and_stops_on_sigterm() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with started([sys.executable, "-m", "local", "serve"], env) as (proc, line):
        assert line.startswith("ready: http://127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        listening = [
            c for c in psutil.Process(proc.pid).net_connections("inet") if c.status == psutil.CONN_LISTEN
        ]
        assert listening, "nothing is listening"
        assert {c.laddr.ip for c in listening} == {"127.0.0.1"}
        assert port in {c.laddr.port for c in listening}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert proc.stdout is not None and proc.stdout.read() == "", "exactly one line on stdout"


def test_serve_uses_a_given_port() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with started([sys.executable, "-m", "local", "serve", "--port", str(port)]) as (proc, line):
        assert line.strip() == f"ready: http://127.0.0.1:{port}"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
