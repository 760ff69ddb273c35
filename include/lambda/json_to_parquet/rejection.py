"""Why the Lambda refuses an input: the reason codes, :class:`Rejected` and the quarantine error report.

A rejected input is quarantined, never retried; the Airflow task shows ``reason`` (``"<code>: <detail>"``)
when a record is quarantined. Pure: no I/O, no clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from youtube_lake.invocation import S3Object

#: Rejection reason codes -> what they mean. The Airflow task shows ``reason`` when a record is quarantined.
REASONS: dict[str, str] = {
    "unknown_region": "the file name is not XX_category_id.json[.gz] with XX an allowed region code",
    "bad_landing_date": "a landing_date= folder of the key names no calendar date (YYYY-MM-DD)",
    "key_too_long": "the key does not fit the processed object's S3 metadata (2 KB)",
    "too_large": "the object (after gunzip) is larger than MAX_BODY_BYTES",
    "not_gzip": "a .json.gz object is not a complete gzip stream",
    "empty_file": "the object is empty or only whitespace",
    "not_utf8": "the text is not valid UTF-8 (the first bad byte and its offset are named)",
    "not_json": "the object is not valid JSON",
    "too_deep": "the JSON nests deeper than the parser's limit",
    "duplicate_key": "a JSON object has the same member twice (which one counts would be a guess)",
    "no_items": "the document has no non-empty 'items' list",
    "item_without_id": "an item is not an object or has no 'id'",
    "item_without_title": "an item has no non-empty string 'snippet.title'",
    "invalid_title": "a title is blank (white space or invisible characters) or holds a control character",
    "non_integer_id": "an item's 'id' is not a non-negative integer (a JSON string of digits or a number)",
    "invalid_field": "an item's 'etag', 'snippet.channelId' or 'snippet.assignable' has the wrong JSON type",
    "duplicate_id": "the same category id appears twice (the join would duplicate statistics rows)",
    "categories_dropped": "the file lacks over CATEGORY_DROP_THRESHOLD of the region's stored categories",
    "too_few_categories": "fewer than MIN_CATEGORIES categories (an implausible file, even as a first one)",
    "in_quarantine": "the object is itself under the quarantine prefix (processing it would loop)",
    "unreadable": "the parser failed on the input in a way no rule above names (the report has the error)",
}


class Rejected(ValueError):
    """The input can never be converted: quarantine it, don't retry. ``reason`` is a key of REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown rejection reason {reason!r}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def error_report(
    *, rejected: Rejected, source: S3Object, request_id: str, at: datetime, copy_uri: str | None
) -> dict[str, Any]:
    """The JSON document stored next to a quarantined copy."""
    return {
        "reason": rejected.reason,
        "reason_text": REASONS[rejected.reason],
        "detail": rejected.detail,
        "source": {"bucket": source.bucket, "key": source.key, "version_id": source.version_id},
        # None when the object is too large for CopyObject (5 GB): the raw object itself is kept.
        "quarantined_copy": copy_uri,
        "request_id": request_id,
        "time": at.isoformat(),
    }
