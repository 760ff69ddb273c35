"""The dashboard's data shaping on report frames from the real Kaggle files, and on the edge cases.

The page's data (``dashboard_data``) is the daily report grains as indexed columns; the browser adds them up.
Expected values are computed here straight from the trending rows (not from the report frames the function
receives), so a shaping bug and a fixture bug cannot cancel out.
"""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard import shaping
from tests.unit.test_dashboard_reports_data import real_reports, trending_rows

DATASETS = [pytest.param("datasnaek", id="datasnaek"), pytest.param("rsrishav", id="rsrishav")]


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


@pytest.mark.parametrize("dataset", DATASETS)
def test_page_data_decodes_to_each_regions_daily_figures(dataset: str) -> None:
    trending = trending_rows(dataset)
    data = shaping.dashboard_data(real_reports(dataset))
    assert data["regions"] == sorted(trending["region"].str.upper().unique())
    assert data["dates"] == sorted({f"{d:%Y-%m-%d}" for d in trending["trending_date"]})
    ids_per_title = trending.groupby("category_title")["category_id"].nunique()
    cat = data["cat"]
    views: dict[tuple[str, str, str], int] = {}
    for r, d, c, v in zip(cat["r"], cat["d"], cat["c"], cat["views"], strict=True):
        key = (data["regions"][r], data["dates"][d], data["categories"][c])
        views[key] = views.get(key, 0) + v
    for (region, day, category_id), rows in trending.groupby(["region", "trending_date", "category_id"]):
        label = rows["category_title"].iloc[0]
        label = f"{label} ({category_id})" if ids_per_title[label] > 1 else label  # 'Comedy': 23 and 34
        assert views[(region.upper(), f"{day:%Y-%m-%d}", label)] == rows["views"].sum()
    assert len(views) == trending.groupby(["region", "trending_date", "category_id"]).ngroups
    daily = data["daily"]
    per_day = trending.groupby(["region", "trending_date"])["video_id"].nunique()
    decoded = {
        (data["regions"][r].lower(), data["dates"][d]): n
        for r, d, n in zip(daily["r"], daily["d"], daily["videos"], strict=True)
    }
    assert decoded == {(r, f"{d:%Y-%m-%d}"): n for (r, d), n in per_day.items()}
    channels = data["ch"]
    assert sum(channels["n"]) == len(trending)
    assert set(data["channels"]) <= set(trending["channel_title"])


def test_page_data_flags_the_partial_days_and_the_borrowed_titles() -> None:
    data = shaping.dashboard_data(real_reports("datasnaek"))
    daily = data["daily"]
    partial = {
        (data["regions"][r], data["dates"][d], n, t)
        for r, d, n, t, p in zip(
            daily["r"], daily["d"], daily["videos"], daily["typical"], daily["partial"], strict=True
        )
        if p
    }
    assert partial == {("CA", "2017-11-17", 186, 200), ("GB", "2017-11-17", 162, 199)}
    cat = data["cat"]
    borrowed = {
        (data["regions"][r], data["categories"][c])
        for r, c, b in zip(cat["r"], cat["c"], cat["b"], strict=True)
        if b
    }
    assert borrowed == {("CA", "Nonprofits & Activism"), ("FR", "Nonprofits & Activism")}


def test_the_same_reports_in_another_row_order_make_the_same_page_data() -> None:
    """Athena returns a report's rows in no set order (it differed between two make runs of one commit)."""
    reports = real_reports("rsrishav")
    shuffled = {name: frame.sample(frac=1.0, random_state=7) for name, frame in reports.items()}
    assert any(not s.index.equals(reports[n].index) for n, s in shuffled.items())
    assert shaping.dashboard_data(shuffled) == shaping.dashboard_data(reports)


def test_a_renamed_channel_is_one_channel_with_its_latest_title() -> None:
    frame = pd.DataFrame(
        {
            "region": ["kr", "kr", "kr"],
            "trending_date": pd.to_datetime(["2020-08-12", "2020-08-13", "2020-08-13"]),
            "channel_key": ["id:UC1", "id:UC1", "id:UC2"],
            "channel_title": ["TREASURE (트레저)", "TREASURE (트레저)", "TREASURE (트레저)"],
            "appearances": [2, 1, 4],
            "total_views": [10, 20, 30],
        }
    )
    data = shaping.dashboard_data({"channel_daily": frame})
    assert data["channels"] == ["TREASURE (트레저)", "TREASURE (트레저)"]  # two channels, one title: two rows
    assert data["ch"]["k"] == [0, 0, 1]
    assert data["dates"] == ["2020-08-12", "2020-08-13"]


def test_page_data_of_no_reports_is_empty() -> None:
    data = shaping.dashboard_data({})
    assert data["regions"] == [] and data["dates"] == [] and data["cat"]["r"] == []


def test_a_report_missing_a_column_names_it() -> None:
    frame = real_reports("datasnaek")["category_daily"].drop(columns=["engagement_rate_sum"])
    with pytest.raises(shaping.ReportShapeError, match="category_daily.*engagement_rate_sum"):
        shaping.dashboard_data({"category_daily": frame})


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
