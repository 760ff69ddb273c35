"""Pure data shaping: report views (as Athena returns them) in, tidy frames for the charts out.

Nothing here touches AWS or plotly, so every rule (labels, ranking, the Unknown category, empty reports) is
tested on plain frames. The reports and columns it reads are those their declarations
(:mod:`youtube_lake.reports`) mark ``dashboard``; a report view that lost one is an error naming the report,
not a blank chart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from youtube_lake.reports import dashboard_reports, get_report

#: The report views the dashboard reads (stable views in the analytics database, one per report). The charts
#: read the daily grains, so that the page's region and date range can add up any selection in the browser.
DASHBOARD_REPORTS: tuple[str, ...] = dashboard_reports()

#: Columns the page needs, by report view: those the report declares ``dashboard``. Reports not listed are
#: only counted in the header.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    report: get_report(report).dashboard_columns for report in DASHBOARD_REPORTS
}

#: Where the newest trending date of a run can be read, in order of preference.
FRESHNESS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("region_summary", "last_trending_date"),
    ("daily_trending_summary", "trending_date"),
    ("category_daily", "trending_date"),
    ("channel_daily", "trending_date"),
)

UNKNOWN_CATEGORY = "Unknown"
#: Marks a category title a region borrowed from another region's file (``category_title_source``).
BORROWED_MARK = "†"
BORROWED_NOTE = (
    f"{BORROWED_MARK} the category file of the region (of one of the regions shown) lacks this id: "
    + "the title is another region's"
)


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


def _numeric(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce").astype("float64")


def _dates(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, errors="coerce")


def _codes(values: pd.Series, categories: list[Any]) -> list[int]:
    index = {value: i for i, value in enumerate(categories)}
    return [index[v] for v in values]


def _ints(series: pd.Series) -> list[int]:
    return [0 if pd.isna(v) else int(v) for v in series]


def _floats(series: pd.Series) -> list[float]:
    return [0.0 if pd.isna(v) else float(v) for v in _numeric(series)]


def _day_text(series: pd.Series) -> pd.Series:
    return _dates(series).dt.strftime("%Y-%m-%d")


#: The daily report grains the page's panels read, each with the column that dates its rows.
DAY_COLUMNS: dict[str, str] = {
    "daily_trending_summary": "trending_date",
    "category_daily": "trending_date",
    "channel_daily": "trending_date",
    "days_to_trend_daily": "first_trending_date",
}


def dashboard_data(reports: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
    """The page's data: the daily report grains as columns of numbers, with regions, dates, categories and
    channels as lists the columns index into (``r``, ``d``, ``c``, ``k``). The browser adds up whatever
    region and date range the reader picks; nothing here aggregates across days.

    Rows with a date that does not parse are dropped (they could not be placed in any range).
    """
    required = {report: require_columns(reports.get(report), report) for report in DAY_COLUMNS}
    daily, cat, channels, dtt = (
        _with_day(required[report], column) for report, column in DAY_COLUMNS.items()
    )
    channel_titles = _channel_axis(channels)
    axes = _Axes(
        regions=sorted({region_label(r) for f in (daily, cat, channels, dtt) for r in f["region"]}),
        dates=sorted({d for f in (daily, cat, channels, dtt) for d in f["_day"]}),
        categories=_category_axis(cat, dtt),
        channel_keys=list(channel_titles["channel_key"]),
    )
    return {
        "regions": axes.regions,
        "dates": axes.dates,
        "categories": axes.categories,
        "channels": [("" if _is_blank(t) else str(t)) for t in channel_titles["channel_title"]],
        "daily": _daily_panel(daily, axes),
        "cat": _category_panel(cat, axes),
        "ch": _channel_panel(channels, axes),
        "dtt": _days_to_trend_panel(dtt, axes),
    }


def _with_day(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """The frame with its day as ``YYYY-MM-DD`` text in ``_day``; rows whose date does not parse dropped.

    Rows are put in one order whatever order the query returned them in (Athena gives no order without
    ORDER BY, and a report's rows come back shuffled from run to run): the same reports make the same page.
    """
    dated = frame.assign(_day=_day_text(frame[column])).dropna(subset=["_day"])
    if not len(dated):
        return dated
    text = dated.astype(object).map(str).agg("\x1f".join, axis=1)
    return dated.iloc[text.argsort(kind="stable").to_numpy()]


def _category_axis(*frames: pd.DataFrame) -> list[str]:
    """One label per category id (titles shared by two ids get the id), in id order."""
    categories = pd.concat(
        [f[["category_id", "category_title"]] for f in frames], ignore_index=True
    ).drop_duplicates()
    categories = categories.assign(
        label=category_labels(categories), _id=_numeric(categories["category_id"])
    ).sort_values(["_id", "label"], kind="stable")
    return list(dict.fromkeys(categories["label"]))


def _channel_axis(channels: pd.DataFrame) -> pd.DataFrame:
    """One row per channel key, in key order, with the channel's (first) title."""
    if not len(channels):
        return pd.DataFrame({"channel_key": [], "channel_title": []})
    return channels.sort_values("channel_key", kind="stable").drop_duplicates("channel_key")[
        ["channel_key", "channel_title"]
    ]


@dataclass(frozen=True)
class _Axes:
    """The lists the panels' columns index into; each method gives a frame's rows as indexes into one."""

    regions: list[str]
    dates: list[str]
    categories: list[str]
    channel_keys: list[Any]

    def r(self, frame: pd.DataFrame) -> list[int]:
        return _codes(frame["region"].map(region_label), self.regions)

    def d(self, frame: pd.DataFrame) -> list[int]:
        return _codes(frame["_day"], self.dates)

    def c(self, frame: pd.DataFrame) -> list[int]:
        return _codes(category_labels(frame[["category_id", "category_title"]]), self.categories)

    def k(self, frame: pd.DataFrame) -> list[int]:
        return _codes(frame["channel_key"], self.channel_keys)


def _daily_panel(daily: pd.DataFrame, axes: _Axes) -> dict[str, list[Any]]:
    return {
        "r": axes.r(daily),
        "d": axes.d(daily),
        "videos": _ints(daily["videos"]),
        "new": _ints(daily["new_entrants"]),
        "views": _ints(daily["total_views"]),
        "typical": _ints(daily["typical_videos"]),
        "partial": [bool(v) if not pd.isna(v) else False for v in daily["is_partial_day"]],
    }


def _category_panel(cat: pd.DataFrame, axes: _Axes) -> dict[str, list[Any]]:
    return {
        "r": axes.r(cat),
        "d": axes.d(cat),
        "c": axes.c(cat),
        "b": [bool(v) for v in borrowed_titles(cat)],
        "rows": _ints(cat["trending_rows"]),
        "views": _ints(cat["total_views"]),
        "es": _floats(cat["engagement_rate_sum"]),
        "en": _ints(cat["engagement_rate_rows"]),
        "ls": _floats(cat["like_ratio_sum"]),
        "ln": _ints(cat["like_ratio_rows"]),
    }


def _channel_panel(channels: pd.DataFrame, axes: _Axes) -> dict[str, list[Any]]:
    return {
        "r": axes.r(channels),
        "d": axes.d(channels),
        "k": axes.k(channels),
        "n": _ints(channels["appearances"]),
        "views": _ints(channels["total_views"]),
    }


def _days_to_trend_panel(dtt: pd.DataFrame, axes: _Axes) -> dict[str, list[Any]]:
    return {
        "r": axes.r(dtt),
        "d": axes.d(dtt),
        "c": axes.c(dtt),
        "b": [bool(v) for v in borrowed_titles(dtt)],
        "days": _ints(dtt["days_to_trend"]),
        "n": _ints(dtt["videos"]),
    }


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
