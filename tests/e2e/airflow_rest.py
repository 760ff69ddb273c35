"""The REST API of a running `make airflow` (what its UI calls) and the local AWS runtime beside it, for the
end-to-end tests of tests/e2e/test_airflow_ui.py: calls, waits, backfills, task instances and their logs, the
runtime's job runs, queries, crawls and holds, make airflow's components, and a task process killed
mid-run."""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import signal
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psutil

from local.airflow_ui import SQLITE_BUSY
from youtube_etl.settings import get_settings

READY = re.compile(r"Airflow UI: (http://127\.0\.0\.1:\d+)\s+login: (\S+) / (\S+)")
RUNTIME = re.compile(r"local AWS runtime: (http://127\.0\.0\.1:\d+)")
SQLITE_LOCKED = "Database is locked"
#: Airflow's answer to any other database error (500), the statement and the cause hidden.
DATABASE_ERROR = '"reason":"Database error"'
IN_PROGRESS = ("STARTING", "RUNNING")
#: The report whose CTAS the kill tests hold RUNNING (the runtime's holds) and kill mid-run, and its task.
HELD_REPORT = "region_summary"
HELD_BUILD = f"build_reports.build_{HELD_REPORT}"
#: The report whose task is killed with its whole worker while its CTAS is held RUNNING, and its task.
WORKER_REPORT = "category_performance"
WORKER_BUILD = f"build_reports.build_{WORKER_REPORT}"


def call(url: str, token: str | None = None, method: str = "GET", body: Any = None) -> Any:
    """One REST call. The API server may wait SQLite's write lock up to ``SQLITE_BUSY`` before it answers (on
    a loaded machine it does: a backfill's POST timed out at 30 s in CI), so the client waits longer."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=SQLITE_BUSY + 30) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:  # the API's own explanation, in the test's failure
        raise AssertionError(
            f"{method} {url}: {error.code} {error.reason}: {error.read()[:2000]!r}"
        ) from None


def wait_backfills_completed(url: str, token: str) -> None:
    """Airflow allows one running backfill per DAG (409 "There is already a running backfill"), and the
    scheduler marks one completed only some loops after its last run ended: wait for that."""
    wait_for(
        "the earlier backfills to complete",
        lambda: all(b["completed_at"] for b in ingest_backfills(url, token)),
        every=2,
    )


def ingest_backfills(url: str, token: str) -> list[dict[str, Any]]:
    return list(call(f"{url}/api/v2/backfills?dag_id=youtube_ingest", token)["backfills"])


def create_backfill(
    url: str, token: str, first: str, last: str, reprocess: str, attempts: int = 6
) -> dict[str, Any]:
    """POST /api/v2/backfills of youtube_ingest's days ``first`` to ``last`` (one run at a time, ``reprocess``
    as the dialog's reprocess behavior) as the UI's Backfill dialog does, submitted again while SQLite is
    locked.

    On SQLite, Airflow answers 503 "Database is locked" when the scheduler holds the write lock at that
    moment (SQLite does not wait when waiting could deadlock); the README tells a UI user to submit again.
    The lock can also come later: Airflow commits the backfill in a transaction of its own, then writes the
    request's audit log, which meets the lock and answers 500 "Database error" with the backfill created
    (CI, load 7). So after either answer a backfill the request created is the answer: submitting again
    would start a second one. Any other error, or the lock every time, fails the test.
    """
    body = {
        "dag_id": "youtube_ingest",
        "from_date": f"{first}T00:00:00Z",
        "to_date": f"{last}T00:00:00Z",
        "max_active_runs": 1,
        "reprocess_behavior": reprocess,
    }
    known = {b["id"] for b in ingest_backfills(url, token)}
    for attempt in range(1, attempts + 1):
        try:
            return dict(call(f"{url}/api/v2/backfills", token, "POST", body))
        except AssertionError as error:
            locked = SQLITE_LOCKED in str(error) or DATABASE_ERROR in str(error)
            created = [b for b in ingest_backfills(url, token) if b["id"] not in known] if locked else []
            if created:
                backfill = max(created, key=lambda b: b["id"])
                print(f"backfill creation attempt {attempt}: {error}; it created backfill {backfill['id']}")
                return dict(backfill)
            if SQLITE_LOCKED not in str(error) or attempt == attempts:
                raise
            print(f"backfill creation attempt {attempt}: {error}; submitting again")
            time.sleep(5)
    raise AssertionError("unreachable: the last attempt returns or raises")


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


def backfill_runs(url: str, token: str, since: str, days: tuple[str, ...]) -> list[dict[str, Any]]:
    """The backfill runs of ``days`` queued at or after ``since`` (a backfill's ``created_at``).

    The DAG-run list of Airflow 3.3.1's REST API carries no ``backfill_id``; a backfill that reprocesses a
    day clears its existing run (same run id) and queues it again, so the queue time tells the backfills
    apart.
    """
    return [
        r
        for r in dag_runs(url, token, "youtube_ingest")
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


def held_table(report_run: str, report: str = HELD_REPORT) -> str:
    """The table the report's CTAS creates in the youtube_reporting run ``report_run``."""
    from youtube_lake.runs import safe_run_id

    return f"{report}__{safe_run_id(report_run)}"


def crawl_running(runtime: str, crawler: str) -> Callable[[], bool]:
    """Whether ``crawler`` crawls now, asked of the runtime."""
    glue = aws_client(runtime, "glue")
    return lambda: bool(glue.get_crawler(Name=crawler)["Crawler"]["State"] == "RUNNING")


def ctas_running(runtime: str, table: str) -> Callable[[], bool]:
    """Whether a CTAS of ``table`` runs now, asked of the runtime's Athena."""
    return lambda: any(q["Status"]["State"] == "RUNNING" for q in ctas_of(runtime, table))


def run_ended(url: str, token: str, dag_id: str, run_id: str) -> dict[str, Any] | None:
    """The DAG run once it ended (success or failed), else None."""
    (run,) = [r for r in dag_runs(url, token, dag_id) if r["dag_run_id"] == run_id]
    return dict(run) if run["state"] in ("success", "failed") else None


def dag_runs(url: str, token: str, dag_id: str) -> list[dict[str, Any]]:
    """The runs of ``dag_id`` (up to 100: more than any of these tests makes)."""
    return list(call(f"{url}/api/v2/dags/{dag_id}/dagRuns?limit=100", token)["dag_runs"])


def reporting_runs(url: str, token: str) -> list[dict[str, Any]]:
    return dag_runs(url, token, "youtube_reporting")


def reporting_idle(url: str, token: str) -> bool:
    """No youtube_reporting run queued or running, and no asset event waiting to queue one (an ingest run
    that just ended triggers a reporting run on its assets some scheduler loops later)."""
    if any(r["state"] not in ("success", "failed") for r in reporting_runs(url, token)):
        return False
    try:
        queued = call(f"{url}/api/v2/dags/youtube_reporting/assets/queuedEvents", token)
    except AssertionError as error:  # 404 when nothing is queued
        if ": 404 " not in str(error):
            raise
        return True
    return not queued.get("queued_events")


@dataclass(frozen=True)
class Kill:
    """A youtube_reporting task to SIGKILL once it runs and ``running()`` says its AWS work runs: its process
    (its supervisor, alive, reports the death at once), or with ``worker`` its whole worker — the supervisor
    too, as a recycled or out-of-memory worker dies: nobody reports the death, and the scheduler fails the try
    only once its heartbeat stopped for ``[scheduler] task_instance_heartbeat_timeout``."""

    task_id: str
    running: Callable[[], bool]
    worker: bool = False


def kill_while(description: str, url: str, token: str, run_id: str, *kills: Kill) -> None:
    """Carry out each of ``kills`` in the youtube_reporting run ``run_id`` as soon as its task runs with its
    AWS work running, in whatever order that comes (the report builds run side by side)."""
    left = list(kills)

    def all_killed() -> bool:
        for kill in list(left):
            ti = task_instance(url, token, run_id, kill.task_id, "youtube_reporting")
            assert ti["state"] not in ("success", "skipped", "failed", "upstream_failed"), (description, ti)
            if ti["state"] == "running" and ti.get("pid") and kill.running():
                kill_task(int(ti["pid"]), worker=kill.worker)
                left.remove(kill)
        return not left

    wait_for(description, all_killed, every=0.5)


def kill_task(pid: int, *, worker: bool) -> None:
    """SIGKILL the task process ``pid``, and with ``worker`` first its supervisor: the executor's worker that
    runs it (alive a moment longer, it would report the task's death)."""
    if worker:
        supervisor = psutil.Process(pid).parent()
        title = " ".join(supervisor.cmdline()) if supervisor else ""
        assert supervisor is not None and "LocalExecutor" in title, f"task {pid}'s parent: {title!r}"
        supervisor.kill()
    os.kill(pid, signal.SIGKILL)


def heartbeat_timeouts(url: str, token: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
    """The scheduler's "heartbeat timeout" events of a youtube_reporting task: each failed a try whose
    heartbeat had stopped."""
    query = urllib.parse.urlencode(
        {"dag_id": "youtube_reporting", "run_id": run_id, "task_id": task_id, "event": "heartbeat timeout"}
    )
    return list(call(f"{url}/api/v2/eventLogs?{query}", token)["event_logs"])


def component(process: psutil.Process, name: str) -> psutil.Process | None:
    """The Airflow component ``name`` (``scheduler``, ``triggerer``, …) that make airflow (``process``) runs:
    the leader of its own process group, if one runs."""
    found = []
    for child in process.children(recursive=True):
        try:
            if name in child.cmdline() and os.getpgid(child.pid) == child.pid:
                found.append(child)
        except (psutil.Error, ProcessLookupError):  # gone, or a zombie not reaped yet
            continue
    assert len(found) <= 1, found
    return found[0] if found else None


def wait_restarted(process: psutil.Process, name: str, dead: int) -> None:
    """Until make airflow (``process``) has seen its component ``name`` (PID ``dead``) die and started a new
    one, as MWAA starts a failed scheduler or triggerer again."""

    def restarted() -> bool:
        again = component(process, name)  # None until make airflow has started a new one
        return again is not None and again.pid != dead

    wait_for(f"make airflow to start the {name} again", restarted, every=1)
