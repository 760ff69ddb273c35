"""The statistics formats the job reads, each declared once: every consumer (detection, the reader's
schema, the canonical columns, date parsing, the rules, the parallel split) reads these declarations.

* Kaggle "datasnaek" (``video_id,trending_date,title,channel_title,...``; ``trending_date`` is ``YY.DD.MM``;
  tags quoted one by one and joined by ``|``; bare CR or LF inside quoted descriptions; literal ``\\n``);
* "rsrishav" daily files (``video_id,title,publishedAt,channelId,...``; every field quoted; ISO dates).

The format is chosen per file from its header line, so both can sit in one region folder. Adding a format
is adding one :class:`StatisticsFormat` to :data:`STATISTICS_FORMATS`.
"""

from __future__ import annotations

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
    "STATISTICS_FORMATS",
    "StatisticsFormat",
    "UNKNOWN_FORMAT",
    "detect_format",
    "format_named",
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

    @property
    def header_names(self) -> tuple[str, ...]:
        return tuple(self.header.split(","))

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
#: Every known format, in the order their trending-date patterns are tried.
STATISTICS_FORMATS: tuple[StatisticsFormat, ...] = (DATASNAEK, RSRISHAV)
#: Where an unknown format's text is shown in the quarantine (in these canonical slots).
FALLBACK_FORMAT = DATASNAEK
_BY_HEADER = {f.header: f for f in STATISTICS_FORMATS}
_BY_NAME = {f.name: f for f in STATISTICS_FORMATS}


def detect_format(header: str) -> str:
    """The format named by a file's header line (BOM, quotes, spaces and line ends ignored)."""
    cleaned = header.lstrip("\ufeff").strip().replace('"', "").replace(" ", "")
    found = _BY_HEADER.get(cleaned)
    return found.name if found else UNKNOWN_FORMAT


def format_named(name: str) -> StatisticsFormat | None:
    """The declaration of a known format; None for :data:`UNKNOWN_FORMAT`."""
    return _BY_NAME.get(name)


def formats_where(flag: str) -> list[str]:
    """Names of the formats whose declaration sets ``flag`` (e.g. ``literal_newlines``)."""
    return [f.name for f in STATISTICS_FORMATS if getattr(f, flag)]
