"""``python -m localaws serve [--port N] [--region R]``: an empty local AWS in the foreground.

Prints exactly one line ``ready: http://127.0.0.1:N`` once it accepts requests; SIGTERM or SIGINT stop it.
Create resources through the AWS API (``AWS_ENDPOINT_URL=http://127.0.0.1:N``). ``--youtube-data FOLDER`` also
serves the YouTube Data API stand-in at ``http://127.0.0.1:N/`` (clock: ``POST /_localaws/youtube/clock``).

``python -m localaws spark-classes`` builds the Glue drivers' class archive if this JDK and PySpark have none
yet (~35 s, once: a training run, then a check that a driver starts on it) and prints its path.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from localaws import DEFAULT_REGION, HOST, LocalAWS, serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localaws", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    command = sub.add_parser("serve", help="run an empty runtime in the foreground")
    command.add_argument("--port", type=int, default=0, help="port to bind (default: a free one)")
    command.add_argument("--host", default=HOST, help="bind address (default 127.0.0.1)")
    command.add_argument("--region", default=DEFAULT_REGION, help=f"AWS region (default {DEFAULT_REGION})")
    command.add_argument(
        "--youtube-data", help="serve the YouTube Data API stand-in from this recorded folder"
    )
    command.add_argument(
        "--youtube-key",
        action="append",
        help="an API key the stand-in accepts (repeatable; default local-key)",
    )
    command.add_argument("--youtube-quota", type=int, default=10_000, help="units per key and day")
    sub.add_parser("spark-classes", help="build the Spark drivers' class archive (once per JDK and PySpark)")
    args = parser.parse_args(argv)
    if args.command == "spark-classes":
        from localaws._glue_jobs import classes, spark

        # A stopped build (SIGTERM as Ctrl-C) stops its training run and removes its work folder.
        signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
        archive = spark.class_archive()
        if archive is not None and not archive.is_file():
            print("building the Spark drivers' class archive (once per JDK and PySpark)", file=sys.stderr)
        print(classes.build())
        return 0
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    runtime = LocalAWS(
        port=args.port,
        host=args.host,
        region=args.region,
        youtube_data=args.youtube_data,
        youtube_api_keys=tuple(args.youtube_key or ("local-key",)),
        youtube_quota=args.youtube_quota,
    )
    return serve(runtime)


if __name__ == "__main__":
    sys.exit(main())
