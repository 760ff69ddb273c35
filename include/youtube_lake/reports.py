"""The Athena reports, declared once: name, grain, key and output columns with their Athena types.

Each report is a CTAS in ``include/sql/reports/<name>.sql``; this is what it must produce (a test runs every
CTAS on the local runtime and compares the run table's columns and types with these). Everything else that
needs a report's shape reads it here: the exports sort by the key, the local dashboard requires the columns
marked ``dashboard``, the QuickSight stack builds a dataset with every column of each report it charts, and
draws the report's ``charts``.

Types are the Glue catalog's names for what Athena's CTAS registers (``string``, ``bigint``, ``int``,
``double``, ``date``, ``timestamp``, ``boolean``). Columns are in the order ``SELECT *`` gives them
(partition columns last).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "REPORTS",
    "Chart",
    "Column",
    "Report",
    "dashboard_reports",
    "get_report",
]

STRING = "string"
BIGINT = "bigint"
INT = "int"
DOUBLE = "double"
DATE = "date"
TIMESTAMP = "timestamp"
BOOLEAN = "boolean"
ATHENA_TYPES = frozenset({STRING, BIGINT, INT, DOUBLE, DATE, TIMESTAMP, BOOLEAN})

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Column:
    """One output column of a report. ``dashboard``: the local dashboard reads it (a view without it is an
    error naming the report, not a blank chart)."""

    name: str
    type: str
    dashboard: bool = False

    def __post_init__(self) -> None:
        if not _NAME_RE.fullmatch(self.name):
            raise ValueError(f"column {self.name!r}: names are lower_snake_case")
        if self.type not in ATHENA_TYPES:
            raise ValueError(f"column {self.name!r}: unknown Athena type {self.type!r}")


@dataclass(frozen=True)
class Chart:
    """A bar chart of the QuickSight dashboard: ``measure`` aggregated (QuickSight's
    SimpleNumericalAggregation: SUM, AVERAGE, …) per ``category``, stacked by ``color`` when given."""

    id: str
    title: str
    category: str
    measure: str
    aggregation: str
    color: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c for c in (self.category, self.measure, self.color) if c)


@dataclass(frozen=True)
class Report:
    """One report: its grain in words, the key that identifies a row (region first, in the order readers
    sort by: exports put it first), its output columns and the QuickSight charts drawn from it."""

    name: str
    grain: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    charts: tuple[Chart, ...] = ()

    def __post_init__(self) -> None:
        names = self.column_names
        if not _NAME_RE.fullmatch(self.name) or "__" in self.name:
            raise ValueError(f"report {self.name!r}: names are lower_snake_case without '__'")
        if len(set(names)) != len(names):
            raise ValueError(f"report {self.name!r}: a column is declared twice")
        if not self.key or self.key[0] != "region":
            raise ValueError(f"report {self.name!r}: the key must start with region, got {self.key}")
        used = [*self.key, *(c for chart in self.charts for c in chart.columns)]
        unknown = [c for c in used if c not in names]
        if unknown:
            raise ValueError(f"report {self.name!r}: {', '.join(unknown)} not among its columns")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def types(self) -> dict[str, str]:
        """Column name -> Athena type, in column order."""
        return {c.name: c.type for c in self.columns}

    @property
    def dashboard_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.dashboard)


REPORTS: tuple[Report, ...] = (
    Report(
        name="category_daily",
        grain="one row per (region, trending_date, category_id): sums and counts a date range adds up",
        key=("region", "trending_date", "category_id"),
        columns=(
            Column("region", STRING, dashboard=True),
            Column("trending_date", DATE, dashboard=True),
            Column("category_id", BIGINT, dashboard=True),
            Column("category_title", STRING, dashboard=True),
            Column("category_title_source", STRING, dashboard=True),
            Column("trending_rows", BIGINT, dashboard=True),
            Column("total_views", BIGINT, dashboard=True),
            Column("total_likes", BIGINT),
            Column("total_comments", BIGINT),
            Column("engagement_rate_sum", DOUBLE, dashboard=True),
            Column("engagement_rate_rows", BIGINT, dashboard=True),
            Column("like_ratio_sum", DOUBLE, dashboard=True),
            Column("like_ratio_rows", BIGINT, dashboard=True),
        ),
    ),
    Report(
        name="category_performance",
        grain="one row per (region, category_id) over every trending row of the region",
        key=("region", "category_id"),
        columns=(
            Column("region", STRING),
            Column("category_id", BIGINT),
            Column("category_title", STRING),
            Column("category_title_source", STRING),
            Column("videos", BIGINT),
            Column("trending_rows", BIGINT),
            Column("total_views", BIGINT),
            Column("avg_views", DOUBLE),
            Column("total_likes", BIGINT),
            Column("total_comments", BIGINT),
            Column("avg_engagement_rate", DOUBLE),
            Column("avg_like_ratio", DOUBLE),
            Column("views_share", DOUBLE),
        ),
        charts=(
            Chart(
                "top-categories",
                "Top categories by region (trending views)",
                category="category_title",
                measure="total_views",
                aggregation="SUM",
                color="region",
            ),
            Chart(
                "engagement",
                "Engagement rate by category (likes + comments per view)",
                category="category_title",
                measure="avg_engagement_rate",
                aggregation="AVERAGE",
            ),
        ),
    ),
    Report(
        name="channel_daily",
        grain="one row per (region, trending_date, channel): a channel's day on the trending list",
        key=("region", "trending_date", "channel_key"),
        columns=(
            Column("region", STRING, dashboard=True),
            Column("trending_date", DATE, dashboard=True),
            Column("channel_key", STRING, dashboard=True),
            Column("channel_id", STRING),
            Column("channel_title", STRING, dashboard=True),
            Column("appearances", BIGINT, dashboard=True),
            Column("total_views", BIGINT, dashboard=True),
        ),
    ),
    Report(
        name="channel_leaderboard",
        grain="one row per (region, channel): every channel that trended, ranked by appearances",
        key=("region", "channel_rank"),
        columns=(
            Column("region", STRING),
            Column("channel_rank", INT),
            Column("channel_id", STRING),
            Column("channel_title", STRING),
            Column("titles", BIGINT),
            Column("appearances", BIGINT),
            Column("videos", BIGINT),
            Column("peak_views", BIGINT),
            # Best mostPopular chart position of its videos (API pages only; null for Kaggle-only channels).
            Column("best_chart_rank", INT),
            Column("first_trending_date", DATE),
            Column("last_trending_date", DATE),
        ),
    ),
    Report(
        name="daily_trending_summary",
        grain="one row per (region, trending_date): the size and reach of that day's trending list",
        key=("region", "trending_date"),
        columns=(
            Column("region", STRING, dashboard=True),
            Column("trending_date", DATE, dashboard=True),
            Column("videos", BIGINT, dashboard=True),
            Column("new_entrants", BIGINT, dashboard=True),
            Column("returning_videos", BIGINT),
            Column("channels", BIGINT),
            Column("total_views", BIGINT, dashboard=True),
            Column("total_likes", BIGINT),
            Column("total_comments", BIGINT),
            Column("avg_engagement_rate", DOUBLE),
            Column("typical_videos", BIGINT, dashboard=True),
            Column("is_partial_day", BOOLEAN, dashboard=True),
        ),
    ),
    Report(
        name="days_to_trend",
        grain="one row per (region, category_id): days from publication to a video's first trending day",
        key=("region", "category_id"),
        columns=(
            Column("region", STRING),
            Column("category_id", BIGINT),
            Column("category_title", STRING),
            Column("category_title_source", STRING),
            Column("videos", BIGINT),
            Column("min_days", INT),
            Column("p50_days", INT),
            Column("p90_days", INT),
            Column("max_days", INT),
            Column("avg_days", DOUBLE),
            Column("trended_within_1_day", BIGINT),
        ),
        charts=(
            Chart(
                "days-to-trend",
                "Median days from publication to trending",
                category="category_title",
                measure="p50_days",
                aggregation="AVERAGE",
            ),
        ),
    ),
    Report(
        name="days_to_trend_daily",
        grain="one row per (region, first trending day, category_id, days_to_trend): videos counted once",
        key=("region", "first_trending_date", "category_id", "days_to_trend"),
        columns=(
            Column("region", STRING, dashboard=True),
            Column("first_trending_date", DATE, dashboard=True),
            Column("category_id", BIGINT, dashboard=True),
            Column("days_to_trend", INT, dashboard=True),
            Column("category_title", STRING, dashboard=True),
            Column("category_title_source", STRING, dashboard=True),
            Column("videos", BIGINT, dashboard=True),
        ),
    ),
    Report(
        name="region_summary",
        grain="one row per region: the size of its trending data in this run (row_count_drop's baseline)",
        key=("region",),
        columns=(
            Column("region", STRING, dashboard=True),
            Column("trending_rows", BIGINT, dashboard=True),
            Column("videos", BIGINT),
            Column("channels", BIGINT),
            Column("trending_days", BIGINT),
            Column("first_trending_date", DATE, dashboard=True),
            Column("last_trending_date", DATE, dashboard=True),
            Column("total_views", BIGINT),
            Column("comments_disabled_rows", BIGINT),
            Column("ratings_disabled_rows", BIGINT),
            Column("removed_rows", BIGINT),
        ),
    ),
    Report(
        name="top_videos_by_region",
        grain="one row per (region, trending_date, view_rank): the day's top_n videos by views",
        key=("region", "trending_date", "view_rank"),
        columns=(
            Column("trending_date", DATE),
            Column("view_rank", INT),
            Column("video_id", STRING),
            Column("title", STRING),
            Column("channel_id", STRING),
            Column("channel_title", STRING),
            Column("category_id", BIGINT),
            Column("category_title", STRING),
            Column("category_title_source", STRING),
            Column("publish_time", TIMESTAMP),
            Column("days_to_trend", INT),
            Column("views", BIGINT),
            Column("likes", BIGINT),
            Column("dislikes", BIGINT),
            Column("comment_count", BIGINT),
            Column("engagement_rate", DOUBLE),
            Column("like_ratio", DOUBLE),
            Column("region", STRING),
        ),
    ),
)

_BY_NAME = {report.name: report for report in REPORTS}


def get_report(name: str) -> Report:
    """The declaration of one report; a name nobody declared is an error naming the known ones."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no report {name!r} is declared; known: {', '.join(_BY_NAME)}") from None


def dashboard_reports() -> tuple[str, ...]:
    """The reports the local dashboard reads (those with a column marked ``dashboard``), by name."""
    return tuple(report.name for report in REPORTS if report.dashboard_columns)
