"""Which raw category file a region's partition holds: the source metadata and the replace decision.

Pure (no I/O, no clock): the handler reads S3 and asks :func:`decide`. Arrival and arrival order are the
lake's (``youtube_lake.landing``, ``docs/daily-pipeline.md`` "What arrival means"); the rules kept here are
the Lambda's own ("Ordered Lambda"):

- the partition holds the **newest** source in arrival order ``(arrival, key)``: a later arrival wins, and
  within one instant the key that sorts last;
- versions of **one key** are ordered as S3 orders them: the key's current version is the newest. Arrival
  cannot order them (50 quick PUTs share one ``LastModified`` second), so the handler re-reads the key's
  current version whenever the partition holds another version of the same key.

The processed object carries its source in its S3 user metadata (:func:`source_metadata`); the handler
replaces it only with a conditional PUT (``If-Match`` its ETag, or ``If-None-Match: *`` when there is none),
so of two concurrent invocations the one that decided on stale state gets 412 and decides again.
"""

from __future__ import annotations

import enum
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from youtube_lake.timestamps import iso, parse_instant

#: S3 user metadata names (``x-amz-meta-…``) on the processed object.
META_BUCKET = "source-bucket"
META_KEY = "source-key"
META_VERSION = "source-version-id"
META_ETAG = "source-etag"
META_ARRIVAL = "source-arrival"
META_ROWS = "rows"
#: S3 limits user metadata to 2 KB; keys are percent-encoded into it (non-ASCII takes 3 characters a byte).
MAX_ENCODED_KEY = 1500


@dataclass(frozen=True)
class Source:
    """One raw object version: what a partition holds or what a record offers."""

    bucket: str
    key: str
    version_id: str | None
    #: Without quotes.
    etag: str
    arrival: datetime

    @property
    def order(self) -> tuple[datetime, str]:
        return (self.arrival, self.key)

    def same_key(self, other: Source) -> bool:
        return (self.bucket, self.key) == (other.bucket, other.key)

    def same_version(self, other: Source) -> bool:
        """The same object version: by version id when both have one (versioned bucket), else by ETag."""
        if not self.same_key(other):
            return False
        if self.version_id and other.version_id:
            return self.version_id == other.version_id
        return self.etag == other.etag

    def describe(self) -> str:
        version = f"version {self.version_id}" if self.version_id else "unversioned"
        return f"s3://{self.bucket}/{self.key} ({version}, ETag {self.etag}, arrival {iso(self.arrival)})"


def source_metadata(source: Source, rows: int) -> dict[str, str]:
    """S3 user metadata naming the source of a processed object (ASCII only, as S3 requires)."""
    return {
        META_BUCKET: source.bucket,
        META_KEY: encode_key(source.key),
        META_VERSION: source.version_id or "",
        META_ETAG: source.etag,
        META_ARRIVAL: iso(source.arrival),
        META_ROWS: str(rows),
    }


def encode_key(key: str) -> str:
    """A key as ASCII for S3 metadata: percent-encoding of everything but printable ASCII other than ``%``."""
    return urllib.parse.quote(key, safe="".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%"))


def source_from_metadata(metadata: Mapping[str, str]) -> Source | None:
    """The source a processed object names, or None when it names none (written by another tool)."""
    try:
        arrived = parse_instant(metadata[META_ARRIVAL])
        return Source(
            bucket=metadata[META_BUCKET],
            key=urllib.parse.unquote(metadata[META_KEY]),
            version_id=metadata.get(META_VERSION) or None,
            etag=metadata[META_ETAG],
            arrival=arrived,
        )
    except (KeyError, ValueError):
        return None


class Decision(enum.Enum):
    #: Nothing or an older source is stored: write the candidate.
    WRITE = "write"
    #: The partition already holds exactly this version: nothing to write.
    UNCHANGED = "unchanged"
    #: The partition holds a source newer in arrival order: the candidate is superseded.
    OLDER = "older"
    #: The partition holds another version of the same key: write only if the candidate is still the key's
    #: current version (S3's version order), else the candidate is superseded.
    CHECK_CURRENT = "check_current"


def decide(candidate: Source, stored: Source | None) -> Decision:
    """Whether ``candidate`` replaces what the partition holds (``stored``; None when it names no source)."""
    if stored is None:
        return Decision.WRITE
    if candidate.same_version(stored):
        return Decision.UNCHANGED
    if candidate.same_key(stored):
        return Decision.CHECK_CURRENT
    return Decision.WRITE if candidate.order > stored.order else Decision.OLDER
