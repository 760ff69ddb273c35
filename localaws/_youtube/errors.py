"""Google's error bodies, as the YouTube Data API v3 answers them.

``{"error": {"code", "message", "errors": [{"message", "domain", "reason", ...}], "status"}}``; the
reasons and domains follow the API's error reference (``quotaExceeded`` in ``youtube.quota``,
``invalidPageToken`` / ``invalidRegionCode`` in ``youtube.parameter``) and what Google's front end says
for a missing or invalid key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

#: The gRPC-style status Google puts beside each HTTP code.
STATUS = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


@dataclass(frozen=True)
class ApiError(Exception):
    """An error answer: HTTP ``code``, ``reason`` and ``domain`` of its one ``errors`` entry, ``message``."""

    code: int
    reason: str
    message: str
    domain: str = "global"
    extra: dict[str, Any] = field(default_factory=dict)  # location, locationType of parameter errors
    details: tuple[dict[str, Any], ...] = ()

    def body(self) -> bytes:
        entry = {"message": self.message, "domain": self.domain, "reason": self.reason, **self.extra}
        error: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "errors": [entry],
            "status": STATUS.get(self.code, "UNKNOWN"),
        }
        if self.details:
            error["details"] = list(self.details)
        return json.dumps({"error": error}, indent=2).encode("utf-8")


def missing_key() -> ApiError:
    return ApiError(
        403,
        "forbidden",
        "Method doesn't allow unregistered callers (callers without established identity). Please use API "
        "Key or other form of API consumer identity to call this API.",
    )


def key_invalid() -> ApiError:
    return ApiError(
        400,
        "keyInvalid",
        "API key not valid. Please pass a valid API key.",
        domain="usageLimits",
        details=(
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "youtube.googleapis.com"},
            },
        ),
    )


def quota_exceeded() -> ApiError:
    return ApiError(
        403,
        "quotaExceeded",
        'The request cannot be completed because you have exceeded your <a href="/youtube/v3/getting-'
        'started#quota">quota</a>.',
        domain="youtube.quota",
    )


def parameter(reason: str, message: str, name: str, *, domain: str = "youtube.parameter") -> ApiError:
    """A 400 about one query parameter (``location`` names it, as Google does)."""
    return ApiError(
        400, reason, message, domain=domain, extra={"location": name, "locationType": "parameter"}
    )


def invalid_region(name: str = "regionCode") -> ApiError:
    return parameter(
        "invalidRegionCode", "The <code>regionCode</code> parameter specifies an invalid region code.", name
    )


def invalid_page_token() -> ApiError:
    return parameter("invalidPageToken", "The request specifies an invalid page token.", "pageToken")


def required(name: str) -> ApiError:
    return parameter("required", f"Required parameter: {name}", name, domain="global")


def backend_error(code: int = 503, reason: str = "backendError") -> ApiError:
    return ApiError(code, reason, "The service is currently unavailable." if code == 503 else "Backend Error")
