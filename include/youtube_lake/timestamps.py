"""Instants as the lake stores them: ISO-8601 UTC with a ``Z``, second precision.

The ledger documents, the ingest plan, the Lambda's S3 metadata and the Glue metrics all write instants
with :func:`iso` and read them back with :func:`parse_instant`.
"""

from __future__ import annotations

from datetime import UTC, datetime

#: ``2017-11-14T00:00:00Z``.
ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def iso(when: datetime) -> str:
    """An aware instant as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, seconds); a naive one is refused."""
    if when.tzinfo is None:
        raise ValueError(f"instant {when!r} has no time zone")
    return when.astimezone(UTC).strftime(ISO_FORMAT)


def parse_instant(text: str) -> datetime:
    """ISO-8601 with ``Z`` or an offset -> an aware UTC datetime; ValueError without a time zone."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"instant {text!r} has no time zone")
    return value.astimezone(UTC)


def now_iso() -> str:
    """The current instant, as :func:`iso` writes it."""
    return iso(datetime.now(UTC))
