"""The lake's tables and their columns, in output order, with their Glue/Athena types.

``clean_statistics`` writes :data:`STATISTICS`, the Lambda :data:`CATEGORY_REFERENCE`, ``build_analytics``
:data:`ANALYTICS`; the crawlers catalog them from the Parquet footers, the SQL and the tests read them.
"""

from __future__ import annotations

from youtube_lake.partitions import PARTITION_COLUMNS

#: Statistics data columns -> type (``youtube/statistics/``), before the partition columns.
STATISTICS_TYPES: dict[str, str] = {
    "video_id": "string",
    "trending_date": "date",
    #: Position in the day's mostPopular chart (1..200): API pages only, null for the Kaggle CSV rows.
    "chart_rank": "int",
    "title": "string",
    "channel_id": "string",
    "channel_title": "string",
    "category_id": "bigint",
    "publish_time": "timestamp",
    "tags": "array<string>",
    "views": "bigint",
    "likes": "bigint",
    "dislikes": "bigint",
    "comment_count": "bigint",
    "thumbnail_link": "string",
    "comments_disabled": "boolean",
    "ratings_disabled": "boolean",
    "video_error_or_removed": "boolean",
    "description": "string",
    "source_file": "string",
    "source_arrival": "timestamp",
}
#: The columns a source row carries (all text as read), in output order.
RAW_STATISTICS: tuple[str, ...] = tuple(c for c in STATISTICS_TYPES if not c.startswith("source_"))
STATISTICS_DATA: tuple[str, ...] = tuple(STATISTICS_TYPES)
STATISTICS: tuple[str, ...] = (*STATISTICS_DATA, *PARTITION_COLUMNS)
#: One row per video, region and trending day.
STATISTICS_KEY = ("region", "video_id", "trending_date")
COUNT_COLUMNS = ("views", "likes", "dislikes", "comment_count")
BOOLEAN_COLUMNS = ("comments_disabled", "ratings_disabled", "video_error_or_removed")

#: Columns build_analytics adds to the statistics (``youtube/analytics/trending/``).
ANALYTICS_DERIVED_TYPES: dict[str, str] = {
    "category_title": "string",
    "category_title_source": "string",
    "engagement_rate": "double",
    "like_ratio": "double",
    "days_to_trend": "int",
}
ANALYTICS: tuple[str, ...] = (*STATISTICS_DATA, *ANALYTICS_DERIVED_TYPES, *PARTITION_COLUMNS)

#: Category reference data columns -> type (``youtube/category_reference/region=xx/``).
CATEGORY_REFERENCE_TYPES: dict[str, str] = {
    "category_id": "bigint",
    "category_title": "string",
    "assignable": "boolean",
    "channel_id": "string",
    "etag": "string",
    "source_key": "string",
    "ingested_at": "timestamp",
}
CATEGORY_REFERENCE_PARTITION = "region"
