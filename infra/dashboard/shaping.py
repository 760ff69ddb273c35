"""Pure data shaping: report views (as Athena returns them) in, tidy frames for the charts out.

Nothing here touches AWS or plotly, so every rule (labels, ranking, the Unknown category, empty reports) is
tested on plain frames. The columns used are those of the CTAS files in ``include/sql/reports/``; a report
that lost a column the dashboard needs is an error naming the report, not a blank chart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

#: The report views the dashboard reads (stable views in the analytics database, one per report).
DASHBOARD_REPORTS: tuple[str, ...] = (
    "category_performance",
    "channel_leaderboard",
    "daily_trending_summary",
    "days_to_trend",
    "region_summary",
    "top_videos_by_region",
)

#: Columns each chart needs, by report view. Reports not listed are only counted in the header.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "category_performance": (
        "region",
        "category_id",
        "category_title",
        "videos",
        "trending_rows",
        "total_views",
        "avg_engagement_rate",
        "avg_like_ratio",
        "views_share",
    ),
    "channel_leaderboard": (
        "region",
        "channel_rank",
        "channel_title",
        "appearances",
        "videos",
        "peak_views",
        "first_trending_date",
        "last_trending_date",
    ),
    "daily_trending_summary": (
        "region",
        "trending_date",
        "videos",
        "new_entrants",
        "returning_videos",
        "total_views",
    ),
    "days_to_trend": (
        "region",
        "category_id",
        "category_title",
        "videos",
        "min_days",
        "p50_days",
        "p90_days",
        "max_days",
        "avg_days",
        "trended_within_1_day",
    ),
    "region_summary": ("region", "trending_rows", "first_trending_date", "last_trending_date"),
}

#: Where the newest trending date of a run can be read, in order of preference.
FRESHNESS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("region_summary", "last_trending_date"),
    ("daily_trending_summary", "trending_date"),
    ("channel_leaderboard", "last_trending_date"),
    ("top_videos_by_region", "trending_date"),
)

UNKNOWN_CATEGORY = "Unknown"
#: Marks a category title a region borrowed from another region's file (``category_title_source``).
BORROWED_MARK = "†"
BORROWED_NOTE = f"{BORROWED_MARK} the region's category file lacks this id: the title is another region's"


class ReportShapeError(ValueError):
    """A report view lacks columns the dashboard needs; the message names the report and the columns."""


def require_columns(frame: pd.DataFrame | None, report: str) -> pd.DataFrame:
    """The report frame with the columns the dashboard needs; an absent or column-less frame is empty.

    A frame with rows but missing columns means the SQL and the dashboard disagree: raise, naming them.
    """
    needed = list(REQUIRED_COLUMNS.get(report, ()))
    if frame is None or (frame.empty and len(frame.columns) == 0):
        return pd.DataFrame({column: pd.Series(dtype="object") for column in needed})
    missing = [column for column in needed if column not in frame.columns]
    if missing:
        raise ReportShapeError(f"report {report!r} lacks column(s) {', '.join(missing)}")
    return frame


def region_label(region: Any) -> str:
    """Regions are lower-case partitions (``us``); people read country codes (``US``)."""
    if region is None or (isinstance(region, float) and pd.isna(region)):
        return "?"
    return str(region).upper()


def _is_blank(value: Any) -> bool:
    return (
        value is None
        or value is pd.NA
        or (isinstance(value, float) and pd.isna(value))
        or not str(value).strip()
    )


def _category_id_text(category_id: Any) -> str:
    if _is_blank(category_id):
        return ""
    try:
        return str(int(float(category_id)))
    except (TypeError, ValueError):
        return str(category_id)


def category_labels(frame: pd.DataFrame) -> pd.Series:
    """A display label per row from ``category_id`` and ``category_title``.

    A video can use a category its region's reference file lacks (id 29 in CA, FR, KR, MX, RU): its title is
    null, shown as ``Unknown (29)``. Titles shared by several ids (the rsrishav files have 'Comedy' as 23
    and 34) get their id appended, so two categories never merge on a chart axis.
    """
    if frame.empty:
        return pd.Series([], index=frame.index, dtype="object")
    ids = frame["category_id"].map(_category_id_text)
    titles = frame["category_title"].map(lambda t: "" if _is_blank(t) else str(t).strip())
    unknown = titles.eq("") | titles.str.lower().eq(UNKNOWN_CATEGORY.lower())
    known = pd.DataFrame({"id": ids[~unknown], "title": titles[~unknown]})
    ids_per_title = known.drop_duplicates().groupby("title")["id"].nunique()
    shared = set(ids_per_title[ids_per_title > 1].index)
    labels = []
    for category_id, title, is_unknown in zip(ids, titles, unknown, strict=True):
        if is_unknown:
            labels.append(f"{UNKNOWN_CATEGORY} ({category_id})" if category_id else UNKNOWN_CATEGORY)
        elif title in shared:
            labels.append(f"{title} ({category_id})")
        else:
            labels.append(title)
    return pd.Series(labels, index=frame.index, dtype="object")


def borrowed_titles(frame: pd.DataFrame) -> pd.Series:
    """Whether each row's category title came from another region's file (False when the report does not
    say: older report runs have no ``category_title_source``)."""
    if "category_title_source" not in frame.columns:
        return pd.Series(False, index=frame.index, dtype="bool")
    return frame["category_title_source"].astype("object").eq("other_region").astype("bool")


def marked_labels(frame: pd.DataFrame) -> pd.Series:
    """:func:`category_labels` with :data:`BORROWED_MARK` after a borrowed title, for one region's axis."""
    labels = category_labels(frame)
    return labels.where(~borrowed_titles(frame), labels + " " + BORROWED_MARK)


def _numeric(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce").astype("float64")


def _dates(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, errors="coerce")


def _with_labels(frame: pd.DataFrame, *, categories: bool = True, marked: bool = False) -> pd.DataFrame:
    out = frame.copy()
    out["region_label"] = out["region"].map(region_label) if len(out) else pd.Series(dtype="object")
    if categories:
        out["category"] = marked_labels(out) if marked else category_labels(out)
    return out


def top_categories(category_performance: pd.DataFrame | None, top_n: int = 10) -> pd.DataFrame:
    """The ``top_n`` categories of each region by trending views (ties: fewer id first), ranked from 1.

    Columns: region, region_label, category_id, category, rank, total_views, views_share, videos,
    avg_engagement_rate.
    """
    if top_n < 1:
        raise ValueError(f"top_n must be >= 1, got {top_n}")
    frame = require_columns(category_performance, "category_performance")
    columns = [
        "region",
        "region_label",
        "category_id",
        "category",
        "rank",
        "total_views",
        "views_share",
        "videos",
        "avg_engagement_rate",
    ]
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    out = _with_labels(frame, marked=True)
    out["total_views"] = _numeric(out["total_views"])
    out["views_share"] = _numeric(out["views_share"])
    out["videos"] = _numeric(out["videos"])
    out["avg_engagement_rate"] = _numeric(out["avg_engagement_rate"])
    out["_id"] = _numeric(out["category_id"])
    out = out.sort_values(["region", "total_views", "_id"], ascending=[True, False, True], kind="stable")
    out["rank"] = out.groupby("region").cumcount() + 1
    return out[out["rank"] <= top_n][columns].reset_index(drop=True)


def engagement_matrix(
    category_performance: pd.DataFrame | None, metric: str = "avg_engagement_rate"
) -> pd.DataFrame:
    """Category x region matrix of ``metric`` for the heatmap; NaN where a region has no such category.

    Rows are category labels, biggest categories (trending views over all regions) first; columns are region
    labels in alphabetical order.
    """
    if metric not in ("avg_engagement_rate", "avg_like_ratio", "views_share"):
        raise ValueError(f"unknown metric {metric!r}")
    frame = require_columns(category_performance, "category_performance")
    if frame.empty:
        return pd.DataFrame(dtype="float64")
    out = _with_labels(frame)
    out["value"] = _numeric(out[metric])
    out["total_views"] = _numeric(out["total_views"])
    matrix = out.pivot_table(
        index="category", columns="region_label", values="value", aggfunc="mean", dropna=False
    )
    order = out.groupby("category")["total_views"].sum().sort_values(ascending=False, kind="stable").index
    matrix = matrix.reindex(index=list(order), columns=sorted(matrix.columns))
    matrix.index.name = "category"
    matrix.columns.name = "region"
    return matrix.astype("float64")


def days_to_trend(days: pd.DataFrame | None) -> pd.DataFrame:
    """Days from publication to first trending day, per region and category, for the p50/p90 bars.

    The report holds exact nearest-rank percentiles per (region, category), not the raw distribution, so the
    chart shows p50 and p90 (with min/max/avg in the hover) rather than a box. Sorted by region, then
    categories with the most videos first. Adds ``within_1_day_share`` (trended_within_1_day / videos).
    """
    frame = require_columns(days, "days_to_trend")
    columns = [
        "region",
        "region_label",
        "category_id",
        "category",
        "videos",
        "min_days",
        "p50_days",
        "p90_days",
        "max_days",
        "avg_days",
        "within_1_day_share",
    ]
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    out = _with_labels(frame, marked=True)
    for column in (
        "videos",
        "min_days",
        "p50_days",
        "p90_days",
        "max_days",
        "avg_days",
        "trended_within_1_day",
    ):
        out[column] = _numeric(out[column])
    videos = out["videos"].where(out["videos"] > 0)
    out["within_1_day_share"] = out["trended_within_1_day"] / videos
    out = out.sort_values(["region", "videos", "category"], ascending=[True, False, True], kind="stable")
    return out[columns].reset_index(drop=True)


def daily_volume(summary: pd.DataFrame | None) -> pd.DataFrame:
    """One row per region and trending day, dates as datetimes, in date order for the line chart."""
    frame = require_columns(summary, "daily_trending_summary")
    columns = [
        "region",
        "region_label",
        "trending_date",
        "videos",
        "new_entrants",
        "returning_videos",
        "total_views",
    ]
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    out = _with_labels(frame, categories=False)
    out["trending_date"] = _dates(out["trending_date"])
    for column in ("videos", "new_entrants", "returning_videos", "total_views"):
        out[column] = _numeric(out[column])
    out = out.dropna(subset=["trending_date"]).sort_values(["region", "trending_date"], kind="stable")
    return out[columns].reset_index(drop=True)


def leaderboard(channels: pd.DataFrame | None, top_n: int = 20) -> pd.DataFrame:
    """The ``top_n`` channels of each region by the report's ``channel_rank``, in rank order."""
    if top_n < 1:
        raise ValueError(f"top_n must be >= 1, got {top_n}")
    frame = require_columns(channels, "channel_leaderboard")
    columns = [
        "region",
        "region_label",
        "channel_rank",
        "channel_title",
        "appearances",
        "videos",
        "peak_views",
        "first_trending_date",
        "last_trending_date",
    ]
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    out = _with_labels(frame, categories=False)
    out["channel_rank"] = _numeric(out["channel_rank"])
    out = out[out["channel_rank"] <= top_n]
    out = out.sort_values(["region", "channel_rank"], kind="stable")
    return out[columns].reset_index(drop=True)


def row_counts(reports: Mapping[str, pd.DataFrame]) -> dict[str, int]:
    """Rows read from each report view, by view name."""
    return {name: len(frame) for name, frame in sorted(reports.items())}


def data_freshness(reports: Mapping[str, pd.DataFrame]) -> pd.Timestamp | None:
    """The newest trending date the reports show (the first report in FRESHNESS_COLUMNS that has one)."""
    for report, column in FRESHNESS_COLUMNS:
        frame = reports.get(report)
        if frame is None or column not in frame.columns or frame.empty:
            continue
        newest = _dates(frame[column]).max()
        if not pd.isna(newest):
            return pd.Timestamp(newest)
    return None


def _counts(value: Any) -> dict[str, int]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): int(v) for k, v in value.items()}
    return {"total": int(value)}


@dataclass(frozen=True)
class HeaderFacts:
    """What the dashboard header shows: which run, how fresh, how much went through each stage."""

    run_id: str
    freshness: str
    report_rows: dict[str, int]
    stage_rows: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    other: dict[str, str] = field(default_factory=dict)


#: Keys of the optional ``summary`` the pipeline passes; anything else is shown as-is under "other".
SUMMARY_KEYS = ("run_id", "data_freshness", "stage_rows", "rejected", "quarantined")


def header_facts(
    reports: Mapping[str, pd.DataFrame], summary: Mapping[str, Any] | None = None
) -> HeaderFacts:
    """Header facts from the reports themselves plus the pipeline's optional summary.

    ``summary`` keys: ``run_id`` (str), ``data_freshness`` (str; default: the newest trending date in the
    reports), ``stage_rows`` ({stage: rows}), ``rejected`` and ``quarantined`` ({what: count} or a count).
    """
    summary = dict(summary or {})
    newest = data_freshness(reports)
    freshness = str(summary.get("data_freshness") or "")
    if not freshness:
        freshness = (
            f"trending data up to {newest:%Y-%m-%d}"
            if newest is not None
            else "no trending dates in the reports"
        )
    return HeaderFacts(
        run_id=str(summary.get("run_id") or "not given"),
        freshness=freshness,
        report_rows=row_counts(reports),
        stage_rows=_counts(summary.get("stage_rows")),
        rejected=_counts(summary.get("rejected")),
        quarantined=_counts(summary.get("quarantined")),
        other={str(k): str(v) for k, v in summary.items() if k not in SUMMARY_KEYS},
    )
