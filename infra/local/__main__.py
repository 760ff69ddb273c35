"""Command line of the local AWS runtime.

``python -m infra.local serve [--port N]`` runs it in the foreground, provisioned, and prints exactly one
line ``ready: http://127.0.0.1:N`` once it accepts requests; SIGTERM or SIGINT stop it cleanly.
``python -m infra.local load DATA --endpoint URL`` loads a dataset folder into a running runtime's raw bucket.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from infra.local.runtime import LocalRuntime


def _serve(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    runtime = LocalRuntime(port=args.port, host=args.host)
    runtime.start()
    try:
        if args.data:
            keys = runtime.load_sample_data(Path(args.data))
            logging.getLogger(__name__).info("loaded %d files from %s", len(keys), args.data)
        print(f"ready: {runtime.endpoint}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        runtime.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the provisioned runtime in the foreground on 127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="port to bind (default: a free one)")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="bind address (default 127.0.0.1; 0.0.0.0 only inside a container)",
    )
    serve.add_argument("--data", help="also load this dataset folder into the raw bucket")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    return _serve(args)


if __name__ == "__main__":
    sys.exit(main())
