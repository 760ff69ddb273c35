"""Plans as youtube_ingest's plan_increment writes them, for local files: what the Glue job tests feed it."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ARRIVAL = dt.datetime(2017, 11, 14, tzinfo=dt.UTC)


def region_folder(path: Path) -> str | None:
    for folder in reversed(path.parts[:-1]):
        if folder.lower().startswith("region="):
            return folder.split("=", 1)[1].lower()
    return None


def entry(
    path: Path, arrival: dt.datetime = ARRIVAL, region: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A plan entry for a local file (region from its ``region=xx`` folder unless given); its ETag is the MD5
    of its bytes, as S3 gives for a single-part upload and the job's ``LocalStore`` computes."""
    return {
        "key": str(path),
        "uri": str(path),
        "etag": hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest(),
        "version_id": None,
        "size": path.stat().st_size,
        "last_modified": "2026-11-29T10:00:00Z",
        "arrival": arrival.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "kind": "statistics",
        "region": region or region_folder(path),
        **extra,
    }


def write_plan(
    path: Path, files: Iterable[dict[str, Any]], run_id: str = "r", rebuild: Iterable[dict[str, Any]] = ()
) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "run_id": f"manual__{run_id}",
                "interval_start": "2017-11-14T00:00:00+00:00",
                "interval_end": "2017-11-15T00:00:00+00:00",
                "statistics": list(files),
                "rebuild_sources": list(rebuild),
            }
        )
    )
    return str(path)


def folder_plan(folder: Path, arrival: dt.datetime = ARRIVAL) -> list[dict[str, Any]]:
    """Every CSV below ``folder``, all arriving at once."""
    return [entry(p, arrival) for p in sorted(folder.rglob("*.csv"))]
