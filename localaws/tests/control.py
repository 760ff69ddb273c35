"""A call to one of the runtime's control routes (``/_localaws/...``), as another process drives them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def control(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    """(HTTP status, decoded JSON answer) of ``method url`` with ``body`` as JSON; an error status is
    returned with its answer, not raised."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
