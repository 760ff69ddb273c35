"""`make airflow` in deferrable mode (`[youtube_etl] deferrable`): the triggerer killed while tasks wait.

Issue 25, under the real scheduler: the triggerer's process group is SIGKILLed (what a recycled container
does) while a task is deferred on its AWS work — ``run_clean_statistics`` during its Glue job run in
yesterday's scheduled ingest run, then, in the ``youtube_reporting`` run its assets start,
``crawl_analytics`` during its crawl and ``build_region_summary`` during its CTAS (the runtime holds those two
RUNNING, as a long crawl or query on AWS). make airflow starts the triggerer again, as MWAA does; the new
triggerer takes the dead one's triggers over once it counts as dead, and each task resumes in its first try
on the run it started: one job run, one crawl, one CTAS, nothing resubmitted. Everything started is stopped
afterwards.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.aws.test_resume import crawls
from tests.e2e.airflow_rest import (
    HELD_BUILD,
    HELD_REPORT,
    IN_PROGRESS,
    READY,
    RUNTIME,
    aws_client,
    call,
    component,
    crawl_running,
    ctas_of,
    ctas_running,
    dag_runs,
    failed_tasks,
    held_table,
    hold,
    job_runs,
    reporting_runs,
    run_ended,
    task_instance,
    task_log,
    view_sql,
    wait_for,
    wait_restarted,
)
from tests.servers import started, user_env
from youtube_etl.settings import get_settings

pytestmark = pytest.mark.slow
#: How long the runtime holds the crawl and the CTAS RUNNING: past the kill, the triggerer's restart and
#: the 10 s after which make airflow's new triggerer takes the dead one's triggers (TRIGGERER_HEALTH_SECONDS).
HOLD_SECONDS = 25


@dataclass
class Deferrable:
    url: str
    token: str
    process: psutil.Process
    runtime: str
    home: Path


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deferrable]:
    """make airflow in deferrable mode, with only what youtube_extract lands (no data folder)."""
    home = tmp_path_factory.mktemp("airflow-deferrable")
    env = {**user_env(), "AIRFLOW__YOUTUBE_ETL__DEFERRABLE": "true"}
    argv = [sys.executable, "-m", "local.airflow_ui", "--airflow-home", str(home)]
    with started(argv, env) as (proc, line):
        while line and not READY.search(line):
            line = proc.stdout.readline() if proc.stdout else ""
        match = READY.search(line)
        assert match, f"no ready line (logs in {home}/logs/components)"
        url, user, password = match.groups()
        token = call(f"{url}/auth/token", method="POST", body={"username": user, "password": password})
        runtime = RUNTIME.search(proc.stdout.readline() if proc.stdout else "")
        assert runtime, "no runtime line after the ready line"
        # Hold the reporting run's crawl and CTAS before that run can start.
        settings = get_settings({})
        hold(runtime.group(1), "crawler", f"^{re.escape(settings.analytics_crawler)}$", HOLD_SECONDS)
        hold(runtime.group(1), "athena", rf"CREATE TABLE \S+\.{HELD_REPORT}__", HOLD_SECONDS)
        yield Deferrable(url, token["access_token"], psutil.Process(proc.pid), runtime.group(1), home)


def kill_triggerer_while_deferred(
    ui: Deferrable, dag_id: str, run_id: str, task_id: str, running: Callable[[], bool]
) -> None:
    """Once the task is deferred and ``running()`` says its AWS work runs, SIGKILL the triggerer's whole
    process group (its trigger runner too); make airflow starts a new one."""

    def deferred() -> bool:
        ti = task_instance(ui.url, ui.token, run_id, task_id, dag_id)
        assert ti["state"] not in ("success", "skipped", "failed", "upstream_failed"), (task_id, ti)
        return ti["state"] == "deferred" and running()

    wait_for(f"{task_id} deferred while its AWS work runs", deferred, every=0.5)
    dead = component(ui.process, "triggerer")
    assert dead is not None, "make airflow runs a triggerer"
    os.killpg(dead.pid, signal.SIGKILL)
    wait_restarted(ui.process, "triggerer", dead.pid)


def first_try_succeeded(ui: Deferrable, dag_id: str, run_id: str, task_id: str) -> str:
    """The task resumed on its trigger without failing: success in try 1; its log."""
    ti = task_instance(ui.url, ui.token, run_id, task_id, dag_id)
    assert (ti["state"], ti["try_number"]) == ("success", 1), ti
    return task_log(ui.url, ui.token, run_id, task_id, 1, dag_id)


def test_deferred_tasks_survive_a_killed_triggerer_with_one_run_each(airflow: Deferrable) -> None:
    ui, settings = airflow, get_settings({})
    job, crawler = settings.clean_statistics_job, settings.analytics_crawler

    def scheduled_ingest() -> str | None:
        runs = dag_runs(ui.url, ui.token, "youtube_ingest")
        return runs[0]["dag_run_id"] if runs else None

    ingest = wait_for("yesterday's scheduled youtube_ingest run", scheduled_ingest, every=2)

    def glue_running() -> bool:
        runs = job_runs(ui.runtime, job)
        assert all(r["JobRunState"] in IN_PROGRESS for r in runs), f"ended before the kill: {runs}"
        return bool(runs)

    kill_triggerer_while_deferred(ui, "youtube_ingest", ingest, "run_clean_statistics", glue_running)
    run = wait_for(
        "the ingest run with the killed triggerer",
        lambda: run_ended(ui.url, ui.token, "youtube_ingest", ingest),
    )
    assert run["state"] == "success", failed_tasks(ui.url, ui.token, "youtube_ingest", [run])
    (glue_run,) = job_runs(ui.runtime, job)  # one job run, taken over by the new triggerer
    assert glue_run["JobRunState"] == "SUCCEEDED", glue_run
    log = first_try_succeeded(ui, "youtube_ingest", ingest, "run_clean_statistics")
    assert f"driver log /aws-glue/jobs/output/{glue_run['Id']}" in log, "the driver's output, deferred too"

    report = wait_for(
        "the reporting run on the ingest's assets",
        lambda: [r["dag_run_id"] for r in reporting_runs(ui.url, ui.token)],
    )[0]
    kill_triggerer_while_deferred(
        ui, "youtube_reporting", report, "crawl_analytics", crawl_running(ui.runtime, crawler)
    )
    table = held_table(report)
    kill_triggerer_while_deferred(
        ui, "youtube_reporting", report, HELD_BUILD, ctas_running(ui.runtime, table)
    )
    reporting = wait_for(
        "the reporting run with the killed triggerer",
        lambda: run_ended(ui.url, ui.token, "youtube_reporting", report),
    )
    assert reporting["state"] == "success", failed_tasks(ui.url, ui.token, "youtube_reporting", [reporting])
    for task_id in ("crawl_analytics", HELD_BUILD):
        log = first_try_succeeded(ui, "youtube_reporting", report, task_id)
        assert "already exists" not in log and "CrawlerRunningException" not in log, log
    assert crawls(aws_client(ui.runtime, "logs"), crawler) == 1, "the instance's one crawl, whatever the kill"
    (ctas,) = ctas_of(ui.runtime, table)
    assert ctas["Status"]["State"] == "SUCCEEDED", ctas
    assert table in view_sql(ui.runtime, HELD_REPORT), "the published view shows this run's table"
