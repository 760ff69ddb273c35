"""The old command ``python -m infra.local serve`` still serves the provisioned runtime (an alias of local).

(layout alias, issue 22)
"""

from __future__ import annotations

import signal
import sys

from tests.servers import started, user_env


def test_the_old_module_path_serves_and_prints_one_ready_line() -> None:
    with started([sys.executable, "-m", "infra.local", "serve", "--port", "0"], user_env()) as (proc, line):
        assert line.startswith("ready: http://127.0.0.1:"), line
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert proc.stdout is not None and proc.stdout.read() == "", "exactly one line on stdout"
