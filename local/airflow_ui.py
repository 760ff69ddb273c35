"""``make airflow``: the Airflow UI on this machine, with the project's DAGs and the local AWS runtime.

Runs the Airflow 3 components as separate processes — api-server, scheduler, dag-processor, triggerer — rather
than ``airflow standalone``, because standalone's log servers bind every interface; here the scheduler and
triggerer skip their log servers (task logs are local files the api-server reads) and the api-server binds
127.0.0.1 only. The ``aws_default`` connection points at the local runtime started alongside. Ctrl-C stops
everything that was started.

The README's story runs as written: the three DAGs start unpaused (locally only; MWAA keeps Airflow's
default), so ``youtube_extract`` fetches the chart of the YouTube Data API stand-in (the runtime's, serving a
recorded rsrishav day; the key's connection and the API root come from ``LocalRuntime.client_env``) for the
last whole day, ``youtube_ingest`` runs once for that day — where the data lands — with no catch-up of older
days (``catchup=False``), and its assets trigger ``youtube_reporting``; triggering ``youtube_ingest`` in the
UI runs it again. The extract's snapshot lag covers a whole day here (:data:`SNAPSHOT_LAG_HOURS`): the run
for yesterday starts whenever ``make airflow`` does. The terminal says what is starting, then the URL and
login, and a last line once every component and the runtime have stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from local.pipeline import Drop, find_drops
from local.runtime import HOST, REPO_ROOT, LocalRuntime
from local.supervise import run_supervised

USER = "admin"
#: The api-server signs the tasks' tokens with this (HMAC-SHA512): it warns below 64 bytes.
JWT_SECRET_BYTES = 64
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


#: Seconds an Airflow component waits for the SQLite metadata DB's write lock.
SQLITE_BUSY = 60
#: How many times a component that exits on its own once make airflow is ready is started again.
RESTARTS = 3
#: Seconds without a heartbeat after which a triggerer counts as dead and another takes its triggers over
#: (Airflow's default, kept on MWAA, is 30): a restarted triggerer resumes the deferred tasks sooner.
TRIGGERER_HEALTH_SECONDS = 10
#: Seconds without a running task's heartbeat (its supervisor sends one every 5 s) after which the scheduler
#: fails the try and retries it (Airflow's default, kept on MWAA, is 300): a task whose whole worker died with
#: it (the supervisor too, so nobody reports the death) is retried in about a minute and a half. Above
#: SQLITE_BUSY: a heartbeat may wait that long for the DB's write lock, and a live task must not seem dead.
TASK_HEARTBEAT_SECONDS = SQLITE_BUSY + 15
#: youtube_extract's snapshot lag here: yesterday's scheduled run starts when make airflow starts, up to a day
#: after its interval ended (on AWS it starts minutes after; the default lag is 6 h).
SNAPSHOT_LAG_HOURS = 30


def say(message: str) -> None:
    """One progress line on the terminal (the components' own logs go to files)."""
    print(message, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def component_env(home: Path, runtime: LocalRuntime, api_port: int, secret: str) -> dict[str, str]:
    """Environment shared by every Airflow component: one config, one secret, one metadata DB."""
    return {
        **os.environ,
        **runtime.client_env(),
        "AIRFLOW_HOME": str(home),
        # A writer waits up to 60 s for SQLite's lock instead of 5 s: under load the scheduler holds it for
        # seconds, and the API answers a backfill that hits the lock with 503 "Database is locked".
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}?timeout={SQLITE_BUSY}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # Locally the DAGs run as soon as they are parsed: the story is "trigger ingest, watch them run",
        # and a paused youtube_reporting would never run on the assets ingest updates.
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{HOST}:{api_port}/execution/",
        # A task's calls to the API (its start above all) wait longer than the API waits for SQLite's lock:
        # with Airflow's 5 s, a start the API was still committing timed out, its retry met the task
        # already running (409) and the task failed before it ran (seen at load 9, under a backfill).
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": str(SQLITE_BUSY + 30),
        "AIRFLOW__API__HOST": HOST,
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API_AUTH__JWT_SECRET": secret,
        "AIRFLOW__API__SECRET_KEY": secret,
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": str(TRIGGERER_HEALTH_SECONDS),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(TASK_HEARTBEAT_SECONDS),
        "AIRFLOW__YOUTUBE_ETL__POLL_INTERVAL": "2",
        "AIRFLOW__YOUTUBE_ETL__SNAPSHOT_LAG_HOURS": str(SNAPSHOT_LAG_HOURS),
    }


def check_running(procs: list[subprocess.Popen[bytes]]) -> None:
    """RuntimeError naming the first component that has exited (a wait for it would never end)."""
    for proc in procs:
        if proc.poll() is not None:
            raise RuntimeError(f"{' '.join(map(str, proc.args))} exited with {proc.returncode}")  # type: ignore[arg-type]


def wait_healthy(url: str, timeout: float, procs: list[subprocess.Popen[bytes]]) -> None:
    started = time.monotonic()
    deadline = started + timeout
    reported = started
    while time.monotonic() < deadline:
        if time.monotonic() - reported >= 5:
            reported = time.monotonic()
            say(f"  waiting for the api-server … {reported - started:.0f} s")
        check_running(procs)
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"Airflow did not become healthy at {url} within {timeout:.0f} s")


def password(home: Path) -> str:
    """SimpleAuthManager writes the generated passwords next to the config on first start."""
    path = home / "simple_auth_manager_passwords.json.generated"
    for _ in range(40):
        if path.exists():
            return str(json.loads(path.read_text()).get(USER, "?"))
        time.sleep(0.25)
    return f"(see {path})"


class Component(subprocess.Popen[bytes]):
    """An Airflow component's process (its own session, output appended to its log), which can start again
    the same way."""

    def __init__(
        self, name: str, command: list[str], env: dict[str, str], log: Path, restarts: int = 0
    ) -> None:
        self.name, self.env, self.log, self.restarts = name, env, log, restarts
        with log.open("ab") as out:
            super().__init__(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def again(self) -> Component:
        """The same component started again (after it exited on its own)."""
        return Component(self.name, [str(a) for a in self.args], self.env, self.log, self.restarts + 1)  # type: ignore[union-attr]


def start(home: Path, runtime: LocalRuntime, api_port: int, log_dir: Path) -> list[subprocess.Popen[bytes]]:
    env = component_env(home, runtime, api_port, secrets.token_urlsafe(JWT_SECRET_BYTES))
    airflow = [sys.executable, "-m", "airflow"]
    log_dir.mkdir(parents=True, exist_ok=True)
    say("migrating the Airflow metadata DB …")
    with (log_dir / "db-migrate.log").open("ab") as log:
        subprocess.run([*airflow, "db", "migrate"], env=env, check=True, stdout=log, stderr=subprocess.STDOUT)
    commands: dict[str, list[str]] = {
        "api-server": [*airflow, "api-server", "--host", HOST, "--port", str(api_port)],
        "scheduler": [*airflow, "scheduler", "--skip-serve-logs"],
        "dag-processor": [*airflow, "dag-processor"],
        "triggerer": [*airflow, "triggerer", "--skip-serve-logs"],
    }
    say(f"starting {', '.join(commands)} (logs in {log_dir})")
    return [Component(name, command, env, log_dir / f"{name}.log") for name, command in commands.items()]


# The components get SIGTERM, then SIGKILL after this long: within the supervisor's grace (supervise.py).
STOP_SECONDS = 4.0


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make airflow", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="api-server port (default: a free one)")
    parser.add_argument("--airflow-home", type=Path, default=REPO_ROOT / ".airflow" / "ui")
    parser.add_argument("--data", type=Path, help="load this dataset folder into the raw bucket first")
    return parser.parse_args(argv)


class StopSignals:
    """SIGTERM and SIGINT only raise a flag: the wait loop sees it and the components are stopped in order."""

    def __init__(self) -> None:
        self.received = False

    def install(self) -> StopSignals:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        return self

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.received = True


def land_drops(runtime: LocalRuntime, drops: list[Drop], yesterday: date) -> list[str]:
    """Lands ``drops``; returns the days of the dated ones (the days to backfill).

    Dated drops (<DATA>/drops/YYYY-MM-DD/) keep their dates: backfill those days. An undated folder lands as
    yesterday's drop: the daily run that unpausing schedules (the last whole day) takes it, and so does a run
    triggered in the UI (a manual run covers the last whole day before it).
    """
    dated: list[str] = []
    for drop in drops:
        day = drop.day or yesterday
        say(f"landing {drop.folder} as the drop of {day} …")
        runtime.load_sample_data(drop.folder, landing_date=day)
        dated += [day.isoformat()] if drop.day else []
    return dated


def wait_daily_ingest(home: Path, procs: list[subprocess.Popen[bytes]], signals: StopSignals) -> bool:
    """Until youtube_ingest's scheduled run (yesterday's, on the extract's pages) has ended; False if stopped.

    A run takes every object that arrived before its interval's end and has no verdict yet (nothing is ever
    lost), so yesterday's run would take dated drops of older days too if they were there: they land after
    it, and each backfill run then takes its own day's drop, as the README says. Read from the metadata DB.
    """
    started = reported = time.monotonic()
    query = "SELECT state FROM dag_run WHERE dag_id = 'youtube_ingest' AND run_type = 'scheduled'"
    while not signals.received:
        check_running(procs)
        with contextlib.closing(sqlite3.connect(home / "airflow.db", timeout=SQLITE_BUSY)) as db:
            states = [state for (state,) in db.execute(query)]
        if states and all(state in ("success", "failed") for state in states):
            return True
        if time.monotonic() - reported >= 15:
            reported = time.monotonic()
            say(
                f"  yesterday's youtube_ingest run: {states[-1] if states else 'not created yet'} … "
                f"{reported - started:.0f} s"
            )
        time.sleep(2)
    return False


def announce(runtime: LocalRuntime, home: Path, api_port: int, yesterday: date, dated: list[str]) -> None:
    """The ready lines: where the UI and the runtime listen, the login, and what runs on its own."""
    say(f"Airflow UI: http://{HOST}:{api_port}  login: {USER} / {password(home)}")
    say(f"local AWS runtime: {runtime.endpoint} (connection aws_default points here)")
    if runtime.youtube_data is not None:
        say(
            f"YouTube Data API stand-in: {runtime.youtube_endpoint} serving the chart recorded on "
            f"{runtime.youtube.day} (connection {runtime.settings.youtube_api_conn_id} holds its "
            f"local key); youtube_extract lands it as {yesterday}'s extract (snapshot lag relaxed "
            f"to {SNAPSHOT_LAG_HOURS} h: the run for yesterday starts now)"
        )
    if dated:
        say(
            f"dated drops {dated[0]} … {dated[-1]}: backfill those days (UI: youtube_ingest → "
            f"Backfill, or airflow backfill create --dag-id youtube_ingest --from-date {dated[0]} "
            f"--to-date {dated[-1]}); youtube_reporting follows on its assets. They landed after the "
            f"daily run for {yesterday}, so each backfill run takes its own day's drop. "
            "Ctrl-C stops everything."
        )
    else:
        say(
            f"youtube_extract and youtube_ingest run for {yesterday} on their own (the DAGs start "
            "unpaused, no catch-up of older days) and youtube_reporting follows on its assets; "
            "trigger youtube_ingest in the UI to run it again. Ctrl-C stops everything."
        )


def wait_until_stopped(procs: list[subprocess.Popen[bytes]], signals: StopSignals) -> None:
    """Until Ctrl-C (or SIGTERM), or until a component exits on its own once more than :data:`RESTARTS`
    times: before that, it is started again in its place in ``procs``, as MWAA starts a failed scheduler or
    triggerer again (what its tasks and triggers do meanwhile: ``docs/operations.md``)."""
    while not signals.received:
        for index, proc in enumerate(procs):
            code = proc.poll()
            if code is None:
                continue
            name = getattr(proc, "name", "a component")
            if not isinstance(proc, Component) or proc.restarts >= RESTARTS:
                say(f"{name} exited with {code}: stopping everything")
                return
            say(f"{name} exited with {code}: starting it again (restart {proc.restarts + 1} of {RESTARTS}) …")
            procs[index] = proc.again()
        time.sleep(0.5)


def serve(
    runtime: LocalRuntime, home: Path, api_port: int, yesterday: date, dated: list[Drop], signals: StopSignals
) -> None:
    """Starts the components, lands the ``dated`` drops once yesterday's ingest ran, announces them, waits,
    and stops them whatever happened."""
    procs = start(home, runtime, api_port, home / "logs" / "components")
    try:
        wait_healthy(f"http://{HOST}:{api_port}/api/v2/monitor/health", 120, procs)
        days: list[str] = []
        if dated:
            say("dated drops land once yesterday's youtube_ingest run has taken the extract …")
            if not wait_daily_ingest(home, procs, signals):
                return
            days = land_drops(runtime, dated, yesterday)
        announce(runtime, home, api_port, yesterday, days)
        wait_until_stopped(procs, signals)
    finally:
        say(f"stopping {', '.join(COMPONENTS)} and the local AWS runtime …")
        stop(procs)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    home = args.airflow_home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    api_port = args.port or free_port()
    signals = StopSignals().install()
    say("starting the local AWS runtime …")
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    drops = find_drops(args.data.resolve()) if args.data else []
    with LocalRuntime() as runtime:
        land_drops(runtime, [d for d in drops if d.day is None], yesterday)
        serve(runtime, home, api_port, yesterday, [d for d in drops if d.day is not None], signals)
    say("stopped: every Airflow component and the local AWS runtime")
    return 0


if __name__ == "__main__":
    sys.exit(run_supervised("local.airflow_ui", main))  # SIGINT/SIGTERM stop every process it starts
