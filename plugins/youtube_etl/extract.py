"""``youtube_extract``'s work for one region-day: fetch the chart and categories, land them, publish.

Pure rules (the snapshot lag, the page check, the manifest) and thin I/O over an injected S3 client and an
injected :class:`~youtube_etl.youtube_api.YouTubeApi`. Order of one region-day:

1. nothing to do when the region-day already has a manifest (a re-run fetches nothing);
2. fetch every page of ``videos.list(chart=mostPopular)`` (``nextPageToken`` to the end, at most 200 items)
   and ``videoCategories.list``; each body must be a JSON list response with ``items``;
3. land the pages, then the category file (``XX_category_id.json``, so the Lambda path is unchanged), then
   the manifest — last: until it exists the planner does not take the pages, so a fetch failing at any
   point leaves nothing of the region-day visible.

Layout and manifest: ``youtube_lake.extract``. The API key never reaches a log, a result or an object.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from youtube_etl.youtube_api import BadResponse, ExtractError, YouTubeApi, scrub
from youtube_lake.extract import (
    Manifest,
    ManifestPage,
    attempt_id,
    category_key,
    complete_region_days,
    manifest_key,
    page_key,
    region_day_folder,
)

log = logging.getLogger(__name__)

#: The API serves at most 200 videos of a chart, 50 a page.
MAX_ITEMS = 200
PAGE_SIZE = 50
#: A chart still paging after this many pages is not the API's chart (a loop of tokens): fail.
MAX_PAGES = 8
CHART_PARAMS: dict[str, Any] = {"part": "snippet,statistics", "chart": "mostPopular", "maxResults": PAGE_SIZE}
CATEGORY_PARAMS: dict[str, Any] = {"part": "snippet"}


def check_snapshot_lag(interval_end: datetime, now: datetime, lag: timedelta) -> str | None:
    """Why a run must not fetch, or None: the chart is a point-in-time snapshot, so a run starting more than
    ``lag`` after its interval ended (backfill, catch-up, late retry) would label today's chart as a past
    day."""
    if now - interval_end > lag:
        return (
            f"the interval ending {interval_end.isoformat()} ended {now - interval_end} before this run "
            f"started, more than the snapshot lag of {lag} (snapshot_lag_hours): the API serves only the "
            "current chart, which must not be labelled as a past day; nothing fetched"
        )
    return None


def check_list_body(body: bytes, what: str) -> dict[str, Any]:
    """The parsed body of a list response; BadResponse showing its first bytes when it is not one."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        doc = None
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise BadResponse(
            f"{what}: the body is not a JSON list response with 'items' ({len(body)} bytes, first bytes: "
            f"{scrub(repr(body[:120]))}); not landed"
        )
    return doc


@dataclass(frozen=True)
class Fetched:
    """One response body, verbatim, and its item count."""

    body: bytes
    items: int


def fetch_chart(api: YouTubeApi, region: str) -> list[Fetched]:
    """Every page of the region's most-popular chart, following ``nextPageToken`` up to 200 items."""
    videos = api.service.videos()
    request = videos.list(regionCode=region.upper(), **CHART_PARAMS)
    pages: list[Fetched] = []
    while request is not None:
        if len(pages) == MAX_PAGES:
            raise BadResponse(f"videos.list region={region}: still paging after {MAX_PAGES} pages")
        what = f"videos.list region={region} page {len(pages) + 1}"
        body = api.execute(request, what)
        doc = check_list_body(body, what)
        pages.append(Fetched(body, len(doc["items"])))
        if sum(p.items for p in pages) >= MAX_ITEMS:
            break
        request = videos.list_next(request, doc)
    return pages


def fetch_categories(api: YouTubeApi, region: str) -> Fetched:
    """The region's ``videoCategories.list`` response (its plausibility is the Lambda's check)."""
    what = f"videoCategories.list region={region}"
    request = api.service.videoCategories().list(regionCode=region.upper(), **CATEGORY_PARAMS)
    body = api.execute(request, what)
    return Fetched(body, len(check_list_body(body, what)["items"]))


@dataclass(frozen=True)
class Layout:
    """Where a region-day lands: the raw bucket and its two landing prefixes."""

    bucket: str
    statistics_prefix: str
    reference_prefix: str


def published_attempt(s3: Any, layout: Layout, day: date, region: str) -> str | None:
    """The attempt the region-day's manifest publishes, None when it has none yet."""
    folder = region_day_folder(layout.statistics_prefix, day, region)
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=layout.bucket, Prefix=folder):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return complete_region_days(keys, layout.statistics_prefix).get((day, region))


def _put(s3: Any, bucket: str, key: str, body: bytes) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


def land_region_day(
    s3: Any,
    layout: Layout,
    day: date,
    region: str,
    started: datetime,
    pages: Sequence[Fetched],
    categories: Fetched,
    request: dict[str, Any],
    quota_units: int,
    api_root: str,
) -> Manifest:
    """Pages first, then the category file, then the manifest (last: it publishes the region-day)."""
    attempt = attempt_id(started)
    landed = []
    for number, page in enumerate(pages, start=1):
        key = page_key(layout.statistics_prefix, day, region, attempt, number)
        _put(s3, layout.bucket, key, page.body)
        landed.append(ManifestPage(key, page.items))
    categories_at = category_key(layout.reference_prefix, day, region)
    _put(s3, layout.bucket, categories_at, categories.body)
    manifest = Manifest(
        region=region,
        day=day,
        attempt=attempt,
        fetched_at=started,
        request=request,
        pages=tuple(landed),
        category_key=categories_at,
        category_items=categories.items,
        quota_units=quota_units,
        api_root=api_root,
    )
    _put(
        s3,
        layout.bucket,
        manifest_key(layout.statistics_prefix, day, region, attempt),
        manifest.dumps().encode(),
    )
    return manifest


def extract_region(
    s3: Any,
    api: YouTubeApi,
    layout: Layout,
    day: date,
    region: str,
    *,
    api_root: str = "",
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    """Fetch and land one region-day; the result (for XCom and the asset's extras) never holds the key."""
    done = published_attempt(s3, layout, day, region)
    if done is not None:
        log.info("region=%s day=%s: already published by attempt %s; nothing fetched", region, day, done)
        return {
            "region": region,
            "day": day.isoformat(),
            "skipped": f"already published ({done})",
            "units": 0,
        }
    started = now()
    pages = fetch_chart(api, region)
    categories = fetch_categories(api, region)
    request = {
        "videos.list": CHART_PARAMS | {"regionCode": region.upper()},
        "videoCategories.list": CATEGORY_PARAMS | {"regionCode": region.upper()},
    }
    manifest = land_region_day(
        s3, layout, day, region, started, pages, categories, request, api.units, api_root
    )
    log.info(
        "region=%s day=%s: %d items on %d pages, %d categories, %d quota units",
        region,
        day,
        manifest.items,
        len(manifest.pages),
        manifest.category_items,
        manifest.quota_units,
    )
    return {
        "region": region,
        "day": day.isoformat(),
        "attempt": manifest.attempt,
        "pages": len(manifest.pages),
        "items": manifest.items,
        "categories": manifest.category_items,
        "units": manifest.quota_units,
        "manifest": manifest_key(layout.statistics_prefix, day, region, manifest.attempt),
    }


def redact(error: ExtractError, key: str) -> ExtractError:
    """The same error with any occurrence of ``key`` masked (a last guard at the task boundary)."""
    text = str(error)
    return type(error)(text.replace(key, "***")) if key and key in text else error


def summarize(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One run's totals from the regions' results: the asset event's extras and the task log line."""
    landed = sorted(r["region"] for r in results if not r.get("skipped"))
    return {
        "day": next((r["day"] for r in results), None),
        "landed": landed,
        "already_published": sorted(r["region"] for r in results if r.get("skipped")),
        "items": sum(int(r.get("items", 0)) for r in results),
        "units": sum(int(r.get("units", 0)) for r in results),
    }
