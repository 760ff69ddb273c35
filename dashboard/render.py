"""Figures and the one self-contained HTML file of the dashboard (plotly, with plotly.js inlined).

The page must open on a laptop without network: plotly.js is inlined once in ``<head>``, no font, style or
script is referenced by URL, and every filter is client-side (plotly dropdown menus and legend toggling).
Each chart lives in a ``<div id="chart-...">`` so the browser test can find its marks.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from plotly.offline import get_plotlyjs

from dashboard import fonts, shaping

#: Chart div ids, in page order; the browser test checks each one drew marks.
CHART_IDS: dict[str, str] = {
    "top_categories": "chart-top-categories",
    "engagement": "chart-engagement",
    "days_to_trend": "chart-days-to-trend",
    "daily_volume": "chart-daily-volume",
    "leaderboard": "chart-leaderboard",
}

#: The questions the pages answer, with the report view each one reads.
SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("top_categories", "Which categories trend most?", "category_daily"),
    ("engagement", "How engaged are viewers, by category and region?", "category_daily"),
    ("days_to_trend", "How long after publication do videos start trending?", "days_to_trend_daily"),
    ("daily_volume", "How big is each region's trending list, day by day?", "daily_trending_summary"),
    ("leaderboard", "Which channels trend most often?", "channel_daily"),
)

#: Sections whose category axis marks titles borrowed from another region (they get the mark's note).
MARKED_SECTIONS = ("top_categories", "days_to_trend")

PLOTLY_CONFIG: dict[str, Any] = {"displaylogo": False, "responsive": True}
TOP_CATEGORIES = 10
LEADERBOARD_ROWS = 20

#: The page's script (``dashboard.js``): the region selector and the date range drive every chart.
SCRIPT = (Path(__file__).with_name("dashboard.js")).read_text(encoding="utf-8")

#: The daily chart's metrics: key in the page's data -> chart title.
METRICS = {
    "videos": "Videos on the trending list per day",
    "new": "Videos trending for the first time, per day",
    "views": "Total views of the trending list, per day",
}


def _controls(data: Mapping[str, Any]) -> str:
    """The region selector and the date range every chart follows."""
    options = "<option value='-1'>All regions</option>" + "".join(
        f"<option value='{i}'>{html.escape(label)}</option>" for i, label in enumerate(data["regions"])
    )
    dates = data["dates"]
    low, high = (dates[0], dates[-1]) if dates else ("", "")
    return (
        "<div id='controls'>"
        f"<label>Region <select id='region-filter'>{options}</select></label>"
        f"<label>From <input type='date' id='date-from' min='{low}' max='{high}'></label>"
        f"<label>To <input type='date' id='date-to' min='{low}' max='{high}'></label>"
        "<span id='filter-summary'></span></div>"
    )


def _section_extra(key: str) -> str:
    """A chart's own switch (a metric), beside the global filters."""
    if key == "daily_volume":
        options = "".join(
            f"<option value='{k}'>{html.escape(v.split(',')[0])}</option>" for k, v in METRICS.items()
        )
        return f"<label class='metric'>Show <select id='daily-metric'>{options}</select></label>"
    if key == "engagement":
        return (
            "<label class='metric'>Show <select id='engagement-metric'>"
            "<option value='engagement_rate'>engagement rate</option>"
            "<option value='like_ratio'>like ratio</option></select></label>"
        )
    return ""


def _json_script(element_id: str, value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return f"<script type='application/json' id='{element_id}'>{text}</script>"


STYLE = """
body { font-family: FONT_FAMILY; margin: 0;
       color: #1f2933; background: #f5f7fa; }
header { background: #1f2933; color: #f5f7fa; padding: 16px 28px; }
header h1 { margin: 0 0 6px 0; font-size: 22px; }
header .facts { display: flex; flex-wrap: wrap; gap: 8px 28px; font-size: 14px; }
header .facts b { color: #9fb3c8; font-weight: 600; margin-right: 4px; }
nav { position: sticky; top: 0; background: #fff; border-bottom: 1px solid #d9e2ec; padding: 8px 28px;
      z-index: 10; font-size: 14px; }
nav a { margin-right: 18px; color: #243b53; text-decoration: none; }
main { padding: 12px 28px 40px 28px; }
section { background: #fff; border: 1px solid #d9e2ec; border-radius: 6px; margin: 16px 0;
          padding: 8px 16px; }
section h2 { font-size: 17px; margin: 8px 0; }
section p.source { font-size: 12px; color: #627d98; margin: 0 0 4px 0; }
table.counts { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
table.counts th, table.counts td { padding: 3px 10px; border-bottom: 1px solid #e4e7eb; text-align: left; }
table.counts td.n { text-align: right; font-variant-numeric: tabular-nums; }
.stats { display: flex; flex-wrap: wrap; gap: 12px 40px; }
#controls { display: inline-flex; flex-wrap: wrap; gap: 6px 16px; margin-left: 12px; align-items: center; }
#controls select, #controls input, label.metric select { font: inherit; }
#filter-summary { color: #627d98; }
label.metric { font-size: 13px; }
"""


def _counts_table(title: str, counts: Mapping[str, int], empty: str) -> str:
    if not counts:
        return f"<div><h3>{html.escape(title)}</h3><p>{html.escape(empty)}</p></div>"
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td class='n'>{value:,}</td></tr>" for name, value in counts.items()
    )
    return f"<div><h3>{html.escape(title)}</h3><table class='counts'>{rows}</table></div>"


def _header(facts: shaping.HeaderFacts, generated_at: datetime) -> str:
    facts_html = "".join(
        f"<span><b>{html.escape(k)}</b>{html.escape(v)}</span>"
        for k, v in (
            ("run", facts.run_id),
            ("freshness", facts.freshness),
            ("generated", generated_at.strftime("%Y-%m-%d %H:%M UTC")),
            *facts.other.items(),
        )
    )
    return (
        "<header><h1>YouTube trending analytics</h1>"
        f"<div class='facts' id='facts'>{facts_html}</div></header>"
    )


def _pipeline_section(facts: shaping.HeaderFacts) -> str:
    parts = [
        _counts_table("rows per stage", facts.stage_rows, "not reported by the pipeline"),
        _counts_table("rejected", facts.rejected, "none reported"),
        _counts_table("quarantined", facts.quarantined, "none reported"),
        _counts_table("rows per report view", facts.report_rows, "no report was read"),
    ]
    return (
        "<section id='pipeline'><h2>What went through the pipeline</h2>"
        f"<div class='stats'>{''.join(parts)}</div></section>"
    )


def build_html(
    reports: Mapping[str, pd.DataFrame],
    summary: Mapping[str, Any] | None = None,
    *,
    generated_at: datetime | None = None,
) -> str:
    """The whole dashboard as one HTML document with plotly.js and the CJK font inlined (nothing is fetched
    when it opens)."""
    generated_at = generated_at or datetime.now(UTC)
    facts = shaping.header_facts(reports, summary)
    data = shaping.dashboard_data(reports)
    nav = "".join(f"<a href='#{key}'>{html.escape(q.split('?')[0])}?</a>" for key, q, _ in SECTIONS)
    sections = []
    for key, question, report in SECTIONS:
        note = f"<p class='source'>{html.escape(shaping.BORROWED_NOTE)}</p>" if key in MARKED_SECTIONS else ""
        sections.append(
            f"<section id='{key}'><h2>{html.escape(question)}</h2>"
            f"<p class='source'>report view: {html.escape(report)}</p>{_section_extra(key)}"
            f"<div id='{CHART_IDS[key]}' class='chart'></div>{note}</section>"
        )
    text = "".join(sections) + json.dumps(data, ensure_ascii=False) + facts.run_id
    font_css, family = fonts.font_face(text)
    config = {
        "charts": CHART_IDS,
        "top_categories": TOP_CATEGORIES,
        "leaderboard_rows": LEADERBOARD_ROWS,
        "mark": shaping.BORROWED_MARK,
        "metrics": METRICS,
        "plotly": PLOTLY_CONFIG,
        "font_family": family,
    }
    meta = {"run_id": facts.run_id, "report_rows": facts.report_rows}
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>YouTube trending analytics — {html.escape(facts.run_id)}</title>"
        f"<style>{font_css}{STYLE.replace('FONT_FAMILY', family)}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script>"
        f"{_json_script('dashboard-meta', meta)}{_json_script('dashboard-data', data)}"
        f"{_json_script('dashboard-config', config)}"
        "</head><body>"
        f"{_header(facts, generated_at)}"
        f"<nav>{nav}<a href='#pipeline'>Pipeline counts</a>{_controls(data)}</nav>"
        f"<main>{''.join(sections)}{_pipeline_section(facts)}</main>"
        f"<script type='text/javascript'>{SCRIPT}</script></body></html>\n"
    )


def write_dashboard(
    path: str | Path,
    reports: Mapping[str, pd.DataFrame],
    summary: Mapping[str, Any] | None = None,
    *,
    generated_at: datetime | None = None,
) -> Path:
    """Write the dashboard to ``path`` (creating its folder) and return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(build_html(reports, summary, generated_at=generated_at), encoding="utf-8")
    return target
