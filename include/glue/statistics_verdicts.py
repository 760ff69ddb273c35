"""Verdicts: which planned file is processed and which quarantined, and why; the quarantined rows; what a
run records (one ledger document per planned file, the run's metrics).

A quarantined file is a verdict, not an error: the job succeeds and ``youtube_ingest``'s
``record_verdicts`` fails the run naming it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lake_io import Store
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from statistics_increment import Staged
from statistics_inspect import SourceFile, is_compressed, scan_utf8
from statistics_read import normalized_file_name, read_sources, spark_file_name
from statistics_rules import TrendingDates, classify, rejected_rows

from youtube_lake import ledger
from youtube_lake.ledger import PROCESSED, QUARANTINED
from youtube_lake.metrics import COUNT_FIELDS
from youtube_lake.plan import IngestPlan, PlanObject
from youtube_lake.timestamps import iso

__all__ = [
    "CleanResult",
    "Decision",
    "FileResult",
    "Quarantined",
    "decide",
    "exceeds_threshold",
    "final_verdict",
    "ledger_document",
    "quarantine_reason",
    "summary_line",
    "unreadable",
    "write_quarantine",
]


def exceeds_threshold(read: int, rejected: int, threshold: float) -> bool:
    """A file with no rows never exceeds it."""
    return bool(read) and rejected / read > threshold


def quarantine_reason(read: int, rejected: int, threshold: float, reasons: Mapping[str, int]) -> str:
    """``reject_threshold: 966 of 966 rows rejected (100.00% > 1.00%): wrong column count 900, ...``."""
    detail = ", ".join(f"{text} {n}" for text, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    return (
        f"reject_threshold: {rejected} of {read} rows rejected ({rejected / read:.2%} > {threshold:.2%})"
        + (f": {detail}" if detail else "")
    )


# ---- decide --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """One taken file after staging: its row counts, the partitions of its good rows, its verdict.

    A quarantined file's ``reason`` is None until its rejected rows are counted by reason.
    """

    read: int = 0
    rejected: int = 0
    partitions: tuple[str, ...] = ()
    verdict: str = PROCESSED
    reason: str | None = None
    output: str | None = None


def unreadable(source: SourceFile) -> Decision:
    """A file that cannot be read at all (``not_gzip``) is quarantined unparsed, with no rows."""
    return Decision(verdict=QUARANTINED, reason=source.unreadable, output=source.path)


def _not_utf8(store: Store, source: SourceFile) -> str | None:
    """Whether U+FFFD in a file's rows is Spark's replacement of invalid bytes: the bytes decide. A gzip
    file was checked while it was inspected; a plain file is streamed now."""
    return source.not_utf8 if is_compressed(source.path) else scan_utf8(store, source.path)


def decide(
    store: Store,
    files: Sequence[tuple[PlanObject, SourceFile]],
    staged: Staged,
    threshold: float,
) -> dict[str, Decision]:
    """Verdict of each taken file in ``files`` (the staged ones, by index): a file whose bytes are not
    UTF-8, or whose rejected fraction exceeds ``threshold``, is quarantined."""
    decisions: dict[str, Decision] = {}
    for i, (planned, source) in enumerate(files):
        if planned.rebuild:
            continue
        read, rejected = staged.read[i], staged.rejected[i]
        counts = Decision(read, rejected, tuple(sorted(staged.partitions.get(i, set()))))
        # U+FFFD in its rows or header: the bytes decide whether it is real text or Spark's replacement.
        reason = _not_utf8(store, source) if staged.replacement[i] or "\ufffd" in source.header else None
        if reason:
            decisions[planned.uri] = _with(counts, QUARANTINED, reason, planned.uri)
        elif exceeds_threshold(read, rejected, threshold):
            decisions[planned.uri] = _with(counts, QUARANTINED, None, None)
        else:
            decisions[planned.uri] = counts
    return decisions


def _with(decision: Decision, verdict: str, reason: str | None, output: str | None) -> Decision:
    return Decision(decision.read, decision.rejected, decision.partitions, verdict, reason, output)


def final_verdict(
    decision: Decision, reasons: Mapping[str, int] | None, folder: str, threshold: float, target: str
) -> Decision:
    """A processed file's output is the target; a file quarantined by the threshold is explained by its
    rejected rows per reason (``reasons``, written to ``folder``)."""
    if decision.verdict == PROCESSED:
        return _with(decision, PROCESSED, decision.reason, target)
    if decision.reason is not None:
        return decision
    read, rejected = decision.read, decision.rejected
    if reasons is not None:
        return _with(decision, QUARANTINED, quarantine_reason(read, rejected, threshold, reasons), folder)
    return _with(decision, QUARANTINED, quarantine_reason(read, rejected, threshold, {}), decision.output)


# ---- quarantine ----------------------------------------------------------------------------------


def write_quarantine(
    spark: SparkSession,
    files: Sequence[PlanObject],
    sources: Sequence[SourceFile],
    split: bool,
    path: str,
    dates: TrendingDates | None = None,
) -> dict[str, dict[str, int]]:
    """Rejected rows of ``files`` as JSON lines with reason and source; returns uri -> reason -> rows."""
    names = {spark_file_name(spark, f.uri): f.uri for f in files}
    uri_of = F.create_map(*[x for name, uri in names.items() for x in (F.lit(name), F.lit(uri))])
    raw = read_sources(spark, sources, split)
    classified = classify(
        raw.withColumn("source_file", F.element_at(uri_of, normalized_file_name(F.col("source_file")))),
        dates,
    )
    rejected_rows(classified).write.mode("overwrite").json(path)
    counts: dict[str, dict[str, int]] = {}
    for row in spark.read.json(path).groupBy("source_file", "reject_reason").count().collect():
        counts.setdefault(row["source_file"], {})[row["reject_reason"]] = int(row["count"])
    return counts


@dataclass(frozen=True)
class Quarantined:
    """The rejected rows written to ``folder``: uri -> reject reason -> rows."""

    folder: str
    reasons: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def by_reason(self) -> dict[str, int]:
        """Rejected rows of the run per reason."""
        out: dict[str, int] = {}
        for reasons in self.reasons.values():
            for text, n in reasons.items():
                out[text] = out.get(text, 0) + n
        return out


# ---- what a run records --------------------------------------------------------------------------


@dataclass(frozen=True)
class FileResult:
    """One planned file's counts and verdict (metrics ``files`` entry and its ledger document)."""

    file: PlanObject
    read: int = 0
    rejected: int = 0
    written: int = 0
    partitions: list[str] = field(default_factory=list)
    verdict: str = PROCESSED
    reason: str | None = None
    output: str | None = None
    version_id: str | None = None
    etag: str | None = None

    @property
    def duplicates(self) -> int:
        return self.read - self.rejected - self.written if self.verdict == PROCESSED else 0

    def counts(self) -> dict[str, int]:
        """``read = written + duplicates + rejected``; a quarantined file's rows all count as rejected (none
        is published), its rows that failed a check are ``bad_rows`` in the metrics."""
        quarantined = self.verdict == QUARANTINED
        return {
            "read": self.read,
            "written": 0 if quarantined else self.written,
            "duplicates": self.duplicates,
            "rejected": self.read if quarantined else self.rejected,
        }

    def metrics(self) -> dict[str, Any]:
        return {
            "key": self.file.key,
            "uri": self.file.uri,
            "region": self.file.region,
            "etag": self.etag or self.file.etag,
            "version_id": self.version_id or self.file.version_id,
            "arrival": iso(self.file.arrival),
            "verdict": self.verdict,
            "reason": self.reason,
            **self.counts(),
            "bad_rows": self.rejected,
            "partitions": sorted(self.partitions),
            "output": self.output,
        }


@dataclass(frozen=True)
class CleanResult:
    """What a run did; ``metrics()`` is what lands in metrics.json."""

    run_id: str
    files: list[FileResult] = field(default_factory=list)
    #: Planned objects left for the next run (changed or gone since planning), with the reason.
    deferred: list[dict[str, Any]] = field(default_factory=list)
    #: Partition -> rows after the commit.
    partitions: dict[str, int] = field(default_factory=dict)
    merged: list[str] = field(default_factory=list)
    rebuilt: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    rebuild_sources: list[str] = field(default_factory=list)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    reject_threshold: float = 0.01
    seconds: float = 0.0

    def total(self) -> dict[str, int]:
        return {f: sum(r.counts()[f] for r in self.files) for f in COUNT_FIELDS}

    def regions(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for r in self.files:
            entry = out.setdefault(r.file.region or "", dict.fromkeys(COUNT_FIELDS, 0))
            for name, value in r.counts().items():
                entry[name] += value
        return dict(sorted(out.items()))

    @property
    def quarantined(self) -> list[FileResult]:
        return [r for r in self.files if r.verdict == QUARANTINED]

    def metrics(self) -> dict[str, Any]:
        return {
            "job": "clean_statistics",
            "run_id": self.run_id,
            **self.total(),
            "files_processed": sum(r.verdict == PROCESSED for r in self.files),
            "files_quarantined": len(self.quarantined),
            "files_deferred": len(self.deferred),
            "reject_threshold": self.reject_threshold,
            "regions": self.regions(),
            "rejected_by_reason": dict(sorted(self.rejected_by_reason.items())),
            "partitions_written": len(self.partitions),
            "partitions": {p: self.partitions[p] for p in sorted(self.partitions)},
            "merged": sorted(self.merged),
            "rebuilt": sorted(self.rebuilt),
            "deleted": sorted(self.deleted),
            "rebuild_sources": self.rebuild_sources,
            "files": [r.metrics() for r in self.files],
            "deferred": self.deferred,
            "seconds": round(self.seconds, 2),
        }


def summary_line(result: CleanResult) -> dict[str, Any]:
    """The stdout summary: metrics without the per-file and per-partition detail."""
    return {k: v for k, v in result.metrics().items() if k not in ("files", "regions", "partitions")}


def ledger_document(
    result: FileResult, plan: IngestPlan, run_id: str, bucket: str, recorded_at: str
) -> dict[str, Any]:
    """The ledger document of one planned file, after its data was committed."""
    f = result.file
    counts = result.counts()
    return ledger.document(
        key=f.key,
        bucket=bucket,
        etag=result.etag or f.etag,
        kind="statistics",
        verdict=result.verdict,
        run_id=plan.run_id or run_id,
        recorded_by="clean_statistics",
        version_id=result.version_id or f.version_id,
        size=f.size,
        last_modified=f.last_modified,
        arrival=iso(f.arrival),
        region=f.region,
        reason=result.reason,
        interval=plan.interval,
        counts=dict(zip(ledger.COUNT_FIELDS, (counts[n] for n in COUNT_FIELDS), strict=True)),
        partitions=result.partitions if result.verdict == PROCESSED else (),
        output=result.output,
        recorded_at=recorded_at,
    )
