"""Daily increments in one process over local folders: the real planner and the real Glue job, no AWS.

A :class:`FolderLake` keeps a landing "bucket" (a folder; each key's LastModified is set by the caller,
its ETag is the MD5 of its bytes, as S3 gives for single-part uploads), the ledger, the statistics target,
the quarantine and the metrics as folders. :meth:`FolderLake.ingest` plans a data interval exactly as
``plan_increment`` does (``youtube_etl.landing.plan_from_listings``) and runs ``clean_statistics.run`` on
that plan with a given SparkSession. The equivalence and kill tests and ``bench/bench_increments.py`` use
it: what they measure is the job's code path, without the Glue executor's process start.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from local.runtime import GLUE_SOURCE
from youtube_etl import landing
from youtube_etl.settings import Prefixes

BUCKET = "raw"


def glue_module(name: str) -> ModuleType:
    """A Glue script imported as a module (its shared ``lake_io`` on the path, as ``--extra-py-files``)."""
    import importlib.util

    if str(GLUE_SOURCE) not in sys.path:
        sys.path.insert(0, str(GLUE_SOURCE))
    module_name = f"glue_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, GLUE_SOURCE / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {name}.py from {GLUE_SOURCE}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class FolderLake:
    base: Path
    prefixes: Prefixes = field(default_factory=Prefixes)
    modified: dict[str, datetime] = field(default_factory=dict)
    #: key -> (ETag, size), as S3's listing gives them (computed once, when the key is put).
    listed: dict[str, tuple[str, int]] = field(default_factory=dict)
    runs: int = 0

    def __post_init__(self) -> None:
        for folder in ("raw", "ledger", "statistics", "quarantine", "metrics", "plans"):
            (self.base / folder).mkdir(parents=True, exist_ok=True)

    @property
    def target(self) -> str:
        return str(self.base / "statistics") + "/"

    def put(self, key: str, data: bytes, modified: datetime) -> None:
        """Upload (or re-upload) ``key``; ``modified`` is its LastModified."""
        path = self.base / "raw" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.modified[key] = modified
        self.listed[key] = (hashlib.md5(data, usedforsecurity=False).hexdigest(), len(data))

    def landing(self) -> list[landing.LandingObject]:
        return [
            landing.LandingObject(
                key=key, etag=self.listed[key][0], size=self.listed[key][1], last_modified=modified
            )
            for key, modified in sorted(self.modified.items())
        ]

    def ledger_names(self) -> list[str]:
        return sorted(p.name for p in (self.base / "ledger").glob("*.json"))

    def documents(self) -> list[dict[str, Any]]:
        return [json.loads((self.base / "ledger" / n).read_text()) for n in self.ledger_names()]

    def _read(self, names: Iterable[str]) -> list[dict[str, Any]]:
        return [json.loads((self.base / "ledger" / n).read_text()) for n in names]

    def plan(self, start: datetime, end: datetime) -> dict[str, Any]:
        """The plan file's content for ``[start, end)``, with local paths as URIs."""
        kinds = landing.landing_kinds(self.prefixes.raw_statistics, self.prefixes.raw_reference)
        plan = landing.plan_from_listings(self.landing(), self.ledger_names(), start, end, kinds, self._read)
        data = plan.ingest_plan(BUCKET, f"local__{start.date().isoformat()}_{self.runs}").to_json()
        for item in (*data["statistics"], *data["rebuild_sources"]):
            item["uri"] = str(self.base / "raw" / item["key"])
        return data

    def ingest(self, spark: Any, start: datetime, end: datetime, **run: Any) -> Any:
        """Plan ``[start, end)`` and run clean_statistics on it; returns its ``CleanResult``."""
        cs = glue_module("clean_statistics")
        self.runs += 1
        run_id = f"run{self.runs:03d}"
        plan = self.base / "plans" / f"{run_id}.json"
        plan.write_text(json.dumps(self.plan(start, end)))
        return cs.run(
            spark,
            str(plan),
            self.target,
            str(self.base / "quarantine") + "/",
            str(self.base / "ledger") + "/",
            str(self.base / "metrics") + "/",
            run_id,
            run.pop("reject_threshold", 0.01),
            **run,
        )

    def full_run(self, spark: Any, folder: Path) -> FolderLake:
        """A new lake in ``folder`` holding the current landing objects of this one (same keys, bytes and
        LastModified), processed by one run whose interval ends after every arrival: the reference an
        interval-by-interval history must equal."""
        other = FolderLake(folder, prefixes=self.prefixes)
        for key, modified in self.modified.items():
            other.put(key, (self.base / "raw" / key).read_bytes(), modified)
        kinds = landing.landing_kinds(self.prefixes.raw_statistics, self.prefixes.raw_reference)
        arrivals = [landing.classify(o, kinds).arrival for o in other.landing()]
        other.ingest(spark, min(arrivals), max(arrivals) + timedelta(days=1))
        return other

    def rows(self, spark: Any) -> list[tuple[Any, ...]]:
        """Every published row with its partition, without where it came from, sorted: what readers see."""
        frame = spark.read.option("basePath", self.target).parquet(self.target)
        columns = [c for c in frame.columns if c not in ("source_file", "source_arrival")]
        return sorted((tuple(r) for r in frame.select(*columns).collect()), key=repr)
