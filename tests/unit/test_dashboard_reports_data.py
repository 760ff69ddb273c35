"""Report-shaped frames built with pandas from the real Kaggle files, for the dashboard tests.

The dashboard reads the report views; these frames have the same columns and grain as the CTAS files in
``include/sql/reports/`` (checked here against the SQL itself), computed straight from the real CSVs and
category JSONs. A category a region's JSON lacks (id 29 in CA and FR, and KR/MX/RU in the rsrishav files)
gets a null title, like a left join. The tests in this module check the frames keep the reports' grain, so
the other dashboard tests stand on something true.
"""

from __future__ import annotations

import io
import json
import math
from functools import cache
from pathlib import Path

import pandas as pd
import pytest
import sqlglot
from sqlglot import exp

from infra.dashboard.shaping import DASHBOARD_REPORTS, REQUIRED_COLUMNS
from tests.conftest import DATA_DIR
from youtube_etl.reports import discover_reports, render_sql, report_template
from youtube_etl.settings import get_settings

TOP_N = 10


def _titles(json_path: Path) -> dict[int, str]:
    document = json.loads(json_path.read_text(encoding="utf-8"))
    return {int(item["id"]): item["snippet"]["title"] for item in document["items"]}


def _datasnaek(data_dir: Path) -> list[pd.DataFrame]:
    frames = []
    for path in sorted((data_dir / "raw_statistics").glob("region=*/*.csv")):
        region = path.parent.name.removeprefix("region=")
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
        titles = _titles(data_dir / "raw_statistics_reference_data" / f"{region.upper()}_category_id.json")
        frames.append(
            _trending(
                raw.rename(columns={"publish_time": "published"}),
                region,
                titles,
                trending=pd.to_datetime(raw["trending_date"], format="%y.%d.%m"),
            )
        )
    return frames


def _rsrishav(data_dir: Path) -> list[pd.DataFrame]:
    root = data_dir / "rsrishav_trending"
    frames = []
    for path in sorted((root / "raw_statistics").glob("region=*/*.csv")):
        region = path.parent.name.removeprefix("region=")
        text = path.read_text(encoding="utf-8")
        # Every file is cut in the middle of its last record: keep the complete ones.
        text = text[: text.rfind('\n"') + 1]
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False).rename(
            columns={
                "publishedAt": "published",
                "channelTitle": "channel_title",
                "categoryId": "category_id",
                "view_count": "views",
            }
        )
        titles = _titles(root / "raw_statistics_reference_data" / f"{region.upper()}_category_id.json")
        trending = pd.to_datetime(raw["trending_date"], utc=True).dt.tz_localize(None)
        frames.append(_trending(raw, region, titles, trending=trending))
    return frames


def _trending(raw: pd.DataFrame, region: str, titles: dict[int, str], trending: pd.Series) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "region": region,
            "video_id": raw["video_id"],
            "trending_date": trending.dt.normalize(),
            "title": raw["title"],
            "channel_id": raw["channelId"] if "channelId" in raw else None,
            "channel_title": raw["channel_title"],
            "category_id": raw["category_id"].astype("int64"),
        }
    )
    frame["category_title"] = [titles.get(c) for c in frame["category_id"]]
    for column in ("views", "likes", "dislikes", "comment_count"):
        frame[column] = raw[column].astype("int64")
    for column in ("comments_disabled", "ratings_disabled", "video_error_or_removed"):
        flags = raw[column] if column in raw else pd.Series("False", index=raw.index)
        frame[column] = flags.str.lower().eq("true")
    frame["publish_time"] = pd.to_datetime(raw["published"], utc=True).dt.tz_localize(None)
    frame["days_to_trend"] = (frame["trending_date"] - frame["publish_time"].dt.normalize()).dt.days
    views = frame["views"].astype(float)
    rated = (frame["likes"] + frame["dislikes"]).astype(float)
    frame["engagement_rate"] = (frame["likes"] + frame["dislikes"] + frame["comment_count"]) / views.where(
        views > 0
    )
    frame["like_ratio"] = frame["likes"] / rated.where(rated > 0)
    return frame.drop_duplicates(["video_id", "trending_date"], keep="last")


@cache
def trending_rows(dataset: str = "datasnaek", data_dir: Path = DATA_DIR) -> pd.DataFrame:
    """One row per (region, video, trending day) of a real dataset (``datasnaek`` or ``rsrishav``)."""
    frames = _datasnaek(data_dir) if dataset == "datasnaek" else _rsrishav(data_dir)
    return pd.concat(frames, ignore_index=True)


def _nearest_rank(values: pd.Series, p: float) -> float:
    ordered = sorted(values)
    return float(ordered[max(1, math.ceil(p * len(ordered))) - 1])


def build_reports(t: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The report views (same columns and grain as the CTAS files) from trending rows."""
    g = t.groupby(["region", "category_id"], dropna=False)
    category_performance = pd.DataFrame(
        {
            "category_title": g["category_title"].first(),
            "videos": g["video_id"].nunique(),
            "trending_rows": g.size(),
            "total_views": g["views"].sum(),
            "avg_views": g["views"].mean(),
            "total_likes": g["likes"].sum(),
            "total_comments": g["comment_count"].sum(),
            "avg_engagement_rate": g["engagement_rate"].mean(),
            "avg_like_ratio": g["like_ratio"].mean(),
        }
    ).reset_index()
    category_performance["views_share"] = category_performance["total_views"] / category_performance[
        "region"
    ].map(t.groupby("region")["views"].sum())

    per_video = (
        t.groupby(["region", "channel_title", "video_id"])
        .agg(
            appearances=("views", "size"),
            peak_views=("views", "max"),
            first_trending_date=("trending_date", "min"),
            last_trending_date=("trending_date", "max"),
        )
        .reset_index()
    )
    channels = (
        per_video.groupby(["region", "channel_title"])
        .agg(
            appearances=("appearances", "sum"),
            videos=("video_id", "size"),
            peak_views=("peak_views", "sum"),
            first_trending_date=("first_trending_date", "min"),
            last_trending_date=("last_trending_date", "max"),
        )
        .reset_index()
        .sort_values(
            ["region", "appearances", "videos", "peak_views", "channel_title"],
            ascending=[True, False, False, False, True],
        )
    )
    channels.insert(1, "channel_rank", channels.groupby("region").cumcount() + 1)
    channels.insert(3, "channel_id", None)

    first_day = t.groupby(["region", "video_id"])["trending_date"].transform("min")
    flagged = t.assign(is_new=t["trending_date"].eq(first_day))
    d = flagged.groupby(["region", "trending_date"])
    daily = pd.DataFrame(
        {
            "videos": d["video_id"].nunique(),
            "new_entrants": d["is_new"].sum(),
            "channels": d["channel_title"].nunique(),
            "total_views": d["views"].sum(),
            "total_likes": d["likes"].sum(),
            "total_comments": d["comment_count"].sum(),
            "avg_engagement_rate": d["engagement_rate"].mean(),
        }
    ).reset_index()
    daily.insert(4, "returning_videos", daily["videos"] - daily["new_entrants"])

    firsts = t.sort_values("trending_date").drop_duplicates(["region", "video_id"], keep="first")
    rows = []
    for (region, category_id), group in firsts.groupby(["region", "category_id"]):
        days = group["days_to_trend"]
        rows.append(
            {
                "region": region,
                "category_id": category_id,
                "category_title": group["category_title"].iloc[0],
                "videos": len(group),
                "min_days": int(days.min()),
                "p50_days": _nearest_rank(days, 0.5),
                "p90_days": _nearest_rank(days, 0.9),
                "max_days": int(days.max()),
                "avg_days": float(days.mean()),
                "trended_within_1_day": int((days <= 1).sum()),
            }
        )
    days_to_trend = pd.DataFrame(rows)

    r = t.groupby("region")
    region_summary = pd.DataFrame(
        {
            "trending_rows": r.size(),
            "videos": r["video_id"].nunique(),
            "channels": r["channel_title"].nunique(),
            "trending_days": r["trending_date"].nunique(),
            "first_trending_date": r["trending_date"].min(),
            "last_trending_date": r["trending_date"].max(),
            "total_views": r["views"].sum(),
            "comments_disabled_rows": r["comments_disabled"].sum(),
            "ratings_disabled_rows": r["ratings_disabled"].sum(),
            "removed_rows": r["video_error_or_removed"].sum(),
        }
    ).reset_index()

    ranked = t.sort_values(
        ["region", "trending_date", "views", "likes", "video_id"], ascending=[True, True, False, False, True]
    )
    ranked = ranked.assign(view_rank=ranked.groupby(["region", "trending_date"]).cumcount() + 1)
    top_videos = ranked[ranked["view_rank"] <= TOP_N].reset_index(drop=True)
    return {
        "category_performance": category_performance,
        "channel_leaderboard": channels.reset_index(drop=True),
        "daily_trending_summary": daily,
        "days_to_trend": days_to_trend,
        "region_summary": region_summary,
        "top_videos_by_region": top_videos,
    }


@cache
def real_reports(dataset: str = "datasnaek") -> dict[str, pd.DataFrame]:
    """Report frames of a real dataset (cached: treat as read-only, copy before changing)."""
    return build_reports(trending_rows(dataset))


# ---- the frames keep the reports' grain and columns -----------------------------------------------------
def _ctas_columns(report: str) -> list[str]:
    settings = get_settings({})
    sql = render_sql(report_template(report), run_id="manual", ds="2026-01-01", params=settings.sql_params())
    statement = sqlglot.parse_one(sql, read="athena")
    select = statement.find(exp.Select) if not isinstance(statement, exp.Select) else statement
    assert select is not None
    # The outermost SELECT of the CTAS (its CTEs come first in the tree walk, so take the statement's own).
    query = statement.expression if isinstance(statement, exp.Create) else statement
    return [projection.alias_or_name for projection in query.selects]


def test_dashboard_reads_only_reports_that_exist() -> None:
    assert set(DASHBOARD_REPORTS) <= set(discover_reports())


@pytest.mark.parametrize("report", [pytest.param(r, id=r) for r in REQUIRED_COLUMNS])
def test_required_columns_are_in_the_report_sql(report: str) -> None:
    columns = _ctas_columns(report)
    assert set(REQUIRED_COLUMNS[report]) <= set(columns), sorted(set(REQUIRED_COLUMNS[report]) - set(columns))


@pytest.mark.parametrize("report", [pytest.param(r, id=r) for r in DASHBOARD_REPORTS])
@pytest.mark.parametrize(
    "dataset", [pytest.param("datasnaek", id="datasnaek"), pytest.param("rsrishav", id="rsrishav")]
)
def test_fixture_frames_have_the_report_columns(report: str, dataset: str) -> None:
    frame = real_reports(dataset)[report]
    assert set(_ctas_columns(report)) <= set(frame.columns)
    assert len(frame) > 0


@pytest.mark.parametrize(
    "dataset", [pytest.param("datasnaek", id="datasnaek"), pytest.param("rsrishav", id="rsrishav")]
)
def test_fixture_frames_keep_the_report_grain(dataset: str) -> None:
    reports = real_reports(dataset)
    t = trending_rows(dataset)
    grains = {
        "category_performance": ["region", "category_id"],
        "channel_leaderboard": ["region", "channel_title"],
        "daily_trending_summary": ["region", "trending_date"],
        "days_to_trend": ["region", "category_id"],
        "region_summary": ["region"],
        "top_videos_by_region": ["region", "trending_date", "view_rank"],
    }
    for report, keys in grains.items():
        assert not reports[report].duplicated(keys).any(), report
    shares = reports["category_performance"].groupby("region")["views_share"].sum()
    assert shares.round(9).eq(1.0).all()
    assert reports["region_summary"]["trending_rows"].sum() == len(t)
    assert (
        reports["daily_trending_summary"]["new_entrants"].sum()
        == t.groupby("region")["video_id"].nunique().sum()
    )
