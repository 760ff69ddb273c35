"""Holds: slow work on demand, so a test can kill the task waiting for it while it really runs.

An Athena query or a crawl on this runtime ends within a second, too soon for a test to kill the Airflow
task waiting for it *in the middle* of it (a recycled worker dies at any moment; issue 25). A hold makes the
next ``count`` queries whose SQL matches ``match`` (a regular expression), or crawls of crawlers whose name
matches, stay RUNNING ``seconds`` before they run; StopQueryExecution / StopCrawler still end them at once.
Nothing holds unless asked: ``POST /_localaws/holds`` with ``{"service": "athena" | "crawler", "match": "...",
"seconds": N, "count": 1}``; ``GET`` lists what is left, ``DELETE`` clears.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from localaws._control import json_body, send_json

SERVICES = ("athena", "crawler")
ROUTE = "/_localaws/holds"
#: A hold longer than this is a mistake (a task's whole timeout), not a test's slow query.
MAX_SECONDS = 600.0

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass
class Hold:
    service: str
    match: str
    seconds: float
    count: int = 1

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Hold:
        """A hold from a control request; a wrong field is a ValueError naming it."""
        unknown = set(value) - {"service", "match", "seconds", "count"}
        if unknown:
            raise ValueError(f"unknown hold fields {sorted(unknown)}")
        service, match = str(value.get("service", "")), str(value.get("match", ""))
        if service not in SERVICES:
            raise ValueError(f"hold service {service!r}: one of {', '.join(SERVICES)}")
        try:
            re.compile(match)
        except re.error as error:
            raise ValueError(f"hold match {match!r} is not a regular expression: {error}") from error
        seconds, count = float(value.get("seconds", 0)), int(value.get("count", 1))
        if not 0 < seconds <= MAX_SECONDS:
            raise ValueError(f"hold seconds {seconds}: more than 0, at most {MAX_SECONDS:.0f}")
        if count < 1:
            raise ValueError(f"hold count {count}: at least 1")
        return cls(service, match, seconds, count)


class Holds:
    """The holds of one runtime (thread-safe): executors ask :meth:`take` as each query or crawl starts."""

    def __init__(self) -> None:
        self._holds: list[Hold] = []
        self._lock = threading.Lock()

    def add(self, hold: Hold) -> None:
        with self._lock:
            self._holds.append(hold)

    def clear(self) -> None:
        with self._lock:
            self._holds.clear()

    def pending(self) -> list[Hold]:
        with self._lock:
            return [Hold(**asdict(h)) for h in self._holds]

    def take(self, service: str, text: str) -> float:
        """Seconds the work named by ``text`` is held (0: none), counted off the first matching hold."""
        with self._lock:
            for hold in self._holds:
                if hold.service == service and re.search(hold.match, text):
                    hold.count -= 1
                    if hold.count == 0:
                        self._holds.remove(hold)
                    return hold.seconds
        return 0.0


class HoldRoutes:
    """``/_localaws/holds`` in front of ``app`` (the runtime's WSGI app): everything else goes to ``app``."""

    def __init__(self, app: WSGIApp, holds: Holds) -> None:
        self.app = app
        self.holds = holds

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") != ROUTE:
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        status = 200
        try:
            if method == "POST":
                self.holds.add(Hold.from_json(json_body(environ)))
            elif method == "DELETE":
                self.holds.clear()
            answer: Any = {"holds": [asdict(h) for h in self.holds.pending()]}
        except (ValueError, TypeError) as error:
            status, answer = 400, {"message": f"{type(error).__name__}: {error}"}
        return send_json(status, answer, start_response)
