"""The dashboard's data shaping on report frames from the real Kaggle files, and on the edge cases.

Expected values are computed here straight from the trending rows (not from the report frames the
functions receive), so a shaping bug and a fixture bug cannot cancel out.
"""

from __future__ import annotations

import pandas as pd
import pytest

from infra.dashboard import shaping
from tests.unit.test_dashboard_reports_data import real_reports, trending_rows

DATASETS = [pytest.param("datasnaek", id="datasnaek"), pytest.param("rsrishav", id="rsrishav")]


def _label(region_rows: pd.DataFrame, category_id: int, *, marked: bool = False) -> str:
    """The label of a category in one region: its title (the region's or, marked with †, another region's)."""
    rows = region_rows.loc[region_rows["category_id"] == category_id]
    title = rows["category_title"].iloc[0]
    borrowed = marked and rows["category_title_source"].iloc[0] == "other_region"
    return f"{title} {shaping.BORROWED_MARK}" if borrowed else title


@pytest.mark.parametrize("dataset", DATASETS)
def test_top_categories_rank_each_regions_trending_views(dataset: str) -> None:
    trending = trending_rows(dataset)
    top = shaping.top_categories(real_reports(dataset)["category_performance"], top_n=5)
    assert sorted(top["region"].unique()) == sorted(trending["region"].unique())
    for region, rows in trending.groupby("region"):
        views = rows.groupby("category_id")["views"].sum()
        expected = sorted(views.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        got = top[top["region"] == region]
        assert got["rank"].tolist() == list(range(1, len(expected) + 1))
        assert got["category"].tolist() == [_label(rows, c, marked=True) for c, _ in expected]
        assert got["total_views"].tolist() == [float(v) for _, v in expected]
        assert got["views_share"].tolist() == pytest.approx([v / rows["views"].sum() for _, v in expected])
        assert set(got["region_label"]) == {region.upper()}


@pytest.mark.parametrize(
    ("dataset", "region"),
    [
        pytest.param("datasnaek", "fr", id="datasnaek-fr"),
        pytest.param("datasnaek", "ca", id="datasnaek-ca"),
        pytest.param("rsrishav", "kr", id="rsrishav-kr"),
        pytest.param("rsrishav", "mx", id="rsrishav-mx"),
        pytest.param("rsrishav", "ru", id="rsrishav-ru"),
    ],
)
def test_a_category_missing_from_the_regions_json_is_marked_as_borrowed(dataset: str, region: str) -> None:
    trending = trending_rows(dataset)
    rows = trending[trending["region"] == region]
    borrowed = rows[rows["category_title_source"] == "other_region"]
    assert set(borrowed["category_id"]) == {29}, f"{region} uses id 29, which its JSON lacks (SOURCES.md)"
    expected_label = f"Nonprofits & Activism {shaping.BORROWED_MARK}"
    top = shaping.top_categories(real_reports(dataset)["category_performance"], top_n=100)
    assert expected_label in set(top.loc[top["region"] == region, "category"])
    days = shaping.days_to_trend(real_reports(dataset)["days_to_trend"])
    assert expected_label in set(days.loc[days["region"] == region, "category"])
    # The heatmap keeps one row per category across regions: the borrowed title is the same category.
    matrix = shaping.engagement_matrix(real_reports(dataset)["category_performance"])
    expected = borrowed["engagement_rate"].mean()
    assert matrix.loc["Nonprofits & Activism", region.upper()] == pytest.approx(expected)


def test_only_other_region_titles_are_marked() -> None:
    frame = pd.DataFrame(
        {
            "category_id": [29, 29, 10, 99],
            "category_title": ["Nonprofits & Activism", "Nonprofits & Activism", "Music", "Unknown"],
            "category_title_source": ["region", "other_region", "region", "unknown"],
        }
    )
    assert shaping.marked_labels(frame).tolist() == [
        "Nonprofits & Activism",
        "Nonprofits & Activism †",
        "Music",
        "Unknown (99)",
    ]
    assert shaping.marked_labels(frame.drop(columns=["category_title_source"])).tolist()[1] == (
        "Nonprofits & Activism"
    )


@pytest.mark.parametrize(
    "title",
    [
        pytest.param(None, id="null-title"),
        pytest.param("", id="empty-title"),
        pytest.param("Unknown", id="unknown-title"),
        pytest.param(float("nan"), id="nan-title"),
    ],
)
def test_unknown_category_labels_keep_the_id(title: object) -> None:
    frame = pd.DataFrame({"category_id": [29, 10], "category_title": [title, "Music"]})
    assert shaping.category_labels(frame).tolist() == ["Unknown (29)", "Music"]


def test_titles_shared_by_two_ids_stay_two_categories() -> None:
    # Every category JSON in the data names both 23 and 34 'Comedy'.
    frame = pd.DataFrame(
        {
            "region": ["us", "us", "gb"],
            "category_id": [23, 34, 23],
            "category_title": ["Comedy", "Comedy", "Comedy"],
            "videos": [3, 1, 2],
            "trending_rows": [3, 1, 2],
            "total_views": [300, 100, 200],
            "avg_engagement_rate": [0.1, 0.2, 0.3],
            "avg_like_ratio": [0.9, 0.8, 0.7],
            "views_share": [0.75, 0.25, 1.0],
        }
    )
    assert shaping.category_labels(frame).tolist() == ["Comedy (23)", "Comedy (34)", "Comedy (23)"]
    matrix = shaping.engagement_matrix(frame)
    assert list(matrix.index) == ["Comedy (23)", "Comedy (34)"]
    assert pd.isna(matrix.loc["Comedy (34)", "GB"])


@pytest.mark.parametrize("dataset", DATASETS)
def test_engagement_matrix_is_mean_engagement_per_category_and_region(dataset: str) -> None:
    trending = trending_rows(dataset)
    matrix = shaping.engagement_matrix(real_reports(dataset)["category_performance"])
    assert list(matrix.columns) == sorted(trending["region"].str.upper().unique())
    for (region, category_id), rows in trending.groupby(["region", "category_id"]):
        label = _label(trending[trending["region"] == region], category_id)
        assert matrix.loc[label, region.upper()] == pytest.approx(rows["engagement_rate"].mean())
    # A region without a category has a gap, not a zero.
    present = trending.groupby("region")["category_id"].nunique().sum()
    assert int(matrix.notna().sum().sum()) == present
    # Biggest categories (views over every region) first.
    totals = trending.groupby("category_id")["views"].sum().sort_values(ascending=False)
    first_region = trending[trending["category_id"] == totals.index[0]]
    assert matrix.index[0] == _label(first_region, totals.index[0])


@pytest.mark.parametrize("dataset", DATASETS)
def test_days_to_trend_keeps_percentiles_and_adds_share_within_a_day(dataset: str) -> None:
    trending = trending_rows(dataset)
    frame = shaping.days_to_trend(real_reports(dataset)["days_to_trend"])
    firsts = trending.sort_values("trending_date").drop_duplicates(["region", "video_id"])
    for (region, category_id), rows in firsts.groupby(["region", "category_id"]):
        got = frame[(frame["region"] == region) & (frame["category_id"] == category_id)]
        assert len(got) == 1
        ordered = sorted(rows["days_to_trend"])
        assert got["p50_days"].item() == ordered[-(-len(ordered) // 2) - 1]
        assert got["within_1_day_share"].item() == pytest.approx((rows["days_to_trend"] <= 1).mean())
    # Within a region, the categories with the most videos come first.
    for _, rows in frame.groupby("region"):
        assert rows["videos"].is_monotonic_decreasing


@pytest.mark.parametrize("dataset", DATASETS)
def test_daily_volume_counts_each_days_videos_in_date_order(dataset: str) -> None:
    trending = trending_rows(dataset)
    volume = shaping.daily_volume(real_reports(dataset)["daily_trending_summary"])
    assert pd.api.types.is_datetime64_any_dtype(volume["trending_date"])
    expected = trending.groupby(["region", "trending_date"])["video_id"].nunique()
    got = volume.set_index(["region", "trending_date"])["videos"]
    assert got.to_dict() == {k: float(v) for k, v in expected.items()}
    for _, rows in volume.groupby("region"):
        assert rows["trending_date"].is_monotonic_increasing


@pytest.mark.parametrize("dataset", DATASETS)
def test_leaderboard_keeps_the_top_ranks_in_order(dataset: str) -> None:
    trending = trending_rows(dataset)
    board = shaping.leaderboard(real_reports(dataset)["channel_leaderboard"], top_n=5)
    for region, rows in trending.groupby("region"):
        appearances = rows.groupby("channel_title").size()
        got = board[board["region"] == region]
        assert got["channel_rank"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
        assert got["appearances"].tolist() == sorted(appearances, reverse=True)[:5]
        leaders = appearances[appearances == appearances.max()].index
        assert got["channel_title"].iloc[0] in set(leaders)


EMPTY_CASES = [
    pytest.param(None, id="absent"),
    pytest.param(pd.DataFrame(), id="no-columns"),
]


@pytest.mark.parametrize("frame", EMPTY_CASES)
@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(lambda f: shaping.top_categories(f), id="top_categories"),
        pytest.param(lambda f: shaping.days_to_trend(f), id="days_to_trend"),
        pytest.param(lambda f: shaping.daily_volume(f), id="daily_volume"),
        pytest.param(lambda f: shaping.leaderboard(f), id="leaderboard"),
        pytest.param(lambda f: shaping.engagement_matrix(f), id="engagement_matrix"),
    ],
)
def test_an_empty_report_gives_an_empty_frame(frame: pd.DataFrame | None, shape) -> None:  # type: ignore[no-untyped-def]
    assert shape(frame).empty


@pytest.mark.parametrize(
    ("report", "shape"),
    [
        pytest.param("category_performance", shaping.top_categories, id="category_performance"),
        pytest.param("days_to_trend", shaping.days_to_trend, id="days_to_trend"),
        pytest.param("daily_trending_summary", shaping.daily_volume, id="daily_trending_summary"),
        pytest.param("channel_leaderboard", shaping.leaderboard, id="channel_leaderboard"),
    ],
)
def test_an_empty_report_with_its_columns_keeps_the_output_columns(report: str, shape) -> None:  # type: ignore[no-untyped-def]
    empty = real_reports("datasnaek")[report].iloc[0:0]
    non_empty = shape(real_reports("datasnaek")[report])
    result = shape(empty)
    assert result.empty
    assert list(result.columns) == list(non_empty.columns)


def test_a_report_missing_a_column_names_it() -> None:
    frame = real_reports("datasnaek")["category_performance"].drop(columns=["views_share"])
    with pytest.raises(shaping.ReportShapeError, match="category_performance.*views_share"):
        shaping.top_categories(frame)


def test_header_facts_from_reports_and_summary() -> None:
    reports = real_reports("datasnaek")
    trending = trending_rows("datasnaek")
    summary = {
        "run_id": "manual__2026-11-24",
        "stage_rows": {"raw": 7944, "analytics": 7900},
        "rejected": 44,
        "quarantined": {"category files": 1},
        "data_source": "datasnaek",
    }
    facts = shaping.header_facts(reports, summary)
    assert facts.run_id == "manual__2026-11-24"
    assert facts.freshness == f"trending data up to {trending['trending_date'].max():%Y-%m-%d}"
    assert facts.report_rows == {name: len(frame) for name, frame in reports.items()}
    assert facts.stage_rows == {"raw": 7944, "analytics": 7900}
    assert facts.rejected == {"total": 44}
    assert facts.quarantined == {"category files": 1}
    assert facts.other == {"data_source": "datasnaek"}


def test_header_facts_without_summary_or_dates() -> None:
    facts = shaping.header_facts({"category_performance": pd.DataFrame()})
    assert facts.run_id == "not given"
    assert facts.freshness == "no trending dates in the reports"
    assert facts.report_rows == {"category_performance": 0}
    assert (facts.stage_rows, facts.rejected, facts.quarantined) == ({}, {}, {})


def test_freshness_falls_back_to_the_next_report_with_dates() -> None:
    reports = dict(real_reports("datasnaek"))
    del reports["region_summary"]
    expected = trending_rows("datasnaek")["trending_date"].max()
    assert shaping.data_freshness(reports) == expected


@pytest.mark.parametrize("top_n", [pytest.param(0, id="zero"), pytest.param(-1, id="negative")])
def test_top_n_must_be_positive(top_n: int) -> None:
    with pytest.raises(ValueError, match="top_n"):
        shaping.top_categories(real_reports("datasnaek")["category_performance"], top_n)
    with pytest.raises(ValueError, match="top_n"):
        shaping.leaderboard(real_reports("datasnaek")["channel_leaderboard"], top_n)
