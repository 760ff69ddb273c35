"""API response pages as ``youtube_extract`` lands them, fetched over HTTP from the local runtime's stand-in.

The stand-in builds its charts from the rsrishav CSVs (a region's rows of one trending day, in file order);
the Glue job tests feed the pages it serves to ``clean_statistics`` and compare with the same CSV rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from localaws import LocalAWS

KEY = "local-key"
#: The fetch's start instant (``youtube_lake.extract.attempt_id``), shared by its pages.
ATTEMPT = "20200812T010203Z"


def fetch_chart(data: Path, region: str, day: dt.date) -> list[bytes]:
    """Every page of ``region``'s chart of ``day``, verbatim, as the extract requests them (50 a page,
    following ``nextPageToken``) from a runtime started for the purpose on a free 127.0.0.1 port."""
    pages: list[bytes] = []
    with LocalAWS(youtube_data=data, executors=False) as aws:
        aws.youtube.set_day(day)
        token: str | None = None
        while True:
            params = {"part": "snippet,statistics", "chart": "mostPopular", "regionCode": region.upper()}
            params |= {"maxResults": "50", "key": KEY, **({"pageToken": token} if token else {})}
            url = f"{aws.youtube_endpoint}youtube/v3/videos?{urlencode(params)}"
            with urllib.request.urlopen(url, timeout=30) as response:
                body = response.read()
            pages.append(body)
            token = json.loads(body).get("nextPageToken")
            if token is None:
                return pages


def land(folder: Path, region: str, day: dt.date, bodies: list[bytes], attempt: str = ATTEMPT) -> list[Path]:
    """The pages under ``landing_date=D/region=xx/`` with the extract's names (``..._p001.json``)."""
    where = folder / f"landing_date={day.isoformat()}" / f"region={region}"
    where.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, body in enumerate(bodies, 1):
        path = where / f"videos_mostpopular_{attempt}_p{number:03d}.json"
        path.write_bytes(body)
        paths.append(path)
    return paths


def day_rows(csv_path: Path, day: dt.date) -> tuple[list[str], list[list[str]]]:
    """Header and the records of one trending day of an rsrishav CSV, in file order (its chart)."""
    with csv_path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        at = header.index("trending_date")
        return header, [r for r in reader if len(r) == len(header) and r[at][:10] == day.isoformat()]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    """An rsrishav-style CSV (every field quoted, LF) of ``rows``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path
