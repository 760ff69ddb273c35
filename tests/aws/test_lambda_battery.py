"""A battery of hostile category files, keys and events, through S3 PutObject and the real event path.

One drop holds every bad file plus a good file for each region; the S3 trigger runs the deployed function
for each object, concurrently and in any order. Each case asserts its verdict and reason (from the ledger
document of its version and the quarantine's error report), that the raw object is intact, that the
quarantine copy is byte-identical, and that the good files of the same drop were converted. Malformed
events are sent with ``lambda.invoke``: they name no object to quarantine, so they are function errors.

Bad files sit under keys that sort after the good ones of the drop, so they are always newer in arrival
order than what a region holds: each is examined, none is ``superseded`` by accident.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local.runtime import LocalRuntime
from tests.aws.test_lambda_handler import client, objects
from tests.aws.test_lambda_invoke import TIMEOUT_S, _dlq_messages, _poll, _rows
from tests.conftest import DATA_DIR

#: 65 MiB of spaces gzip to ~65 KB: past MAX_BODY_BYTES (64 MiB) once inflated.
BOMB = gzip.compress(b" " * (65 * 1024 * 1024), compresslevel=9)


def _us(change: Any) -> bytes:
    """The real US file, changed."""
    document = json.loads((DATA_DIR / "raw_statistics_reference_data/US_category_id.json").read_text("utf-8"))
    change(document)
    return json.dumps(document).encode()


def _title(index: int, title: Any) -> Any:
    def change(document: dict[str, Any]) -> None:
        document["items"][index]["snippet"]["title"] = title

    return change


@dataclass(frozen=True)
class Case:
    name: str  # file name (decides region and gzip); may carry folders
    body: bytes
    reason: str
    detail: str = ""


CASES = [
    # ---- JSON bodies that crashed the process or slipped through (issue 16)
    pytest.param(Case("US_category_id.json", b"null", "no_items", "null"), id="null"),
    pytest.param(Case("US_category_id.json", b"  \n null \n", "no_items", "null"), id="null-padded"),
    pytest.param(Case("US_category_id.json", b"\xef\xbb\xbfnull", "no_items", "null"), id="bom-null"),
    pytest.param(Case("US_category_id.json", b"nulll", "not_json", "Extra data"), id="null-and-more"),
    pytest.param(Case("US_category_id.json", b"true", "no_items", "boolean"), id="scalar-true"),
    pytest.param(Case("US_category_id.json", b"42", "no_items", "number"), id="scalar-number"),
    pytest.param(Case("US_category_id.json", b'"items"', "no_items", "string"), id="scalar-string"),
    pytest.param(Case("US_category_id.json", b"[]", "no_items", "array"), id="empty-array"),
    pytest.param(
        Case("US_category_id.json", b'[{"items": []}]', "no_items", "array"), id="array-of-document"
    ),
    pytest.param(Case("US_category_id.json", b"", "empty_file", "0 bytes"), id="empty"),
    pytest.param(Case("US_category_id.json", b" \r\n\t ", "empty_file", "5 bytes"), id="whitespace"),
    pytest.param(Case("US_category_id.json", b'{"items": [', "not_json", "Expecting"), id="truncated"),
    pytest.param(Case("US_category_id.json", b"<html>502 Bad Gateway</html>", "not_json"), id="html"),
    pytest.param(
        Case("US_category_id.json", b'{"items": []} {}', "not_json", "Extra data"), id="two-documents"
    ),
    pytest.param(Case("US_category_id.json", b"NaN", "not_json", "NaN is not a JSON value"), id="nan"),
    pytest.param(
        Case("US_category_id.json", b'{"items": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", "too_deep"),
        id="deep-nesting",
    ),
    pytest.param(
        Case(
            "US_category_id.json",
            _us(_title(3, "caf\u00e9")).replace(b"caf\\u00e9", b"caf\xe9"),
            "not_utf8",
            "byte 0xE9 at offset",
        ),
        id="latin1-title",
    ),
    pytest.param(
        Case("US_category_id.json", '{"items": []}'.encode("utf-16"), "not_utf8", "byte 0xFF at offset 0"),
        id="utf16",
    ),
    pytest.param(
        Case("US_category_id.json", '{"items": []}'.encode("utf-16-le"), "not_json"), id="utf16-without-bom"
    ),
    pytest.param(
        Case(
            "US_category_id.json",
            b'{"items": [{"id": "1", "snippet": {"title": "\xed\xa0\x80"}}]}',
            "not_utf8",
            "0xED",
        ),
        id="surrogate",
    ),
    pytest.param(
        Case(
            "US_category_id.json",
            b'{"items": [], "items": [{"id": "1", "snippet": {"title": "a"}}]}',
            "duplicate_key",
            "'items'",
        ),
        id="duplicate-member",
    ),
    pytest.param(Case("US_category_id.json", b'{"kind": "x"}', "no_items", "missing"), id="items-missing"),
    pytest.param(Case("US_category_id.json", b'{"items": []}', "no_items", "empty"), id="items-empty"),
    pytest.param(Case("US_category_id.json", b'{"items": null}', "no_items"), id="items-null"),
    pytest.param(
        Case(
            "US_category_id.json", b'{"items": [{"snippet": {"title": "a"}}]}', "item_without_id", "items[0]"
        ),
        id="id-missing",
    ),
    pytest.param(
        Case(
            "US_category_id.json",
            b'{"items": [{"id": "x", "snippet": {"title": "t"}}]}',
            "non_integer_id",
            "'x'",
        ),
        id="id-letters",
    ),
    pytest.param(
        Case(
            "US_category_id.json",
            b'{"items": [{"id": "1", "snippet": {"title": "a"}}, {"id": "1", "snippet": {"title": "b"}}]}',
            "duplicate_id",
            "id 1",
        ),
        id="duplicate-id",
    ),
    pytest.param(
        Case("US_category_id.json", _us(_title(2, "    ")), "invalid_title", "items[2]"), id="title-spaces"
    ),
    pytest.param(
        Case("US_category_id.json", _us(_title(2, "\u200b\u3000")), "invalid_title", "blank"),
        id="title-invisible",
    ),
    pytest.param(
        Case("US_category_id.json", _us(_title(2, "Mus\x00ic")), "invalid_title", "U+0000"), id="title-nul"
    ),
    pytest.param(
        Case("US_category_id.json", _us(_title(2, 12)), "item_without_title", "items[2]"), id="title-number"
    ),
    pytest.param(
        Case(
            "US_category_id.json",
            b'{"items": [{"id": "1", "snippet": {"title": "a", "assignable": "yes"}}]}',
            "invalid_field",
            "assignable",
        ),
        id="assignable-string",
    ),
    pytest.param(
        Case(
            "CA_category_id.json",
            b'{"items": [{"id": "1", "snippet": {"title": "Film"}}]}',
            "categories_dropped",
            "30 of the 31 categories region=ca",
        ),
        id="one-item-replacing-31",
    ),
    # ---- gzip
    pytest.param(Case("US_category_id.json.gz", gzip.compress(b"null"), "no_items", "null"), id="gzip-null"),
    pytest.param(Case("US_category_id.json.gz", b'{"items": []}', "not_gzip"), id="gzip-not-gzip"),
    pytest.param(
        Case("US_category_id.json.gz", gzip.compress(b'{"items": []}' * 50)[:-10], "not_gzip", "ends early"),
        id="gzip-truncated",
    ),
    pytest.param(Case("US_category_id.json.gz", BOMB, "too_large", "once gunzipped"), id="gzip-bomb"),
    # ---- keys
    pytest.param(
        Case("ZZ_category_id.json", b'{"items": []}', "unknown_region", "'zz'"), id="unknown-region"
    ),
    pytest.param(
        Case("USA_category_id.json", b"{}", "unknown_region", "USA_category_id.json"), id="three-letters"
    ),
    pytest.param(Case("category_id.json", b"{}", "unknown_region"), id="no-region-code"),
    pytest.param(Case("US_category_id.json.gz.json", b"{}", "unknown_region"), id="double-suffix"),
    pytest.param(
        Case("landing_date=2017-02-30/US_category_id.json", b"{}", "bad_landing_date", "2017-02-30"),
        id="no-such-day",
    ),
    pytest.param(
        Case("landing_date=yesterday/US_category_id.json", b"{}", "bad_landing_date", "YYYY-MM-DD"),
        id="landing-date-word",
    ),
]


@dataclass
class Outcome:
    key: str
    body: bytes
    ledger: dict[str, Any] | None
    raw_versions: list[bytes]
    copy: bytes | None
    report: dict[str, Any] | None


@pytest.fixture(scope="module")
def drop(local_aws: LocalRuntime, data_dir: Path) -> Iterator[dict[str, Any]]:
    """Baseline good files for every region, then the drop: every case plus a new good file per region."""
    local_aws.reset()
    s = local_aws.settings
    s3 = client(local_aws, "s3")
    folder = f"{s.prefixes.raw_reference}battery/"
    regions = [
        p.name[:2]
        for p in sorted((data_dir / "rsrishav_trending/raw_statistics_reference_data").glob("*.json"))
    ]
    for region in regions:
        s3.put_object(
            Bucket=s.raw_bucket,
            Key=f"{folder}0-baseline/{region}_category_id.json",
            Body=_rsrishav(data_dir, region),
        )
    _poll(lambda: len(_ledger_names(local_aws)) == len(regions), "the baseline's verdicts")
    assert local_aws.wait_idle(timeout=TIMEOUT_S)

    good = {region: f"{folder}1-good/{region}_category_id.json" for region in regions}
    for region, key in good.items():
        s3.put_object(Bucket=s.raw_bucket, Key=key, Body=_variant_rsrishav(data_dir, region))
    keys = {}
    for param in CASES:
        (case,) = param.values
        key = f"{folder}2-case-{param.id}/{case.name}"
        s3.put_object(Bucket=s.raw_bucket, Key=key, Body=case.body)
        keys[param.id] = key
    expected = len(regions) * 2 + len(CASES)
    _poll(lambda: len(_ledger_names(local_aws)) == expected, f"{expected} ledger verdicts")
    assert local_aws.wait_idle(timeout=TIMEOUT_S)
    outcomes = {}
    for param in CASES:
        (case,) = param.values
        outcomes[param.id] = _outcome(local_aws, keys[param.id], case.body)
    yield {
        "outcomes": outcomes,
        "partitions": {region.lower(): _rows(local_aws, region.lower()) for region in regions},
        "good": good,
        "dlq": _dlq_messages(local_aws),
    }


def _rsrishav(data_dir: Path, region: str) -> bytes:
    return (
        data_dir / f"rsrishav_trending/raw_statistics_reference_data/{region}_category_id.json"
    ).read_bytes()


def _variant_rsrishav(data_dir: Path, region: str) -> bytes:
    document = json.loads(_rsrishav(data_dir, region))
    for item in document["items"]:
        item["snippet"]["title"] += " (drop)"
    return json.dumps(document).encode()


def _ledger_names(runtime: LocalRuntime) -> list[str]:
    s = runtime.settings
    return [o["Key"] for o in objects(runtime, s.processed_bucket, s.prefixes.landing_ledger)]


def _outcome(runtime: LocalRuntime, key: str, body: bytes) -> Outcome:
    s = runtime.settings
    s3 = client(runtime, "s3")
    name = f"{hashlib.sha256(key.encode()).hexdigest()}_{hashlib.md5(body).hexdigest()}.json"
    try:
        ledger = json.loads(
            s3.get_object(Bucket=s.processed_bucket, Key=s.prefixes.landing_ledger + name)["Body"].read()
        )
    except s3.exceptions.NoSuchKey:
        ledger = None
    versions = [
        v
        for v in s3.list_object_versions(Bucket=s.raw_bucket, Prefix=key).get("Versions", [])
        if v["Key"] == key
    ]
    raw = [
        s3.get_object(Bucket=s.raw_bucket, Key=key, VersionId=v["VersionId"])["Body"].read() for v in versions
    ]
    copy = report = None
    if ledger and ledger.get("output"):
        copy_key = ledger["output"].removeprefix(f"s3://{s.raw_bucket}/")
        copy = s3.get_object(Bucket=s.raw_bucket, Key=copy_key)["Body"].read()
        report = json.loads(s3.get_object(Bucket=s.raw_bucket, Key=copy_key + ".error.json")["Body"].read())
    return Outcome(key, body, ledger, raw, copy, report)


@pytest.mark.parametrize("case", CASES)
def test_bad_file_is_quarantined_with_its_reason(
    drop: dict[str, Any], case: Case, request: pytest.FixtureRequest
) -> None:
    outcome: Outcome = drop["outcomes"][request.node.callspec.id]
    assert outcome.ledger is not None, f"no ledger verdict for {outcome.key}"
    assert outcome.ledger["verdict"] == "quarantined", outcome.ledger
    code, _, detail = outcome.ledger["reason"].partition(": ")
    assert code == case.reason
    assert case.detail in detail
    assert outcome.raw_versions == [case.body], "raw must hold exactly the uploaded bytes"
    assert outcome.copy == case.body, "the quarantine copy must be byte-identical"
    assert outcome.report is not None and outcome.report["reason"] == case.reason
    assert outcome.report["source"]["key"] == outcome.key
    # The other files of the drop: every region holds its good file, none holds a bad one.
    for region, key in drop["good"].items():
        rows = drop["partitions"][region.lower()]
        assert rows and {r["source_key"] for r in rows} == {key}, region
        assert all(r["category_title"].endswith(" (drop)") for r in rows)
    assert drop["dlq"] == [], "bad input is a verdict, never a failed invocation"


def test_the_battery_is_large_enough() -> None:
    assert len(CASES) >= 30


# ---- events with no object to quarantine: function errors, nothing written ----------------------------


EVENTS = [
    pytest.param({}, "no 'Records' list", id="no-records"),
    pytest.param({"Records": "x"}, "no 'Records' list", id="records-not-a-list"),
    pytest.param(
        {"Records": [{"s3": {"bucket": {}}}]}, "Records[0] has no s3.bucket.name", id="no-bucket-name"
    ),
    pytest.param(
        {"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": ""}}}]},
        "non-empty strings",
        id="empty-key",
    ),
    pytest.param(
        {"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "k", "versionId": 7}}}]},
        "versionId and eTag must be strings",
        id="numeric-version",
    ),
    pytest.param(
        {"Records": [], "airflow": {"run_id": ""}}, "'airflow' must be an object", id="airflow-without-run-id"
    ),
    pytest.param([1, 2], "event must be a JSON object", id="array-event"),
    pytest.param("null", "event must be a JSON object", id="string-event"),
]


@pytest.mark.parametrize(("event", "message"), EVENTS)
def test_malformed_event_is_a_function_error_naming_the_problem(
    local_aws: LocalRuntime, event: Any, message: str
) -> None:
    s = local_aws.settings
    assert local_aws.wait_idle(timeout=TIMEOUT_S)  # earlier tests' S3 events write verdicts too
    before = _ledger_names(local_aws)
    response = client(local_aws, "lambda").invoke(
        FunctionName=s.lambda_function, Payload=json.dumps(event).encode()
    )
    assert response.get("FunctionError") == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "ValueError"
    assert message in error["errorMessage"]
    assert _ledger_names(local_aws) == before
