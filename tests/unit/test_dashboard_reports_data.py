"""Report-shaped frames built with pandas from the real Kaggle files, for the dashboard tests.

The dashboard reads the report views; these frames have the columns the reports declare
(``youtube_lake.reports``, which tests/aws checks against what each CTAS writes) and their grain, computed
straight from the real CSVs and category JSONs by the independent model in ``tests/report_model.py``. A
category a region's JSON lacks (id 29 in CA and FR, and KR/MX/RU in the rsrishav files) takes another
region's title, marked ``other_region``, like the Glue job. The tests in this module check the frames keep
the reports' grain, so the other dashboard tests stand on something true.
"""

from __future__ import annotations

import io
import json
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from dashboard.shaping import DASHBOARD_REPORTS
from tests.conftest import DATA_DIR
from tests.report_model import expected_reports, with_category_titles
from tests.shared_results import computed_once
from youtube_etl.reports import discover_reports, report_key
from youtube_etl.settings import Settings
from youtube_lake.reports import get_report

TOP_N = 10


def _titles(folder: Path) -> dict[str, dict[int, str]]:
    """Category titles by lower-case region and id, from every ``XX_category_id.json`` of a dataset."""
    titles = {}
    for path in sorted(folder.glob("*_category_id.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        titles[path.name.split("_")[0].lower()] = {
            int(item["id"]): item["snippet"]["title"] for item in document["items"]
        }
    return titles


def _datasnaek(data_dir: Path) -> list[pd.DataFrame]:
    frames = []
    titles = _titles(data_dir / "raw_statistics_reference_data")
    for path in sorted((data_dir / "raw_statistics").glob("region=*/*.csv")):
        region = path.parent.name.removeprefix("region=")
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
        frames.append(
            _trending(
                raw.rename(columns={"publish_time": "published"}),
                region,
                path.name,
                titles,
                trending=pd.to_datetime(raw["trending_date"], format="%y.%d.%m"),
            )
        )
    return frames


def _rsrishav(data_dir: Path) -> list[pd.DataFrame]:
    root = data_dir / "rsrishav_trending"
    titles = _titles(root / "raw_statistics_reference_data")
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
        trending = pd.to_datetime(raw["trending_date"], utc=True).dt.tz_localize(None)
        frames.append(_trending(raw, region, path.name, titles, trending=trending))
    return frames


def _trending(
    raw: pd.DataFrame, region: str, source_file: str, titles: dict[str, dict[int, str]], trending: pd.Series
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "region": region,
            "video_id": raw["video_id"],
            "trending_date": trending.dt.normalize(),
            "title": raw["title"],
            "channel_id": raw["channelId"] if "channelId" in raw else None,
            "channel_title": raw["channel_title"],
            "category_id": raw["category_id"].astype("int64"),
            "source_file": source_file,
        }
    )
    frame = with_category_titles(frame, titles)
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


@cache
def real_reports(dataset: str = "datasnaek") -> dict[str, pd.DataFrame]:
    """Report frames of a real dataset (cached, computed once per test run for all workers: treat as
    read-only, copy before changing)."""
    return computed_once(
        f"real-reports-{dataset}", lambda: expected_reports(trending_rows(dataset), Settings(top_n=TOP_N))
    )


# ---- the frames keep the reports' grain and columns -----------------------------------------------------
def test_dashboard_reads_only_reports_that_exist() -> None:
    assert set(DASHBOARD_REPORTS) <= set(discover_reports())


@pytest.mark.parametrize("report", [pytest.param(r, id=r) for r in DASHBOARD_REPORTS])
@pytest.mark.parametrize(
    "dataset", [pytest.param("datasnaek", id="datasnaek"), pytest.param("rsrishav", id="rsrishav")]
)
def test_fixture_frames_have_the_report_columns(report: str, dataset: str) -> None:
    frame = real_reports(dataset)[report]
    assert set(get_report(report).column_names) <= set(frame.columns)
    assert len(frame) > 0


@pytest.mark.parametrize(
    "dataset", [pytest.param("datasnaek", id="datasnaek"), pytest.param("rsrishav", id="rsrishav")]
)
def test_fixture_frames_keep_the_report_grain(dataset: str) -> None:
    reports = real_reports(dataset)
    t = trending_rows(dataset)
    for report in DASHBOARD_REPORTS:
        assert not reports[report].duplicated(list(report_key(report))).any(), report
    shares = reports["category_performance"].groupby("region")["views_share"].sum()
    assert shares.round(9).eq(1.0).all()
    assert reports["region_summary"]["trending_rows"].sum() == len(t)
    assert (
        reports["daily_trending_summary"]["new_entrants"].sum()
        == t.groupby("region")["video_id"].nunique().sum()
    )
