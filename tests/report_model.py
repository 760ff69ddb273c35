"""An independent model of the Athena reports in pandas: what each ``include/sql/reports/*.sql`` must return
for a given analytics (``trending``) table.

The SQL tests compare the CTAS output with it row for row; the dashboard tests build their report frames
with it from the real files. Written from the reports' documented rules, not from the SQL.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from youtube_etl.settings import Settings

#: A day at the end of a source file with fewer videos than this share of the region's typical day is partial.
PARTIAL_DAY_RATIO = 0.95


def with_category_titles(frame: pd.DataFrame, titles: dict[str, dict[int, str]]) -> pd.DataFrame:
    """``category_title`` and ``category_title_source`` like the Glue job: the region's own title, else the
    most common title other regions' files give the id (ties: alphabetical), else 'Unknown'."""
    fallback: dict[int, str] = {}
    for category_id in {c for region_titles in titles.values() for c in region_titles}:
        counts = pd.Series([t[category_id] for t in titles.values() if category_id in t]).value_counts()
        fallback[category_id] = sorted(counts[counts == counts.max()].index)[0]
    own = [titles.get(r, {}).get(c) for r, c in zip(frame["region"], frame["category_id"], strict=True)]
    frame = frame.copy()
    frame["category_title_source"] = [
        "region" if t is not None else ("other_region" if c in fallback else "unknown")
        for t, c in zip(own, frame["category_id"], strict=True)
    ]
    frame["category_title"] = [
        t if t is not None else fallback.get(c, "Unknown")
        for t, c in zip(own, frame["category_id"], strict=True)
    ]
    return frame


def expected_top_videos_by_region(t: pd.DataFrame, top_n: int) -> pd.DataFrame:
    ordered = t.sort_values(
        ["region", "trending_date", "views", "likes", "video_id"], ascending=[True, True, False, False, True]
    )
    ordered = ordered.assign(view_rank=ordered.groupby(["region", "trending_date"]).cumcount() + 1)
    top = ordered[ordered["view_rank"] <= top_n]
    columns = [
        "region", "trending_date", "view_rank", "video_id", "title", "channel_id", "channel_title",
        "category_id", "category_title", "category_title_source", "publish_time", "days_to_trend", "views",
        "likes", "dislikes",
        "comment_count", "engagement_rate", "like_ratio",
    ]  # fmt: skip
    return top[columns]


def expected_category_performance(t: pd.DataFrame) -> pd.DataFrame:
    grouped = t.groupby(["region", "category_id"])
    out = pd.DataFrame(
        {
            "category_title": grouped["category_title"].max(),
            "category_title_source": grouped["category_title_source"].max(),
            "videos": grouped["video_id"].nunique(),
            "trending_rows": grouped.size(),
            "total_views": grouped["views"].sum(),
            "avg_views": grouped["views"].mean(),
            "total_likes": grouped["likes"].sum(),
            "total_comments": grouped["comment_count"].sum(),
            "avg_engagement_rate": grouped["engagement_rate"].mean(),
            "avg_like_ratio": grouped["like_ratio"].mean(),
        }
    ).reset_index()
    region_views = t.groupby("region")["views"].sum()
    out["views_share"] = out["total_views"] / out["region"].map(region_views)
    return out


def channel_keys(t: pd.DataFrame) -> pd.Series:
    """A channel is its channel_id, or its title where the format has none."""
    return ("id:" + t["channel_id"]).where(t["channel_id"].notna(), "title:" + t["channel_title"])


def expected_channel_leaderboard(t: pd.DataFrame) -> pd.DataFrame:
    keyed = t.assign(key=channel_keys(t))
    channel = [keyed["region"], keyed["key"]]
    rows = keyed.groupby(channel)
    # Views are cumulative: a video counts with its highest view count.
    per_video = keyed.groupby([*channel, keyed["video_id"]])["views"].max().groupby(level=[0, 1])
    # Rows of the API's pages have a chart rank; Kaggle rows (and frames without the column) have none.
    ranks = keyed["chart_rank"] if "chart_rank" in keyed else pd.Series(pd.NA, keyed.index, "Int32")
    # The title of the channel's last row by day, then title: its latest, the greatest of that day's.
    latest = keyed.sort_values(["trending_date", "channel_title"]).groupby(channel).tail(1)
    out = pd.DataFrame(
        {
            "channel_id": keyed["channel_id"].dropna().groupby(channel).max(),  # none: null
            "channel_title": latest.set_index(["region", "key"])["channel_title"],
            "titles": rows["channel_title"].nunique(),
            "appearances": rows.size(),
            "videos": per_video.size(),
            "peak_views": per_video.sum(),
            "best_chart_rank": ranks.groupby(channel).min(),
            "first_trending_date": rows["trending_date"].min(),
            "last_trending_date": rows["trending_date"].max(),
        }
    ).reset_index()
    out = out.sort_values(
        ["region", "appearances", "videos", "peak_views", "key"], ascending=[True, False, False, False, True]
    )
    out["channel_rank"] = out.groupby("region").cumcount() + 1
    return out.drop(columns=["key"])


def _nearest_rank(values: pd.Series, percent: int) -> int:
    """The smallest value with at least ``percent`` % of the values at or below it."""
    ordered = sorted(values)
    rank = -(-percent * len(ordered) // 100)  # ceil(percent/100 * n) in integers
    return int(ordered[max(rank, 1) - 1])


def expected_days_to_trend(t: pd.DataFrame) -> pd.DataFrame:
    known = t[t["days_to_trend"].notna()]
    first = known.sort_values("trending_date").groupby(["region", "video_id"], as_index=False).first()
    rows = []
    for (region, category_id), group in first.groupby(["region", "category_id"]):
        days = group["days_to_trend"]
        rows.append(
            {
                "region": region,
                "category_id": category_id,
                "category_title": group["category_title"].max(),
                "category_title_source": group["category_title_source"].max(),
                "videos": len(group),
                "min_days": int(days.min()),
                "p50_days": _nearest_rank(days, 50),
                "p90_days": _nearest_rank(days, 90),
                "max_days": int(days.max()),
                "avg_days": float(days.mean()),
                "trended_within_1_day": int((days <= 1).sum()),
            }
        )
    return pd.DataFrame(rows)


def expected_daily_trending_summary(t: pd.DataFrame) -> pd.DataFrame:
    first_day = t.groupby(["region", "video_id"])["trending_date"].transform("min")
    flagged = t.assign(is_new=t["trending_date"] == first_day, key=channel_keys(t))
    grouped = flagged.groupby(["region", "trending_date"])
    out = pd.DataFrame(
        {
            "videos": grouped["video_id"].nunique(),
            "new_entrants": grouped["is_new"].sum(),
            "channels": grouped["key"].nunique(),
            "total_views": grouped["views"].sum(),
            "total_likes": grouped["likes"].sum(),
            "total_comments": grouped["comment_count"].sum(),
            "avg_engagement_rate": grouped["engagement_rate"].mean(),
        }
    ).reset_index()
    out["returning_videos"] = out["videos"] - out["new_entrants"]
    typical = {region: _nearest_rank(days["videos"], 50) for region, days in out.groupby("region")}
    out["typical_videos"] = out["region"].map(typical)
    file_ends = set(
        t.groupby(["region", "source_file"])["trending_date"]
        .max()
        .reset_index()
        .itertuples(index=False, name=None)
    )
    ends = {(region, day) for region, _, day in file_ends}
    out["is_partial_day"] = [
        (region, day) in ends and videos < PARTIAL_DAY_RATIO * typical[region]
        for region, day, videos in zip(out["region"], out["trending_date"], out["videos"], strict=True)
    ]
    return out


def expected_region_summary(t: pd.DataFrame) -> pd.DataFrame:
    grouped = t.groupby("region")
    return pd.DataFrame(
        {
            "trending_rows": grouped.size(),
            "videos": grouped["video_id"].nunique(),
            "channels": t.assign(key=channel_keys(t)).groupby("region")["key"].nunique(),
            "trending_days": grouped["trending_date"].nunique(),
            "first_trending_date": grouped["trending_date"].min(),
            "last_trending_date": grouped["trending_date"].max(),
            "total_views": grouped["views"].sum(),
            "comments_disabled_rows": grouped["comments_disabled"].sum(),
            "ratings_disabled_rows": grouped["ratings_disabled"].sum(),
            "removed_rows": grouped["video_error_or_removed"].sum(),
        }
    ).reset_index()


def expected_category_daily(t: pd.DataFrame) -> pd.DataFrame:
    grouped = t.groupby(["region", "trending_date", "category_id"])
    return pd.DataFrame(
        {
            "category_title": grouped["category_title"].max(),
            "category_title_source": grouped["category_title_source"].max(),
            "trending_rows": grouped.size(),
            "total_views": grouped["views"].sum(),
            "total_likes": grouped["likes"].sum(),
            "total_comments": grouped["comment_count"].sum(),
            "engagement_rate_sum": grouped["engagement_rate"].sum(),
            "engagement_rate_rows": grouped["engagement_rate"].count(),
            "like_ratio_sum": grouped["like_ratio"].sum(),
            "like_ratio_rows": grouped["like_ratio"].count(),
        }
    ).reset_index()


def expected_channel_daily(t: pd.DataFrame) -> pd.DataFrame:
    keyed = t.assign(channel_key=channel_keys(t))
    latest = (
        keyed.sort_values(["trending_date", "channel_title"])
        .groupby(["region", "channel_key"])["channel_title"]
        .last()
    )
    grouped = keyed.groupby(["region", "trending_date", "channel_key"])
    out = pd.DataFrame(
        {
            "channel_id": grouped["channel_id"].max(),
            "appearances": grouped.size(),
            "total_views": grouped["views"].sum(),
        }
    ).reset_index()
    out["channel_title"] = [latest[(r, k)] for r, k in zip(out["region"], out["channel_key"], strict=True)]
    return out


def expected_days_to_trend_daily(t: pd.DataFrame) -> pd.DataFrame:
    known = t[t["days_to_trend"].notna()]
    first = known.sort_values("trending_date").groupby(["region", "video_id"], as_index=False).first()
    grouped = first.rename(columns={"trending_date": "first_trending_date"}).groupby(
        ["region", "first_trending_date", "category_id", "days_to_trend"]
    )
    return pd.DataFrame(
        {
            "category_title": grouped["category_title"].max(),
            "category_title_source": grouped["category_title_source"].max(),
            "videos": grouped.size(),
        }
    ).reset_index()


#: report -> its expected frame from the trending rows and settings
EXPECTED: dict[str, Callable[[pd.DataFrame, Settings], pd.DataFrame]] = {
    "top_videos_by_region": lambda t, s: expected_top_videos_by_region(t, s.top_n),
    "category_performance": lambda t, s: expected_category_performance(t),
    "channel_leaderboard": lambda t, s: expected_channel_leaderboard(t),
    "days_to_trend": lambda t, s: expected_days_to_trend(t),
    "daily_trending_summary": lambda t, s: expected_daily_trending_summary(t),
    "region_summary": lambda t, s: expected_region_summary(t),
    "category_daily": lambda t, s: expected_category_daily(t),
    "channel_daily": lambda t, s: expected_channel_daily(t),
    "days_to_trend_daily": lambda t, s: expected_days_to_trend_daily(t),
}


def expected_reports(trending: pd.DataFrame, settings: Settings) -> dict[str, pd.DataFrame]:
    """Every report's expected frame."""
    return {report: expected(trending, settings) for report, expected in EXPECTED.items()}
