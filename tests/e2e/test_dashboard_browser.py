"""The dashboard, opened in headless Chromium with no network, draws every chart without a console error.

The HTML is generated from report frames computed from the real Kaggle files. Chromium runs with a dead
proxy and a host resolver that resolves nothing, and the DevTools protocol (over a websocket on 127.0.0.1)
records every request, console message and exception while the page loads. Then each chart's marks are
counted in the DOM against what the data says they should be, the client-side filters are exercised with
real mouse clicks (a region dropdown, a legend toggle), and a full-page screenshot is saved under
``artifacts/``. Chromium comes from Debian (``scripts/install_chromium.sh``, which ``.ci/run`` calls); the
test installs it when missing and skips, saying why, only when it cannot be installed.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from websockets.sync.client import ClientConnection, connect

from infra.dashboard.render import CHART_IDS, LEADERBOARD_ROWS, TOP_CATEGORIES, write_dashboard
from infra.local.runtime import REPO_ROOT
from tests.unit.test_dashboard_reports_data import real_reports, trending_rows

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install_chromium.sh"
ARTIFACTS = REPO_ROOT / "artifacts"
#: Schemes a self-contained page may load from: itself, inline data, blobs plotly makes.
LOCAL_SCHEMES = {"file", "data", "blob", "about"}
SUMMARY = {
    "run_id": "manual__2026-11-24T12:00:00+00:00",
    "stage_rows": {"raw statistics": 7944, "statistics": 7900, "analytics": 7900},
    "rejected": {"statistics rows": 44},
    "quarantined": {"category files": 0},
}

MARKS_JS = """
(() => {
  const ids = IDS;
  // Drawn means some extent (a flat line has no height, a thin bar may have no width) and, for a path,
  // some drawing commands.
  const shown = (el) => { const r = el.getBoundingClientRect();
    const d = el.tagName === 'path' ? (el.getAttribute('d') || '') : 'drawn';
    return (r.width > 0 || r.height > 0) && d.length > 3; };
  const all = (id, selector) => Array.from(document.querySelectorAll('#' + id + ' ' + selector));
  const count = (id, selector) => all(id, selector).filter(shown).length;
  return {
    plotly: (typeof Plotly === 'object') ? Plotly.version : null,
    rendered: Array.from(document.querySelectorAll('.plotly-graph-div')).filter(g => g._fullLayout).length,
    top_categories: count(ids.top_categories, '.barlayer .point path'),
    engagement: count(ids.engagement, '.heatmaplayer image'),
    days_to_trend: count(ids.days_to_trend, '.barlayer .point path'),
    daily_volume: count(ids.daily_volume, '.scatterlayer path.js-line'),
    leaderboard: all(ids.leaderboard, '.cell-text').filter(shown).map(t => t.textContent),
    page_height: document.documentElement.scrollHeight,
  };
})()
""".replace("IDS", json.dumps(CHART_IDS))


class DevTools:
    """A minimal DevTools-protocol client: commands by id, everything else kept as events."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.events: list[dict[str, Any]] = []
        self._next_id = 0

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.socket.send(json.dumps(message))
        deadline = time.monotonic() + 60
        while True:
            data = json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic())))
            if data.get("id") == self._next_id:
                if "error" in data:
                    raise RuntimeError(f"{method} failed: {data['error']}")
                return data.get("result", {})
            self.events.append(data)

    def wait_for(self, method: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen = len(self.events)
        for event in self.events:
            if event.get("method") == method:
                return event
        while time.monotonic() < deadline:
            try:
                data = json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic())))
            except TimeoutError:
                break
            self.events.append(data)
            if data.get("method") == method:
                return data
        raise TimeoutError(f"no {method} within {timeout} s ({len(self.events) - seen} other events)")


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's chromium, installed with the project's script when missing."""
    if not CHROMIUM.exists():
        result = subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=900)
        if not CHROMIUM.exists():
            message = (
                f"{CHROMIUM} is not installed and {INSTALL_SCRIPT.name} could not install it "
                f"(exit {result.returncode}): {(result.stderr or result.stdout).strip()[-400:]}"
            )
            # .ci/run installs chromium, so in CI a missing browser is a failure, never a quiet skip.
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[DevTools]:
    """Headless Chromium with networking disabled, driven over DevTools on a free 127.0.0.1 port."""
    profile = Path(tempfile.mkdtemp(prefix="dashboard-chromium-"))
    process = subprocess.Popen(
        [
            str(chromium),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--mute-audio",
            f"--user-data-dir={profile}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if process.poll() is not None or time.monotonic() > deadline:
                stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
                pytest.fail(
                    f"chromium did not open its DevTools port (exit {process.poll()}): {stderr[-2000:]}"
                )
            time.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        with connect(f"ws://127.0.0.1:{port}{path}", proxy=None, max_size=None, open_timeout=20) as socket:
            client = DevTools(socket)
            yield client
            try:
                client.send("Browser.close")
            except Exception:  # noqa: BLE001 - the browser may already be gone; it is killed below
                pass
    finally:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
        if process.stderr:
            process.stderr.close()


def _open_page(browser: DevTools, url: str) -> str:
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Runtime", "Log", "Network", "Page"):
        browser.send(f"{domain}.enable", session=session)
    browser.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
        session=session,
    )
    browser.send("Page.navigate", {"url": url}, session=session)
    browser.wait_for("Page.loadEventFired", timeout=60)
    return session


def _evaluate(browser: DevTools, session: str, expression: str) -> Any:
    result = browser.send(
        "Runtime.evaluate",
        {"expression": expression, "returnByValue": True, "awaitPromise": True},
        session=session,
    )
    if "exceptionDetails" in result:
        raise AssertionError(f"page script failed: {result['exceptionDetails']}")
    return result["result"].get("value")


def _wait_for_marks(browser: DevTools, session: str, ready: Any, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    marks: dict[str, Any] = {}
    while time.monotonic() < deadline:
        marks = _evaluate(browser, session, MARKS_JS)
        if ready(marks):
            return marks
        time.sleep(0.2)
    return marks


def _click(browser: DevTools, session: str, selector_js: str) -> None:
    """A real mouse click (press and release) at the centre of the element ``selector_js`` returns."""
    box = None
    deadline = time.monotonic() + 5  # a dropdown's buttons appear after its opening transition
    while box is None and time.monotonic() < deadline:
        box = _evaluate(
            browser,
            session,
            f"""(() => {{ const el = {selector_js}; if (!el) return null;
            el.scrollIntoView({{block: 'center'}}); const r = el.getBoundingClientRect();
            return {{x: r.x + r.width / 2, y: r.y + r.height / 2}}; }})()""",
        )
        if box is None:
            time.sleep(0.1)
    assert box is not None, f"nothing to click: {selector_js}"
    for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
        event = {"type": kind, "x": box["x"], "y": box["y"], "button": "left", "clickCount": 1}
        if kind == "mouseMoved":
            event = {"type": kind, "x": box["x"], "y": box["y"]}
        browser.send("Input.dispatchMouseEvent", event, session=session)


def _problems(events: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    errors, requests = [], []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(
                " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            )
        elif method == "Runtime.exceptionThrown":
            errors.append(json.dumps(params.get("exceptionDetails", {}))[:500])
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            errors.append(f"{params['entry'].get('source')}: {params['entry'].get('text')}")
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            if urlparse(url).scheme not in LOCAL_SCHEMES:
                requests.append(url)
    return errors, requests


def test_dashboard_renders_offline_in_chromium(browser: DevTools, tmp_path: Path) -> None:
    reports = real_reports("datasnaek")
    trending = trending_rows("datasnaek")
    page = write_dashboard(tmp_path / "dashboard.html", reports, SUMMARY)

    # What the data says each chart must draw (computed from the trending rows, not the report frames).
    regions = sorted(trending["region"].str.upper().unique())
    first = regions[0].lower()
    first_rows = trending[trending["region"] == first]
    bars_expected = min(TOP_CATEGORIES, first_rows["category_id"].nunique())
    appearances = first_rows.groupby("channel_title").size()
    top_channel = appearances[appearances == appearances.max()].index.min()
    other = regions[-1].lower()
    other_rows = trending[trending["region"] == other]
    other_counts = other_rows.groupby("channel_title").size()
    other_top = other_counts[other_counts == other_counts.max()].index.min()

    session = _open_page(browser, page.as_uri())
    marks = _wait_for_marks(
        browser,
        session,
        lambda m: (
            m.get("rendered") == len(CHART_IDS)
            and all(
                m.get(k)
                for k in ("top_categories", "engagement", "days_to_trend", "daily_volume", "leaderboard")
            )
        ),
    )
    assert marks.get("plotly"), "plotly.js did not load from the inlined script"
    assert marks["rendered"] == len(CHART_IDS), marks
    assert marks["top_categories"] == bars_expected, marks
    assert marks["engagement"] >= 1, marks
    assert marks["days_to_trend"] >= 1, marks
    assert marks["daily_volume"] == len(regions), marks
    assert top_channel in marks["leaderboard"], (top_channel, marks["leaderboard"][:12])

    # Full-page screenshot, as a person would see the page.
    ARTIFACTS.mkdir(exist_ok=True)
    browser.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1400, "height": int(marks["page_height"]), "deviceScaleFactor": 1, "mobile": False},
        session=session,
    )
    time.sleep(0.5)  # plotly's responsive resize
    shot = browser.send(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=session
    )
    png = base64.b64decode(shot["data"])
    (ARTIFACTS / "dashboard.png").write_bytes(png)
    assert png.startswith(b"\x89PNG") and len(png) > 50_000

    # Region filter: pick the last region in the leaderboard's dropdown with the mouse.
    _click(
        browser, session, f"document.querySelector('#{CHART_IDS['leaderboard']} .updatemenu-header-group')"
    )
    _click(
        browser,
        session,
        f"Array.from(document.querySelectorAll('#{CHART_IDS['leaderboard']} .updatemenu-dropdown-button'))"
        f".find(b => b.textContent.trim() === '{regions[-1]}')",
    )
    marks = _wait_for_marks(browser, session, lambda m: other_top in m.get("leaderboard", []))
    assert other_top in marks["leaderboard"], (other_top, marks["leaderboard"][:12])
    assert len(marks["leaderboard"]) <= 7 * (LEADERBOARD_ROWS + 1)

    # Legend toggling hides one region's line in the daily volume chart.
    _click(
        browser,
        session,
        f"document.querySelector('#{CHART_IDS['daily_volume']} .legend .traces .legendtoggle')",
    )
    marks = _wait_for_marks(browser, session, lambda m: m.get("daily_volume") == len(regions) - 1)
    assert marks["daily_volume"] == len(regions) - 1, marks

    errors, requests = _problems(browser.events)
    assert not errors, errors
    assert not requests, f"the page tried to fetch from the network: {requests}"
