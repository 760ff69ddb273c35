"""``python -m infra.localaws serve [--port N] [--region R]``: an empty local AWS in the foreground.

Prints exactly one line ``ready: http://127.0.0.1:N`` once it accepts requests; SIGTERM or SIGINT stop it.
Create resources through the AWS API (``AWS_ENDPOINT_URL=http://127.0.0.1:N``).
"""

from __future__ import annotations

import argparse
import logging
import sys

from infra.localaws import DEFAULT_REGION, HOST, LocalAWS, serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.localaws", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    command = sub.add_parser("serve", help="run an empty runtime in the foreground")
    command.add_argument("--port", type=int, default=0, help="port to bind (default: a free one)")
    command.add_argument("--host", default=HOST, help="bind address (default 127.0.0.1)")
    command.add_argument("--region", default=DEFAULT_REGION, help=f"AWS region (default {DEFAULT_REGION})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    return serve(LocalAWS(port=args.port, host=args.host, region=args.region))


if __name__ == "__main__":
    sys.exit(main())
