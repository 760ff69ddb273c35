"""The extract's raw layout and manifest (youtube_lake.extract): keys, completeness, round trip."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from youtube_lake import extract
from youtube_lake.extract import Manifest, ManifestError, ManifestPage

STATS = "youtube/raw_statistics/"
REF = "youtube/raw_statistics_reference_data/"
D = date(2017, 11, 14)
STARTED = datetime(2017, 11, 15, 0, 15, 3, tzinfo=UTC)
A = "20171115T001503Z"
B = "20171115T031503Z"


def test_keys_are_dated_region_folders_under_the_existing_landing_prefixes() -> None:
    assert extract.attempt_id(STARTED) == A
    assert (
        extract.page_key(STATS, D, "us", A, 1) == "youtube/raw_statistics/landing_date=2017-11-14/region=us/"
        "videos_mostpopular_20171115T001503Z_p001.json"
    )
    assert (
        extract.manifest_key(STATS, D, "us", A)
        == "youtube/raw_statistics/landing_date=2017-11-14/region=us/_manifest_20171115T001503Z.json"
    )
    assert (
        extract.category_key(REF, D, "us")
        == "youtube/raw_statistics_reference_data/landing_date=2017-11-14/US_category_id.json"
    )


def test_pages_sort_in_chart_order_within_an_attempt() -> None:
    keys = [extract.page_key(STATS, D, "gb", A, n) for n in (10, 2, 1)]
    assert sorted(keys) == [extract.page_key(STATS, D, "gb", A, n) for n in (1, 2, 10)]


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: extract.page_key(STATS, D, "US", A, 1), id="upper-region"),
        pytest.param(lambda: extract.page_key(STATS, D, "us", A, 0), id="page-zero"),
        pytest.param(lambda: extract.page_key(STATS, D, "us", "2017-11-15", 1), id="bad-attempt"),
        pytest.param(lambda: extract.category_key(REF, D, "usa"), id="three-letters"),
        pytest.param(lambda: extract.attempt_id(datetime(2017, 11, 15)), id="naive-instant"),
    ],
)
def test_bad_parts_are_refused(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        pytest.param(
            f"{STATS}landing_date=2017-11-14/region=us/videos_mostpopular_{A}_p003.json",
            extract.ExtractKey(D, "us", A, 3),
            id="page",
        ),
        pytest.param(
            f"{STATS}landing_date=2017-11-14/region=us/_manifest_{A}.json",
            extract.ExtractKey(D, "us", A, None),
            id="manifest",
        ),
        pytest.param(f"{STATS}landing_date=2017-11-14/region=us/USvideos.csv", None, id="csv"),
        pytest.param(f"{STATS}region=us/videos_mostpopular_{A}_p003.json", None, id="undated"),
        pytest.param(f"{STATS}landing_date=2017-13-14/region=us/_manifest_{A}.json", None, id="no-date"),
        pytest.param(f"{STATS}landing_date=2017-11-14/region=US/_manifest_{A}.json", None, id="upper"),
        pytest.param(f"{REF}landing_date=2017-11-14/region=us/_manifest_{A}.json", None, id="other-prefix"),
        pytest.param(
            f"{STATS}landing_date=2017-11-14/region=us/videos_mostpopular_p003.json", None, id="no-attempt"
        ),
    ],
)
def test_parse_extract_key(key: str, expected: extract.ExtractKey | None) -> None:
    assert extract.parse_extract_key(key, STATS) == expected


def test_a_region_day_is_complete_only_with_a_manifest_and_the_later_attempt_wins() -> None:
    pages_a = [extract.page_key(STATS, D, "us", A, n) for n in (1, 2)]
    assert extract.complete_region_days(pages_a, STATS) == {}
    assert not extract.is_complete(pages_a, STATS, D, "us")
    keys = [*pages_a, extract.manifest_key(STATS, D, "us", B), extract.manifest_key(STATS, D, "us", A)]
    assert extract.complete_region_days(keys, STATS) == {(D, "us"): B}
    assert extract.is_complete(keys, STATS, D, "us")
    assert not extract.is_complete(keys, STATS, D, "gb")
    assert not extract.is_complete(keys, STATS, date(2017, 11, 15), "us")


def test_verdicts_take_the_published_attempt_only() -> None:
    complete = {(D, "us"): B}
    page_b = extract.page_key(STATS, D, "us", B, 1)
    page_a = extract.page_key(STATS, D, "us", A, 4)
    page_gb = extract.page_key(STATS, D, "gb", A, 1)
    assert extract.extract_verdict(page_b, STATS, complete) == ("take", None)
    assert extract.extract_verdict(page_gb, STATS, complete) == ("wait", None)
    verdict, reason = extract.extract_verdict(page_a, STATS, complete)  # type: ignore[misc]
    assert verdict == "ignore" and reason.startswith("superseded_attempt: page 4 of attempt " + A)
    verdict, reason = extract.extract_verdict(extract.manifest_key(STATS, D, "us", B), STATS, complete)  # type: ignore[misc]
    assert verdict == "ignore" and reason.startswith("extract_manifest:") and "region=us" in reason
    assert extract.extract_verdict(f"{STATS}region=us/USvideos.csv", STATS, complete) is None


def manifest(**changes: object) -> Manifest:
    values: dict[str, object] = {
        "region": "us",
        "day": D,
        "attempt": A,
        "fetched_at": STARTED,
        "request": {"videos": {"part": "snippet,statistics", "chart": "mostPopular", "regionCode": "US"}},
        "pages": (ManifestPage(extract.page_key(STATS, D, "us", A, 1), 50),),
        "category_key": extract.category_key(REF, D, "us"),
        "category_items": 32,
        "quota_units": 2,
    }
    return Manifest(**(values | changes))  # type: ignore[arg-type]


def test_manifest_round_trips_and_counts_items() -> None:
    m = manifest(
        pages=(
            ManifestPage(extract.page_key(STATS, D, "us", A, 1), 50),
            ManifestPage(extract.page_key(STATS, D, "us", A, 2), 7),
        ),
        api_root="http://127.0.0.1:1/",
    )
    doc = json.loads(m.dumps())
    assert doc["items"] == 57 and doc["fetched_at"] == "2017-11-15T00:15:03Z" and doc["day"] == "2017-11-14"
    assert Manifest.from_json(m.dumps()) == m
    assert Manifest.from_json(doc) == m


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param({"key": "AIza"}, id="top-level"),
        pytest.param({"videos": {"KEY": "AIza"}}, id="nested"),
        pytest.param({"calls": [{"key": "AIza"}]}, id="in-a-list"),
    ],
)
def test_a_manifest_never_holds_the_api_key(request_: dict[str, object]) -> None:
    with pytest.raises(ManifestError, match="never goes into a manifest"):
        manifest(request=request_)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("[]", id="list"),
        pytest.param('{"version": 2}', id="other-version"),
        pytest.param('{"version": 1, "region": "us"}', id="incomplete"),
        pytest.param("not json", id="not-json"),
    ],
)
def test_what_is_not_a_manifest_is_refused_naming_its_source(text: str) -> None:
    with pytest.raises(ManifestError, match="^s3://raw/m.json: "):
        Manifest.from_json(text, source="s3://raw/m.json")
