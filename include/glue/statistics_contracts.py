"""What ``clean_statistics`` shares with the rest of the lake: the plan it reads, the ledger documents and
metrics it writes, the instants, partition names and output columns they carry.

Kept together so that the shared ``youtube_lake`` package (issue 22) can replace this module in one step;
nothing here imports Spark.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lake_io import bucket_of, join, partition_name, run_folder

__all__ = [
    "COUNT_FIELDS",
    "DATA_COLUMNS",
    "LEDGER_FIELDS",
    "OUTPUT_COLUMNS",
    "PARTITION_COLUMNS",
    "Plan",
    "PlanError",
    "PlannedFile",
    "bucket_of",
    "iso",
    "join",
    "ledger_document_name",
    "ledger_document_uri",
    "metrics_uri",
    "parse_instant",
    "parse_plan",
    "partition_name",
    "run_folder",
]

#: The processed statistics table, in output order (stable for the crawler and the Athena SQL).
OUTPUT_COLUMNS = (
    "video_id",
    "trending_date",
    "title",
    "channel_id",
    "channel_title",
    "category_id",
    "publish_time",
    "tags",
    "views",
    "likes",
    "dislikes",
    "comment_count",
    "thumbnail_link",
    "comments_disabled",
    "ratings_disabled",
    "video_error_or_removed",
    "description",
    "source_file",
    "source_arrival",
    "region",
    "dt",
)
PARTITION_COLUMNS = ("region", "dt")
DATA_COLUMNS = tuple(c for c in OUTPUT_COLUMNS if c not in PARTITION_COLUMNS)

#: Ledger document fields, in the order of docs/daily-pipeline.md (the project's ledger module has the same).
LEDGER_FIELDS = (
    "key",
    "bucket",
    "version_id",
    "etag",
    "size",
    "last_modified",
    "arrival",
    "kind",
    "region",
    "verdict",
    "reason",
    "run_id",
    "interval_start",
    "interval_end",
    "rows_read",
    "rows_written",
    "duplicates",
    "rejected",
    "partitions",
    "output",
    "recorded_by",
    "recorded_at",
)
#: Per-file counts in the metrics and the ledger: ``read = written + duplicates + rejected``.
COUNT_FIELDS = ("read", "written", "duplicates", "rejected")


def parse_instant(text: str) -> datetime:
    """ISO-8601 (``Z`` or offset) -> an aware UTC datetime."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"instant {text!r} has no time zone")
    return value.astimezone(UTC)


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PlanError(ValueError):
    """The plan file is missing or malformed; the message names it."""


@dataclass(frozen=True)
class PlannedFile:
    """One object of the plan: a file to take, or (``rebuild``) a processed one read again for a rebuild."""

    key: str
    uri: str
    etag: str | None
    version_id: str | None
    size: int
    arrival: datetime
    region: str | None
    last_modified: str | None = None
    #: Partitions earlier versions of this key wrote: rebuilt from their current writers.
    previous_partitions: tuple[str, ...] = ()
    #: Rebuild source: the partitions whose rows are read again (its other rows are already in place).
    partitions: tuple[str, ...] = ()
    rebuild: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any], rebuild: bool = False) -> PlannedFile:
        try:
            return cls(
                key=str(data["key"]),
                uri=str(data["uri"]),
                etag=str(data["etag"]).strip('"') if data.get("etag") else None,
                version_id=data.get("version_id"),
                size=int(data.get("size") or 0),
                arrival=parse_instant(str(data["arrival"])),
                region=(str(data["region"]).lower() if data.get("region") else None),
                last_modified=data.get("last_modified"),
                previous_partitions=tuple(data.get("previous_partitions") or ()),
                partitions=tuple(data.get("partitions") or ()),
                rebuild=rebuild,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise PlanError(f"plan entry {dict(data)!r} is invalid: {error!r}") from None

    @property
    def order(self) -> tuple[datetime, str]:
        """Arrival order: later arrival wins, then the key that sorts last."""
        return (self.arrival, self.uri)


@dataclass
class Plan:
    run_id: str
    interval: tuple[str | None, str | None]
    take: list[PlannedFile]
    rebuild_sources: list[PlannedFile]


def parse_plan(text: str, source: str) -> Plan:
    try:
        data = json.loads(text)
        plan = Plan(
            run_id=str(data.get("run_id") or ""),
            interval=(data.get("interval_start"), data.get("interval_end")),
            take=[PlannedFile.from_json(d) for d in data["statistics"]],
            rebuild_sources=[PlannedFile.from_json(d, rebuild=True) for d in data.get("rebuild_sources", [])],
        )
    except (ValueError, KeyError, TypeError) as error:
        raise PlanError(f"{source}: not a clean_statistics plan ({error})") from None
    plan.take.sort(key=lambda f: f.order)
    plan.rebuild_sources.sort(key=lambda f: f.order)
    return plan


def ledger_document_name(key: str, etag: str) -> str:
    """``<sha256 hex of the key>_<ETag without quotes>.json`` (docs/daily-pipeline.md)."""
    return f"{hashlib.sha256(key.encode('utf-8')).hexdigest()}_{etag.strip(chr(34))}.json"


def ledger_document_uri(ledger_path: str, document: Mapping[str, Any]) -> str:
    """Where a ledger document is written: its name comes from its key and ETag."""
    return join(ledger_path, ledger_document_name(str(document["key"]), document["etag"] or ""))


def metrics_uri(metrics_path: str, run_id: str) -> str:
    """``<metrics_path>run_id=<run_id>/metrics.json``: what ``record_verdicts`` reads back."""
    return run_folder(metrics_path, run_id) + "metrics.json"
