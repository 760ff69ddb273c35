"""Landing keys and arrival: which instant a landing object belongs to (``docs/daily-pipeline.md``).

An object's *arrival* is the date of a ``landing_date=YYYY-MM-DD/`` folder below its landing prefix (any
folder level, 00:00 UTC), else its S3 ``LastModified``. Arrival order is ``(arrival, key)``: a later
arrival wins, and within one instant the key that sorts last. The planner (DAG side), the Lambda and the
extract all read and write these keys through this module.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

from youtube_lake.regions import normalize_region

#: Kinds of landing objects (the ledger's ``kind``).
STATISTICS = "statistics"
REFERENCE = "reference"
OTHER = "other"
#: Suffixes of category reference files the Lambda converts (the S3 trigger has one filter per suffix).
REFERENCE_SUFFIXES: tuple[str, ...] = (".json", ".json.gz")
#: Suffixes of statistics files clean_statistics reads (Spark inflates ``.gz`` by its extension).
STATISTICS_SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz")

LANDING_DATE = "landing_date"
_LANDING_DATE_RE = re.compile(r"^landing_date=(\d{4})-(\d{2})-(\d{2})$")


class LandingDateError(ValueError):
    """A ``landing_date=`` folder that names no calendar date; the message names the folder."""


def landing_date_folder(day: date) -> str:
    """``landing_date=2017-11-14/``: the folder that dates a drop."""
    return f"{LANDING_DATE}={day.isoformat()}/"


def landing_date(key: str, prefix: str) -> date | None:
    """The ``landing_date=YYYY-MM-DD`` of a key below ``prefix`` (any folder level); None without one.

    Raises :class:`LandingDateError` for a segment that names no real date (``landing_date=2017-13-45``).
    """
    if not key.startswith(prefix):
        return None
    for folder in key[len(prefix) :].split("/")[:-1]:
        match = _LANDING_DATE_RE.match(folder)
        if match:
            try:
                return date(*(int(part) for part in match.groups()))
            except ValueError:
                raise LandingDateError(f"{folder!r} is not a calendar date") from None
        if folder.startswith(f"{LANDING_DATE}="):
            raise LandingDateError(f"{folder!r} is not landing_date=YYYY-MM-DD")
    return None


def arrival(key: str, last_modified: datetime, prefix: str) -> datetime:
    """The instant an object belongs to: its landing date at 00:00 UTC, else its ``LastModified``.

    Raises :class:`LandingDateError` for a malformed landing date (callers decide what such an object is
    dated by) and ValueError for a naive ``last_modified``.
    """
    if last_modified.tzinfo is None:
        raise ValueError(f"{key}: LastModified {last_modified} has no time zone")
    day = landing_date(key, prefix)
    if day is None:
        return last_modified.astimezone(UTC)
    return datetime.combine(day, time.min, tzinfo=UTC)


def arrival_or_last_modified(key: str, last_modified: datetime, prefix: str) -> datetime:
    """:func:`arrival`, with a malformed landing date dated by ``LastModified`` (such an object is ignored
    or quarantined with the reason, so it still gets a verdict instead of waiting forever)."""
    try:
        return arrival(key, last_modified, prefix)
    except LandingDateError:
        return last_modified.astimezone(UTC)


def region_folder(key: str) -> str | None:
    """The lower-case region of the innermost ``region=xx`` folder of a key, None without a valid one."""
    for folder in reversed(key.split("/")[:-1]):
        if folder.lower().startswith("region="):
            return normalize_region(folder.split("=", 1)[1])
    return None


def is_folder_marker(key: str) -> bool:
    """Zero-byte ``folder/`` keys that consoles create: not objects to process."""
    return key.endswith("/")
