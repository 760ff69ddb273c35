"""The runtime's control routes (``/_localaws/...``): a JSON object in, a JSON answer out."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any


def json_body(environ: dict[str, Any]) -> dict[str, Any]:
    """A control request's JSON object (ValueError when it is not JSON or not an object)."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    value = json.loads(environ["wsgi.input"].read(length) or b"{}")
    if not isinstance(value, dict):
        raise ValueError("the body must be a JSON object")
    return value


def send_json(status: int, value: Any, start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answer a control request with ``value`` as JSON."""
    data = json.dumps(value, indent=2).encode("utf-8")
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    start_response(f"{status} {HTTPStatus(status).phrase}", headers)
    return [data]
