"""Figures and the one self-contained HTML file of the dashboard (plotly, with plotly.js inlined).

The page must open on a laptop without network: plotly.js is inlined once in ``<head>``, no font, style or
script is referenced by URL, and every filter is client-side (plotly dropdown menus and legend toggling).
Each chart lives in a ``<div id="chart-...">`` so the browser test can find its marks.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from infra.dashboard import shaping

#: Chart div ids, in page order; the browser test checks each one drew marks.
CHART_IDS: dict[str, str] = {
    "top_categories": "chart-top-categories",
    "engagement": "chart-engagement",
    "days_to_trend": "chart-days-to-trend",
    "daily_volume": "chart-daily-volume",
    "leaderboard": "chart-leaderboard",
}

#: The questions the pages answer, with the report each one reads.
SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("top_categories", "Which categories trend most in each region?", "category_performance"),
    ("engagement", "How engaged are viewers, by category and region?", "category_performance"),
    ("days_to_trend", "How long after publication do videos start trending?", "days_to_trend"),
    ("daily_volume", "How big is each region's trending list, day by day?", "daily_trending_summary"),
    ("leaderboard", "Which channels trend most often?", "channel_leaderboard"),
)

#: Sections whose category axis marks titles borrowed from another region (they get the mark's note).
MARKED_SECTIONS = ("top_categories", "days_to_trend")

PLOTLY_CONFIG: dict[str, Any] = {"displaylogo": False, "responsive": True}
TEMPLATE = "plotly_white"
TOP_CATEGORIES = 10
LEADERBOARD_ROWS = 20


def _clean(values: Sequence[Any] | pd.Series) -> list[Any]:
    """JSON-friendly values: NaN/NA become None (a gap), numpy scalars become Python numbers."""
    out: list[Any] = []
    for value in list(values):
        if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
            out.append(None)
        elif isinstance(value, pd.Timestamp):
            out.append(None if pd.isna(value) else value.strftime("%Y-%m-%d"))
        elif hasattr(value, "item"):
            out.append(value.item())
        else:
            out.append(value)
    return out


def _empty_figure(title: str, report: str) -> go.Figure:
    """A figure that says the report had no rows, instead of a blank plot."""
    figure = go.Figure()
    figure.update_layout(
        template=TEMPLATE,
        title=title,
        height=260,
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[
            {
                "text": f"No rows in the {report} report for this run.",
                "showarrow": False,
                "font": {"size": 16},
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
            }
        ],
    )
    return figure


def _region_menu(
    labels: Sequence[str], traces_per_region: int, layout_updates: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """A dropdown that shows one region's traces (traces are grouped by region, in ``labels`` order)."""
    buttons = []
    for index, label in enumerate(labels):
        visible = [i // traces_per_region == index for i in range(len(labels) * traces_per_region)]
        args: list[Any] = [{"visible": visible}]
        if layout_updates is not None:
            args.append(dict(layout_updates[index]))
        buttons.append({"label": label, "method": "update", "args": args})
    return _menu(buttons, "region")


def _menu(buttons: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """A dropdown above the plot's top-left corner (titles are centred, so the two never overlap)."""
    return {
        "type": "dropdown",
        "buttons": buttons,
        "active": 0,
        "x": 0.0,
        "xanchor": "left",
        "y": 1.0,
        "yanchor": "bottom",
        "pad": {"b": 36},
        "showactive": True,
        "name": name,
    }


def _layout(figure: go.Figure, title: str, height: int, **layout: Any) -> None:
    """The layout every chart shares: white template, centred title, room above the plot for a menu."""
    figure.update_layout(
        template=TEMPLATE,
        title={"text": title, "x": 0.5, "xanchor": "center"},
        height=height,
        margin={"t": 110, "l": 60, "r": 40, "b": 60},
        **layout,
    )


def top_categories_figure(
    category_performance: pd.DataFrame | None, top_n: int = TOP_CATEGORIES
) -> go.Figure:
    """Horizontal bars of each region's top categories by trending views; a dropdown picks the region."""
    title = f"Top {top_n} categories by trending views"
    frame = shaping.top_categories(category_performance, top_n)
    if frame.empty:
        return _empty_figure(title, "category_performance")
    figure = go.Figure()
    labels = sorted(frame["region_label"].unique())
    orders = []
    for index, label in enumerate(labels):
        rows = frame[frame["region_label"] == label]
        orders.append(list(reversed(rows["category"].tolist())))
        figure.add_trace(
            go.Bar(
                name=label,
                orientation="h",
                x=_clean(rows["total_views"]),
                y=rows["category"].tolist(),
                customdata=[
                    list(r) for r in zip(_clean(rows["views_share"]), _clean(rows["videos"]), strict=True)
                ],
                text=[f"{s:.1%}" if s is not None else "" for s in _clean(rows["views_share"])],
                textposition="auto",
                hovertemplate=(
                    "%{y}<br>%{x:,} trending views<br>%{customdata[0]:.1%} of the region"
                    "<br>%{customdata[1]} videos<extra>" + label + "</extra>"
                ),
                visible=index == 0,
            )
        )
    updates = [
        {"yaxis.categoryarray": order, "title.text": f"{title} — {label}"}
        for order, label in zip(orders, labels, strict=True)
    ]
    _layout(
        figure,
        f"{title} — {labels[0]}",
        480,
        showlegend=False,
        xaxis={"title": "trending views (a video counts once per day it trends)"},
        yaxis={"categoryorder": "array", "categoryarray": orders[0], "automargin": True},
        updatemenus=[_region_menu(labels, 1, updates)],
    )
    return figure


def engagement_figure(category_performance: pd.DataFrame | None) -> go.Figure:
    """Heatmap of average engagement rate per category and region; a dropdown switches to like ratio."""
    title = "Average engagement rate by category and region"
    engagement = shaping.engagement_matrix(category_performance, "avg_engagement_rate")
    if engagement.empty:
        return _empty_figure(title, "category_performance")
    likes = shaping.engagement_matrix(category_performance, "avg_like_ratio").reindex_like(engagement)
    z_engagement = [_clean(row) for row in engagement.to_numpy().tolist()]
    z_likes = [_clean(row) for row in likes.to_numpy().tolist()]
    figure = go.Figure(
        go.Heatmap(
            z=z_engagement,
            x=list(engagement.columns),
            y=list(engagement.index),
            colorscale="Viridis",
            hoverongaps=False,
            colorbar={"tickformat": ".0%"},
            hovertemplate="%{y} in %{x}<br>%{z:.2%}<extra></extra>",
        )
    )
    menu = _menu(
        [
            {
                "label": "engagement rate",
                "method": "update",
                "args": [{"z": [z_engagement]}, {"title.text": title}],
            },
            {
                "label": "like ratio",
                "method": "update",
                "args": [{"z": [z_likes]}, {"title.text": "Average like ratio by category and region"}],
            },
        ],
        "metric",
    )
    _layout(
        figure,
        title,
        max(360, 26 * len(engagement.index) + 190),
        xaxis={"title": "region", "side": "bottom", "type": "category"},
        yaxis={"autorange": "reversed", "automargin": True, "type": "category"},
        updatemenus=[menu],
    )
    return figure


def days_to_trend_figure(days: pd.DataFrame | None) -> go.Figure:
    """p50 and p90 days from publication to first trending, per category; a dropdown picks the region.

    The report keeps percentiles, not each video's days, so these are bars, not a box plot.
    """
    title = "Days from publication to first trending day"
    frame = shaping.days_to_trend(days)
    if frame.empty:
        return _empty_figure(title, "days_to_trend")
    figure = go.Figure()
    labels = sorted(frame["region_label"].unique())
    updates = []
    for index, label in enumerate(labels):
        rows = frame[frame["region_label"] == label]
        custom = [
            list(r)
            for r in zip(
                _clean(rows["videos"]),
                _clean(rows["min_days"]),
                _clean(rows["max_days"]),
                _clean(rows["avg_days"]),
                _clean(rows["within_1_day_share"]),
                strict=True,
            )
        ]
        hover = (
            "%{x}<br>%{fullData.name}: %{y} days<br>%{customdata[0]} videos, min %{customdata[1]}, "
            "max %{customdata[2]}, mean %{customdata[3]:.1f}<br>%{customdata[4]:.0%} trended within a day"
            "<extra>" + label + "</extra>"
        )
        for name, column, color in (("p50", "p50_days", "#4C78A8"), ("p90", "p90_days", "#F58518")):
            figure.add_trace(
                go.Bar(
                    name=name,
                    x=rows["category"].tolist(),
                    y=_clean(rows[column]),
                    customdata=custom,
                    marker_color=color,
                    hovertemplate=hover,
                    visible=index == 0,
                    legendgroup=name,
                )
            )
        updates.append({"title.text": f"{title} — {label}", "xaxis.categoryarray": rows["category"].tolist()})
    _layout(
        figure,
        f"{title} — {labels[0]}",
        480,
        barmode="group",
        xaxis={
            "categoryorder": "array",
            "categoryarray": updates[0]["xaxis.categoryarray"],
            "tickangle": -30,
        },
        yaxis={"title": "days (nearest-rank percentile)"},
        updatemenus=[_region_menu(labels, 2, updates)],
        legend={"orientation": "h", "x": 1.0, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
    )
    return figure


def daily_volume_figure(summary: pd.DataFrame | None) -> go.Figure:
    """Lines of each region's trending list size per day (the legend toggles regions); a dropdown picks
    the metric."""
    title = "Videos on the trending list per day"
    frame = shaping.daily_volume(summary)
    if frame.empty:
        return _empty_figure(title, "daily_trending_summary")
    figure = go.Figure()
    labels = sorted(frame["region_label"].unique())
    series: dict[str, list[list[Any]]] = {"videos": [], "new_entrants": [], "total_views": []}
    for label in labels:
        rows = frame[frame["region_label"] == label]
        for column in series:
            series[column].append(_clean(rows[column]))
        figure.add_trace(
            go.Scatter(
                name=label,
                mode="lines+markers",
                x=_clean(rows["trending_date"]),
                y=series["videos"][-1],
                hovertemplate="%{x|%Y-%m-%d}: %{y:,}<extra>" + label + "</extra>",
            )
        )
    titles = {
        "videos": ("videos", title),
        "new_entrants": ("new entrants", "Videos trending for the first time, per day"),
        "total_views": ("total views", "Total views of the trending list, per day"),
    }
    buttons = [
        {"label": label, "method": "update", "args": [{"y": series[column]}, {"title.text": text}]}
        for column, (label, text) in titles.items()
    ]
    _layout(
        figure,
        title,
        460,
        xaxis={"title": "trending date", "type": "date"},
        yaxis={"rangemode": "tozero"},
        legend={"title": {"text": "region (click to filter)"}},
        updatemenus=[_menu(buttons, "metric")],
    )
    return figure


def leaderboard_figure(channels: pd.DataFrame | None, top_n: int = LEADERBOARD_ROWS) -> go.Figure:
    """A table of each region's top channels by trending appearances; a dropdown picks the region."""
    title = f"Top {top_n} channels by trending appearances"
    frame = shaping.leaderboard(channels, top_n)
    if frame.empty:
        return _empty_figure(title, "channel_leaderboard")
    figure = go.Figure()
    labels = sorted(frame["region_label"].unique())
    header = [
        "rank",
        "channel",
        "appearances (video x day)",
        "videos",
        "peak views",
        "first trending",
        "last trending",
    ]
    for index, label in enumerate(labels):
        rows = frame[frame["region_label"] == label]
        first = pd.to_datetime(rows["first_trending_date"], errors="coerce")
        last = pd.to_datetime(rows["last_trending_date"], errors="coerce")
        figure.add_trace(
            go.Table(
                name=label,
                columnwidth=[40, 220, 110, 60, 110, 90, 90],
                header={
                    "values": header,
                    "align": "left",
                    "fill_color": "#E5ECF6",
                    "font": {"size": 13},
                    "height": 30,
                },
                cells={
                    "values": [
                        [int(v) for v in rows["channel_rank"]],
                        rows["channel_title"].astype("object").fillna("").tolist(),
                        _clean(rows["appearances"]),
                        _clean(rows["videos"]),
                        _clean(rows["peak_views"]),
                        _clean(first),
                        _clean(last),
                    ],
                    "align": ["right", "left", "right", "right", "right", "left", "left"],
                    "format": [None, None, ",d", ",d", ",d", None, None],
                    "height": 26,
                },
                visible=index == 0,
            )
        )
    updates = [{"title.text": f"{title} — {label}"} for label in labels]
    rows_shown = int(frame.groupby("region_label").size().max())
    _layout(
        figure,
        f"{title} — {labels[0]}",
        110 + 30 + 26 * rows_shown + 30,
        updatemenus=[_region_menu(labels, 1, updates)],
    )
    figure.update_layout(margin={"b": 10})
    return figure


def build_figures(reports: Mapping[str, pd.DataFrame]) -> dict[str, go.Figure]:
    """Every chart of the dashboard, by section key (see :data:`SECTIONS`)."""
    return {
        "top_categories": top_categories_figure(reports.get("category_performance")),
        "engagement": engagement_figure(reports.get("category_performance")),
        "days_to_trend": days_to_trend_figure(reports.get("days_to_trend")),
        "daily_volume": daily_volume_figure(reports.get("daily_trending_summary")),
        "leaderboard": leaderboard_figure(reports.get("channel_leaderboard")),
    }


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 0;
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
    """The whole dashboard as one HTML document with plotly.js inlined (nothing is fetched when it opens)."""
    generated_at = generated_at or datetime.now(UTC)
    facts = shaping.header_facts(reports, summary)
    figures = build_figures(reports)
    nav = "".join(f"<a href='#{key}'>{html.escape(q.split('?')[0])}?</a>" for key, q, _ in SECTIONS)
    sections = []
    for key, question, report in SECTIONS:
        div = pio.to_html(
            figures[key],
            config=PLOTLY_CONFIG,
            include_plotlyjs=False,
            full_html=False,
            div_id=CHART_IDS[key],
            default_height=f"{figures[key].layout.height or 450}px",
        )
        note = f"<p class='source'>{html.escape(shaping.BORROWED_NOTE)}</p>" if key in MARKED_SECTIONS else ""
        sections.append(
            f"<section id='{key}'><h2>{html.escape(question)}</h2>"
            f"<p class='source'>report view: {html.escape(report)}</p>{div}{note}</section>"
        )
    meta = json.dumps({"run_id": facts.run_id, "report_rows": facts.report_rows}).replace("</", "<\\/")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>YouTube trending analytics — {html.escape(facts.run_id)}</title>"
        f"<style>{STYLE}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script>"
        f"<script type='application/json' id='dashboard-meta'>{meta}</script>"
        "</head><body>"
        f"{_header(facts, generated_at)}<nav>{nav}<a href='#pipeline'>Pipeline counts</a></nav><main>"
        f"{''.join(sections)}{_pipeline_section(facts)}</main></body></html>\n"
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
