"""The recording the stand-in serves: per region, the chart of each trending day, and the category files.

A folder laid out like the rsrishav Kaggle feed: ``raw_statistics/region=xx/*.csv`` (one row per video and
trending day; a day's rows in file order are that day's chart) and
``raw_statistics_reference_data/XX_category_id.json`` (verbatim ``videoCategories.list`` responses).
The CSVs of that feed were cut mid-record: an incomplete last record is dropped, never served as a video.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

log = logging.getLogger(__name__)

#: The columns of a recorded chart row, in the feed's order.
COLUMNS = (
    "video_id",
    "title",
    "publishedAt",
    "channelId",
    "channelTitle",
    "categoryId",
    "trending_date",
    "tags",
    "view_count",
    "likes",
    "dislikes",
    "comment_count",
    "thumbnail_link",
    "comments_disabled",
    "ratings_disabled",
    "description",
)
#: The API serves at most this many videos of a ``mostPopular`` chart.
CHART_LIMIT = 200
_REGION_FOLDER = re.compile(r"^region=([a-z]{2})$")
_CATEGORY_FILE = re.compile(r"^([A-Z]{2})_category_id\.json$")


@dataclass(frozen=True)
class RecordedVideo:
    """One row of a recorded chart, as the CSV holds it (strings; the API shape is built from it)."""

    fields: dict[str, str]

    def __getitem__(self, column: str) -> str:
        return self.fields[column]


@dataclass(frozen=True)
class Recording:
    """Charts by (region, day) and category files by region; regions are upper case (``US``)."""

    charts: dict[tuple[str, date], tuple[RecordedVideo, ...]] = field(default_factory=dict)
    categories: dict[str, bytes] = field(default_factory=dict)

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(sorted({region for region, _ in self.charts} | set(self.categories)))

    @property
    def days(self) -> tuple[date, ...]:
        return tuple(sorted({day for _, day in self.charts}))

    def chart(self, region: str, day: date) -> tuple[RecordedVideo, ...]:
        """The day's chart of ``region`` (empty when nothing was recorded that day)."""
        return self.charts.get((region, day), ())


def load_recording(folder: str | Path) -> Recording:
    """Read every region's CSVs and category files under ``folder``; a missing layout is an error."""
    root = Path(folder)
    statistics = root / "raw_statistics"
    reference = root / "raw_statistics_reference_data"
    if not statistics.is_dir() and not reference.is_dir():
        raise FileNotFoundError(
            f"no recorded YouTube data in {root}: expected raw_statistics/region=xx/*.csv and "
            "raw_statistics_reference_data/XX_category_id.json"
        )
    charts: dict[tuple[str, date], list[RecordedVideo]] = {}
    for csv_path in sorted(statistics.glob("region=*/*.csv")) if statistics.is_dir() else []:
        match = _REGION_FOLDER.match(csv_path.parent.name)
        if match is None:
            continue
        region = match.group(1).upper()
        for video in read_chart_rows(csv_path):
            charts.setdefault((region, _trending_day(video["trending_date"])), []).append(video)
    categories = {}
    for json_path in sorted(reference.glob("*_category_id.json")) if reference.is_dir() else []:
        match = _CATEGORY_FILE.match(json_path.name)
        if match is not None:
            categories[match.group(1)] = json_path.read_bytes()
    return Recording(
        charts={key: tuple(rows[:CHART_LIMIT]) for key, rows in charts.items()}, categories=categories
    )


def read_chart_rows(path: Path) -> Iterator[RecordedVideo]:
    """The complete records of one CSV, in file order. The last record is dropped when the file was cut
    inside it (an unterminated quoted field at the end, or fewer fields than the header)."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, strict=True)
        header = next(reader, None)
        if header is None:
            return
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise ValueError(f"{path}: not a recorded chart, columns missing: {', '.join(missing)}")
        pending: list[str] | None = None
        while True:
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                if str(error) == "unexpected end of data":  # the file ends inside this record
                    log.info("%s: dropped the incomplete last record (line %d)", path, reader.line_num)
                    break
                raise ValueError(f"{path}, line {reader.line_num}: {error}") from None
            if pending is not None:
                yield _video(path, header, pending)
            pending = record
        if pending is not None:
            if len(pending) < len(header):
                log.info("%s: dropped the incomplete last record (%d fields)", path, len(pending))
            else:
                yield _video(path, header, pending)


def _video(path: Path, header: list[str], record: list[str]) -> RecordedVideo:
    if len(record) != len(header):
        raise ValueError(f"{path}: a record of {len(record)} fields where the header has {len(header)}")
    return RecordedVideo(dict(zip(header, record, strict=True)))


def _trending_day(value: str) -> date:
    """``2020-08-12T00:00:00Z`` (the feed's ISO form) or ``2020-08-12``."""
    return date.fromisoformat(value[:10])
