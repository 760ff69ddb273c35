"""`make airflow`'s driver, piece by piece: arguments, landing drops, the ready lines, the wait, the signals.

The whole command (real Airflow components) is tests/e2e/test_airflow_ui.py; these pin what main() is made of
without starting anything.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from local import airflow_ui
from local.pipeline import find_drops
from local.runtime import REPO_ROOT

YESTERDAY = date(2024, 5, 6)


class FakeRuntime:
    """What land_drops and announce read of a LocalRuntime, and the drops it was asked to land."""

    def __init__(self, youtube: bool = False) -> None:
        self.landed: list[tuple[Path, date]] = []
        self.endpoint = "http://127.0.0.1:4566"
        self.youtube_data = object() if youtube else None
        self.youtube_endpoint = "http://127.0.0.1:4567"
        self.youtube = SimpleNamespace(day=date(2017, 11, 14))
        self.settings = SimpleNamespace(youtube_api_conn_id="youtube_api")

    def load_sample_data(self, folder: Path, landing_date: date) -> None:
        self.landed.append((folder, landing_date))


class FakeProc:
    def __init__(self, exits_after: int | None) -> None:
        self.polls, self.exits_after = 0, exits_after

    def poll(self) -> int | None:
        self.polls += 1
        return 0 if self.exits_after is not None and self.polls > self.exits_after else None


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(airflow_ui.time, "sleep", lambda _seconds: None)


def test_arguments_default_to_a_free_port_and_the_repos_airflow_home() -> None:
    args = airflow_ui.parse_args([])
    assert (args.port, args.airflow_home, args.data) == (0, REPO_ROOT / ".airflow" / "ui", None)
    args = airflow_ui.parse_args(["--port", "8080", "--airflow-home", "/tmp/h", "--data", "d"])
    assert (args.port, args.airflow_home, args.data) == (8080, Path("/tmp/h"), Path("d"))


def test_no_data_lands_nothing() -> None:
    runtime = FakeRuntime()
    assert airflow_ui.land_drops(runtime, [], YESTERDAY) == []  # type: ignore[arg-type]
    assert runtime.landed == []


def test_an_undated_folder_lands_as_yesterdays_drop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime = FakeRuntime()
    assert airflow_ui.land_drops(runtime, find_drops(tmp_path), YESTERDAY) == []  # type: ignore[arg-type]
    assert runtime.landed == [(tmp_path, YESTERDAY)]
    assert capsys.readouterr().out == f"landing {tmp_path} as the drop of 2024-05-06 …\n"


def test_dated_drops_keep_their_dates_in_order(tmp_path: Path) -> None:
    for day in ("2017-11-15", "2017-11-14"):
        (tmp_path / "drops" / day).mkdir(parents=True)
    runtime = FakeRuntime()
    drops = find_drops(tmp_path)
    assert airflow_ui.land_drops(runtime, drops, YESTERDAY) == ["2017-11-14", "2017-11-15"]  # type: ignore[arg-type]
    assert [landed for _, landed in runtime.landed] == [date(2017, 11, 14), date(2017, 11, 15)]


def metadata_db(home: Path, states: list[str]) -> None:
    """The dag_run rows wait_daily_ingest reads: youtube_ingest's scheduled runs in ``states``, and runs it
    must not look at (a backfill, another DAG)."""
    with contextlib.closing(sqlite3.connect(home / "airflow.db")) as db:
        db.execute("CREATE TABLE IF NOT EXISTS dag_run (dag_id TEXT, run_type TEXT, state TEXT)")
        db.execute("DELETE FROM dag_run")
        rows = [("youtube_ingest", "scheduled", state) for state in states]
        rows += [("youtube_ingest", "backfill", "running"), ("youtube_extract", "scheduled", "running")]
        db.executemany("INSERT INTO dag_run VALUES (?, ?, ?)", rows)
        db.commit()


def test_dated_drops_wait_for_yesterdays_ingest_run_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run takes every object without a verdict that arrived before its interval's end: dated drops land
    only once yesterday's run has ended, or it would take the older days' drops before their backfill."""
    seen: list[list[str]] = [[], ["running"], ["success"]]
    metadata_db(tmp_path, seen[0])

    def next_state(_seconds: float) -> None:
        seen.pop(0)
        metadata_db(tmp_path, seen[0])

    monkeypatch.setattr(airflow_ui.time, "sleep", next_state)
    assert airflow_ui.wait_daily_ingest(tmp_path, [FakeProc(None)], airflow_ui.StopSignals()) is True  # type: ignore[list-item]
    assert seen == [["success"]], "it waited until the run was created, then until it ended"


def test_the_wait_for_yesterdays_run_ends_on_a_stop_or_a_dead_component(
    tmp_path: Path, no_sleep: None
) -> None:
    metadata_db(tmp_path, ["running"])
    stopped = airflow_ui.StopSignals()
    stopped.received = True
    assert airflow_ui.wait_daily_ingest(tmp_path, [FakeProc(None)], stopped) is False  # type: ignore[list-item]
    with pytest.raises(RuntimeError, match="exited with 0"):
        dead = FakeProc(0)
        dead.args, dead.returncode = ["airflow", "scheduler"], 0  # type: ignore[attr-defined]
        airflow_ui.wait_daily_ingest(tmp_path, [dead], airflow_ui.StopSignals())  # type: ignore[list-item]


def announced(
    capsys: pytest.CaptureFixture[str], runtime: FakeRuntime, dated: list[str], home: Path
) -> list[str]:
    (home / "simple_auth_manager_passwords.json.generated").write_text('{"admin": "s3cret"}')
    airflow_ui.announce(runtime, home, 8080, YESTERDAY, dated)  # type: ignore[arg-type]
    return capsys.readouterr().out.splitlines()


def test_the_ready_line_gives_the_url_and_login_then_the_runtime(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = announced(capsys, FakeRuntime(), [], tmp_path)
    assert lines[0] == "Airflow UI: http://127.0.0.1:8080  login: admin / s3cret"
    assert lines[1] == "local AWS runtime: http://127.0.0.1:4566 (connection aws_default points here)"
    assert len(lines) == 3 and lines[2].startswith("youtube_extract and youtube_ingest run for 2024-05-06")


def test_dated_drops_are_announced_as_days_to_backfill(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = announced(capsys, FakeRuntime(youtube=True), ["2017-11-14", "2017-11-15"], tmp_path)
    assert lines[2].startswith(
        "YouTube Data API stand-in: http://127.0.0.1:4567 serving the chart recorded on"
    )
    assert "--from-date 2017-11-14 --to-date 2017-11-15" in lines[3]
    assert (
        "They landed after the daily run for 2024-05-06, so each backfill run takes its own day" in lines[3]
    )


def test_the_wait_ends_when_a_component_exits(no_sleep: None) -> None:
    procs = [FakeProc(None), FakeProc(3)]
    airflow_ui.wait_until_stopped(procs, airflow_ui.StopSignals())  # type: ignore[arg-type]
    assert procs[1].polls == 4


def test_a_component_that_exits_starts_again_up_to_the_limit_then_everything_stops(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_sleep: None
) -> None:
    """As MWAA starts a failed scheduler or triggerer again: same command, environment and log."""
    log = tmp_path / "triggerer.log"
    exits = [sys.executable, "-c", "print('up', flush=True); raise SystemExit(3)"]
    dying = airflow_ui.Component("triggerer", exits, dict(os.environ), log)
    alive = airflow_ui.Component("scheduler", [sys.executable, "-c", "import time; time.sleep(60)"], {}, log)
    procs: list[Any] = [alive, dying]
    try:
        airflow_ui.wait_until_stopped(procs, airflow_ui.StopSignals())
        assert alive.poll() is None, "the other components go on"
    finally:
        airflow_ui.stop(procs)
    assert capsys.readouterr().out.splitlines() == [
        *(f"triggerer exited with 3: starting it again (restart {n} of 3) …" for n in (1, 2, 3)),
        "triggerer exited with 3: stopping everything",
    ]
    assert procs[0] is alive and procs[1].restarts == airflow_ui.RESTARTS
    assert log.read_text().splitlines() == ["up"] * 4, "each start appends to the component's log"


@pytest.fixture
def restored_handlers() -> Iterator[None]:
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize(
    "signum", [pytest.param(signal.SIGTERM, id="SIGTERM"), pytest.param(signal.SIGINT, id="SIGINT")]
)
def test_a_stop_signal_ends_the_wait_instead_of_the_process(
    signum: int, restored_handlers: None, no_sleep: None
) -> None:
    signals = airflow_ui.StopSignals().install()
    assert not signals.received
    signal.raise_signal(signum)  # its handler runs before this returns: no KeyboardInterrupt, no exit
    assert signals.received
    procs: list[Any] = [FakeProc(None)]
    airflow_ui.wait_until_stopped(procs, signals)
    assert procs[0].polls == 0


class Wiring:
    """main() with the runtime and the components faked: what it printed and what it started and stopped."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, healthy: bool) -> None:
        self.runtime = FakeRuntime()
        self.procs = [FakeProc(0)]  # exits at once: the wait ends without a signal
        self.stopped: list[Any] = []
        runtime = self.runtime

        class Runtime:
            def __enter__(self) -> FakeRuntime:
                return runtime

            def __exit__(self, *exc: object) -> None:
                pass

        def wait_healthy(url: str, timeout: float, procs: list[Any]) -> None:
            if not healthy:
                raise TimeoutError(f"Airflow did not become healthy at {url}")

        monkeypatch.setattr(airflow_ui, "LocalRuntime", Runtime)
        monkeypatch.setattr(airflow_ui, "start", lambda *_args: self.procs)
        monkeypatch.setattr(airflow_ui, "wait_healthy", wait_healthy)
        monkeypatch.setattr(airflow_ui, "stop", self.stopped.append)
        monkeypatch.setattr(airflow_ui, "password", lambda _home: "pw")


def test_main_lands_starts_announces_and_stops(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    restored_handlers: None,
) -> None:
    wiring = Wiring(monkeypatch, healthy=True)
    assert (
        airflow_ui.main(["--airflow-home", str(tmp_path / "home"), "--port", "8080", "--data", str(tmp_path)])
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "starting the local AWS runtime …"
    assert lines[1].startswith(f"landing {tmp_path} as the drop of ")
    assert lines[2] == "Airflow UI: http://127.0.0.1:8080  login: admin / pw"
    assert lines[-2] == "stopping api-server, scheduler, dag-processor, triggerer and the local AWS runtime …"
    assert lines[-1] == "stopped: every Airflow component and the local AWS runtime"
    assert wiring.stopped == [wiring.procs] and (tmp_path / "home").is_dir()


def test_main_stops_the_components_when_they_never_become_healthy(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    restored_handlers: None,
) -> None:
    wiring = Wiring(monkeypatch, healthy=False)
    with pytest.raises(TimeoutError):
        airflow_ui.main(["--airflow-home", str(tmp_path), "--port", "8080"])
    assert wiring.stopped == [wiring.procs]
    assert capsys.readouterr().out.splitlines()[-1].startswith("stopping api-server")
