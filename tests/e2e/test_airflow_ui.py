"""`make airflow`: the real Airflow components with the local runtime; a triggered ingest runs both DAGs.

This is what a user does in the UI, done through the same REST API the UI calls: log in, unpause, trigger
`youtube_ingest`, and watch it and the asset-triggered `youtube_reporting` succeed. Everything listens on
127.0.0.1 only, and everything started is gone after Ctrl-C (SIGINT).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.servers import started

pytestmark = pytest.mark.slow
READY = re.compile(r"Airflow UI: (http://127\.0\.0\.1:\d+)\s+login: (\S+) / (\S+)")


def call(url: str, token: str | None = None, method: str = "GET", body: Any = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


@pytest.fixture(scope="module")
def airflow_ui(
    data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str, psutil.Process]]:
    home = tmp_path_factory.mktemp("airflow-ui")
    # The components get a clean environment: none of this test process's Airflow or AWS settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))}
    argv = [
        sys.executable,
        "-m",
        "infra.local.airflow_ui",
        "--airflow-home",
        str(home),
        "--data",
        str(data_dir),
    ]
    with started(argv, env) as (proc, line):
        match = READY.search(line)
        assert match, f"no ready line, got {line!r} (logs in {home}/logs/components)"
        url, user, password = match.groups()
        token = call(f"{url}/auth/token", method="POST", body={"username": user, "password": password})
        yield url, token["access_token"], psutil.Process(proc.pid)


def test_every_listener_is_on_loopback(airflow_ui) -> None:  # type: ignore[no-untyped-def]
    _, _, process = airflow_ui
    listening = [
        conn
        for p in [process, *process.children(recursive=True)]
        for conn in p.net_connections("inet")
        if conn.status == psutil.CONN_LISTEN
    ]
    assert len(listening) >= 2, "expected at least the runtime and the api-server"
    assert {c.laddr.ip for c in listening} <= {"127.0.0.1", "::ffff:127.0.0.1"}


def test_triggered_ingest_runs_both_dags(airflow_ui) -> None:  # type: ignore[no-untyped-def]
    url, token, _ = airflow_ui
    deadline = time.monotonic() + 120
    while {d["dag_id"] for d in call(f"{url}/api/v2/dags", token)["dags"]} != {
        "youtube_ingest",
        "youtube_reporting",
    }:
        assert time.monotonic() < deadline, "the dag-processor did not register both DAGs"
        time.sleep(2)
    for dag_id in ("youtube_reporting", "youtube_ingest"):
        call(f"{url}/api/v2/dags/{dag_id}", token, "PATCH", {"is_paused": False})
    # make airflow landed the data as yesterday's drop. Unpausing schedules yesterday's interval; a run
    # triggered for today 00:00 covers the same day (the last whole day before its logical date).
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    triggered = call(
        f"{url}/api/v2/dags/youtube_ingest/dagRuns", token, "POST", {"logical_date": today.isoformat()}
    )["dag_run_id"]

    deadline = time.monotonic() + 900
    while True:
        runs = {
            dag_id: [r["state"] for r in call(f"{url}/api/v2/dags/{dag_id}/dagRuns", token)["dag_runs"]]
            for dag_id in ("youtube_ingest", "youtube_reporting")
        }
        assert "failed" not in runs["youtube_ingest"] + runs["youtube_reporting"], runs
        if runs["youtube_reporting"] and all(
            state == "success" for states in runs.values() for state in states
        ):
            break
        assert time.monotonic() < deadline, f"DAG runs not done after 15 minutes: {runs}"
        time.sleep(5)
    ingest = call(f"{url}/api/v2/dags/youtube_ingest/dagRuns", token)["dag_runs"]
    assert triggered in {r["dag_run_id"] for r in ingest}
    assert {(r["data_interval_start"][:10], r["data_interval_end"][:10]) for r in ingest} == {
        ((today - timedelta(days=1)).date().isoformat(), today.date().isoformat())
    }


def test_sigint_stops_everything(airflow_ui) -> None:  # type: ignore[no-untyped-def]
    _, _, process = airflow_ui
    children = process.children(recursive=True)
    assert children, "the components run as child processes"
    process.send_signal(signal.SIGINT)
    process.wait(timeout=90)
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert alive == [], f"left running: {[p.pid for p in alive]}"
