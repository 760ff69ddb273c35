"""The YouTube Data API v3 client of ``youtube_extract``: google-api-python-client, raw bodies, safe errors.

Built offline from the client's bundled discovery document (``static_discovery=True``) and pointed at any
root URL (the API, or the local stand-in) by ``client_options``. Responses come back as the exact bytes the
API sent (``RawModel``), so the extract lands them verbatim. Every request the API answers costs one quota
unit and is counted: "All API requests, including invalid requests, incur a quota cost of at least one
point" (the API's quota table), so an error answer counts too, a ``quotaExceeded`` refusal included; a
refused key does not (it names no project to charge). A request lost to a timeout or a dropped connection
is not counted: the client cannot tell whether the API received it.

The API key is a secret. googleapiclient sends it as ``key=`` in the URI, logs URIs (DEBUG, and WARNING
before its own retries) and puts them in ``HttpError`` messages. So: a log filter scrubs ``key=`` from the
client's loggers, retries are ours (``num_retries=0``), and our errors are built from the status, Google's
reason and message only, raised ``from None`` (no chained ``HttpError`` in a traceback).
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: The API's root URL, from the bundled discovery document (``rootUrl``); requests go to
#: ``{root}youtube/v3/videos``.
DEFAULT_ROOT = "https://youtube.googleapis.com/"
#: Google's error reasons, by behaviour.
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
KEY_REASONS = frozenset({"keyInvalid", "keyExpired", "badRequest.keyInvalid"})
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
REGION_REASONS = frozenset({"invalidRegionCode", "regionCodeInvalid", "unsupportedRegionCode"})

_KEY_RE = re.compile(r"(?i)([?&;]key=)[^&\s'\"]+")
_CLIENT_LOGGERS = (
    "googleapiclient",
    "googleapiclient.discovery",
    "googleapiclient.http",
    "googleapiclient.model",
)


class ExtractError(RuntimeError):
    """The extract failed; the message never holds the API key."""


class FatalExtractError(ExtractError):
    """A failure no retry can fix (the DAG raises ``AirflowFailException``)."""


class QuotaExceeded(FatalExtractError):
    """The key's daily quota is spent: stop at once, naming the quota and the units already spent."""


class KeyRejected(FatalExtractError):
    """No key, or the API refuses it: names the Airflow connection, never the key."""


class UnknownRegion(FatalExtractError):
    """The API does not know the region code (400): that region's task fails naming it."""


class TransientApiError(ExtractError):
    """5xx, 429, a rate limit, a timeout or a dropped connection, still failing after the retries."""


class BadResponse(ExtractError):
    """A body that is not an API list response (not JSON, or no ``items`` list): never landed."""


def scrub(text: str) -> str:
    """``...&key=AIza...&...`` -> ``...&key=***&...``: the key's value never reaches a log or message."""
    return _KEY_RE.sub(r"\1***", text)


class _ScrubKey(logging.Filter):
    """Rewrites a record of googleapiclient's loggers with the ``key=`` value of every URI masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        return True


_FILTER = _ScrubKey()


def install_log_scrubber() -> None:
    """Attach the filter to googleapiclient's loggers (idempotent; filters do not inherit)."""
    for name in _CLIENT_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def build_service(api_root: str, key: str, http: Any = None, timeout: float = 30.0) -> Any:
    """The ``youtube`` v3 resource, from the bundled discovery document (no network), answering raw bytes.

    ``http``: an ``httplib2.Http``-like object (tests pass ``googleapiclient.http.HttpMockSequence``).
    """
    import httplib2
    from googleapiclient.discovery import build
    from googleapiclient.model import RawModel

    install_log_scrubber()
    return build(
        "youtube",
        "v3",
        developerKey=key,
        http=http if http is not None else httplib2.Http(timeout=timeout),
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": api_root},
        model=RawModel(),
    )


def error_details(content: bytes) -> tuple[str, str]:
    """(first reason, message) of Google's error body ``{"error": {"errors": [{"reason"}], "message"}}``."""
    try:
        error = json.loads(content.decode("utf-8"))["error"]
        errors = error.get("errors") or [{}]
        return str(errors[0].get("reason") or error.get("status") or ""), scrub(
            str(error.get("message") or "")
        )
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return "", scrub(content[:200].decode("utf-8", "replace"))


def _transient_exceptions() -> tuple[type[BaseException], ...]:
    import httplib2

    # googleapiclient's own loop retries socket timeouts, ConnectionError and some OSErrors, not
    # IncompleteRead (a body cut short) nor httplib2's errors: we retry all of them, with our backoff.
    return (TimeoutError, ConnectionError, http.client.HTTPException, httplib2.HttpLib2Error, ssl.SSLError)


@dataclass
class YouTubeApi:
    """Executes list requests with bounded exponential backoff and counts the quota units they cost."""

    service: Any
    #: The Airflow connection that holds the key: errors name it, never the key.
    connection_id: str
    retries: int = 4
    backoff: float = 1.0
    max_backoff: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    #: Quota units spent by this client: one per request the API answered, refused and invalid ones too,
    #: except a refused key (module doc).
    units: int = 0
    log: logging.Logger = field(default_factory=lambda: logging.getLogger(__name__))

    def delay(self, retry: int) -> float:
        """Seconds before retry ``retry`` (1-based): backoff, doubling, capped."""
        return float(min(self.max_backoff, self.backoff * 2 ** (retry - 1)))

    def execute(self, request: Any, what: str) -> bytes:
        """The raw body of ``request``; raises one of this module's errors, never an ``HttpError``."""
        from googleapiclient.errors import HttpError

        transient = _transient_exceptions()
        last = ""
        for retry in range(self.retries + 1):
            if retry:
                wait = self.delay(retry)
                self.log.warning("%s: %s; retry %d of %d in %.1f s", what, last, retry, self.retries, wait)
                self.sleep(wait)
            answered: tuple[int, bytes] | None = None
            try:
                body = request.execute(num_retries=0)
            except HttpError as error:
                answered = (error.resp.status, error.content)
            except transient as error:
                last = f"{type(error).__name__}: {scrub(str(error))}"
                continue
            if answered is None:
                self.units += 1
                return bytes(body)
            # Outside the except block: an error raised here has no HttpError (whose text holds the URI
            # with the key) as its context in a traceback.
            last = self._classify(*answered, what)
        raise TransientApiError(f"{what}: still failing after {self.retries} retries ({last})")

    def _classify(self, status: int, content: bytes, what: str) -> str:
        """Count the call's unit; raise the fatal errors; return the description of a transient one (to
        retry)."""
        reason, message = error_details(content)
        described = f"HTTP {status} {reason or 'error'}: {message}".strip()
        key_refused = (
            status in (400, 401, 403)
            and reason not in QUOTA_REASONS
            and (reason in KEY_REASONS or "api key" in message.lower())
        )
        if not key_refused:  # every answer costs a unit, a refusal too; a refused key charges no project
            self.units += 1
        if status == 403 and reason in QUOTA_REASONS:
            raise QuotaExceeded(
                f"{what}: the API key's quota is spent ({reason}: {message}); {self.units} units spent by "
                "this task, including this call. No retry until the quota resets (midnight Pacific time)."
            )
        if key_refused:
            raise KeyRejected(
                f"{what}: the API refused the key of the Airflow connection {self.connection_id!r} "
                f"({described}); set a valid key as that connection's password"
            )
        if status >= 500 or status == 429 or (status == 403 and reason in RATE_REASONS):
            return described
        if status == 400 and (reason in REGION_REASONS or "region" in message.lower()):
            raise UnknownRegion(f"{what}: the API does not know this region code ({described})")
        raise FatalExtractError(f"{what}: {described}")
