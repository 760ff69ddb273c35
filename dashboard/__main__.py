"""``python -m dashboard --out out/dashboard.html``: read the report views with Athena, write the page.

The AWS target is whatever boto3 finds (``AWS_ENDPOINT_URL`` for the local runtime, or real credentials);
names come from settings. ``--summary`` takes the pipeline's JSON summary (run id, rows per stage,
rejected/quarantined counts) for the header. Prints the written path on success.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dashboard.athena import ReportQueryError, fetch_reports
from dashboard.render import write_dashboard
from dashboard.shaping import DASHBOARD_REPORTS
from youtube_etl.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/dashboard.html"), help="HTML file to write")
    parser.add_argument("--summary", type=Path, help="JSON file with the pipeline's summary for the header")
    parser.add_argument("--run-id", help="run id shown in the header (overrides the summary's)")
    parser.add_argument(
        "--reports", default=",".join(DASHBOARD_REPORTS), help="comma-separated report views to read"
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the queries")
    args = parser.parse_args(argv)

    import boto3

    settings = get_settings()
    summary: dict[str, Any] = json.loads(args.summary.read_text()) if args.summary else {}
    if args.run_id:
        summary["run_id"] = args.run_id
    reports = [name.strip() for name in args.reports.split(",") if name.strip()]
    try:
        frames = fetch_reports(
            boto3.Session(region_name=settings.region), settings, reports, timeout=args.timeout
        )
    except ReportQueryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    path = write_dashboard(args.out, frames, summary)
    print(path.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
