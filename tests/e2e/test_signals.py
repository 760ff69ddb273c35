"""SIGINT/SIGTERM to `make run`'s command stop every process it started within 10 s, exit non-zero, and leave
no process or temporary folder behind (issue 16). `make airflow` is checked in test_airflow_ui.py."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from local.runtime import REPO_ROOT
from local.supervise import STOPPED, still_running
from tests.servers import make_run_argv, user_env

pytestmark = pytest.mark.slow


def _run_until(data_dir: Path, tmp_path: Path, ready: re.Pattern[str]) -> subprocess.Popen[str]:
    """`make run`'s command, its output read until a line matches ``ready``."""
    (tmp_path / "tmp").mkdir()
    # The test session's Airflow and AWS settings stay out, as in a user's shell; TMPDIR shows what is left.
    env = user_env() | {"TMPDIR": str(tmp_path / "tmp")}
    proc = subprocess.Popen(
        make_run_argv(data_dir, tmp_path),
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    while not (lines and ready.search(lines[-1])):
        line = proc.stdout.readline()
        if not line:
            proc.wait()
            pytest.fail(f"exited {proc.returncode} before {ready.pattern!r}: {''.join(lines[-30:])}")
        lines.append(line)
    return proc


@pytest.mark.parametrize(
    ("signum", "ready"),
    [
        # dag.test() swallows SIGTERM once a task has run (Airflow's task runner replaces the handler): when
        # youtube_reporting's first task starts, every task of the ingest run has run in this process.
        pytest.param(signal.SIGTERM, re.compile(r"youtube_reporting: task_id="), id="sigterm-mid-run"),
        pytest.param(signal.SIGINT, re.compile(r"^local AWS runtime: "), id="sigint-before-any-task"),
    ],
)
def test_a_signal_stops_the_run_and_everything_it_started(
    signum: signal.Signals, ready: re.Pattern[str], data_dir: Path, tmp_path: Path
) -> None:
    proc = _run_until(data_dir, tmp_path, ready)
    supervisor = psutil.Process(proc.pid)
    started = supervisor.children(recursive=True)
    assert started, "the run is a child of the supervisor"
    signalled = time.monotonic()
    proc.send_signal(signum)
    assert proc.stdout is not None
    rest = proc.stdout.read()
    proc.wait(timeout=30)
    took = time.monotonic() - signalled

    assert took <= 10, f"stopped after {took:.1f} s"
    assert proc.returncode == 128 + signum
    alive = still_running(started)
    assert alive == [], f"left running: {[(p.pid, p.name()) for p in alive]}"
    assert rest.rstrip().splitlines()[-1].startswith(STOPPED), rest[-2000:]
    assert list((tmp_path / "tmp").iterdir()) == [], "the run's temporary folder is removed"
