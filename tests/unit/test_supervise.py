"""The supervisor of `make run` / `make airflow` (local/supervise.py) without a pipeline: a command
that exits on its own after starting a process in a session of its own (as Lambda workers and Glue drivers
are) must not leave that process running. The signal paths are tested end to end in tests/e2e."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psutil
import pytest

from local.supervise import still_running, supervise

LEAVES_A_SLEEPER = """
import subprocess, sys, time
sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
open(sys.argv[1], "w").write(str(sleeper.pid))
time.sleep(1.5)  # seen by the supervisor's process-tree polls
sys.exit(3)
"""


def test_a_process_the_command_left_running_is_ended_and_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pid_file = tmp_path / "sleeper.pid"
    status = supervise([sys.executable, "-c", LEAVES_A_SLEEPER, str(pid_file)])
    assert status == 3  # the command's own exit status
    sleeper = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if not still_running([psutil.Process(sleeper)]):
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"process {sleeper}, left running by the command, is still running")
    assert f"ending 1 process(es) the command left running: {sleeper} (python" in capsys.readouterr().err


def test_a_command_that_leaves_nothing_gets_no_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert supervise([sys.executable, "-c", "pass"]) == 0
    assert "left running" not in capsys.readouterr().err
