"""`make airflow` with dated drops: a backfill through the real scheduler takes each day's drop.

The quickstart's drops (the real sample split by trending date, ``local/drops.py``) land under their
``landing_date=`` keys; a backfill of their days over the REST API the UI calls creates one run per day,
each taking that day's drop, and the asset-triggered ``youtube_reporting`` follows; backfilling a day
again takes nothing. (The DAGs start unpaused locally, so the scheduler also runs yesterday's interval on
the extract's pages; make airflow lands the dated drops once that run ended, since a run takes every object
that arrived before its interval's end. Only the backfill's runs are looked at here.) Everything started is
stopped afterwards.
"""

from __future__ import annotations

import base64
import csv
import functools
import json
import os
import re
import signal
import sys
import time
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from local.drops import make_drops
from tests.aws.test_resume import crawls
from tests.e2e.test_airflow_ui import READY, call
from tests.servers import started, user_env
from youtube_etl.settings import get_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def airflow_ui(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """(Airflow UI URL, an API token, the local AWS runtime's endpoint)."""
    home = tmp_path_factory.mktemp("airflow-backfill")
    drops = home / "quickstart"
    make_drops(data_dir, drops)
    env = user_env()
    argv = [sys.executable, "-m", "local.airflow_ui", "--airflow-home", str(home), "--data", str(drops)]
    with started(argv, env) as (proc, line):
        while line and not READY.search(line):
            line = proc.stdout.readline() if proc.stdout else ""
        match = READY.search(line)
        assert match, f"no ready line (logs in {home}/logs/components)"
        url, user, password = match.groups()
        token = call(f"{url}/auth/token", method="POST", body={"username": user, "password": password})
        runtime = RUNTIME.search(proc.stdout.readline() if proc.stdout else "")
        assert runtime, "no runtime line after the ready line"
        yield url, token["access_token"], runtime.group(1), home


# Two of the quickstart's four days show what the README's four-day backfill does: one run per day, each
# taking its own drop (the other days' drops stay pending: no run of this test reaches them).
DAYS = ("2017-11-14", "2017-11-15")
RUNTIME = re.compile(r"local AWS runtime: (http://127\.0\.0\.1:\d+)")
SQLITE_LOCKED = "Database is locked"


def wait_backfills_completed(url: str, token: str) -> None:
    """Airflow allows one running backfill per DAG (409 "There is already a running backfill"), and the
    scheduler marks one completed only some loops after its last run ended: wait for that."""
    wait_for(
        "the earlier backfills to complete",
        lambda: all(
            b["completed_at"]
            for b in call(f"{url}/api/v2/backfills?dag_id=youtube_ingest", token)["backfills"]
        ),
        every=2,
    )


def create_backfill(
    url: str, token: str, first: str, last: str, reprocess: str, attempts: int = 6
) -> dict[str, Any]:
    """POST /api/v2/backfills of youtube_ingest's days ``first`` to ``last`` (one run at a time, ``reprocess``
    as the dialog's reprocess behavior) as the UI's Backfill dialog does, submitted again while SQLite is
    locked.

    On SQLite, Airflow answers 503 "Database is locked" when the scheduler holds the write lock at that
    moment (SQLite does not wait when waiting could deadlock); the README tells a UI user to submit again.
    Any other error, or the lock every time, fails the test.
    """
    body = {
        "dag_id": "youtube_ingest",
        "from_date": f"{first}T00:00:00Z",
        "to_date": f"{last}T00:00:00Z",
        "max_active_runs": 1,
        "reprocess_behavior": reprocess,
    }
    for attempt in range(1, attempts):
        try:
            return dict(call(f"{url}/api/v2/backfills", token, "POST", body))
        except AssertionError as error:
            if SQLITE_LOCKED not in str(error):
                raise
            print(f"backfill creation attempt {attempt}: {error}; submitting again")
            time.sleep(5)
    return dict(call(f"{url}/api/v2/backfills", token, "POST", body))  # the last attempt: any error fails


def wait_for(
    description: str, check: Any, timeout: float = 900, every: float = 5
) -> Any:  # the scheduler is slow on a busy machine
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{description}: not done after {timeout:.0f} s"
        time.sleep(every)


def backfill_runs(url: str, token: str, since: str, days: tuple[str, ...] = DAYS) -> list[dict[str, Any]]:
    """The backfill runs of DAYS queued at or after ``since`` (a backfill's ``created_at``).

    The DAG-run list of Airflow 3.3.1's REST API carries no ``backfill_id``; a backfill that reprocesses a
    day clears its existing run (same run id) and queues it again, so the queue time tells the backfills
    apart.
    """
    runs = call(f"{url}/api/v2/dags/youtube_ingest/dagRuns?limit=100", token)["dag_runs"]
    return [
        r
        for r in runs
        if r.get("run_type") == "backfill"
        and r["data_interval_start"][:10] in days
        and _instant(r.get("queued_at")) >= _instant(since)
    ]


def _instant(text: str | None) -> datetime:
    return datetime.fromisoformat(text) if text else datetime.min.replace(tzinfo=UTC)


def task_instance(
    url: str, token: str, run_id: str, task_id: str, dag_id: str = "youtube_ingest"
) -> dict[str, Any]:
    quoted = urllib.parse.quote(run_id, safe="")
    return dict(call(f"{url}/api/v2/dags/{dag_id}/dagRuns/{quoted}/taskInstances/{task_id}", token))


def task_state(url: str, token: str, run_id: str, task_id: str) -> str:
    return str(task_instance(url, token, run_id, task_id)["state"])


def failed_tasks(url: str, token: str, dag_id: str, runs: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Failed run id -> its failed task ids, for an assertion to name (the logs are in AIRFLOW_HOME)."""
    out: dict[str, list[str]] = {}
    for run in runs:
        if run["state"] == "failed":
            quoted = urllib.parse.quote(run["dag_run_id"], safe="")
            listed = call(f"{url}/api/v2/dags/{dag_id}/dagRuns/{quoted}/taskInstances?limit=100", token)
            out[run["dag_run_id"]] = [
                t["task_id"] for t in listed["task_instances"] if t["state"] in ("failed", "upstream_failed")
            ]
    return out


def xcom(url: str, token: str, run_id: str, task_id: str, key: str) -> dict[str, Any]:
    quoted = urllib.parse.quote(run_id, safe="")
    path = f"dags/youtube_ingest/dagRuns/{quoted}/taskInstances/{task_id}/xcomEntries/{key}"
    value = call(f"{url}/api/v2/{path}", token)["value"]
    return dict(json.loads(value) if isinstance(value, str) else value)


def verdicts(url: str, token: str, run_id: str) -> dict[str, Any]:
    return xcom(url, token, run_id, "record_verdicts", "verdicts")


def test_backfill_takes_each_days_drop_and_backfilling_again_takes_nothing(
    airflow_ui: tuple[str, str, str, Path],
) -> None:
    url, token, *_ = airflow_ui
    wait_for(
        "the dag-processor registers both DAGs",
        lambda: (
            {d["dag_id"] for d in call(f"{url}/api/v2/dags", token)["dags"]}
            >= {"youtube_ingest", "youtube_reporting"}
        ),
        timeout=180,
        every=2,
    )
    for dag_id in ("youtube_reporting", "youtube_ingest"):  # make airflow starts them unpaused
        assert call(f"{url}/api/v2/dags/{dag_id}", token)["is_paused"] is False, dag_id
    backfill = create_backfill(url, token, DAYS[0], DAYS[-1], "none")

    def finished() -> list[dict[str, Any]] | None:
        runs = backfill_runs(url, token, backfill["created_at"])
        assert "failed" not in {r["state"] for r in runs}, failed_tasks(url, token, "youtube_ingest", runs)
        return runs if len(runs) == len(DAYS) and {r["state"] for r in runs} == {"success"} else None

    runs = sorted(wait_for("the backfill", finished), key=lambda r: r["data_interval_start"])
    # One run per day, each covering its day, each taking that day's four statistics files.
    assert [r["data_interval_start"][:10] for r in runs] == list(DAYS)
    for run in runs:
        assert task_state(url, token, run["dag_run_id"], "run_clean_statistics") == "success"
        assert verdicts(url, token, run["dag_run_id"])["quarantined"] == []

    def reported() -> bool:
        runs = call(f"{url}/api/v2/dags/youtube_reporting/dagRuns", token)["dag_runs"]
        states = [r["state"] for r in runs]
        assert "failed" not in states, failed_tasks(url, token, "youtube_reporting", runs)
        return bool(states) and set(states) == {"success"}

    wait_for("youtube_reporting on the processed assets", reported)

    # Backfilling a processed day again re-runs it; every object already has its verdict: a no-op.
    wait_backfills_completed(url, token)
    again = create_backfill(url, token, DAYS[1], DAYS[1], "completed")
    (rerun,) = wait_for(
        "the repeated interval",
        lambda: [
            r for r in backfill_runs(url, token, again["created_at"]) if r["state"] in ("success", "failed")
        ],
    )
    assert rerun["state"] == "success"
    assert task_state(url, token, rerun["dag_run_id"], "run_clean_statistics") == "skipped"
    assert task_state(url, token, rerun["dag_run_id"], "crawl_processed") == "skipped"
    assert verdicts(url, token, rerun["dag_run_id"])["processed"] == 0


# The kill test's day: an interval the first test's backfills ran (twice); a new file of that day's drop
# gives its re-run a Glue job run to kill.
KILLED_DAY = DAYS[-1]
IN_PROGRESS = ("STARTING", "RUNNING")


@functools.cache  # job_runs polls every half second: one client, not one per poll
def aws_client(runtime: str, service: str) -> Any:
    """A client of the local runtime make airflow started (its API, as on AWS)."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=runtime,
        region_name=get_settings({}).region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def job_runs(runtime: str, job: str) -> list[dict[str, Any]]:
    return list(aws_client(runtime, "glue").get_job_runs(JobName=job)["JobRuns"])


def task_log(
    url: str, token: str, run_id: str, task_id: str, try_number: int, dag_id: str = "youtube_ingest"
) -> str:
    quoted = urllib.parse.quote(run_id, safe="")
    path = f"dags/{dag_id}/dagRuns/{quoted}/taskInstances/{task_id}/logs/{try_number}"
    return json.dumps(call(f"{url}/api/v2/{path}?full_content=true", token)["content"])


def resend(runtime: str, home: Path) -> tuple[int, int]:
    """Land the day's CA drop file again under a new name (a re-sent file: a new object, no verdict yet);
    returns its (records, distinct videos), counted with the csv module."""
    source = home / "quickstart" / "drops" / KILLED_DAY / "raw_statistics" / "region=ca" / "CAvideos.csv"
    settings = get_settings({})
    key = f"{settings.prefixes.raw_statistics}landing_date={KILLED_DAY}/region=ca/CAvideos_resent.csv"
    aws_client(runtime, "s3").upload_file(str(source), settings.raw_bucket, key)
    with source.open(newline="", encoding="utf-8") as handle:
        videos = [row["video_id"] for row in csv.DictReader(handle)]
    return len(videos), len(set(videos))


# ---- an Athena CTAS and a crawl killed mid-run ------------------------------------------------------------
HELD_REPORT = "region_summary"


def hold(runtime: str, service: str, match: str, seconds: float) -> None:
    """Keep the next matching queries or crawls RUNNING ``seconds`` (the runtime's holds: localaws._holds);
    two, in case a reporting run the test did not start comes first after all."""
    body = {"service": service, "match": match, "seconds": seconds, "count": 2}
    assert call(f"{runtime}/_localaws/holds", method="POST", body=body)["holds"], body


def athena_rows(runtime: str, sql: str) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` run on the runtime's Athena, as the published views show them."""
    settings = get_settings({})
    athena = aws_client(runtime, "athena")
    query_id = athena.start_query_execution(
        QueryString=sql,
        QueryExecutionContext={"Database": settings.analytics_database},
        WorkGroup=settings.athena_workgroup,
    )["QueryExecutionId"]
    status = wait_for(
        f"query {query_id}",
        lambda: (
            (s := athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"])["State"]
            not in ("QUEUED", "RUNNING")
            and s
        ),
        every=0.2,
    )
    assert status["State"] == "SUCCEEDED", status
    rows = athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id)
    values = [
        tuple(d.get("VarCharValue") for d in r["Data"]) for page in rows for r in page["ResultSet"]["Rows"]
    ]
    return values[1:]  # the header row


def ctas_of(runtime: str, table: str) -> list[dict[str, Any]]:
    """The CTAS queries run on the runtime's Athena that create ``table``."""
    workgroup = get_settings({}).athena_workgroup
    athena = aws_client(runtime, "athena")
    creates = re.compile(rf"CREATE TABLE \S+\.{re.escape(table)}\s")
    ids = [
        query_id
        for page in athena.get_paginator("list_query_executions").paginate(WorkGroup=workgroup)
        for query_id in page["QueryExecutionIds"]
    ]
    found: list[dict[str, Any]] = []
    for start in range(0, len(ids), 50):
        batch = athena.batch_get_query_execution(QueryExecutionIds=ids[start : start + 50])
        found += [q for q in batch["QueryExecutions"] if creates.search(q["Query"])]
    return found


def view_sql(runtime: str, view: str) -> str:
    """The SQL of an Athena view, from its Glue table (``/* Presto View: <base64 JSON> */``)."""
    settings = get_settings({})
    table = aws_client(runtime, "glue").get_table(DatabaseName=settings.analytics_database, Name=view)[
        "Table"
    ]
    encoded = table["ViewOriginalText"].removeprefix("/* Presto View: ").removesuffix(" */")
    return str(json.loads(base64.b64decode(encoded))["originalSql"])


def reporting_runs(url: str, token: str) -> list[dict[str, Any]]:
    return list(call(f"{url}/api/v2/dags/youtube_reporting/dagRuns?limit=100", token)["dag_runs"])


def reporting_idle(url: str, token: str) -> bool:
    """No youtube_reporting run queued or running, and no asset event waiting to queue one (the kill test
    before this one ended an ingest run, whose assets trigger a reporting run some loops later)."""
    if any(r["state"] not in ("success", "failed") for r in reporting_runs(url, token)):
        return False
    try:
        queued = call(f"{url}/api/v2/dags/youtube_reporting/assets/queuedEvents", token)
    except AssertionError as error:  # 404 when nothing is queued
        if ": 404 " not in str(error):
            raise
        return True
    return not queued.get("queued_events")


def kill_while(description: str, url: str, token: str, run_id: str, task_id: str, running: Any) -> int:
    """SIGKILL the task's process once it waits and ``running()`` says its AWS work runs; its try number."""

    def waiting() -> tuple[int, int] | None:
        ti = task_instance(url, token, run_id, task_id, "youtube_reporting")
        assert ti["state"] not in ("success", "skipped", "failed", "upstream_failed"), (description, ti)
        if ti["state"] == "running" and ti.get("pid") and running():
            return int(ti["pid"]), int(ti["try_number"])
        return None

    pid, try_number = wait_for(description, waiting, every=0.5)
    os.kill(pid, signal.SIGKILL)
    return try_number


def test_tasks_killed_mid_glue_run_crawl_and_ctas_retry_onto_their_runs(
    airflow_ui: tuple[str, str, str, Path],
) -> None:
    """Issue 25, under the real scheduler: SIGKILL a task's process while its AWS work runs (what an
    OOM-killed or recycled task process does) — run_clean_statistics during its Glue job run, then, in the
    youtube_reporting run its assets start, crawl_analytics during its crawl and build_region_summary during
    its CTAS (the runtime holds those two RUNNING 10 s, as a long crawl or query on AWS). The scheduler
    retries each task and the retry re-attaches to the run the killed try started: one job run, one crawl and
    one CTAS, no ConcurrentRunsExceededException or "already exists"; the re-sent file is taken exactly once
    and the published report equals the one before (the same rows again)."""
    from youtube_lake.runs import safe_run_id

    url, token, runtime, home = airflow_ui
    settings = get_settings({})
    job, crawler = settings.clean_statistics_job, settings.analytics_crawler
    records, videos = resend(runtime, home)
    wait_backfills_completed(url, token)
    wait_for(
        "earlier reporting runs to end, none queued on assets", lambda: reporting_idle(url, token), every=2
    )
    before = {r["Id"] for r in job_runs(runtime, job)}  # after the earlier backfills' runs, not during them
    earlier_reports = {r["dag_run_id"] for r in reporting_runs(url, token)}
    published = sorted(athena_rows(runtime, f"SELECT * FROM {HELD_REPORT}"))
    assert published, "an earlier run published the report"
    crawls_before = crawls(aws_client(runtime, "logs"), crawler)
    hold(runtime, "crawler", f"^{re.escape(crawler)}$", 10)
    hold(runtime, "athena", rf"CREATE TABLE \S+\.{HELD_REPORT}__", 10)
    backfill = create_backfill(url, token, KILLED_DAY, KILLED_DAY, "completed")

    def new_runs() -> list[dict[str, Any]]:
        return [r for r in job_runs(runtime, job) if r["Id"] not in before]

    def glue_running() -> tuple[str, int] | None:
        runs = backfill_runs(url, token, backfill["created_at"], days=(KILLED_DAY,))
        if not runs:
            return None
        ti = task_instance(url, token, runs[0]["dag_run_id"], "run_clean_statistics")
        assert ti["state"] not in ("success", "skipped", "failed", "upstream_failed"), ti
        started = new_runs()
        assert all(r["JobRunState"] in IN_PROGRESS for r in started), f"ended before the kill: {started}"
        if ti["state"] == "running" and ti.get("pid") and started:
            return runs[0]["dag_run_id"], int(ti["pid"])
        return None

    run_id, pid = wait_for("run_clean_statistics with its Glue run running", glue_running, every=0.5)
    os.kill(pid, signal.SIGKILL)

    def ended() -> dict[str, Any] | None:
        runs = backfill_runs(url, token, backfill["created_at"], days=(KILLED_DAY,))
        return runs[0] if runs and runs[0]["state"] in ("success", "failed") else None

    run = wait_for("the DAG run with the killed task", ended)
    assert run["state"] == "success", failed_tasks(url, token, "youtube_ingest", [run])
    ti = task_instance(url, token, run_id, "run_clean_statistics")
    assert ti["try_number"] >= 2, ti  # the killed try, then the retry
    (glue_run,) = new_runs()  # one job run for the task, whatever its tries
    assert glue_run["JobRunState"] == "SUCCEEDED", glue_run
    retry_log = task_log(url, token, run_id, "run_clean_statistics", ti["try_number"])
    assert glue_run["Id"] in retry_log
    assert "ConcurrentRunsExceeded" not in retry_log
    # As an uninterrupted run: the file's every record read once, each video written once, no quarantine.
    assert verdicts(url, token, run_id) == {"processed": 1, "ignored": 0, "quarantined": []}
    metrics = xcom(url, token, run_id, "run_clean_statistics", "metrics")
    assert (metrics["read"], metrics["written"], metrics["rejected"]) == (records, videos, 0), metrics

    # The reporting run that run's assets start: kill its crawl task, then its CTAS task, mid-run.
    report_run = wait_for(
        "the reporting run on the re-sent day's assets",
        lambda: [
            r["dag_run_id"] for r in reporting_runs(url, token) if r["dag_run_id"] not in earlier_reports
        ],
        every=1,
    )[0]
    glue = aws_client(runtime, "glue")
    kill_while(
        "crawl_analytics with its crawl running",
        url,
        token,
        report_run,
        "crawl_analytics",
        lambda: glue.get_crawler(Name=crawler)["Crawler"]["State"] == "RUNNING",
    )
    table = f"{HELD_REPORT}__{safe_run_id(report_run)}"
    build = f"build_reports.build_{HELD_REPORT}"
    kill_while(
        f"{build} with its CTAS running",
        url,
        token,
        report_run,
        build,
        lambda: any(q["Status"]["State"] == "RUNNING" for q in ctas_of(runtime, table)),
    )

    def reported() -> dict[str, Any] | None:
        done = next(r for r in reporting_runs(url, token) if r["dag_run_id"] == report_run)
        return done if done["state"] in ("success", "failed") else None

    reporting = wait_for("the reporting run with the killed tasks", reported)
    assert reporting["state"] == "success", failed_tasks(url, token, "youtube_reporting", [reporting])
    for task_id in ("crawl_analytics", build):
        ti = task_instance(url, token, report_run, task_id, "youtube_reporting")
        assert ti["try_number"] >= 2, ti  # the killed try, then the retry
        retry_log = task_log(url, token, report_run, task_id, ti["try_number"], "youtube_reporting")
        assert "already exists" not in retry_log and "CrawlerRunningException" not in retry_log, retry_log
    assert crawls(aws_client(runtime, "logs"), crawler) - crawls_before == 1, (
        "one crawl for the task, whatever its tries"
    )
    (ctas,) = ctas_of(runtime, table)
    assert ctas["Status"]["State"] == "SUCCEEDED", ctas
    assert sorted(athena_rows(runtime, f"SELECT * FROM {HELD_REPORT}")) == published
    assert table in view_sql(runtime, HELD_REPORT), "the published view shows this run's table"
