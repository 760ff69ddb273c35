"""Command line of the project's local AWS runtime.

``python -m infra.local serve [--port N]`` runs it in the foreground, provisioned from settings, and prints
exactly one line ``ready: http://127.0.0.1:N`` once it accepts requests; SIGTERM or SIGINT stop it cleanly.
``--data DATA`` also loads a dataset folder into the raw bucket before the ready line.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from infra.local.runtime import LocalRuntime
from infra.localaws import serve


def _serve(args: argparse.Namespace) -> int:
    def load(runtime: LocalRuntime) -> None:
        keys = runtime.load_sample_data(Path(args.data))
        logging.getLogger(__name__).info("loaded %d files from %s", len(keys), args.data)

    runtime = LocalRuntime(port=args.port, host=args.host)
    return serve(runtime, before_ready=load if args.data else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve_command = sub.add_parser("serve", help="run the provisioned runtime in the foreground on 127.0.0.1")
    serve_command.add_argument("--port", type=int, default=0, help="port to bind (default: a free one)")
    serve_command.add_argument(
        "--host",
        default="127.0.0.1",
        help="bind address (default 127.0.0.1; 0.0.0.0 only inside a container)",
    )
    serve_command.add_argument("--data", help="also load this dataset folder into the raw bucket")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    return _serve(args)


if __name__ == "__main__":
    sys.exit(main())
