"""Glue job metrics: where a job run writes its counts and how readers take them.

Each job writes ``<--metrics_path>run_id=<run id>/metrics.json`` (:func:`metrics_uri`); the DAG side reads
it back (task log summary, verdicts, asset extras) with :class:`GlueMetrics`. ``clean_statistics``'
``files`` holds one entry per planned file with its verdict; ``read = written + duplicates + rejected``
per file and in total.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from youtube_lake.runs import run_folder

METRICS_FILE = "metrics.json"
#: The row counts of a clean_statistics run (per file, per region and in total), in this order.
COUNT_FIELDS = ("read", "written", "duplicates", "rejected")


def metrics_uri(metrics_path: str, run_id: str) -> str:
    """``<metrics_path>run_id=<run id>/metrics.json`` (``run_id`` already safe: ``runs.safe_run_id``)."""
    return run_folder(metrics_path, run_id) + METRICS_FILE


@dataclass(frozen=True)
class FileVerdict:
    """One planned file of a clean_statistics run, as its metrics say."""

    key: str
    region: str | None
    verdict: str
    reason: str | None = None
    output: str | None = None

    def quarantine(self) -> dict[str, Any]:
        """What ``record_verdicts`` reports of a quarantined file."""
        return {"key": self.key, "region": self.region, "reason": self.reason, "output": self.output}


@dataclass(frozen=True)
class GlueMetrics:
    """A job run's metrics.json, typed where readers need it; ``raw`` keeps every field."""

    raw: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: str | bytes | Mapping[str, Any] | None) -> GlueMetrics:
        """Parsed metrics; None or empty gives empty metrics; ValueError for text that is not an object."""
        if data is None:
            return cls({})
        raw = json.loads(data) if isinstance(data, str | bytes) else data
        if not isinstance(raw, Mapping):
            raise ValueError(f"Glue metrics must be a JSON object, got {type(raw).__name__}")
        return cls(dict(raw))

    def __bool__(self) -> bool:
        return bool(self.raw)

    def count(self, name: str) -> int:
        return int(self.raw.get(name) or 0)

    def totals(self) -> dict[str, int]:
        return {name: self.count(name) for name in COUNT_FIELDS}

    @property
    def files(self) -> list[FileVerdict]:
        return [
            FileVerdict(
                key=str(f.get("key")),
                region=f.get("region"),
                verdict=str(f.get("verdict")),
                reason=f.get("reason"),
                output=f.get("output"),
            )
            for f in self.raw.get("files") or []
        ]

    def quarantined(self) -> list[FileVerdict]:
        return [f for f in self.files if f.verdict == "quarantined"]

    def processed(self) -> int:
        return sum(f.verdict == "processed" for f in self.files)

    @property
    def partitions(self) -> dict[str, int]:
        """Partition -> rows after the commit."""
        return dict(self.raw.get("partitions") or {})

    def summary(self) -> str:
        """``read=… written=… …``: the top-level counts in the job's own order; nested details left out."""
        items = [f"{k}={v}" for k, v in self.raw.items() if not isinstance(v, dict | list)]
        return " ".join(items) or "no counts"
