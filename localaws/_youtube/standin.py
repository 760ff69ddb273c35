"""The stand-in's state and its answers: which recorded day it serves, the keys, quota per key and day,
the faults it injects, the calls it received.

An API call is checked in Google's order: the key (missing: 403, unknown: 400), then the quota of that key
for the served day (403 ``quotaExceeded`` once the limit is spent), then its parameters. A call with a
valid key costs 1 unit whatever its answer: Google's quota table says "All API requests, including
invalid requests, incur a quota cost of at least one point", so an invalid request, a ``quotaExceeded``
refusal and an injected error cost their unit too (the units spent may pass the limit by the refusals). A
refused key costs nothing: it names no project to charge.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs

from localaws._youtube import errors, resources
from localaws._youtube.data import Recording, load_recording
from localaws._youtube.errors import ApiError

FaultKind = Literal["error", "slow", "truncated", "not_json", "no_items", "few_categories"]
FAULT_KINDS: tuple[str, ...] = ("error", "slow", "truncated", "not_json", "no_items", "few_categories")
METHODS = {"videos": "videos.list", "videoCategories": "videoCategories.list"}
#: The one method a ``few_categories`` fault answers (and so the only calls it counts).
_CATEGORIES = METHODS["videoCategories"]
#: Parameters every Google API accepts (the client library sends ``alt=json`` and ``key``).
_SYSTEM_PARAMS = {"key", "alt", "prettyPrint", "fields", "quotaUser", "userIp", "$.xgafv", "callback"}
_VIDEO_PARAMS = {"part", "chart", "id", "myRating", "regionCode", "maxResults", "pageToken", "hl"}
_CATEGORY_PARAMS = {"part", "id", "regionCode", "hl"}
_NOT_JSON = (
    b"<!DOCTYPE html>\n<html lang=en><title>Error 502 (Server Error)!!1</title><p>That's an error.</p>"
)


@dataclass(frozen=True)
class YouTubeFault:
    """A fault injected into API answers: ``error`` (HTTP ``status`` with Google's body and ``reason``),
    ``slow`` (the answer after ``delay`` seconds), ``truncated`` (the connection closes after half the
    body), ``not_json`` (a 200 whose body is an HTML error page), ``no_items`` (a 200 whose body is valid
    JSON, the answer without its ``items``: no list response a client may take as a page; an error answer
    stays as it is), ``few_categories`` (a 200 ``videoCategories.list`` answer holding only its first
    ``keep`` categories, ``pageInfo`` counts matched: a valid but implausible response, which only the
    Lambda's minimum can refuse; it watches that method only). It hits the ``on_call``-th API call counted
    from when it was added (1: the next one), and ``times`` calls from there (0: every one); ``method``
    (``videos.list`` / ``videoCategories.list``) restricts the calls it counts."""

    kind: FaultKind
    on_call: int = 1
    times: int = 1
    status: int = 503
    reason: str = "backendError"
    delay: float = 0.0
    method: str | None = None
    keep: int = 1

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}: one of {', '.join(FAULT_KINDS)}")
        if self.on_call < 1 or self.times < 0:
            raise ValueError("on_call counts from 1 and times from 0 (0: every call)")
        if self.method is not None and self.method not in METHODS.values():
            raise ValueError(f"unknown method {self.method!r}: one of {sorted(METHODS.values())}")
        if self.kind == "few_categories":
            if self.method not in (None, _CATEGORIES):
                raise ValueError(f"a few_categories fault answers {_CATEGORIES} only, not {self.method}")
            if self.keep < 0:
                raise ValueError(f"keep={self.keep}: the categories kept count from 0")
            # Counting the calls of the one method it changes: on_call=1 is the next categories call.
            object.__setattr__(self, "method", _CATEGORIES)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> YouTubeFault:
        return cls(**value)


@dataclass(frozen=True)
class YouTubeCall:
    """One API call as the stand-in saw it: its number (from 1), method, parameters without the key, the
    key, the answer's status, units charged, the day served, the fault applied (if any)."""

    number: int
    method: str
    params: dict[str, str]
    key: str | None
    status: int
    units: int
    day: str
    fault: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """What to send: status, body, its type, and how to send it (after ``delay``; cut after ``cut_at``)."""

    status: int
    body: bytes
    content_type: str = "application/json; charset=UTF-8"
    delay: float = 0.0
    cut_at: int | None = None


@dataclass
class _Armed:
    fault: YouTubeFault
    seen: int = 0

    def hits(self, method: str) -> bool:
        """Count this call if the fault watches its method; True when the fault applies to it."""
        if self.fault.method is not None and self.fault.method != method:
            return False
        self.seen += 1
        last = None if self.fault.times == 0 else self.fault.on_call + self.fault.times - 1
        return self.seen >= self.fault.on_call and (last is None or self.seen <= last)


@dataclass
class _State:
    day: date
    calls: list[YouTubeCall] = field(default_factory=list)
    spent: dict[tuple[str, date], int] = field(default_factory=dict)
    faults: list[_Armed] = field(default_factory=list)


class YouTubeStandIn:
    """The YouTube Data API v3 stand-in of a runtime: its clock, keys, quota, faults and call log.

    The clock is the recorded day it serves (the first recorded day at start); it is also the quota's day,
    since a day of the clock stands for a Pacific day of the real API.
    """

    def __init__(self, data: str | Path, *, api_keys: tuple[str, ...] = ("local-key",), quota: int = 10_000):
        self.recording: Recording = load_recording(data)
        self.api_keys = tuple(api_keys)
        self.quota = quota
        self._first_day = self.recording.days[0] if self.recording.days else date.today()
        self._state = _State(self._first_day)
        self._lock = threading.Lock()
        #: Each chart's ``youtube#video`` items, built once per (region, day, parts): the recording does not
        #: change, and hashing every item for its etag on every page was most of a page's cost.
        self._items: dict[tuple[str, date, tuple[str, ...]], list[dict[str, Any]]] = {}

    # ---- the clock ------------------------------------------------------------------------------------
    @property
    def day(self) -> date:
        """The recorded day served now."""
        return self._state.day

    @property
    def days(self) -> tuple[date, ...]:
        """Every day some region has a recorded chart of."""
        return self.recording.days

    @property
    def regions(self) -> tuple[str, ...]:
        return self.recording.regions

    def set_day(self, day: date | str) -> date:
        """Serve the charts of ``day`` from now on (a day without a chart answers an empty chart)."""
        value = date.fromisoformat(day) if isinstance(day, str) else day
        with self._lock:
            self._state.day = value
        return value

    def chart_sizes(self) -> dict[str, dict[str, int]]:
        """Items of each recorded chart, by day then region."""
        sizes: dict[str, dict[str, int]] = {}
        for (region, day), chart in sorted(
            self.recording.charts.items(), key=lambda kv: (kv[0][1], kv[0][0])
        ):
            sizes.setdefault(day.isoformat(), {})[region] = len(chart)
        return sizes

    # ---- faults, calls, quota ----------------------------------------------------------------------------
    def add_fault(self, fault: YouTubeFault) -> None:
        with self._lock:
            self._state.faults.append(_Armed(fault))

    def clear_faults(self) -> None:
        with self._lock:
            self._state.faults.clear()

    def faults(self) -> list[YouTubeFault]:
        with self._lock:
            return [armed.fault for armed in self._state.faults]

    def calls(self) -> list[YouTubeCall]:
        with self._lock:
            return list(self._state.calls)

    def quota_spent(self, key: str, day: date | str | None = None) -> int:
        """Units ``key`` spent on ``day`` (default: the day served now)."""
        value = date.fromisoformat(day) if isinstance(day, str) else day
        with self._lock:
            return self._state.spent.get((key, value or self._state.day), 0)

    def quota_report(self) -> dict[str, Any]:
        with self._lock:
            spent: dict[str, dict[str, int]] = {}
            for (key, day), units in sorted(self._state.spent.items()):
                spent.setdefault(key, {})[day.isoformat()] = units
            return {"limit": self.quota, "day": self._state.day.isoformat(), "spent": spent}

    def reset(self) -> None:
        """Forget calls, quota spent and faults; serve the first recorded day again."""
        with self._lock:
            self._state = _State(self._first_day)

    # ---- answering ------------------------------------------------------------------------------------
    def answer(self, name: str, query: str) -> Answer:
        """Answer ``GET /youtube/v3/<name>?<query>``."""
        method = METHODS.get(name, "")
        params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        key = params.pop("key", None)
        with self._lock:
            day, fault, units, early = self._admit(method, key)
            number = len(self._state.calls) + 1
            self._state.calls.append(YouTubeCall(number, method, params, key, 0, units, day.isoformat()))
        if early is None:
            try:
                early = self._respond(method, params, day)
            except ApiError as error:
                early = Answer(error.code, error.body())
        answer = _with_fault(early, fault)
        with self._lock:
            call = self._state.calls[number - 1]
            kind = fault.kind if fault is not None else None
            self._state.calls[number - 1] = YouTubeCall(
                **{**asdict(call), "status": answer.status, "fault": kind}
            )
        return answer

    def _admit(self, method: str, key: str | None) -> tuple[date, YouTubeFault | None, int, Answer | None]:
        """Under the lock: the day, the fault of this call, the units charged, and an answer when the call
        ends here (unknown method, key, injected error, quota)."""
        day = self._state.day
        if not method:
            return day, None, 0, Answer(404, errors.ApiError(404, "notFound", "Method not found.").body())
        if not key:
            return day, None, 0, Answer(403, errors.missing_key().body())
        if key not in self.api_keys:
            return day, None, 0, Answer(400, errors.key_invalid().body())
        hit = [armed.fault for armed in self._state.faults if armed.hits(method)]  # every fault counts it
        fault = hit[0] if hit else None
        spent = self._state.spent.get((key, day), 0)
        self._state.spent[(key, day)] = spent + 1  # whatever the answer, as on the API (module doc)
        if fault is not None and fault.kind == "error":
            error = errors.backend_error(fault.status, fault.reason)
            return day, fault, 1, Answer(error.code, error.body())
        if spent >= self.quota:
            return day, fault, 1, Answer(403, errors.quota_exceeded().body())
        return day, fault, 1, None

    def _respond(self, method: str, params: dict[str, str], day: date) -> Answer:
        allowed = _VIDEO_PARAMS if method == "videos.list" else _CATEGORY_PARAMS
        _check_system_params(params, allowed)
        if method == "videoCategories.list":
            return Answer(200, self._categories(params))
        return Answer(200, _json(self._videos(params, day)))

    def _categories(self, params: dict[str, str]) -> bytes:
        _parts(params, ("snippet",), "videoCategory")
        if "id" in params:
            raise errors.parameter(
                "invalidFilters", "The local stand-in serves videoCategories by regionCode only.", "id"
            )
        if "regionCode" not in params:
            raise errors.parameter(
                "missingRequiredParameter",
                "No filter selected. Expected one of: id, regionCode",
                "regionCode",
            )
        body = self.recording.categories.get(params["regionCode"].upper())
        if body is None:
            raise errors.invalid_region()
        return body

    def _videos(self, params: dict[str, str], day: date) -> dict[str, Any]:
        parts = _parts(params, resources.VIDEO_PARTS, "video")
        if "id" in params or "myRating" in params:
            name = "id" if "id" in params else "myRating"
            raise errors.parameter(
                "invalidFilters", "The local stand-in serves chart=mostPopular only.", name
            )
        if "chart" not in params:
            raise errors.parameter(
                "missingRequiredParameter",
                "No filter selected. Expected one of: myRating, id, chart",
                "chart",
            )
        if params["chart"] != "mostPopular":
            raise errors.parameter(
                "invalidParameter", f"Invalid value '{params['chart']}'. Values must be one of: mostPopular",
                "chart", domain="global",
            )  # fmt: skip
        region = params.get("regionCode", "US").upper()
        if region not in self.recording.regions:
            raise errors.invalid_region()
        per_page = _max_results(params.get("maxResults", "5"))
        chart = self.recording.chart(region, day)
        offset = 0
        if params.get("pageToken"):
            token = resources.read_page_token(params["pageToken"])
            if token is None or token[:2] != (region, day) or not 0 <= token[2] < len(chart):
                raise errors.invalid_page_token()
            offset = token[2]
        end = min(offset + per_page, len(chart))
        items = self._items.get((region, day, parts))
        if items is None:
            items = self._items.setdefault(
                (region, day, parts), [resources.video_item(row, parts) for row in chart]
            )
        return resources.video_list(
            items[offset:end],
            total=len(chart),
            per_page=per_page,
            next_token=resources.page_token(region, day, end) if end < len(chart) else None,
            prev_token=resources.page_token(region, day, max(0, offset - per_page)) if offset else None,
        )


def _check_system_params(params: dict[str, str], allowed: set[str]) -> None:
    for name in params:
        if name not in allowed and name not in _SYSTEM_PARAMS:
            raise ApiError(
                400,
                "badRequest",
                f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query parameter. '
                f"Field '{name}' could not be found in request message.",
            )
    if params.get("alt", "json") != "json":
        raise errors.parameter(
            "invalidParameter", f"Invalid value '{params['alt']}' for alt: json only", "alt", domain="global"
        )


def _parts(params: dict[str, str], served: tuple[str, ...], resource: str) -> tuple[str, ...]:
    if not params.get("part"):
        raise errors.required("part")
    parts = tuple(p.strip() for p in params["part"].split(","))
    for part in parts:
        if part not in served:
            raise errors.parameter(
                "unknownPart", f"'{part}' (the local stand-in serves {resource} parts {', '.join(served)})",
                "part", domain="youtube.part",
            )  # fmt: skip
    return parts


def _max_results(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if not 1 <= number <= 50:
        raise errors.parameter(
            "invalidParameter", f"Invalid value '{value}'. Values must be within the range: [1, 50]",
            "maxResults", domain="global",
        )  # fmt: skip
    return number


def _with_fault(answer: Answer, fault: YouTubeFault | None) -> Answer:
    if fault is None or fault.kind == "error":
        return answer
    if fault.kind == "slow":
        return Answer(answer.status, answer.body, answer.content_type, delay=fault.delay)
    if fault.kind == "truncated":
        return Answer(answer.status, answer.body, answer.content_type, cut_at=len(answer.body) // 2)
    if fault.kind == "no_items":
        return Answer(200, _without_items(answer.body)) if answer.status == 200 else answer
    if fault.kind == "few_categories":
        return Answer(200, _first_items(answer.body, fault.keep)) if answer.status == 200 else answer
    return Answer(200, _NOT_JSON, "text/html; charset=UTF-8")


def _without_items(body: bytes) -> bytes:
    """The JSON object ``body`` without its ``items`` (everything else kept: kind, etag, pageInfo, tokens)."""
    doc = json.loads(body)
    doc.pop("items", None)
    return _json(doc)


def _first_items(body: bytes, keep: int) -> bytes:
    """The JSON list response ``body`` with its first ``keep`` items only, its ``pageInfo`` (when it has
    one) counting those: still a consistent answer, only an implausibly short one."""
    doc = json.loads(body)
    doc["items"] = doc.get("items", [])[:keep]
    info = doc.get("pageInfo")
    if isinstance(info, dict):
        info.update({name: len(doc["items"]) for name in ("totalResults", "resultsPerPage") if name in info})
    return _json(doc)


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2).encode("utf-8")
