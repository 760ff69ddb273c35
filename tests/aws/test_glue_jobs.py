"""Both Glue scripts run as Glue runs them: ``python script.py --JOB_NAME … --<job arguments>``.

The arguments are exactly ``Settings.glue_job_arguments(job)`` with the S3 URIs swapped for local folders,
so the scripts run without the local runtime (its Glue executor, which runs them through
``glue.start_job_run``, has its own tests). Each script gets a fresh JVM, plain
``SparkSession.builder.getOrCreate()``, mapping the class archive as the runtime's drivers do.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local.runtime import GLUE_SOURCE, REPO_ROOT
from localaws import class_archive_options
from tests.api_pages import fetch_chart, land
from tests.glue_plans import entry, folder_plan, write_plan
from youtube_etl.settings import Settings

pytestmark = pytest.mark.spark


def run_script(script: str, arguments: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable,
        str(GLUE_SOURCE / script),
        "--JOB_NAME",
        script,
        "--JOB_ID",
        "j",
        "--JOB_RUN_ID",
        "jr",
    ]
    for key, value in arguments.items():
        argv += [key, value]
    submit = [
        "--master",
        "local[2]",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.driver.host=127.0.0.1",
    ]
    submit += ["--conf", "spark.driver.bindAddress=127.0.0.1", "--conf", "spark.ui.showConsoleProgress=false"]
    if java_options := class_archive_options():  # as the runtime's drivers do
        submit += ["--conf", f"spark.driver.extraJavaOptions={java_options}"]
    env = {**os.environ, "PYSPARK_SUBMIT_ARGS": shlex.join([*submit, "pyspark-shell"])}
    return subprocess.run(
        argv, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600, check=False
    )


def localized(settings: Settings, job: str, tmp_path: Path, **paths: str) -> dict[str, str]:
    """The job's real default arguments, every s3:// URI replaced by a local folder."""
    arguments = settings.glue_job_arguments(job)
    assert set(paths) <= {k.lstrip("-") for k in arguments}, "only arguments the job really gets"
    for key, value in arguments.items():
        if value.startswith("s3://"):
            local = paths.get(key.lstrip("-"), str(tmp_path / key.lstrip("-")))
            arguments[key] = local if local.endswith(".json") else local + "/"
    arguments["--run_id"] = "scheduled__2026_01_01"
    return arguments


@pytest.fixture(scope="module")
def clean_run(settings: Settings, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp_path = tmp_path_factory.mktemp("glue_clean")
    plan = write_plan(tmp_path / "plan.json", folder_plan(data_dir / "raw_statistics"))
    arguments = localized(settings, settings.clean_statistics_job, tmp_path, plan_path=plan)
    result = run_script("clean_statistics.py", arguments, tmp_path)
    return {"result": result, "arguments": arguments, "tmp": tmp_path}


def test_clean_statistics_script_writes_partitions_ledger_and_metrics(
    clean_run: dict[str, Any], data_dir: Path
) -> None:
    result, arguments = clean_run["result"], clean_run["arguments"]
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["read"] == summary["written"] + summary["duplicates"] + summary["rejected"]
    target = Path(arguments["--target_path"])
    regions = sorted(p.parent.name for p in (data_dir / "raw_statistics").rglob("*.csv"))
    assert sorted(p.name for p in target.iterdir() if p.is_dir()) == regions
    assert all(p.name == "data.snappy.parquet" for p in target.rglob("*") if p.is_file())
    metrics = Path(arguments["--metrics_path"]) / "run_id=scheduled__2026_01_01" / "metrics.json"
    assert json.loads(metrics.read_text())["written"] == summary["written"]
    ledger = sorted(Path(arguments["--ledger_path"]).glob("*.json"))
    assert len(ledger) == len(regions)
    assert {json.loads(p.read_text())["verdict"] for p in ledger} == {"processed"}


def test_build_analytics_script_reads_clean_output(
    clean_run: dict[str, Any], settings: Settings, data_dir: Path, spark: Any
) -> None:
    tmp_path = clean_run["tmp"]
    categories = []
    for path in sorted((data_dir / "raw_statistics_reference_data").glob("*.json")):
        for item in json.loads(path.read_text(encoding="utf-8"))["items"]:
            categories.append((path.name[:2].lower(), int(item["id"]), item["snippet"]["title"]))
    category_path = str(tmp_path / "category_reference")
    spark.createDataFrame(
        categories, "region string, category_id bigint, category_title string"
    ).write.partitionBy("region").parquet(category_path)
    statistics_path = clean_run["arguments"]["--target_path"].rstrip("/")
    arguments = localized(
        settings,
        settings.build_analytics_job,
        tmp_path,
        statistics_path=statistics_path,
        category_path=category_path,
    )
    result = run_script("build_analytics.py", arguments, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["rows"] == spark.read.parquet(statistics_path).count()
    trending = spark.read.parquet(arguments["--target_path"])
    assert trending.count() == summary["rows"]
    assert {"category_title", "engagement_rate", "like_ratio", "days_to_trend"} <= set(trending.columns)


def test_wrong_format_file_is_quarantined_and_the_job_succeeds(
    settings: Settings, data_dir: Path, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path / "plan.json", folder_plan(data_dir / "altered_copies"))
    arguments = localized(settings, settings.clean_statistics_job, tmp_path, plan_path=plan)
    result = run_script("clean_statistics.py", arguments, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["rejected"], summary["files_quarantined"], summary["written"]) == (966, 1, 0)
    assert [p for p in Path(arguments["--target_path"]).rglob("*") if p.is_file()] == []


def test_clean_statistics_script_reads_api_pages_into_ranked_partitions(
    settings: Settings, data_dir: Path, spark: Any, tmp_path: Path
) -> None:
    """KR's chart of 2020-08-12 as the stand-in serves it (134 videos: pages of 50, 50 and 34), landed as the
    extract lands it: one partition, ranks 1..134 in the chart's order, no dislikes (the API has none)."""
    day = dt.date(2020, 8, 12)
    pages = land(tmp_path / "raw", "kr", day, fetch_chart(data_dir / "rsrishav_trending", "kr", day))
    arrival = dt.datetime(2020, 8, 12, tzinfo=dt.UTC)
    plan = write_plan(tmp_path / "plan.json", [entry(p, arrival) for p in pages])
    arguments = localized(settings, settings.clean_statistics_job, tmp_path, plan_path=plan)
    result = run_script("clean_statistics.py", arguments, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["read"], summary["written"], summary["files_processed"]) == (134, 134, 3)
    target = Path(arguments["--target_path"])
    assert [p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()] == [
        "region=kr/dt=2020-08-12/data.snappy.parquet"
    ]
    rows = spark.read.parquet(str(target)).orderBy("chart_rank").collect()
    chart = [item["id"] for p in pages for item in json.loads(p.read_bytes())["items"]]
    assert [(r["chart_rank"], r["video_id"]) for r in rows] == list(enumerate(chart, 1))
    assert {r["dislikes"] for r in rows} == {None} and {r["trending_date"] for r in rows} == {day}
    assert {r["source_file"] for r in rows} == {str(p) for p in pages}


def test_scripts_do_not_import_the_project() -> None:
    for script in ("clean_statistics.py", "build_analytics.py"):
        text = (GLUE_SOURCE / script).read_text()
        assert "youtube_etl" not in text and "GlueContext" not in text.replace("no GlueContext", "")
    assert (REPO_ROOT / "include" / "glue").is_dir()
