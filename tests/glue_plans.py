"""Plans as youtube_ingest's plan_increment writes them, for local files: what the Glue job tests feed it."""

from __future__ import annotations

import datetime as dt
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
    """A plan entry for a local file (region from its ``region=xx`` folder unless given)."""
    return {
        "key": str(path),
        "uri": str(path),
        "etag": None,
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
