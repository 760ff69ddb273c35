"""`make airflow`: the real Airflow components with the local runtime; a triggered ingest runs both DAGs.

This is what a user does in the UI, done through the same REST API the UI calls: log in, find the three DAGs
unpaused, `youtube_extract`'s run fetching yesterday's chart from the YouTube stand-in and ingest's run for
the day the data landed running (no catch-up), watch them and the asset-triggered `youtube_reporting`
succeed, then trigger `youtube_ingest` again. Everything listens on
127.0.0.1 only, and everything started is gone after Ctrl-C (SIGINT).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil
import pytest

from local.airflow_ui import SQLITE_BUSY
from local.supervise import STOPPED, still_running
from tests.servers import started, user_env

pytestmark = pytest.mark.slow
DAG_IDS = ("youtube_extract", "youtube_ingest", "youtube_reporting")
READY = re.compile(r"Airflow UI: (http://127\.0\.0\.1:\d+)\s+login: (\S+) / (\S+)")


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


@dataclass
class AirflowUI:
    url: str
    token: str
    process: psutil.Process
    popen: subprocess.Popen[str]
    home: Path
    progress: list[str]
    tmp: Path  # the TMPDIR make airflow got: its temporary folders go there


@pytest.fixture(scope="module")
def airflow_ui(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowUI]:
    home = tmp_path_factory.mktemp("airflow-ui")
    # The components get a clean environment: none of this test process's Airflow or AWS settings.
    env = user_env()
    tmp = tmp_path_factory.mktemp("airflow-ui-tmp")
    env["TMPDIR"] = str(tmp)
    argv = [
        sys.executable,
        "-m",
        "local.airflow_ui",
        "--airflow-home",
        str(home),
        "--data",
        str(data_dir),
    ]
    with started(argv, env) as (proc, line):
        progress = [line]
        # What the terminal shows while starting, up to the ready line (readline returns "" if it exits).
        while line and not READY.search(line):
            line = proc.stdout.readline() if proc.stdout else ""
            progress.append(line)
        match = READY.search(line)
        assert match, f"no ready line, got {progress!r} (logs in {home}/logs/components)"
        url, user, password = match.groups()
        token = call(f"{url}/auth/token", method="POST", body={"username": user, "password": password})
        yield AirflowUI(url, token["access_token"], psutil.Process(proc.pid), proc, home, progress, tmp)


def test_the_terminal_shows_progress_while_starting(airflow_ui: AirflowUI) -> None:
    shown = "".join(airflow_ui.progress)
    for step in (
        "starting the local AWS runtime",
        "as the drop of",
        "migrating the Airflow metadata DB",
        "starting api-server, scheduler, dag-processor, triggerer",
    ):
        assert step in shown, (step, airflow_ui.progress)
    assert len(airflow_ui.progress) >= 5


def test_every_listener_is_on_loopback(airflow_ui: AirflowUI) -> None:
    process = airflow_ui.process
    listening = [
        conn
        for p in [process, *process.children(recursive=True)]
        for conn in p.net_connections("inet")
        if conn.status == psutil.CONN_LISTEN
    ]
    assert len(listening) >= 2, "expected at least the runtime and the api-server"
    assert {c.laddr.ip for c in listening} <= {"127.0.0.1", "::ffff:127.0.0.1"}


def _runs(ui: AirflowUI, dag_id: str) -> list[dict[str, Any]]:
    return list(call(f"{ui.url}/api/v2/dags/{dag_id}/dagRuns", ui.token)["dag_runs"])


def _wait_until_done(ui: AirflowUI, done: Any, minutes: int = 15) -> dict[str, list[dict[str, Any]]]:
    deadline = time.monotonic() + 60 * minutes
    while True:
        runs = {dag_id: _runs(ui, dag_id) for dag_id in DAG_IDS}
        states = [r["state"] for rs in runs.values() for r in rs]
        assert "failed" not in states, runs
        if done(runs) and all(state == "success" for state in states):
            return runs
        assert time.monotonic() < deadline, f"DAG runs not done after {minutes} minutes: {runs}"
        time.sleep(5)


def test_the_readme_story_both_dags_run_unpaused_with_no_catch_up(airflow_ui: AirflowUI) -> None:
    """Nothing to unpause: extract's and ingest's runs for yesterday (where the data lands) start on their
    own, exactly one each (no catch-up of the days since start_date), the extract fetches every region from
    the stand-in, and ingest's assets trigger reporting. Triggering ingest, as the README says, runs it again
    over the same day."""
    ui = airflow_ui
    deadline = time.monotonic() + 120
    while {d["dag_id"] for d in call(f"{ui.url}/api/v2/dags", ui.token)["dags"]} != set(DAG_IDS):
        assert time.monotonic() < deadline, "the dag-processor did not register the three DAGs"
        time.sleep(2)
    for dag_id in DAG_IDS:
        assert call(f"{ui.url}/api/v2/dags/{dag_id}", ui.token)["is_paused"] is False, dag_id
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = ((today - timedelta(days=1)).date().isoformat(), today.date().isoformat())

    runs = _wait_until_done(ui, lambda r: all(r[dag_id] for dag_id in DAG_IDS))
    for dag_id in ("youtube_extract", "youtube_ingest"):
        (scheduled,) = runs[dag_id]
        assert scheduled["run_type"] == "scheduled"
        assert (scheduled["data_interval_start"][:10], scheduled["data_interval_end"][:10]) == yesterday
    run_id = quote(runs["youtube_extract"][0]["dag_run_id"], safe="")
    value = call(
        f"{ui.url}/api/v2/dags/youtube_extract/dagRuns/{run_id}/taskInstances/publish_extract/xcomEntries/"
        "return_value",
        ui.token,
    )["value"]
    extracted = json.loads(value) if isinstance(value, str) else value
    assert len(extracted["landed"]) == 11 and extracted["items"] > 0 and extracted["units"] <= 60, extracted
    assert {r["run_type"] for r in runs["youtube_reporting"]} == {"asset_triggered"}

    triggered = call(
        f"{ui.url}/api/v2/dags/youtube_ingest/dagRuns", ui.token, "POST", {"logical_date": today.isoformat()}
    )["dag_run_id"]
    runs = _wait_until_done(ui, lambda r: len(r["youtube_ingest"]) == 2)
    ingest = {r["dag_run_id"]: r for r in runs["youtube_ingest"]}
    assert ingest[triggered]["run_type"] == "manual"
    assert (
        ingest[triggered]["data_interval_start"][:10],
        ingest[triggered]["data_interval_end"][:10],
    ) == yesterday
    assert [r["run_type"] for r in runs["youtube_ingest"]].count("scheduled") == 1, "no catch-up run"

    # The task logs of all those runs hold no warning or error the project could prevent.
    logs = sorted((ui.home / "logs").glob("dag_id=*/**/*.log"))
    assert len(logs) > 10, "every task of both DAGs wrote a log"
    noisy = [
        f"{path.relative_to(ui.home)}: {line[:300]}"
        for path in logs
        for line in path.read_text(errors="replace").splitlines()
        if re.search(r'"level":\s*"(warning|error|critical)"', line)
    ]
    assert noisy == [], "\n".join(noisy[:20])


def test_the_api_server_takes_the_jwt_secret_without_a_warning(airflow_ui: AirflowUI) -> None:
    log = (airflow_ui.home / "logs" / "components" / "api-server.log").read_text(errors="replace")
    # With a short secret it logs "... HMAC key is 43 bytes ..." for every worker.
    assert "HMAC key" not in log, log[-2000:]


def test_sigint_stops_everything_and_says_so(airflow_ui: AirflowUI) -> None:
    process = airflow_ui.process
    children = process.children(recursive=True)
    assert children, "the components run as child processes"
    signalled = time.monotonic()
    process.send_signal(signal.SIGINT)
    rest = airflow_ui.popen.stdout.read() if airflow_ui.popen.stdout else ""
    airflow_ui.popen.wait(timeout=60)
    took = time.monotonic() - signalled
    assert took <= 10, f"stopped after {took:.1f} s (issue 16: within 10 s)"
    assert airflow_ui.popen.returncode == 128 + signal.SIGINT
    alive = still_running(children)
    assert alive == [], f"left running: {[p.pid for p in alive]}"
    assert rest.rstrip().splitlines()[-1].startswith(STOPPED), rest[-2000:]
    assert list(airflow_ui.tmp.iterdir()) == [], "no temporary folder is left behind"
