"""The statistics formats the job reads, each declared once: every consumer (detection, the reader's
schema, the canonical columns, date parsing, the rules, the parallel split) reads these declarations.

* Kaggle "datasnaek" (``video_id,trending_date,title,channel_title,...``; ``trending_date`` is ``YY.DD.MM``;
  tags quoted one by one and joined by ``|``; bare CR or LF inside quoted descriptions; literal ``\\n``);
* "rsrishav" daily files (``video_id,title,publishedAt,channelId,...``; every field quoted; ISO dates);
* "youtube_api": the YouTube Data API's ``videos.list(chart=mostPopular)`` response pages that
  ``youtube_extract`` lands verbatim (``videos_mostpopular_<attempt>_p001.json``, ≤ 50 items each); each item
  is one raw row (:class:`ApiPageLayout` says how), parsed on the driver (``statistics_pages``).

A CSV's format is chosen from its header line, so both CSV layouts can sit in one region folder; an API page
by its file name. Adding a format is adding one :class:`StatisticsFormat` to :data:`STATISTICS_FORMATS`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from youtube_lake.columns import RAW_STATISTICS

__all__ = [
    "DATASNAEK",
    "DATASNAEK_HEADER",
    "DatePattern",
    "RAW_COLUMNS",
    "RSRISHAV",
    "RSRISHAV_HEADER",
    "YOUTUBE_API",
    "ApiPageLayout",
    "STATISTICS_FORMATS",
    "StatisticsFormat",
    "UNKNOWN_FORMAT",
    "detect_format",
    "format_named",
    "formats_with_null_count",
    "page_format",
]

#: Every text column a raw row may carry, as read (all strings), in output order.
RAW_COLUMNS = RAW_STATISTICS
#: The format of a file whose header names no known format (its rows are all rejected).
UNKNOWN_FORMAT = "unknown"


@dataclass(frozen=True)
class DatePattern:
    """How one format writes ``trending_date``: text matching ``regex``, its first ``length`` characters
    parsed with Spark's ``spark_format``."""

    regex: str
    spark_format: str
    length: int | None = None


@dataclass(frozen=True)
class ApiPageLayout:
    """A JSON list response whose items are the rows: what makes a body a page, and where each item keeps
    each canonical column.

    Columns no item field holds come from the page's context: ``trending_date`` is the page's landing day
    (the plan's arrival: the interval the chart was fetched for), ``chart_rank`` the item's position in the
    whole chart (the items of the fetch's earlier pages, plus its index). A value the item does not carry is
    null, never 0 — except the booleans of :attr:`true_when_absent`.
    """

    #: File names of the format, ``<stem>_<attempt>_p<NNN>.json``: group 1 the fetch, group 2 the page.
    name_pattern: str
    #: The response's ``kind``.
    kind: str
    #: What every item must hold (a JSON object, ``id`` a string): without one it is no item of this list.
    item_parts: tuple[str, ...]
    #: The most items a page holds (``maxResults`` is at most 50).
    max_items: int
    #: Canonical column -> path of its value in an item. A list is joined with ``|`` (rsrishav's tags).
    fields: Mapping[str, tuple[str, ...]]
    #: Boolean column -> the field whose absence makes it ``True`` (the API has no such flag; see
    #: ``statistics_pages``).
    true_when_absent: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class StatisticsFormat:
    """One statistics file layout: its header, how its columns map to :data:`RAW_COLUMNS`, its rules."""

    name: str
    #: The header line as the files carry it (BOM, quotes and spaces aside); columns are taken by position.
    header: str
    #: Header name -> canonical column, for the names that differ.
    renames: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    trending_date: DatePattern = DatePattern(r"^\d{4}-\d{2}-\d{2}($|T)", "yyyy-MM-dd", 10)
    #: Descriptions hold a literal ``\n`` (two characters) for a line break.
    literal_newlines: bool = False
    #: Every record ends with CRLF (Kaggle originals): a big file can be read as lines, split across tasks.
    crlf_records: bool = False
    #: A boolean column may be null (a column the format lacks, or an empty quoted field).
    null_booleans: bool = False
    #: Count columns that may be null: counts the source does not return (still rejected when not a count).
    null_counts: tuple[str, ...] = ()
    #: Not a CSV: JSON pages of items (then ``header`` is empty and the rows carry :data:`RAW_COLUMNS`).
    page: ApiPageLayout | None = None

    @property
    def header_names(self) -> tuple[str, ...]:
        return tuple(self.header.split(",")) if self.header else RAW_COLUMNS

    @property
    def columns(self) -> tuple[str, ...]:
        """The canonical column of each position."""
        return tuple(self.renames.get(c, c) for c in self.header_names)


DATASNAEK_HEADER = (
    "video_id,trending_date,title,channel_title,category_id,publish_time,tags,views,likes,dislikes,"
    "comment_count,thumbnail_link,comments_disabled,ratings_disabled,video_error_or_removed,description"
)
RSRISHAV_HEADER = (
    "video_id,title,publishedAt,channelId,channelTitle,categoryId,trending_date,tags,view_count,likes,"
    "dislikes,comment_count,thumbnail_link,comments_disabled,ratings_disabled,description"
)
DATASNAEK = StatisticsFormat(
    name="datasnaek",
    header=DATASNAEK_HEADER,
    # 17.14.11 is 2017-11-14.
    trending_date=DatePattern(r"^\d{2}\.\d{2}\.\d{2}$", "yy.dd.MM"),
    literal_newlines=True,
    crlf_records=True,
)
RSRISHAV = StatisticsFormat(
    name="rsrishav",
    header=RSRISHAV_HEADER,
    renames=MappingProxyType(
        {
            "publishedAt": "publish_time",
            "channelId": "channel_id",
            "channelTitle": "channel_title",
            "categoryId": "category_id",
            "view_count": "views",
        }
    ),
    # 2020-08-12T00:00:00Z: the day is the first 10 characters.
    trending_date=DatePattern(r"^\d{4}-\d{2}-\d{2}($|T)", "yyyy-MM-dd", 10),
    null_booleans=True,
)
YOUTUBE_API = StatisticsFormat(
    name="youtube_api",
    header="",
    # The page's landing day, written by statistics_pages as yyyy-MM-dd.
    trending_date=DatePattern(r"^\d{4}-\d{2}-\d{2}($|T)", "yyyy-MM-dd", 10),
    # video_error_or_removed: the API lists no removed videos, so it has no such flag (null).
    null_booleans=True,
    # dislikeCount is private since 2021-12-13; likeCount is absent when the owner hides it, commentCount
    # when comments are disabled.
    null_counts=("likes", "dislikes", "comment_count"),
    page=ApiPageLayout(
        name_pattern=r"^videos_mostpopular_(\d{8}T\d{6}Z)_p(\d{3})\.json$",
        kind="youtube#videoListResponse",
        item_parts=("id", "snippet", "statistics"),
        max_items=50,
        fields=MappingProxyType(
            {
                "video_id": ("id",),
                "title": ("snippet", "title"),
                "channel_id": ("snippet", "channelId"),
                "channel_title": ("snippet", "channelTitle"),
                "category_id": ("snippet", "categoryId"),
                "publish_time": ("snippet", "publishedAt"),
                "tags": ("snippet", "tags"),
                "views": ("statistics", "viewCount"),
                "likes": ("statistics", "likeCount"),
                "dislikes": ("statistics", "dislikeCount"),
                "comment_count": ("statistics", "commentCount"),
                "thumbnail_link": ("snippet", "thumbnails", "default", "url"),
                "description": ("snippet", "description"),
            }
        ),
        true_when_absent=MappingProxyType(
            {
                "comments_disabled": ("statistics", "commentCount"),
                "ratings_disabled": ("statistics", "likeCount"),
            }
        ),
    ),
)
#: Every known format, in the order their trending-date patterns are tried.
STATISTICS_FORMATS: tuple[StatisticsFormat, ...] = (DATASNAEK, RSRISHAV, YOUTUBE_API)
#: Where an unknown format's text is shown in the quarantine (in these canonical slots).
FALLBACK_FORMAT = DATASNAEK
_BY_HEADER = {f.header: f for f in STATISTICS_FORMATS if f.header}
_BY_NAME = {f.name: f for f in STATISTICS_FORMATS}


def detect_format(header: str) -> str:
    """The format named by a file's header line (BOM, quotes, spaces and line ends ignored)."""
    cleaned = header.lstrip("\ufeff").strip().replace('"', "").replace(" ", "")
    found = _BY_HEADER.get(cleaned)
    return found.name if found else UNKNOWN_FORMAT


def page_format(path: str) -> StatisticsFormat | None:
    """The page format whose file names match ``path``'s (a page is known by its name, having no header)."""
    name = path.rsplit("/", 1)[-1]
    return next((f for f in STATISTICS_FORMATS if f.page and re.match(f.page.name_pattern, name)), None)


def format_named(name: str) -> StatisticsFormat | None:
    """The declaration of a known format; None for :data:`UNKNOWN_FORMAT`."""
    return _BY_NAME.get(name)


def formats_with_null_count(column: str) -> list[str]:
    """Names of the formats whose rows may leave the count ``column`` null."""
    return [f.name for f in STATISTICS_FORMATS if column in f.null_counts]


def formats_where(flag: str) -> list[str]:
    """Names of the formats whose declaration sets ``flag`` (e.g. ``literal_newlines``)."""
    return [f.name for f in STATISTICS_FORMATS if getattr(f, flag)]
