"""Command line of the project's local AWS runtime.

``python -m local serve [--port N]`` runs it in the foreground, provisioned from settings, and prints
exactly one line ``ready: http://127.0.0.1:N`` once it accepts requests; SIGTERM or SIGINT stop it cleanly.
``--data DATA`` also loads a dataset folder into the raw bucket before the ready line. The YouTube Data API
stand-in serves ``--youtube-data DIR`` (default: the rsrishav days beside the repository, when there) on the
same port and accepts ``--youtube-key`` (default: the local key of ``LocalRuntime``); a client's connection is
``AIRFLOW_CONN_YOUTUBE_API`` with that key as password and ``AIRFLOW__YOUTUBE_ETL__YOUTUBE_API_ROOT`` the
ready line's URL with a ``/`` (docker-compose.yaml sets both).

``python -m local query "SQL"`` runs an Athena query against the lake the last ``make run`` left in
``.lake/`` and prints a table; ``python -m local cat s3://bucket/key`` writes an object of that lake to
stdout (``--lake DIR`` for another folder).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from local.lake import LakeError, cat, format_table, open_lake, query
from local.runtime import LAKE_DIR, LOCAL_YOUTUBE_KEY, YOUTUBE_RECORDING, LocalRuntime
from localaws import serve


def _serve(args: argparse.Namespace) -> int:
    def load(runtime: LocalRuntime) -> None:
        keys = runtime.load_sample_data(Path(args.data))
        logging.getLogger(__name__).info("loaded %d files from %s", len(keys), args.data)

    runtime = LocalRuntime(
        port=args.port, host=args.host, youtube_data=args.youtube_data, youtube_api_key=args.youtube_key
    )
    return serve(runtime, before_ready=load if args.data else None)


def _query(args: argparse.Namespace) -> int:
    with open_lake(args.lake) as runtime:
        header, rows = query(runtime, args.sql)
    print(format_table(header, rows))
    return 0


def _cat(args: argparse.Namespace) -> int:
    with open_lake(args.lake) as runtime:
        body = cat(runtime, args.uri)
    sys.stdout.buffer.write(body)
    sys.stdout.buffer.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve_command = sub.add_parser("serve", help="run the provisioned runtime in the foreground on 127.0.0.1")
    serve_command.add_argument("--port", type=int, default=0, help="port to bind (default: a free one)")
    serve_command.add_argument(
        "--host",
        default="127.0.0.1",
        help="bind address (default 127.0.0.1; 0.0.0.0 only inside a container)",
    )
    serve_command.add_argument("--data", help="also load this dataset folder into the raw bucket")
    serve_command.add_argument(
        "--youtube-data",
        type=Path,
        default=YOUTUBE_RECORDING,
        help="recorded days the YouTube Data API stand-in serves (default: the rsrishav feed, when there)",
    )
    serve_command.add_argument(
        "--youtube-key", default=LOCAL_YOUTUBE_KEY, help="the API key the stand-in accepts"
    )
    query_command = sub.add_parser("query", help="run an Athena query against the lake make run left")
    query_command.add_argument("sql")
    cat_command = sub.add_parser("cat", help="write an object of the lake make run left to stdout")
    cat_command.add_argument("uri", help="s3://bucket/key")
    for command in (query_command, cat_command):
        command.add_argument("--lake", type=Path, default=LAKE_DIR, help=f"lake folder (default {LAKE_DIR})")
    args = parser.parse_args(argv)
    if args.command == "serve":
        level = logging.INFO
    else:  # only the answer on stdout; problems on stderr
        level = logging.WARNING
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "serve":
        return _serve(args)
    try:
        return _query(args) if args.command == "query" else _cat(args)
    except (LakeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
