"""youtube_extract's fetch-and-land of one region-day, with the real discovery document and fake HTTP.

The client is google-api-python-client built from its bundled discovery document; only the HTTP layer is
fake (``HttpMockSequence``, which also raises the exceptions a socket would). S3 is moto.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from googleapiclient.http import HttpMockSequence
from moto import mock_aws

from youtube_etl import extract
from youtube_etl.youtube_api import (
    BadResponse,
    KeyRejected,
    QuotaExceeded,
    TransientApiError,
    UnknownRegion,
    YouTubeApi,
    build_service,
)
from youtube_lake import extract as layout_rules
from youtube_lake.extract import Manifest

KEY = "AIzaSyTEST-secret-key-000000000000000"
ROOT = "http://127.0.0.1:1/"
BUCKET = "raw"
LAYOUT = extract.Layout(BUCKET, "youtube/raw_statistics/", "youtube/raw_statistics_reference_data/")
DAY = date(2021, 3, 14)
STARTED = datetime(2021, 3, 15, 0, 10, tzinfo=UTC)
OK = {"status": "200", "content-type": "application/json; charset=UTF-8"}


class FakeHttp(HttpMockSequence):
    """HttpMockSequence that records each URI and raises an exception found in the sequence."""

    def __init__(self, iterable: list[tuple[dict[str, str], Any]]) -> None:
        super().__init__(iterable)
        self.uris: list[str] = []

    def request(self, uri: str, method: str = "GET", *args: Any, **kwargs: Any) -> Any:
        self.uris.append(uri)
        if self._iterable and isinstance(self._iterable[0][1], BaseException):
            raise self._iterable.pop(0)[1]
        return super().request(uri, method, *args, **kwargs)


def page(n: int, start: int = 0, token: str | None = None) -> bytes:
    """A videos.list page as the API writes it (spacing and escapes kept: bodies are landed verbatim)."""
    items = ",\n  ".join(
        f'{{"kind": "youtube#video", "id": "v{i:03d}", "snippet": {{"title": "caf\\u00e9 {i}"}}}}'
        for i in range(start, start + n)
    )
    next_token = f'"nextPageToken": "{token}",\n ' if token else ""
    return (
        f'{{\n "kind": "youtube#videoListResponse",\n "etag": "e",\n {next_token}"items": [\n  {items}\n ],\n'
        f' "pageInfo": {{"totalResults": 200, "resultsPerPage": 50}}\n}}\n'
    ).encode()


CATEGORIES = b'{"kind": "youtube#videoCategoryListResponse", "items": [{"id": "1"}, {"id": "2"}]}\n'


def error(status: int, reason: str, message: str) -> tuple[dict[str, str], bytes]:
    body = {"error": {"code": status, "message": message, "errors": [{"reason": reason, "message": message}]}}
    return {"status": str(status)}, json.dumps(body).encode()


def chart(pages: int = 4) -> list[tuple[dict[str, str], Any]]:
    tokens = ["CAUQAA", "CGQQAA", "CJYBEAA", "CMgBEAA"]
    return [(OK, page(50, 50 * i, tokens[i])) for i in range(pages)]


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def api(
    responses: list[tuple[dict[str, str], Any]], retries: int = 3
) -> tuple[YouTubeApi, FakeHttp, list[float]]:
    http = FakeHttp(responses)
    sleeps: list[float] = []
    client = YouTubeApi(
        build_service(ROOT, KEY, http=http), "youtube_api", retries=retries, sleep=sleeps.append
    )
    return client, http, sleeps


def run(s3: Any, client: YouTubeApi, region: str = "us") -> dict[str, Any]:
    return extract.extract_region(s3, client, LAYOUT, DAY, region, api_root=ROOT, now=lambda: STARTED)


def landed(s3: Any) -> dict[str, bytes]:
    contents = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in contents}


def test_a_region_day_pages_to_200_items_and_lands_the_bodies_verbatim(s3: Any) -> None:
    # A fifth token after 200 items is not followed: the API serves at most 200.
    client, http, _ = api([*chart(4), (OK, CATEGORIES)])
    result = run(s3, client)
    assert [parse_qs(urlsplit(u).query).get("pageToken") for u in http.uris[:4]] == [
        None,
        ["CAUQAA"],
        ["CGQQAA"],
        ["CJYBEAA"],
    ]
    query = parse_qs(urlsplit(http.uris[0]).query)
    assert urlsplit(http.uris[0]).path == "/youtube/v3/videos"
    assert (
        query["chart"] == ["mostPopular"] and query["regionCode"] == ["US"] and query["maxResults"] == ["50"]
    )
    assert urlsplit(http.uris[4]).path == "/youtube/v3/videoCategories"
    objects = landed(s3)
    attempt = layout_rules.attempt_id(STARTED)
    pages = [layout_rules.page_key(LAYOUT.statistics_prefix, DAY, "us", attempt, n) for n in (1, 2, 3, 4)]
    assert [objects[k] for k in pages] == [
        page(50, 50 * i, t) for i, t in enumerate(["CAUQAA", "CGQQAA", "CJYBEAA", "CMgBEAA"])
    ]
    assert objects[layout_rules.category_key(LAYOUT.reference_prefix, DAY, "us")] == CATEGORIES
    manifest = Manifest.from_json(
        objects[layout_rules.manifest_key(LAYOUT.statistics_prefix, DAY, "us", attempt)]
    )
    assert [p.key for p in manifest.pages] == pages and manifest.items == 200 and manifest.category_items == 2
    assert manifest.quota_units == 5 and manifest.fetched_at == STARTED and manifest.api_root == ROOT
    assert result | {"manifest": None} == {
        "region": "us",
        "day": "2021-03-14",
        "attempt": attempt,
        "pages": 4,
        "items": 200,
        "categories": 2,
        "units": 5,
        "manifest": None,
    }


def test_a_short_chart_ends_without_a_token(s3: Any) -> None:
    client, _, _ = api([(OK, page(50, 0, "T")), (OK, page(7, 50)), (OK, CATEGORIES)])
    assert run(s3, client)["items"] == 57


def test_the_manifest_is_written_last(s3: Any) -> None:
    keys: list[str] = []
    real_put = s3.put_object

    def put(**kwargs: Any) -> Any:
        keys.append(kwargs["Key"])
        return real_put(**kwargs)

    s3.put_object = put
    client, _, _ = api([*chart(2)[:1], (OK, page(3, 50)), (OK, CATEGORIES)])
    run(s3, client)
    assert [k.rsplit("/", 1)[-1].split("_")[0] for k in keys] == ["videos", "videos", "US", ""]
    assert keys[-1].endswith(".json") and "/_manifest_" in keys[-1]


def test_a_failure_on_page_3_leaves_nothing_of_the_region_day_visible(s3: Any) -> None:
    client, _, _ = api([*chart(2), error(400, "invalidPageToken", "bad token")])
    with pytest.raises(Exception, match="page 3"):
        run(s3, client)
    keys = list(landed(s3))
    assert not layout_rules.complete_region_days(keys, LAYOUT.statistics_prefix)


def test_a_failed_manifest_write_leaves_the_pages_unpublished(s3: Any) -> None:
    real_put = s3.put_object

    def put(**kwargs: Any) -> Any:
        if "/_manifest_" in kwargs["Key"]:
            raise ConnectionResetError("S3 went away")
        return real_put(**kwargs)

    s3.put_object = put
    client, _, _ = api([*chart(1)[:0], (OK, page(5)), (OK, CATEGORIES)])
    with pytest.raises(ConnectionResetError):
        run(s3, client)
    keys = list(landed(s3))
    assert any("videos_mostpopular" in k for k in keys)
    assert not layout_rules.is_complete(keys, LAYOUT.statistics_prefix, DAY, "us")


def test_a_rerun_of_a_published_region_day_fetches_nothing(s3: Any) -> None:
    client, _, _ = api([(OK, page(5)), (OK, CATEGORIES)])
    run(s3, client)
    again, http, _ = api([])
    result = run(s3, again)
    assert http.uris == [] and result["units"] == 0 and result["skipped"].startswith("already published")


def test_quota_exceeded_fails_at_once_naming_the_quota_and_the_units_spent(s3: Any) -> None:
    client, http, sleeps = api([*chart(2), error(403, "quotaExceeded", "The request cannot be completed")])
    with pytest.raises(QuotaExceeded) as caught:
        run(s3, client)
    assert len(http.uris) == 3 and sleeps == []
    # The refused call costs its unit: "All API requests, including invalid requests, incur a quota cost".
    assert "quotaExceeded" in str(caught.value) and "3 units spent" in str(caught.value)
    assert client.units == 3
    assert landed(s3) == {}


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(
            error(400, "keyInvalid", "API key not valid. Please pass a valid API key."), id="keyInvalid"
        ),
        pytest.param(error(403, "forbidden", "The request is missing a valid API key."), id="missing-key"),
    ],
)
def test_a_refused_key_fails_naming_the_connection_not_the_key(s3: Any, response: Any) -> None:
    client, _, sleeps = api([response])
    with pytest.raises(KeyRejected) as caught:
        run(s3, client)
    assert "'youtube_api'" in str(caught.value) and KEY not in str(caught.value) and sleeps == []
    assert client.units == 0, "a refused key names no project to charge"


def test_an_unknown_region_fails_naming_it(s3: Any) -> None:
    client, _, _ = api(
        [error(400, "invalidRegionCode", "The regionCode parameter specifies an unknown region")]
    )
    with pytest.raises(UnknownRegion, match="region=zz"):
        run(s3, client, region="zz")


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(({"status": "500"}, b"oops"), id="500"),
        pytest.param(({"status": "503"}, b"busy"), id="503"),
        pytest.param(error(429, "rateLimitExceeded", "slow down"), id="429"),
        pytest.param(error(403, "userRateLimitExceeded", "slow down"), id="403-rate"),
        pytest.param(({}, TimeoutError("timed out")), id="timeout"),
        pytest.param(({}, ConnectionResetError(104, "Connection reset by peer")), id="reset"),
    ],
)
def test_transient_faults_are_retried_with_exponential_backoff(s3: Any, fault: Any) -> None:
    client, _, sleeps = api([fault, fault, (OK, page(5)), (OK, CATEGORIES)])
    assert run(s3, client)["items"] == 5
    assert sleeps == [1.0, 2.0]


def test_transient_faults_fail_after_the_bounded_retries(s3: Any) -> None:
    client, http, sleeps = api([({"status": "502"}, b"bad gateway")] * 4, retries=3)
    with pytest.raises(TransientApiError, match="after 3 retries .*HTTP 502"):
        run(s3, client)
    assert len(http.uris) == 4 and sleeps == [1.0, 2.0, 4.0]
    assert client.units == 4  # answered requests cost quota, failed ones too


def test_backoff_is_capped() -> None:
    client = YouTubeApi(service=None, connection_id="c", backoff=1.0, max_backoff=30.0)
    assert [client.delay(n) for n in (1, 2, 5, 6, 10)] == [1.0, 2.0, 16.0, 30.0, 30.0]


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        pytest.param(b"<html>Service Unavailable</html>", b"<html>Service", id="html"),
        pytest.param(b'{"kind": "youtube#videoListResponse", "ite', b'{"kind"', id="truncated"),
        pytest.param(b'{"kind": "youtube#videoListResponse"}', b"youtube#videoListResponse", id="no-items"),
    ],
)
def test_a_body_that_is_not_a_list_response_fails_showing_its_first_bytes(
    s3: Any, body: bytes, shown: bytes
) -> None:
    client, _, _ = api([(OK, body)])
    with pytest.raises(BadResponse) as caught:
        run(s3, client)
    assert repr(shown)[2:-1] in str(caught.value) and "not landed" in str(caught.value)
    assert landed(s3) == {}


def test_the_key_is_in_no_log_message_object_or_result(s3: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client, http, _ = api([({"status": "500"}, b"x"), *chart(4), (OK, CATEGORIES)])
    result = run(s3, client)
    assert KEY in http.uris[0]  # the client did send it
    errors = []
    for response in (
        error(400, "keyInvalid", "API key not valid"),
        error(403, "quotaExceeded", "quota"),
        ({"status": "200"}, b"echo_request_uri"),
    ):
        failing, _, _ = api([response], retries=0)
        with pytest.raises(Exception) as caught:
            extract.extract_region(s3, failing, LAYOUT, DAY, "gb", now=lambda: STARTED)
        # The whole traceback, chained exceptions included, as Airflow would log it.
        errors.append("".join(traceback.format_exception(caught.value)))
    assert "key=***" in errors[-1]  # a body echoing the URI is shown scrubbed
    assert "URL being requested" in caplog.text  # googleapiclient's DEBUG lines were captured, scrubbed
    for text in [caplog.text, json.dumps(result), *errors, *(b.decode() for b in landed(s3).values())]:
        assert KEY not in text


def test_the_snapshot_lag_rule() -> None:
    end = datetime(2021, 3, 15, tzinfo=UTC)
    lag = timedelta(hours=6)
    assert extract.check_snapshot_lag(end, end + timedelta(minutes=5), lag) is None
    assert extract.check_snapshot_lag(end, end + lag, lag) is None
    reason = extract.check_snapshot_lag(end, end + lag + timedelta(seconds=1), lag)
    assert reason is not None and "2021-03-15T00:00:00+00:00" in reason and "6:00:00" in reason
    assert extract.check_snapshot_lag(end, end + timedelta(days=400), lag) is not None
