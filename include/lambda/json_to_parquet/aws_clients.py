"""One boto3 session and its clients per Lambda container, reused by warm invocations.

Creating a session loads the service models (~1 s) and a client costs ~50 ms, so both are cached here;
:data:`LOCK` guards what is not thread-safe (the session, and awswrangler's use of it).
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3

LOCK = threading.Lock()
_SESSION: boto3.Session | None = None
_CLIENTS: dict[tuple[str, str | None, str | None], Any] = {}


def shared_session() -> boto3.Session:
    """One session per container: it caches the service models (~1 s to load per new session)."""
    global _SESSION
    with LOCK:
        if _SESSION is None:
            _SESSION = boto3.Session()
        return _SESSION


def cached_client(session: boto3.Session, service: str) -> Any:
    """A client reused across warm invocations (creating one costs ~50 ms), per endpoint as set now."""
    key = (service, os.environ.get("AWS_ENDPOINT_URL"), session.region_name)
    with LOCK:  # sessions are not thread-safe; clients are
        if key not in _CLIENTS:
            _CLIENTS[key] = session.client(service)  # type: ignore[call-overload]
        return _CLIENTS[key]
