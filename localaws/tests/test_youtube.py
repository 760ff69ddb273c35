"""The YouTube Data API v3 stand-in, through real HTTP and the public API only: charts as recorded, Google's
shapes and errors, the key, quota, faults, the clock, the control routes and ``serve --youtube-data``."""

from __future__ import annotations

import csv
import http.client
import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from localaws import LocalAWS, YouTubeFault, YouTubeStandIn
from localaws.tests.control import control

KEY = "local-key"
INVALID, DENIED = "INVALID_ARGUMENT", "PERMISSION_DENIED"
OTHER_KEY = "second-key"
COLUMNS = (
    "video_id,title,publishedAt,channelId,channelTitle,categoryId,trending_date,tags,view_count,likes,"
    "dislikes,comment_count,thumbnail_link,comments_disabled,ratings_disabled,description"
).split(",")


# ---- helpers ----------------------------------------------------------------------------------------------
def _get(root: str, name: str, *, timeout: float = 30, **params: Any) -> tuple[int, dict[str, Any]]:
    """GET ``{root}youtube/v3/{name}`` as google-api-python-client sends it (``alt=json``)."""
    query = urlencode({**{k: v for k, v in params.items() if v is not None}, "alt": "json"})
    try:
        with urllib.request.urlopen(f"{root}youtube/v3/{name}?{query}", timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _videos(root: str, **params: Any) -> tuple[int, dict[str, Any]]:
    defaults = {"part": "snippet,statistics", "chart": "mostPopular", "regionCode": "US", "key": KEY}
    return _get(root, "videos", **{**defaults, **params})


def _chart(root: str, region: str, max_results: int = 50) -> list[dict[str, Any]]:
    """Every page of ``region``'s chart, following ``nextPageToken``."""
    pages, token = [], None
    while True:
        status, page = _videos(root, regionCode=region, maxResults=max_results, pageToken=token)
        assert status == 200, page
        pages.append(page)
        token = page.get("nextPageToken")
        if token is None:
            return pages


def _control(root: str, route: str, body: dict[str, Any] | None = None, method: str = "GET") -> Any:
    return control(f"{root}_localaws/youtube/{route}", method, body)


def _error(body: dict[str, Any]) -> tuple[int, str, str, str]:
    error = body["error"]
    assert error["message"] == error["errors"][0]["message"]
    return error["code"], error["errors"][0]["reason"], error["errors"][0]["domain"], error["status"]


def _csv_rows(data: Path, region: str, day: str) -> list[dict[str, str]]:
    """The recorded rows of one region and day, read with the csv module (lenient: the cut record too)."""
    path = next((data / "raw_statistics" / f"region={region.lower()}").glob("*.csv"))
    with path.open(encoding="utf-8", newline="") as handle:
        return [row for row in csv.DictReader(handle) if (row["trending_date"] or "")[:10] == day]


def _row(video_id: str, day: str, **fields: str) -> list[str]:
    values = {
        "video_id": video_id, "title": f"title {video_id}", "publishedAt": "2020-08-01T10:00:00Z",
        "channelId": "UCchannel", "channelTitle": "channel", "categoryId": "10",
        "trending_date": f"{day}T00:00:00Z", "tags": "a|b c", "view_count": "1000", "likes": "50",
        "dislikes": "3", "comment_count": "7", "thumbnail_link": f"https://i.ytimg.com/vi/{video_id}/default.jpg",
        "comments_disabled": "False", "ratings_disabled": "False", "description": "line one\nline two",
    }  # fmt: skip
    values.update(fields)
    return [values[c] for c in COLUMNS]


def _write_recording(root: Path, regions: dict[str, list[list[str]]], *, cut: int = 0) -> Path:
    """A recorded folder: one QUOTE_ALL CSV per region (its last ``cut`` characters removed) and a category
    file per region."""
    for region, rows in regions.items():
        folder = root / "raw_statistics" / f"region={region.lower()}"
        folder.mkdir(parents=True)
        text = ",".join(COLUMNS) + "\n"
        for row in rows:
            text += ",".join('"' + v.replace('"', '""') + '"' for v in row) + "\n"
        text = text.rstrip("\n")  # the feed has no final newline
        (folder / f"{region}_youtube_trending_data.csv").write_text(text[: len(text) - cut], encoding="utf-8")
    reference = root / "raw_statistics_reference_data"
    reference.mkdir()
    for region in regions:
        body = {"kind": "youtube#videoCategoryListResponse", "etag": "e", "items": [{"id": "10"}]}
        (reference / f"{region}_category_id.json").write_text(json.dumps(body, indent=4) + "\n")
    return root


# ---- fixtures ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def recorded(data_dir: Path) -> Path:
    return data_dir / "rsrishav_trending"


@pytest.fixture(scope="module")
def module_aws(recorded: Path) -> Iterator[LocalAWS]:
    """A runtime serving the real recording, two keys accepted."""
    with LocalAWS(executors=False, youtube_data=recorded, youtube_api_keys=(KEY, OTHER_KEY)) as aws:
        yield aws


@pytest.fixture
def yt(module_aws: LocalAWS) -> LocalAWS:
    """The runtime with the stand-in's calls, quota and faults forgotten and its clock on 2020-08-13."""
    module_aws.youtube.reset()
    module_aws.youtube.set_day("2020-08-13")
    return module_aws


# ---- charts as recorded -----------------------------------------------------------------------------------
def test_paging_to_200_gives_the_csv_rows_of_the_day_in_file_order(yt: LocalAWS, recorded: Path) -> None:
    pages = _chart(yt.youtube_endpoint, "US")
    rows = _csv_rows(recorded, "US", "2020-08-13")
    items = [item for page in pages for item in page["items"]]
    assert len(pages) == 4 and len(items) == len(rows) == 200
    assert [i["id"] for i in items] == [r["video_id"] for r in rows]
    assert [i["statistics"]["viewCount"] for i in items] == [r["view_count"] for r in rows]
    assert [i["snippet"]["title"] for i in items] == [r["title"] for r in rows]
    for number, page in enumerate(pages):
        assert page["kind"] == "youtube#videoListResponse" and page["etag"]
        assert page["pageInfo"] == {"totalResults": 200, "resultsPerPage": 50}
        assert ("prevPageToken" in page) == (number > 0)
        assert ("nextPageToken" in page) == (number < 3)
    assert yt.youtube.quota_spent(KEY) == 4


def test_a_prev_page_token_goes_back_and_the_default_page_size_is_5(yt: LocalAWS) -> None:
    _, first = _videos(yt.youtube_endpoint)
    assert len(first["items"]) == 5 and first["pageInfo"]["resultsPerPage"] == 5
    _, second = _videos(yt.youtube_endpoint, pageToken=first["nextPageToken"])
    _, back = _videos(yt.youtube_endpoint, pageToken=second["prevPageToken"])
    assert [i["id"] for i in back["items"]] == [i["id"] for i in first["items"]]
    assert second["items"][0]["id"] != first["items"][0]["id"]


def test_an_item_has_the_api_shape_with_counts_as_strings(yt: LocalAWS, recorded: Path) -> None:
    _, page = _videos(yt.youtube_endpoint, maxResults=1)
    item, row = page["items"][0], _csv_rows(recorded, "US", "2020-08-13")[0]
    assert list(item) == ["kind", "etag", "id", "snippet", "statistics"] and item["kind"] == "youtube#video"
    snippet = item["snippet"]
    assert snippet["publishedAt"] == row["publishedAt"] and snippet["channelId"] == row["channelId"]
    assert snippet["categoryId"] == row["categoryId"] and snippet["channelTitle"] == row["channelTitle"]
    assert snippet["description"] == row["description"]
    assert snippet.get("tags") == (None if row["tags"] == "[None]" else row["tags"].split("|"))
    assert snippet["thumbnails"]["default"] == {"url": row["thumbnail_link"], "width": 120, "height": 90}
    assert snippet["localized"] == {"title": row["title"], "description": row["description"]}
    assert item["statistics"] == {
        "viewCount": row["view_count"],
        "likeCount": row["likes"],
        "favoriteCount": "0",
        "commentCount": row["comment_count"],
    }
    _, only_stats = _videos(yt.youtube_endpoint, maxResults=1, part="statistics")
    assert "snippet" not in only_stats["items"][0] and only_stats["items"][0]["id"] == item["id"]


def test_what_the_api_does_not_return_is_absent_never_0(yt: LocalAWS, recorded: Path) -> None:
    """JP on 2020-08-12 has comments disabled, ratings hidden, both, and untagged videos."""
    yt.youtube.set_day(date(2020, 8, 12))
    items = [i for page in _chart(yt.youtube_endpoint, "JP") for i in page["items"]]
    rows = _csv_rows(recorded, "JP", "2020-08-12")
    assert [i["id"] for i in items] == [r["video_id"] for r in rows]
    for item, row in zip(items, rows, strict=True):
        statistics = item["statistics"]
        assert "dislikeCount" not in statistics
        assert ("commentCount" in statistics) == (row["comments_disabled"] == "False")
        assert ("likeCount" in statistics) == (row["ratings_disabled"] == "False")
        assert ("tags" in item["snippet"]) == (row["tags"] != "[None]")
    assert any(r["comments_disabled"] == "True" for r in rows) and any(
        r["ratings_disabled"] == "True" for r in rows
    )
    assert any(r["tags"] == "[None]" for r in rows)


def test_the_record_cut_at_the_end_of_a_file_is_not_a_video(yt: LocalAWS, recorded: Path) -> None:
    """US's file ends inside a 2020-08-16 record: the lenient csv module reads 73 rows, the chart has 72."""
    yt.youtube.set_day("2020-08-16")
    items = [i for page in _chart(yt.youtube_endpoint, "US") for i in page["items"]]
    rows = _csv_rows(recorded, "US", "2020-08-16")
    assert len(rows) == 73 and [i["id"] for i in items] == [r["video_id"] for r in rows[:72]]


@pytest.mark.parametrize(
    ("cut", "served"),
    [
        pytest.param(0, 3, id="complete-file-without-final-newline"),
        pytest.param(5, 2, id="cut-inside-the-description"),
        pytest.param(len('"line one\nline two"') + 1, 2, id="cut-after-15-fields"),
    ],
)
def test_a_cut_last_record_is_dropped_and_a_complete_one_kept(tmp_path: Path, cut: int, served: int) -> None:
    rows = [_row(f"v{n}", "2020-08-12") for n in range(3)]
    with LocalAWS(executors=False, youtube_data=_write_recording(tmp_path, {"US": rows}, cut=cut)) as aws:
        _, page = _videos(aws.youtube_endpoint, maxResults=50)
    assert [i["id"] for i in page["items"]] == [f"v{n}" for n in range(served)]


def test_synthetic_flags_map_to_absent_counts_and_tags(tmp_path: Path) -> None:
    rows = [
        _row("plain", "2020-08-12"),
        _row("nocomments", "2020-08-12", comments_disabled="True", comment_count="0"),
        _row("noratings", "2020-08-12", ratings_disabled="True", likes="0", dislikes="0"),
        _row("notags", "2020-08-12", tags="[None]"),
    ]
    with LocalAWS(executors=False, youtube_data=_write_recording(tmp_path, {"US": rows})) as aws:
        _, page = _videos(aws.youtube_endpoint, maxResults=50)
    by_id = {i["id"]: i for i in page["items"]}
    assert by_id["plain"]["statistics"] == {
        "viewCount": "1000",
        "likeCount": "50",
        "favoriteCount": "0",
        "commentCount": "7",
    }
    assert by_id["plain"]["snippet"]["tags"] == ["a", "b c"]
    assert by_id["nocomments"]["statistics"] == {"viewCount": "1000", "likeCount": "50", "favoriteCount": "0"}
    assert by_id["noratings"]["statistics"] == {
        "viewCount": "1000",
        "favoriteCount": "0",
        "commentCount": "7",
    }
    assert "tags" not in by_id["notags"]["snippet"] and "tags" in by_id["plain"]["snippet"]


@pytest.mark.parametrize(
    "region", [pytest.param("US", id="us-32"), pytest.param("br", id="br-31-lower-case")]
)
def test_categories_are_the_recorded_file(yt: LocalAWS, recorded: Path, region: str) -> None:
    query = urlencode({"part": "snippet", "regionCode": region, "key": KEY, "alt": "json"})
    with urllib.request.urlopen(f"{yt.youtube_endpoint}youtube/v3/videoCategories?{query}") as response:
        body = response.read()
    path = recorded / "raw_statistics_reference_data" / f"{region.upper()}_category_id.json"
    assert body == path.read_bytes()
    assert yt.youtube.quota_spent(KEY) == 1


# ---- errors -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"key": None}, (403, "forbidden", "global", DENIED), id="missing-key"),
        pytest.param({"key": ""}, (403, "forbidden", "global", DENIED), id="empty-key"),
        pytest.param({"key": "nope"}, (400, "keyInvalid", "usageLimits", INVALID), id="invalid-key"),
        pytest.param({"regionCode": "ZZ"}, (400, "invalidRegionCode", "youtube.parameter", INVALID),
                     id="unknown-region"),
        pytest.param({"maxResults": 51}, (400, "invalidParameter", "global", INVALID), id="max-51"),
        pytest.param({"maxResults": 0}, (400, "invalidParameter", "global", INVALID), id="max-0"),
        pytest.param({"pageToken": "garbage"}, (400, "invalidPageToken", "youtube.parameter", INVALID),
                     id="bad-page-token"),
        pytest.param({"part": None}, (400, "required", "global", INVALID), id="missing-part"),
        pytest.param({"part": "contentDetails"}, (400, "unknownPart", "youtube.part", INVALID),
                     id="unserved-part"),
        pytest.param({"chart": None}, (400, "missingRequiredParameter", "youtube.parameter", INVALID),
                     id="no-filter"),
        pytest.param({"chart": "trending"}, (400, "invalidParameter", "global", INVALID), id="other-chart"),
        pytest.param({"dislikes": "1"}, (400, "badRequest", "global", INVALID), id="unknown-param"),
    ],
)  # fmt: skip
def test_errors_have_googles_body(yt: LocalAWS, params: dict[str, Any], expected: tuple[Any, ...]) -> None:
    status, body = _videos(yt.youtube_endpoint, **params)
    assert status == expected[0] and _error(body) == expected
    if expected[1] == "keyInvalid":
        assert body["error"]["message"] == "API key not valid. Please pass a valid API key."
        assert body["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    if expected[1] == "invalidRegionCode":
        assert body["error"]["errors"][0]["location"] == "regionCode"


def test_an_unknown_region_fails_categories_too_and_key_errors_cost_nothing(yt: LocalAWS) -> None:
    status, body = _get(yt.youtube_endpoint, "videoCategories", part="snippet", regionCode="XX", key=KEY)
    assert status == 400 and _error(body)[1] == "invalidRegionCode"
    _videos(yt.youtube_endpoint, key="nope")
    _videos(yt.youtube_endpoint, key=None)
    assert yt.youtube.quota_spent(KEY) == 1  # an invalid request costs a unit; a refused key does not
    assert [(c.method, c.key, c.status, c.units) for c in yt.youtube.calls()] == [
        ("videoCategories.list", KEY, 400, 1),
        ("videos.list", "nope", 400, 0),
        ("videos.list", None, 403, 0),
    ]
    assert all("key" not in c.params for c in yt.youtube.calls())


def test_a_page_token_of_another_day_is_invalid_after_the_clock_moved(yt: LocalAWS) -> None:
    _, page = _videos(yt.youtube_endpoint, maxResults=50)
    yt.youtube.set_day("2020-08-14")
    status, body = _videos(yt.youtube_endpoint, maxResults=50, pageToken=page["nextPageToken"])
    assert status == 400 and _error(body)[1] == "invalidPageToken"
    status, body = _videos(
        yt.youtube_endpoint, maxResults=50, regionCode="GB", pageToken=page["nextPageToken"]
    )
    assert status == 400 and _error(body)[1] == "invalidPageToken"  # another region's token


# ---- quota ------------------------------------------------------------------------------------------------
def test_quota_is_counted_per_key_and_day_and_403_past_the_limit(tmp_path: Path) -> None:
    rows = [_row("v1", "2020-08-12"), _row("v2", "2020-08-13")]
    data = _write_recording(tmp_path, {"US": rows})
    with LocalAWS(
        executors=False, youtube_data=data, youtube_api_keys=(KEY, OTHER_KEY), youtube_quota=3
    ) as aws:
        root = aws.youtube_endpoint
        assert [_videos(root)[0] for _ in range(3)] == [200, 200, 200]
        status, body = _videos(root)
        assert status == 403 and _error(body) == (403, "quotaExceeded", "youtube.quota", "PERMISSION_DENIED")
        assert "exceeded your" in body["error"]["message"]
        assert _videos(root, key=OTHER_KEY)[0] == 200  # another key has its own quota
        # The refusal costs its unit too ("all API requests, including invalid requests").
        assert aws.youtube.quota_spent(KEY) == 4 and aws.youtube.quota_spent(OTHER_KEY) == 1
        assert [c.units for c in aws.youtube.calls()] == [1, 1, 1, 1, 1]
        aws.youtube.set_day("2020-08-13")  # a new day: a new quota
        status, page = _videos(root)
        assert status == 200 and [i["id"] for i in page["items"]] == ["v2"]
        assert _control(root, "quota") == (
            200,
            {
                "limit": 3,
                "day": "2020-08-13",
                "spent": {KEY: {"2020-08-12": 4, "2020-08-13": 1}, OTHER_KEY: {"2020-08-12": 1}},
            },
        )
        aws.reset()  # the runtime's reset forgets the stand-in's calls and quota too
        assert aws.youtube.calls() == [] and aws.youtube.quota_spent(KEY, "2020-08-12") == 0


# ---- faults -----------------------------------------------------------------------------------------------
def test_a_5xx_on_the_nth_call_then_the_api_answers_again(yt: LocalAWS) -> None:
    yt.youtube.add_fault(YouTubeFault("error", on_call=2, times=2))
    statuses = [_videos(yt.youtube_endpoint)[0] for _ in range(4)]
    assert statuses == [200, 503, 503, 200]
    yt.youtube.add_fault(YouTubeFault("error", status=500, reason="internalError"))
    status, body = _videos(yt.youtube_endpoint)
    assert status == 500 and _error(body)[1:] == ("internalError", "global", "INTERNAL")
    assert [c.fault for c in yt.youtube.calls()] == [None, "error", "error", None, "error"]
    assert yt.youtube.quota_spent(KEY) == 5  # a backend error costs its unit too


def test_a_fault_can_watch_one_method_only(yt: LocalAWS) -> None:
    yt.youtube.add_fault(YouTubeFault("error", method="videoCategories.list"))
    assert _videos(yt.youtube_endpoint)[0] == 200
    assert _get(yt.youtube_endpoint, "videoCategories", part="snippet", regionCode="US", key=KEY)[0] == 503


def test_a_slow_answer_outlasts_a_client_timeout(yt: LocalAWS) -> None:
    yt.youtube.add_fault(YouTubeFault("slow", delay=2.0))
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        _videos(yt.youtube_endpoint, timeout=0.5)
    assert _videos(yt.youtube_endpoint)[0] == 200  # only the one call was slow


def test_a_truncated_body_and_a_body_that_is_not_json(yt: LocalAWS) -> None:
    yt.youtube.add_fault(YouTubeFault("truncated"))
    yt.youtube.add_fault(YouTubeFault("not_json", on_call=2))
    url = f"{yt.youtube_endpoint}youtube/v3/videos?part=snippet&chart=mostPopular&key={KEY}&alt=json"
    with urllib.request.urlopen(url) as response, pytest.raises(http.client.IncompleteRead) as cut:
        response.read()
    assert cut.value.partial.startswith(b"{") and len(cut.value.partial) < cut.value.expected + len(
        cut.value.partial
    )
    with urllib.request.urlopen(url) as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/html")
        with pytest.raises(json.JSONDecodeError):
            json.loads(response.read())
    assert _videos(yt.youtube_endpoint)[0] == 200


def test_a_json_body_without_items_from_python_and_over_http(yt: LocalAWS) -> None:
    root = yt.youtube_endpoint
    yt.youtube.add_fault(YouTubeFault("no_items", method="videos.list"))
    status, body = _videos(root, maxResults=50)
    assert status == 200 and "items" not in body
    assert body["kind"] == "youtube#videoListResponse" and body["pageInfo"]["totalResults"] == 200
    assert "nextPageToken" in body, "the rest of the answer is kept"
    fault = YouTubeFault("no_items", method="videoCategories.list")
    status, listed = _control(root, "faults", fault.to_json(), "POST")
    assert status == 200 and listed["faults"][-1] == fault.to_json()
    status, body = _get(root, "videoCategories", part="snippet", regionCode="US", key=KEY)
    assert status == 200 and body["kind"] == "youtube#videoCategoryListResponse" and "items" not in body
    status, body = _videos(root)
    assert status == 200 and len(body["items"]) == 5, "each fault hit one call"
    yt.youtube.add_fault(YouTubeFault("no_items"))
    status, body = _videos(root, regionCode="XX")
    assert status == 400 and _error(body)[1] == "invalidRegionCode", "an error answer stays an error"
    assert [c.fault for c in yt.youtube.calls()] == ["no_items", "no_items", None, "no_items"]


def _categories(root: str, region: str = "US") -> tuple[int, dict[str, Any]]:
    return _get(root, "videoCategories", part="snippet", regionCode=region, key=KEY)


def test_few_categories_answers_a_valid_response_with_the_first_categories_only(
    yt: LocalAWS, recorded: Path
) -> None:
    root = yt.youtube_endpoint
    yt.youtube.add_fault(YouTubeFault("few_categories"))  # keep=1; it counts categories calls only
    assert _videos(root)[0] == 200 and len(_videos(root)[1]["items"]) == 5, "a chart page is not its call"
    status, body = _categories(root, "gb")
    recorded_gb = json.loads(
        (recorded / "raw_statistics_reference_data" / "GB_category_id.json").read_bytes()
    )
    assert len(recorded_gb["items"]) == 31
    assert status == 200 and body == {**recorded_gb, "items": recorded_gb["items"][:1]}
    assert list(body) == list(recorded_gb), "kind, etag, items: the recorded answer's members, in order"
    status, body = _categories(root, "gb")
    assert status == 200 and len(body["items"]) == 31, "the fault hit one call"
    fault = YouTubeFault("few_categories", keep=3, times=0)
    status, listed = _control(root, "faults", {"kind": "few_categories", "keep": 3, "times": 0}, "POST")
    assert status == 200 and listed["faults"][-1] == fault.to_json()
    assert fault.method == "videoCategories.list"
    status, body = _categories(root, "US")
    assert status == 200 and [i["id"] for i in body["items"]] == ["1", "2", "10"]
    status, body = _categories(root, "XX")
    assert status == 400 and _error(body)[1] == "invalidRegionCode", "an error answer stays an error"
    faults = [(c.method, c.params.get("regionCode"), c.fault) for c in yt.youtube.calls()]
    assert faults == [
        ("videos.list", "US", None),
        ("videos.list", "US", None),
        ("videoCategories.list", "gb", "few_categories"),
        ("videoCategories.list", "gb", None),
        ("videoCategories.list", "US", "few_categories"),
        ("videoCategories.list", "XX", "few_categories"),
    ]
    assert yt.youtube.quota_spent(KEY) == 6, "a short answer costs its unit like any other"


def test_few_categories_keeps_page_info_consistent_and_refuses_another_method(tmp_path: Path) -> None:
    """A recording whose category answer has ``pageInfo``: its counts follow the items kept."""
    data = _write_recording(tmp_path, {"US": [_row("v1", "2020-08-12")]})
    items = [{"kind": "youtube#videoCategory", "etag": f"e{i}", "id": str(i)} for i in (1, 2, 10, 15)]
    answer = {"kind": "youtube#videoCategoryListResponse", "etag": "list-etag",
              "pageInfo": {"totalResults": 4, "resultsPerPage": 4}, "items": items}  # fmt: skip
    (data / "raw_statistics_reference_data" / "US_category_id.json").write_text(json.dumps(answer))
    standin = YouTubeStandIn(data)
    standin.add_fault(YouTubeFault("few_categories", keep=2))
    query = urlencode({"part": "snippet", "regionCode": "US", "key": KEY})
    short, whole = (standin.answer("videoCategories", query) for _ in range(2))
    assert short.status == 200 and short.content_type.startswith("application/json")
    info = {"totalResults": 2, "resultsPerPage": 2}
    assert json.loads(short.body) == {**answer, "pageInfo": info, "items": items[:2]}
    assert json.loads(whole.body) == answer
    with pytest.raises(ValueError, match="answers videoCategories.list only"):
        YouTubeFault("few_categories", method="videos.list")
    with pytest.raises(ValueError, match="keep=-1"):
        YouTubeFault("few_categories", keep=-1)


def test_faults_through_the_control_route(yt: LocalAWS) -> None:
    root = yt.youtube_endpoint
    status, listed = _control(
        root, "faults", {"kind": "error", "on_call": 1, "status": 429, "reason": "rateLimitExceeded"}, "POST"
    )
    assert status == 200 and listed["faults"][0]["status"] == 429
    status, body = _videos(root)
    assert status == 429 and _error(body)[1:] == ("rateLimitExceeded", "global", "RESOURCE_EXHAUSTED")
    assert _control(root, "faults", {"kind": "nonsense"}, "POST")[0] == 400
    _control(root, "faults", {"kind": "error"}, "POST")
    assert _control(root, "faults", method="DELETE") == (200, {"faults": []})
    assert _videos(root)[0] == 200
    status, calls = _control(root, "calls")
    assert [(c["status"], c["key"], c["units"]) for c in calls["calls"]] == [(429, KEY, 1), (200, KEY, 1)]


# ---- the clock --------------------------------------------------------------------------------------------
def test_the_clock_moves_by_python_and_by_http(yt: LocalAWS, recorded: Path) -> None:
    root = yt.youtube_endpoint
    status, days = _control(root, "days")
    assert days["days"][0] == "2020-08-12" and days["days"][-1] == "2020-08-19" and "KR" in days["regions"]
    assert days["charts"]["2020-08-13"]["US"] == 200 and "US" not in days["charts"]["2020-08-19"]
    assert _control(root, "clock") == (200, {"day": "2020-08-13"})
    assert _control(root, "clock", {"day": "2020-08-15"}, "POST") == (200, {"day": "2020-08-15"})
    assert yt.youtube.day == date(2020, 8, 15)
    _, page = _videos(root, maxResults=1)
    assert page["items"][0]["id"] == _csv_rows(recorded, "US", "2020-08-15")[0]["video_id"]
    assert _control(root, "clock", {"day": "yesterday"}, "POST")[0] == 400
    yt.youtube.set_day("2020-08-19")  # KR only: an empty chart elsewhere, as the API answers one
    status, empty = _videos(root, maxResults=50)
    assert (
        status == 200
        and empty["items"] == []
        and empty["pageInfo"] == {"totalResults": 0, "resultsPerPage": 50}
    )
    assert "nextPageToken" not in empty
    _, kr = _videos(root, regionCode="KR", maxResults=50)
    assert (
        kr["pageInfo"]["totalResults"] == len(_csv_rows(recorded, "KR", "2020-08-19")) - 1
    )  # its cut record


# ---- life cycle -------------------------------------------------------------------------------------------
def test_off_unless_asked_and_moto_still_answers_beside_it(yt: LocalAWS) -> None:
    with LocalAWS(executors=False) as plain:
        with pytest.raises(RuntimeError, match="youtube_data"):
            _ = plain.youtube_endpoint
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{plain.endpoint}/youtube/v3/videos?part=id&chart=mostPopular&key={KEY}")
    yt.client("s3").create_bucket(Bucket="localaws-youtube-beside")
    assert "localaws-youtube-beside" in {b["Name"] for b in yt.client("s3").list_buckets()["Buckets"]}
    assert yt.youtube_endpoint == f"{yt.endpoint}/"


def test_a_missing_recording_is_refused_at_start(tmp_path: Path) -> None:
    aws = LocalAWS(executors=False, youtube_data=tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match="no recorded YouTube data"):
        aws.start()
    assert not aws.running


def test_serve_with_youtube_data_is_driven_over_http(recorded: Path) -> None:
    argv = [
        sys.executable,
        "-m",
        "localaws",
        "serve",
        "--youtube-data",
        str(recorded),
        "--youtube-key",
        "k2",
    ]
    root_dir = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(argv, cwd=root_dir, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("ready: http://127.0.0.1:"), line
        root = line.split(" ", 1)[1].strip() + "/"
        assert _control(root, "clock", {"day": "2020-08-14"}, "POST") == (200, {"day": "2020-08-14"})
        status, page = _videos(root, key="k2", maxResults=50)
        assert status == 200 and page["pageInfo"]["totalResults"] == 200
        assert _videos(root)[0] == 400  # local-key is not among the keys given
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0
