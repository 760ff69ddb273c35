"""Where the extract lands a region-day in the raw bucket, its manifest, and when a region-day is complete.

``youtube_extract`` lands the YouTube Data API's response bodies verbatim under the existing landing
prefixes, dated by the interval's day, so ``youtube_ingest`` takes them like any drop::

    youtube/raw_statistics/landing_date=D/region=xx/videos_mostpopular_<attempt>_p001.json   (pages, first)
    youtube/raw_statistics_reference_data/landing_date=D/XX_category_id.json                 (categories)
    youtube/raw_statistics/landing_date=D/region=xx/_manifest_<attempt>.json                  (manifest, last)

``<attempt>`` is the fetch's start instant (``20171115T001503Z``): the pages of one fetch and its manifest
share it. A region-day is *complete* once a manifest exists; the planner takes only the pages of the
attempt the manifest names. Pages of a fetch that failed midway (no manifest) stay invisible — never taken,
never given a verdict — and if a later attempt completes the region-day, they are ignored as superseded
(raw objects are never deleted, and a listing alone tells which pages belong to the published chart).
The manifest itself is not a drop: it is ignored with a reason naming its region-day.

The category file keeps today's ``XX_category_id.json`` name, so the Lambda path is unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from youtube_lake.landing import landing_date_folder
from youtube_lake.regions import is_region_code
from youtube_lake.timestamps import iso, parse_instant

VERSION = 1
#: The page file name: ``videos_mostpopular_<attempt>_p001.json``.
PAGE_STEM = "videos_mostpopular"
MANIFEST_STEM = "_manifest"
#: Pages a chart can have: the API serves at most 200 items, 50 a page; 999 leaves room for smaller pages.
MAX_PAGES = 999

_ATTEMPT = r"(\d{8}T\d{6}Z)"
_PAGE_RE = re.compile(rf"^{PAGE_STEM}_{_ATTEMPT}_p(\d{{3}})\.json$")
_MANIFEST_RE = re.compile(rf"^{MANIFEST_STEM}_{_ATTEMPT}\.json$")
_FOLDER_RE = re.compile(r"^landing_date=(\d{4}-\d{2}-\d{2})/region=([a-z]{2})/$")
_ATTEMPT_FORMAT = "%Y%m%dT%H%M%SZ"

#: Reason codes of the planner's ``ignored`` verdicts on extract objects.
EXTRACT_MANIFEST = "extract_manifest"
SUPERSEDED_ATTEMPT = "superseded_attempt"


class ManifestError(ValueError):
    """A manifest document that breaks the format; the message names its source."""


def attempt_id(started: datetime) -> str:
    """``20171115T001503Z``: the fetch's start instant (UTC, seconds), shared by its pages and manifest."""
    if started.tzinfo is None:
        raise ValueError(f"instant {started!r} has no time zone")
    return started.astimezone(UTC).strftime(_ATTEMPT_FORMAT)


def _check(day: date, region: str) -> None:
    if not is_region_code(region):
        raise ValueError(f"{region!r} is not a lower-case two-letter region code")
    if not isinstance(day, date) or isinstance(day, datetime):
        raise ValueError(f"{day!r} is not a date")


def region_day_folder(statistics_prefix: str, day: date, region: str) -> str:
    """``youtube/raw_statistics/landing_date=D/region=xx/``: the folder of one region-day's chart."""
    _check(day, region)
    return f"{statistics_prefix}{landing_date_folder(day)}region={region}/"


def page_key(statistics_prefix: str, day: date, region: str, attempt: str, number: int) -> str:
    """The key of page ``number`` (1-based) of one fetch of a region-day's chart."""
    if not 1 <= number <= MAX_PAGES:
        raise ValueError(f"page number {number} is not between 1 and {MAX_PAGES}")
    _check_attempt(attempt)
    return f"{region_day_folder(statistics_prefix, day, region)}{PAGE_STEM}_{attempt}_p{number:03d}.json"


def manifest_key(statistics_prefix: str, day: date, region: str, attempt: str) -> str:
    """The key of the manifest that publishes one fetch of a region-day (written last)."""
    _check_attempt(attempt)
    return f"{region_day_folder(statistics_prefix, day, region)}{MANIFEST_STEM}_{attempt}.json"


def category_key(reference_prefix: str, day: date, region: str) -> str:
    """``youtube/raw_statistics_reference_data/landing_date=D/XX_category_id.json`` (today's format)."""
    _check(day, region)
    return f"{reference_prefix}{landing_date_folder(day)}{region.upper()}_category_id.json"


def _check_attempt(attempt: str) -> None:
    if not re.fullmatch(_ATTEMPT, attempt):
        raise ValueError(f"{attempt!r} is not an attempt id such as 20171115T001503Z")


@dataclass(frozen=True)
class ExtractKey:
    """What an extract key names: its region-day, the attempt, and the page number (None: the manifest)."""

    day: date
    region: str
    attempt: str
    page: int | None

    @property
    def is_manifest(self) -> bool:
        return self.page is None


def parse_extract_key(key: str, statistics_prefix: str) -> ExtractKey | None:
    """An extract page or manifest key below ``statistics_prefix`` -> its parts; None for any other key."""
    if not key.startswith(statistics_prefix):
        return None
    folder, _, name = key[len(statistics_prefix) :].rpartition("/")
    match = _FOLDER_RE.match(folder + "/")
    if not match:
        return None
    try:
        day = date.fromisoformat(match.group(1))
    except ValueError:
        return None
    page = _PAGE_RE.match(name)
    if page:
        return ExtractKey(day, match.group(2), page.group(1), int(page.group(2)))
    manifest = _MANIFEST_RE.match(name)
    if manifest:
        return ExtractKey(day, match.group(2), manifest.group(1), None)
    return None


def is_page_key(key: str, statistics_prefix: str) -> bool:
    parsed = parse_extract_key(key, statistics_prefix)
    return parsed is not None and not parsed.is_manifest


def complete_region_days(keys: Iterable[str], statistics_prefix: str) -> dict[tuple[date, str], str]:
    """(day, region) -> the attempt its manifest publishes, for every region-day with a manifest.

    Two manifests for one region-day (two fetches raced) publish the later attempt: deterministic, and the
    other attempt's pages are then superseded.
    """
    complete: dict[tuple[date, str], str] = {}
    for key in keys:
        parsed = parse_extract_key(key, statistics_prefix)
        if parsed is not None and parsed.is_manifest:
            slot = (parsed.day, parsed.region)
            complete[slot] = max(complete.get(slot, ""), parsed.attempt)
    return complete


def is_complete(keys: Iterable[str], statistics_prefix: str, day: date, region: str) -> bool:
    """Whether the region-day has a manifest among ``keys`` (a re-run of it then fetches nothing)."""
    return (day, region) in complete_region_days(keys, statistics_prefix)


def extract_verdict(
    key: str, statistics_prefix: str, complete: Mapping[tuple[date, str], str]
) -> tuple[str, str | None] | None:
    """How the planner treats an extract key, given :func:`complete_region_days` of the listing.

    None: not an extract key (the usual rules apply). ``("take", None)``: a page of the published attempt.
    ``("wait", None)``: a page of a region-day with no manifest yet — not taken, no verdict. ``("ignore",
    reason)``: the manifest, or a page of a superseded attempt.
    """
    parsed = parse_extract_key(key, statistics_prefix)
    if parsed is None:
        return None
    slot = f"region={parsed.region} landing_date={parsed.day.isoformat()}"
    published = complete.get((parsed.day, parsed.region))
    if parsed.is_manifest:
        return (
            "ignore",
            f"{EXTRACT_MANIFEST}: the manifest of {slot} (attempt {parsed.attempt}) publishes its pages; "
            "it is not a drop itself",
        )
    if published is None:
        return ("wait", None)
    if parsed.attempt != published:
        return (
            "ignore",
            f"{SUPERSEDED_ATTEMPT}: page {parsed.page} of attempt {parsed.attempt} of {slot}, whose manifest "
            f"publishes attempt {published}",
        )
    return ("take", None)


@dataclass(frozen=True)
class ManifestPage:
    key: str
    items: int


@dataclass(frozen=True)
class Manifest:
    """What one fetch of a region-day landed: written last, it publishes the region-day.

    ``request`` holds the parameters of the API calls (never the key); ``quota_units`` the units spent.
    """

    region: str
    day: date
    attempt: str
    fetched_at: datetime
    request: Mapping[str, Any]
    pages: tuple[ManifestPage, ...]
    category_key: str
    category_items: int
    quota_units: int
    api_root: str = ""
    extras: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(self.day, self.region)
        _check_attempt(self.attempt)
        if self.fetched_at.tzinfo is None:
            raise ManifestError(f"fetched_at {self.fetched_at!r} has no time zone")
        if _holds_key(self.request):
            raise ManifestError("the request parameters hold 'key': the API key never goes into a manifest")

    @property
    def items(self) -> int:
        return sum(page.items for page in self.pages)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "region": self.region,
            "day": self.day.isoformat(),
            "attempt": self.attempt,
            "fetched_at": iso(self.fetched_at),
            "api_root": self.api_root,
            "request": dict(self.request),
            "pages": [{"key": p.key, "items": p.items} for p in self.pages],
            "items": self.items,
            "category_key": self.category_key,
            "category_items": self.category_items,
            "quota_units": self.quota_units,
            **({"extras": dict(self.extras)} if self.extras else {}),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=1, sort_keys=False)

    @classmethod
    def from_json(cls, data: str | bytes | Mapping[str, Any], source: str = "manifest") -> Manifest:
        """A manifest from its JSON (text or parsed); ManifestError naming ``source`` when it is not one."""
        try:
            raw = json.loads(data) if isinstance(data, str | bytes) else data
            if not isinstance(raw, Mapping) or raw.get("version") != VERSION:
                raise ValueError(f"not a version {VERSION} manifest")
            return cls(
                region=str(raw["region"]),
                day=date.fromisoformat(str(raw["day"])),
                attempt=str(raw["attempt"]),
                fetched_at=parse_instant(str(raw["fetched_at"])),
                request=dict(raw["request"]),
                pages=tuple(ManifestPage(str(p["key"]), int(p["items"])) for p in raw["pages"]),
                category_key=str(raw["category_key"]),
                category_items=int(raw["category_items"]),
                quota_units=int(raw["quota_units"]),
                api_root=str(raw.get("api_root") or ""),
                extras=dict(raw.get("extras") or {}),
            )
        except ManifestError as error:
            raise ManifestError(f"{source}: {error}") from None
        except (KeyError, TypeError, ValueError) as error:
            raise ManifestError(f"{source}: not an extract manifest ({error!r})") from None


def _holds_key(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(str(k).lower() == "key" or _holds_key(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_key(v) for v in value)
    return False
