"""API response pages (the ``youtube_api`` format), on the driver: is a body a page, its items as raw rows.

Why the driver and not Spark's JSON reader: a page is small (≤ 50 items, ~100 KB; a day is ~4 pages a
region), and whether a body is a page at all is a whole-document question whose answer must say what is
wrong (``not_api_page: kind 'youtube#searchListResponse', not 'youtube#videoListResponse'``). Spark's reader
turns a malformed document into a null row without a reason, and a schema given to it silently nulls a
field of the wrong type, which would hide exactly what the quarantine must show. The rank also needs each
page's item count before any row is built. The items, once checked, become rows of the canonical text
columns (:func:`item_row`) that Spark gets through ``createDataFrame`` (``statistics_read``) and that then
meet the CSV rows' rules, deduplication and verdicts unchanged: a bad value in an item (a ``viewCount`` that
is not a number) rejects that row, not the page.

What the API does not return is null, never 0: ``dislikeCount`` (private since 2021-12-13), ``likeCount``
when the owner hides it, ``commentCount`` when comments are disabled. The API has no "comments disabled" or
"ratings disabled" flag; the absence of ``commentCount`` / ``likeCount`` is how it shows both (the rsrishav
feed, made from this API, derived its two columns the same way and wrote 0 for the missing count), so
``comments_disabled`` / ``ratings_disabled`` are derived from that absence. ``video_error_or_removed`` is
null: a chart never lists a removed video, and the API has no such field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from statistics_formats import RAW_COLUMNS, ApiPageLayout

__all__ = [
    "NOT_API_PAGE",
    "NotApiPage",
    "chart_offsets",
    "item_row",
    "page_number",
    "read_items",
    "sibling_page",
]

NOT_API_PAGE = "not_api_page"
#: Bytes of a body shown in the reason when it is not JSON.
SHOWN_BYTES = 60


class NotApiPage(ValueError):
    """A body that is not an API response page; the message is the quarantine reason."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"{NOT_API_PAGE}: {detail}")


def page_number(path: str, layout: ApiPageLayout) -> tuple[str, int] | None:
    """(fetch, page number) of a page file: the fetch is its folder and attempt (pages of one fetch share
    it); None when the name is not a page's."""
    folder, _, name = path.rpartition("/")
    match = re.match(layout.name_pattern, name)
    return (f"{folder}/{match.group(1)}", int(match.group(2))) if match else None


def sibling_page(path: str, layout: ApiPageLayout, number: int) -> str:
    """The path of page ``number`` of the same fetch as the page at ``path``."""
    folder, _, name = path.rpartition("/")
    match = re.match(layout.name_pattern, name)
    if match is None:
        raise ValueError(f"{path} is not a page")
    width = match.end(2) - match.start(2)
    return f"{folder}/{name[: match.start(2)]}{number:0{width}d}{name[match.end(2) :]}"


def _loaded(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        shown = body[:SHOWN_BYTES].decode("utf-8", "replace")
        raise NotApiPage(f"not JSON ({error}); first bytes: {shown!r}") from None


def read_items(body: bytes, layout: ApiPageLayout) -> list[dict[str, Any]]:
    """The items of a response page; :class:`NotApiPage` naming what is wrong when the body is none."""
    document = _loaded(body)
    if not isinstance(document, dict):
        raise NotApiPage(f"the body is JSON {type(document).__name__ if document is not None else 'null'}, "
                         "not an object")  # fmt: skip
    kind = document.get("kind")
    if kind is None and isinstance(document.get("error"), dict):
        error = document["error"]
        raise NotApiPage(f"an API error response ({error.get('code')} {error.get('message')!r})")
    if kind != layout.kind:
        raise NotApiPage(f"kind {kind!r}, not {layout.kind!r}")
    items = document.get("items")
    if not isinstance(items, list):
        raise NotApiPage(f"no 'items' list ({type(items).__name__ if items is not None else 'absent'})")
    if len(items) > layout.max_items:
        raise NotApiPage(f"{len(items)} items, where a page holds at most {layout.max_items}")
    for number, item in enumerate(items, 1):
        missing = _missing_parts(item, layout.item_parts)
        if missing:
            raise NotApiPage(f"item {number} of {len(items)} has no {missing!r}")
    return items


def _missing_parts(item: Any, parts: Sequence[str]) -> str | None:
    """The first part an item lacks (``id`` must be a string, the others objects); ``item`` if none is."""
    if not isinstance(item, dict):
        return "item"
    for part in parts:
        value = item.get(part)
        if not (isinstance(value, str) if part == "id" else isinstance(value, dict)):
            return part
    return None


def _value(item: Mapping[str, Any], path: Sequence[str]) -> Any:
    value: Any = item
    for step in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(step)
    return value


def _text(value: Any) -> str | None:
    """A field as the raw row's text: strings as sent, integers as digits, a list joined with ``|`` (an
    empty list is no tags); anything else as its JSON, which the row rules then reject where it matters."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        return "|".join(str(v) for v in value) if value else None
    return json.dumps(value, ensure_ascii=False)


def item_row(item: Mapping[str, Any], layout: ApiPageLayout, day: date | None, rank: int) -> tuple[Any, ...]:
    """One item as a raw row: :data:`RAW_COLUMNS` in order, text (``chart_rank`` its digits)."""
    values: dict[str, str | None] = {name: _text(_value(item, path)) for name, path in layout.fields.items()}
    for name, path in layout.true_when_absent.items():
        values[name] = "True" if _value(item, path) is None else "False"
    values["trending_date"] = day.isoformat() if day else None
    values["chart_rank"] = str(rank)
    return tuple(values.get(column) for column in RAW_COLUMNS)


def chart_offsets(
    counts: Mapping[str, int | None], layout: ApiPageLayout, count_of: Callable[[str], int | None]
) -> dict[str, int]:
    """Path -> the items of the earlier pages of its fetch (its first item's rank is that + 1).

    ``counts``: the run's pages and their item counts (None: not a page). An earlier page the run does not
    hold is counted by ``count_of`` (the bucket's object, read on the driver); one that cannot be counted
    counts as a full page (``max_items``, the ``maxResults`` the extract asks for).
    """
    known = dict(counts)

    def count(path: str) -> int:
        if path not in known:
            known[path] = count_of(path)
        value = known[path]
        return layout.max_items if value is None else value

    offsets: dict[str, int] = {}
    for path in counts:
        parsed = page_number(path, layout)
        if parsed is not None:
            offsets[path] = sum(count(sibling_page(path, layout, n)) for n in range(1, parsed[1]))
    return offsets
