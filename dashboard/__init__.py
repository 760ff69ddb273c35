"""The local dashboard: one self-contained HTML file of the report views, readable offline.

``shaping`` is pure (report frames in, tidy frames out), ``render`` builds the plotly figures and the HTML
(plotly.js inlined, client-side filters), ``athena`` reads the report views through the Athena API like the
QuickSight datasets. ``python -m dashboard --out out/dashboard.html`` ties them together.
"""

from dashboard.athena import ReportQueryError, fetch_reports
from dashboard.render import build_html, write_dashboard
from dashboard.shaping import DASHBOARD_REPORTS, ReportShapeError

__all__ = [
    "DASHBOARD_REPORTS",
    "ReportQueryError",
    "ReportShapeError",
    "build_html",
    "fetch_reports",
    "write_dashboard",
]
