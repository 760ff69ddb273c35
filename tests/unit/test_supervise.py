"""The supervisor of `make run` / `make airflow` (local/supervise.py) without a pipeline: a command
that exits on its own after starting a process in a session of its own (as Lambda workers and Glue drivers
are) must not leave that process running, nor one whose supervisor is killed. The signal paths are tested end
to end in tests/e2e."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from local.runtime import REPO_ROOT
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


# The supervised command as make run's pipeline is inside dag.test(): deaf to SIGTERM, with a process of its
# own in a session of its own (a Glue driver); it writes its PID, the sleeper's and its TMPDIR.
DEAF_COMMAND = """
import os, signal, subprocess, sys, time
from local.supervise import run_supervised

def main():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    with open(sys.argv[1] + ".part", "w") as out:
        out.write(f"{os.getpid()} {sleeper.pid} {os.environ['TMPDIR']}")
    os.rename(sys.argv[1] + ".part", sys.argv[1])
    time.sleep(120)
    return 0

sys.exit(run_supervised("unused", main))
"""
SUPERVISOR = "import sys; from local.supervise import supervise; sys.exit(supervise(sys.argv[1:]))"


def test_a_command_whose_supervisor_is_killed_ends_itself_and_what_it_started(tmp_path: Path) -> None:
    """SIGKILL the supervisor (it can stop nothing then): within seconds the command ends the process it
    started and itself, and removes the supervisor's temporary folder."""
    pid_file = tmp_path / "pids"
    supervisor = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, sys.executable, "-c", DEAF_COMMAND, str(pid_file)],
        cwd=REPO_ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        command_pid, sleeper_pid, tmp = pid_file.read_text().split()
        processes = [psutil.Process(int(command_pid)), psutil.Process(int(sleeper_pid))]
        assert Path(tmp).is_dir()
        supervisor.kill()
        supervisor.wait()
        gone, alive = psutil.wait_procs(processes, timeout=15)
        assert still_running(alive) == [], f"left running after the supervisor died: {alive}"
        assert not Path(tmp).exists(), "the supervisor's temporary folder is removed"
        assert "the supervisor (PID" in (supervisor.stderr.read() if supervisor.stderr else "")
    finally:
        supervisor.kill()
        for pid in pid_file.read_text().split()[:2] if pid_file.exists() else []:
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(int(pid)).kill()
