"""What the handler learns about one record: the object version, the partition's stored object, and the
record's answer and ledger document (pure: no I/O, no clock).

Kept apart from :mod:`conversion` and :mod:`record_io` (the AWS edge) so each file has one job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from category_reference import region_from_key
from function_config import PARTITION_COLUMN, Config
from partition_order import Source
from rejection import Rejected

from youtube_lake import landing, ledger
from youtube_lake.invocation import QUARANTINED, RecordResult, RunInfo, S3Object
from youtube_lake.timestamps import iso

#: Who writes this function's ledger documents (``ledger.RECORDERS``).
RECORDED_BY = "json_to_parquet"


@dataclass(frozen=True)
class Version:
    """One raw object version as HEAD describes it."""

    version_id: str | None
    etag: str
    size: int
    last_modified: datetime

    @classmethod
    def from_head(cls, response: Mapping[str, Any]) -> Version:
        version = response.get("VersionId")
        return cls(
            version_id=None if version in (None, "", "null") else str(version),
            etag=str(response["ETag"]).strip('"'),
            size=int(response["ContentLength"]),
            last_modified=response["LastModified"].astimezone(UTC),
        )

    def named_by(self, record: S3Object) -> bool:
        """Whether the record names this version (a record naming none means the current one)."""
        if record.version_id and self.version_id:
            return record.version_id == self.version_id
        if record.etag:
            return record.etag == self.etag
        return True

    def describe(self) -> str:
        name = f"version {self.version_id}" if self.version_id else "the unversioned object"
        return f"{name} (ETag {self.etag}, LastModified {self.last_modified:%Y-%m-%dT%H:%M:%SZ})"


@dataclass(frozen=True)
class Stored:
    """The partition's current Parquet object: its ETag (for If-Match), source and category ids."""

    etag: str
    source: Source | None
    ids: list[int]
    rows: int | None


@dataclass
class Record:
    """What one record is about, as the handler learns it; builds the result and the ledger document."""

    source: S3Object
    config: Config
    run: RunInfo
    request_id: str
    now: datetime
    version: Version | None = None
    region: str | None = None
    arrival: datetime | None = None
    result: RecordResult = field(init=False)

    def __post_init__(self) -> None:
        try:
            self.region = region_from_key(self.source.key, self.config.allowed_regions)
        except Rejected:
            self.region = None
        self.result = RecordResult(
            bucket=self.source.bucket,
            key=self.source.key,
            status=QUARANTINED,
            version_id=self.source.version_id,
            etag=self.source.etag,
            region=self.region,
        )

    def answer(self, **changes: Any) -> RecordResult:
        """The result with ``changes`` (status, rows, output, reason, quarantine key) applied."""
        self.result = replace(self.result, **changes)
        return self.result

    def about(self, version: Version) -> None:
        """Describe ``version`` of the key (its arrival needs its LastModified)."""
        self.version = version
        self.answer(version_id=version.version_id, etag=version.etag)
        # A malformed landing date is dated by LastModified, as the planner dates it (and is quarantined).
        self.arrival = landing.arrival_or_last_modified(
            self.source.key, version.last_modified, self.config.landing_prefix
        )

    def candidate(self) -> Source:
        assert self.version is not None and self.arrival is not None
        return Source(
            self.source.bucket, self.source.key, self.version.version_id, self.version.etag, self.arrival
        )

    def ledger(
        self, verdict: str, reason: str | None, *, rows: int | None = None, output: str | None = None
    ) -> tuple[str, bytes] | None:
        """(ledger key, document body), or None when nothing names the version's ETag.

        Without a HEAD of the version (it no longer exists) the record's own version id and ETag name it.
        ``rows`` counts a processed file's categories (read = written, nothing dropped); the other verdicts
        read nothing that counts, so their counts are null.
        """
        version = self.version
        etag = version.etag if version else self.source.etag
        if not etag:
            return None
        processed = verdict == ledger.PROCESSED
        counts = {"rows_read": rows, "rows_written": rows, "duplicates": 0, "rejected": 0}
        doc = ledger.document(
            key=self.source.key,
            bucket=self.source.bucket,
            etag=etag,
            kind=landing.REFERENCE,
            verdict=verdict,
            run_id=self.run.run_id,
            recorded_by=RECORDED_BY,
            version_id=version.version_id if version else self.source.version_id,
            size=version.size if version else None,
            last_modified=iso(version.last_modified) if version else None,
            arrival=iso(self.arrival) if self.arrival else None,
            region=self.region,
            reason=reason,
            interval=self.run.interval,
            counts=counts if processed else None,
            partitions=[f"{PARTITION_COLUMN}={self.region}"] if processed else [],
            output=output,
            recorded_at=iso(self.now),
        )
        return self.config.ledger_key(self.source.key, etag), ledger.document_body(doc)
