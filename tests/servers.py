"""Start a long-running command of the project (a server) in tests, read its ready line, always stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from local.replay import DEFAULT_DAYS
from local.runtime import REPO_ROOT


def user_env() -> dict[str, str]:
    """The environment of a user's shell: this test session's Airflow and AWS settings left out."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))}


def make_run_argv(data: Path | None, work: Path, days: int = DEFAULT_DAYS) -> list[str]:
    """`make run`'s command, its exports, Airflow home and lake under ``work``: never the repository's own
    ``out/``, ``.airflow/`` or ``.lake/`` (a run starts by removing its lake).

    ``data`` None is the README's default (``make run``): E -> T -> L over ``days`` recorded days of the
    YouTube Data API stand-in; a folder is ``make run DATA=folder``, its drops landed instead.
    """
    source = ["--days", str(days)] if data is None else ["--data", str(data)]
    return [
        sys.executable,
        "-m",
        "local.pipeline",
        *source,
        "--out",
        str(work / "out"),
        "--airflow-home",
        str(work / "airflow"),
        "--lake",
        str(work / "lake"),
    ]


@contextmanager
def started(
    argv: Sequence[str], env: Mapping[str, str] | None = None, grace: float = 60
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The process (run from the repository root, stderr discarded) and the first line it prints.

    If the test has not stopped it, it gets SIGINT (Ctrl-C) and ``grace`` seconds before it is killed.
    """
    proc = subprocess.Popen(
        list(argv),
        cwd=REPO_ROOT,
        env=None if env is None else dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc, proc.stdout.readline()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
