"""The dashboard's HTML: self-contained, one chart per question, one region selector and date range over the
daily data, CJK text with its own font subset. (What the charts draw is checked in Chromium.)"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from plotly.offline import get_plotlyjs

from dashboard import fonts, render, shaping
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
        assert page.count(f"id='{render.CHART_IDS[key]}'") == 1
        assert html.escape(question) in page
        assert f"report view: {report}" in page


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


def _json(page: str, element_id: str) -> dict:  # type: ignore[type-arg]
    found = re.search(rf"<script type='application/json' id='{element_id}'>(.*?)</script>", page, re.S)
    assert found is not None, element_id
    return dict(json.loads(found.group(1).replace("<\\/", "</")))


def test_the_page_carries_the_daily_data_and_one_set_of_filters(page: str) -> None:
    data = _json(page, "dashboard-data")
    assert data == json.loads(json.dumps(shaping.dashboard_data(real_reports("datasnaek"))))
    regions = re.findall(
        r"<option value='(-?\d+)'>([^<]+)</option>", page.split("id='region-filter'")[1].split("</select>")[0]
    )
    assert regions == [("-1", "All regions")] + [(str(i), r) for i, r in enumerate(data["regions"])]
    assert f"id='date-from' min='{data['dates'][0]}' max='{data['dates'][-1]}'" in page
    assert page.count("id='region-filter'") == 1 and page.count("id='date-from'") == 1
    assert render.SCRIPT in page and "window.dashboard = api" in render.SCRIPT


def _visible_text(page: str) -> str:
    """What the page shows besides plotly.js and the font: its markup and its data."""
    return re.sub(r"@font-face \{[^}]*\}", "", _outside_plotlyjs(page))


def test_cjk_titles_get_an_embedded_subset_of_noto_sans_cjk() -> None:
    from fontTools.ttLib import TTFont

    page = render.build_html(real_reports("rsrishav"), {"run_id": "manual__1"}, generated_at=GENERATED)
    cjk = {c for c in _visible_text(page) if fonts.is_cjk(c)}
    assert {"트", "레", "저"} <= cjk  # TREASURE (트레저), a KR channel of the data
    face = re.search(r"@font-face \{([^}]*)\}", page)
    assert face is not None
    woff = base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)", face.group(1)).group(1))  # type: ignore[union-attr]
    font = TTFont(io.BytesIO(woff))
    assert font.flavor == "woff"
    assert cjk <= {chr(c) for c in font.getBestCmap()}, "every CJK character shown has its glyph"
    declared = set()
    for span in re.search(r"unicode-range: ([^;]+);", face.group(1)).group(1).split(","):  # type: ignore[union-attr]
        low, _, high = span.removeprefix("U+").partition("-")
        declared |= {chr(c) for c in range(int(low, 16), int(high or low, 16) + 1)}
    assert declared == cjk, "the font applies to the CJK characters only; Latin keeps the system font"
    assert f"'{fonts.FAMILY}'" in page.split("<style>")[1].split("</style>")[0]
    # A subset, not the 19 MB collection: the page stays plotly.js plus well under a megabyte.
    assert len(woff) < 400_000 and len(page.encode()) < len(get_plotlyjs().encode()) + 1_000_000


def test_a_page_without_cjk_embeds_no_font() -> None:
    page = render.build_html({}, {"run_id": "manual__1"}, generated_at=GENERATED)
    assert "@font-face" not in page
    assert fonts.font_face("Music, News & Politics, Москва") == ("", fonts.SYSTEM_FAMILIES)


def test_page_builds_with_no_reports_at_all(tmp_path: Path) -> None:
    path = render.write_dashboard(tmp_path / "sub" / "dashboard.html", {}, None, generated_at=GENERATED)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "not reported by the pipeline" in text
    assert _json(text, "dashboard-data")["dates"] == []
