"""Run a runtime in the foreground until SIGTERM or SIGINT: the contract of every ``serve`` command."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from localaws._runtime import LocalAWS

Runtime = TypeVar("Runtime", bound="LocalAWS")


def serve(aws: Runtime, before_ready: Callable[[Runtime], None] | None = None) -> int:
    """Start ``aws``, run ``before_ready`` (e.g. load data), print exactly one line ``ready: <endpoint>``
    on stdout, then block until SIGTERM or SIGINT and stop everything. Returns the exit status: 0, or 1
    with the reason on stderr when the address cannot be served."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        aws.start()
    except OSError as error:
        print(f"error: {error.strerror or error}", file=sys.stderr)
        return 1
    try:
        if before_ready is not None:
            before_ready(aws)
        print(f"ready: {aws.endpoint}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        aws.stop()
    return 0
