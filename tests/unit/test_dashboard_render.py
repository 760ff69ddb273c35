"""The dashboard's figures and HTML: self-contained, one chart per question, filters wired to the data."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from infra.dashboard import render
from tests.unit.test_dashboard_reports_data import real_reports, trending_rows

GENERATED = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

#: Any way an HTML page can make the browser fetch something by URL.
REMOTE_REFERENCES = [
    re.compile(r"<script[^>]*\bsrc\s*=", re.I),
    re.compile(r"<link[^>]*\bhref\s*=", re.I),
    re.compile(
        r"<(img|iframe|embed|object|source|audio|video)\b[^>]*\b(src|data)\s*=\s*[\"']?(https?:)?//", re.I
    ),
    re.compile(r"@import", re.I),
    re.compile(r"url\(\s*[\"']?(https?:)?//", re.I),
]


@pytest.fixture(scope="module")
def page() -> str:
    return render.build_html(real_reports("datasnaek"), {"run_id": "manual__1"}, generated_at=GENERATED)


def _outside_plotlyjs(html: str) -> str:
    """The page without the inlined plotly.js (whose code mentions URLs it never loads for these charts)."""
    plotlyjs = get_plotlyjs()
    assert html.count(plotlyjs) == 1, "plotly.js must be inlined exactly once"
    return html.replace(plotlyjs, "")


def test_page_is_self_contained(page: str) -> None:
    rest = _outside_plotlyjs(page)
    for pattern in REMOTE_REFERENCES:
        assert not pattern.search(rest), pattern.pattern
    assert not re.search(r"https?://", rest), re.findall(r"https?://\S{0,40}", rest)[:5]


def test_page_has_one_chart_per_question(page: str) -> None:
    for key, question, report in render.SECTIONS:
        assert page.count(f'id="{render.CHART_IDS[key]}"') == 1
        assert html.escape(question) in page
        assert f"report view: {report}" in page
    assert page.count("Plotly.newPlot(") == len(render.SECTIONS)


def test_header_shows_run_and_freshness(page: str) -> None:
    newest = trending_rows("datasnaek")["trending_date"].max()
    assert "manual__1" in page
    assert f"trending data up to {newest:%Y-%m-%d}" in page
    found = re.search(r"<script type='application/json' id='dashboard-meta'>(.*?)</script>", page)
    assert found is not None
    meta = json.loads(found.group(1))
    assert meta["report_rows"] == {name: len(frame) for name, frame in real_reports("datasnaek").items()}


def test_summary_text_is_escaped() -> None:
    page = render.build_html({}, {"run_id": "<script>alert(1)</script>", "rejected": {"<b>rows</b>": 3}})
    body = _outside_plotlyjs(page)
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "&lt;b&gt;rows&lt;/b&gt;" in body


def test_region_dropdown_shows_one_region_at_a_time() -> None:
    reports = real_reports("datasnaek")
    regions = sorted(trending_rows("datasnaek")["region"].str.upper().unique())
    figure = render.top_categories_figure(reports["category_performance"])
    assert [trace.name for trace in figure.data] == regions
    assert [trace.visible for trace in figure.data] == [True] + [False] * (len(regions) - 1)
    buttons = figure.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == regions
    for index, button in enumerate(buttons):
        visible = button.args[0]["visible"]
        assert visible == [i == index for i in range(len(regions))]
        # The axis lists that region's categories, biggest at the top.
        shown = figure.data[index]
        assert button.args[1]["yaxis.categoryarray"] == list(reversed(shown.y))


def test_days_to_trend_dropdown_toggles_p50_and_p90_pairs() -> None:
    figure = render.days_to_trend_figure(real_reports("datasnaek")["days_to_trend"])
    regions = sorted(trending_rows("datasnaek")["region"].str.upper().unique())
    assert len(figure.data) == 2 * len(regions)
    assert [t.name for t in figure.data[:2]] == ["p50", "p90"]
    for index, button in enumerate(figure.layout.updatemenus[0].buttons):
        assert button.args[0]["visible"] == [i // 2 == index for i in range(2 * len(regions))]


def test_daily_volume_has_a_line_per_region_and_a_metric_menu() -> None:
    reports = real_reports("datasnaek")
    figure = render.daily_volume_figure(reports["daily_trending_summary"])
    trending = trending_rows("datasnaek")
    assert [t.name for t in figure.data] == sorted(trending["region"].str.upper().unique())
    labels = [b.label for b in figure.layout.updatemenus[0].buttons]
    assert labels == ["videos", "new entrants", "total views"]
    new_entrants = figure.layout.updatemenus[0].buttons[1].args[0]["y"]
    first_days = trending.groupby(["region", "video_id"])["trending_date"].min().reset_index()
    expected = first_days.groupby("region").size().sort_index()
    assert [sum(v for v in series if v is not None) for series in new_entrants] == expected.tolist()


def test_leaderboard_table_per_region() -> None:
    reports = real_reports("datasnaek")
    figure = render.leaderboard_figure(reports["channel_leaderboard"], top_n=3)
    trending = trending_rows("datasnaek")
    for trace in figure.data:
        rows = trending[trending["region"] == trace.name.lower()]
        ranks, channels, appearances = trace.cells.values[:3]
        assert list(ranks) == [1, 2, 3]
        assert list(appearances) == sorted(rows.groupby("channel_title").size(), reverse=True)[:3]
        assert channels[0] in set(rows["channel_title"])


@pytest.mark.parametrize(
    ("key", "report"),
    [pytest.param(key, report, id=key) for key, _, report in render.SECTIONS],
)
def test_an_empty_report_says_so_instead_of_a_blank_chart(key: str, report: str) -> None:
    reports = {name: frame.iloc[0:0] for name, frame in real_reports("datasnaek").items()}
    figure = render.build_figures(reports)[key]
    assert len(figure.data) == 0
    assert f"No rows in the {report} report" in figure.layout.annotations[0].text


def test_page_builds_with_no_reports_at_all(tmp_path: Path) -> None:
    path = render.write_dashboard(tmp_path / "sub" / "dashboard.html", {}, None, generated_at=GENERATED)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert text.count("No rows in the") == len(render.SECTIONS)
    assert "not reported by the pipeline" in text


def test_a_region_with_only_an_unknown_category_renders() -> None:
    reports = {name: frame.copy() for name, frame in real_reports("datasnaek").items()}
    extra = pd.DataFrame(
        {
            "region": ["zz"],
            "category_id": [29],
            "category_title": [None],
            "videos": [1],
            "trending_rows": [1],
            "total_views": [10],
            "avg_views": [10.0],
            "total_likes": [1],
            "total_comments": [0],
            "avg_engagement_rate": [0.1],
            "avg_like_ratio": [1.0],
            "views_share": [1.0],
        }
    )
    reports["category_performance"] = pd.concat([reports["category_performance"], extra], ignore_index=True)
    figures = render.build_figures(reports)
    zz = next(t for t in figures["top_categories"].data if t.name == "ZZ")
    assert list(zz.y) == ["Unknown (29)"]
    heatmap = figures["engagement"].data[0]
    column = list(heatmap.x).index("ZZ")
    row = list(heatmap.y).index("Unknown (29)")
    assert heatmap.z[row][column] == pytest.approx(0.1)
