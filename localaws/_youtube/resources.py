"""Google's resource shapes built from recorded rows: a ``youtube#video`` item, list responses, page tokens.

Counts are strings, as the API sends them. What the API does not return is absent, never 0:
``dislikeCount`` (private since 2021-12-13), ``commentCount`` when comments are disabled, ``likeCount``
when ratings are hidden; ``tags`` when the video has none (the feed's ``[None]``).
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import date
from typing import Any

from localaws._youtube.data import RecordedVideo

#: The parts of a video the stand-in can build from a recorded row (``id`` is always there).
VIDEO_PARTS = ("id", "snippet", "statistics")
#: The thumbnail sizes every video has, by the file name YouTube gives each (the feed records ``default``).
_THUMBNAILS = (("default", "default.jpg", 120, 90), ("medium", "mqdefault.jpg", 320, 180),
               ("high", "hqdefault.jpg", 480, 360))  # fmt: skip
_NO_TAGS = "[None]"


def etag(value: Any) -> str:
    """A stable etag of a JSON value (27 characters of URL-safe base64, like the API's)."""
    digest = hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:27]


def video_item(row: RecordedVideo, parts: tuple[str, ...]) -> dict[str, Any]:
    """The ``youtube#video`` resource of a recorded row with the requested parts."""
    item: dict[str, Any] = {"kind": "youtube#video", "etag": "", "id": row["video_id"]}
    if "snippet" in parts:
        item["snippet"] = _snippet(row)
    if "statistics" in parts:
        item["statistics"] = _statistics(row)
    item["etag"] = etag(item)
    return item


def _snippet(row: RecordedVideo) -> dict[str, Any]:
    snippet: dict[str, Any] = {
        "publishedAt": row["publishedAt"],
        "channelId": row["channelId"],
        "title": row["title"],
        "description": row["description"],
        "thumbnails": _thumbnails(row["thumbnail_link"]),
        "channelTitle": row["channelTitle"],
    }
    tags = row["tags"]
    if tags and tags != _NO_TAGS:
        snippet["tags"] = tags.split("|")
    snippet["categoryId"] = row["categoryId"]
    snippet["liveBroadcastContent"] = "none"
    snippet["localized"] = {"title": row["title"], "description": row["description"]}
    return snippet


def _thumbnails(link: str) -> dict[str, Any]:
    base = link.rsplit("/", 1)[0] if "/" in link else link
    return {
        size: {"url": link if size == "default" else f"{base}/{name}", "width": width, "height": height}
        for size, name, width, height in _THUMBNAILS
    }


def _statistics(row: RecordedVideo) -> dict[str, str]:
    statistics = {"viewCount": str(int(row["view_count"]))}
    if not _true(row["ratings_disabled"]):
        statistics["likeCount"] = str(int(row["likes"]))
    statistics["favoriteCount"] = "0"
    if not _true(row["comments_disabled"]):
        statistics["commentCount"] = str(int(row["comment_count"]))
    return statistics


def _true(value: str) -> bool:
    return value.strip().lower() == "true"


def video_list(
    items: list[dict[str, Any]], *, total: int, per_page: int, next_token: str | None, prev_token: str | None
) -> dict[str, Any]:
    """A ``youtube#videoListResponse`` page."""
    response: dict[str, Any] = {"kind": "youtube#videoListResponse", "etag": etag([i["etag"] for i in items])}
    response["items"] = items
    if next_token is not None:
        response["nextPageToken"] = next_token
    if prev_token is not None:
        response["prevPageToken"] = prev_token
    response["pageInfo"] = {"totalResults": total, "resultsPerPage": per_page}
    return response


def page_token(region: str, day: date, offset: int) -> str:
    """An opaque token for the page of ``region``'s chart of ``day`` that starts at ``offset``."""
    raw = f"{region}|{day.isoformat()}|{offset}".encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def read_page_token(token: str) -> tuple[str, date, int] | None:
    """(region, day, offset) of a token :func:`page_token` made; None for anything else."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        region, day, offset = raw.split("|")
        return region, date.fromisoformat(day), int(offset)
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return None
