"""`make airflow` with dated drops: a backfill through the real scheduler takes each day's drop.

The quickstart's drops (the real sample split by trending date, ``local/drops.py``) land under their
``landing_date=`` keys; a backfill of their days over the REST API the UI calls creates one run per day,
each taking that day's drop, and the asset-triggered ``youtube_reporting`` follows; backfilling a day
again takes nothing. (Both DAGs start unpaused locally, so the scheduler also runs yesterday's interval,
which has no drop: only the backfill's runs are looked at here.) Everything started is stopped afterwards.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from local.drops import make_drops
from tests.e2e.test_airflow_ui import READY, call
from tests.servers import started, user_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def airflow_ui(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
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
        yield url, token["access_token"]


# Two of the quickstart's four days show what the README's four-day backfill does: one run per day, each
# taking its own drop (the other days' drops stay pending: no run of this test reaches them).
DAYS = ("2017-11-14", "2017-11-15")
SQLITE_LOCKED = "Database is locked"


def create_backfill(url: str, token: str, body: dict[str, Any], attempts: int = 6) -> dict[str, Any]:
    """POST /api/v2/backfills as the UI's Backfill dialog does, submitted again while SQLite is locked.

    On SQLite, Airflow answers 503 "Database is locked" when the scheduler holds the write lock at that
    moment (SQLite does not wait when waiting could deadlock); the README tells a UI user to submit again.
    Any other error, or the lock every time, fails the test.
    """
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


def backfill_runs(url: str, token: str, since: str) -> list[dict[str, Any]]:
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
        and r["data_interval_start"][:10] in DAYS
        and _instant(r.get("queued_at")) >= _instant(since)
    ]


def _instant(text: str | None) -> datetime:
    return datetime.fromisoformat(text) if text else datetime.min.replace(tzinfo=UTC)


def task_state(url: str, token: str, run_id: str, task_id: str) -> str:
    quoted = urllib.parse.quote(run_id, safe="")
    return str(
        call(f"{url}/api/v2/dags/youtube_ingest/dagRuns/{quoted}/taskInstances/{task_id}", token)["state"]
    )


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


def verdicts(url: str, token: str, run_id: str) -> dict[str, Any]:
    quoted = urllib.parse.quote(run_id, safe="")
    entry = call(
        f"{url}/api/v2/dags/youtube_ingest/dagRuns/{quoted}/taskInstances/record_verdicts/xcomEntries/verdicts",
        token,
    )
    value = entry["value"]
    return dict(json.loads(value) if isinstance(value, str) else value)


def test_backfill_takes_each_days_drop_and_backfilling_again_takes_nothing(
    airflow_ui: tuple[str, str],
) -> None:
    url, token = airflow_ui
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
    body = {
        "dag_id": "youtube_ingest",
        "from_date": f"{DAYS[0]}T00:00:00Z",
        "to_date": f"{DAYS[-1]}T00:00:00Z",
        "max_active_runs": 1,
        "reprocess_behavior": "none",
    }
    backfill = create_backfill(url, token, body)

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
    again = create_backfill(
        url,
        token,
        body
        | {
            "from_date": f"{DAYS[1]}T00:00:00Z",
            "to_date": f"{DAYS[1]}T00:00:00Z",
            "reprocess_behavior": "completed",
        },
    )
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
