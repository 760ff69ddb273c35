"""Start a long-running command of the project (a server) in tests, read its ready line, always stop it."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from infra.local.runtime import REPO_ROOT


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
