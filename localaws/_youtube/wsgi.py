"""The stand-in's HTTP face: a WSGI layer in front of the runtime's server.

``GET /youtube/v3/videos`` and ``/youtube/v3/videoCategories`` are the API (root URL: the runtime's
endpoint); ``/_localaws/youtube/...`` are the control routes for whoever drives it from another process
(the clock, the recorded days, faults, the call log, quota, reset). Everything else goes to moto.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from localaws._control import json_body, send_json
from localaws._youtube.standin import Answer, YouTubeFault, YouTubeStandIn

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
API_PREFIX = "/youtube/v3/"
CONTROL_PREFIX = "/_localaws/youtube/"


class YouTubeRoutes:
    """Routes the API and control paths to ``standin``, every other request to ``app`` (moto)."""

    def __init__(self, app: WSGIApp, standin: YouTubeStandIn) -> None:
        self.app = app
        self.standin = standin

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(API_PREFIX) and environ.get("REQUEST_METHOD") == "GET":
            answer = self.standin.answer(path[len(API_PREFIX) :], environ.get("QUERY_STRING", ""))
            return _send(answer, start_response)
        if path.startswith(CONTROL_PREFIX):
            try:
                status, value = self._control(environ, path[len(CONTROL_PREFIX) :])
            except (ValueError, TypeError, KeyError) as error:
                status, value = 400, {"message": f"{type(error).__name__}: {error}"}
            return send_json(status, value, start_response)
        return self.app(environ, start_response)

    def _control(self, environ: dict[str, Any], route: str) -> tuple[int, Any]:
        method = environ.get("REQUEST_METHOD", "GET")
        standin = self.standin
        if route == "clock" and method == "POST":
            return 200, {"day": standin.set_day(str(json_body(environ)["day"])).isoformat()}
        if route == "clock":
            return 200, {"day": standin.day.isoformat()}
        if route == "days":
            days = [d.isoformat() for d in standin.days]
            return 200, {"days": days, "regions": list(standin.regions), "charts": standin.chart_sizes()}
        if route == "faults" and method == "POST":
            standin.add_fault(YouTubeFault.from_json(json_body(environ)))
            return 200, {"faults": [f.to_json() for f in standin.faults()]}
        if route == "faults" and method == "DELETE":
            standin.clear_faults()
            return 200, {"faults": []}
        if route == "faults":
            return 200, {"faults": [f.to_json() for f in standin.faults()]}
        if route == "calls":
            return 200, {"calls": [c.to_json() for c in standin.calls()]}
        if route == "quota":
            return 200, standin.quota_report()
        if route == "reset" and method == "POST":
            standin.reset()
            return 200, {"day": standin.day.isoformat()}
        return 404, {"message": f"no control route {method} {CONTROL_PREFIX}{route}"}


def _send(answer: Answer, start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Send ``answer``; a cut one declares its whole length and closes the connection halfway."""
    if answer.delay:
        time.sleep(answer.delay)
    headers = [("Content-Type", answer.content_type), ("Content-Length", str(len(answer.body)))]
    body = answer.body
    if answer.cut_at is not None:
        headers.append(("Connection", "close"))
        body = body[: answer.cut_at]
    start_response(f"{answer.status} {_REASONS.get(answer.status, 'Error')}", headers)
    return [body]


_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}  # fmt: skip
