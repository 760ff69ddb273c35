"""What the scheduled path sends the JSON-to-Parquet Lambda and how its answer is checked
(``youtube_lake.invocation``): S3-event payloads with encoded keys, results that are verdicts, not errors."""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

import pytest

from youtube_lake.invocation import LambdaResult, LambdaResultError, RunInfo, s3_event


def test_payload_has_the_s3_event_shape_with_encoded_keys() -> None:
    keys = ["youtube/raw_statistics_reference_data/US_category_id.json", "youtube/raw/a b/ü.json"]
    event = s3_event("raw-bucket", keys)
    assert [r["eventSource"] for r in event["Records"]] == ["aws:s3", "aws:s3"]
    assert [r["s3"]["bucket"]["name"] for r in event["Records"]] == ["raw-bucket", "raw-bucket"]
    encoded = [r["s3"]["object"]["key"] for r in event["Records"]]
    assert encoded[1] == "youtube/raw/a+b/%C3%BC.json"
    assert [unquote_plus(k) for k in encoded] == keys
    assert "airflow" not in event


def test_planned_objects_carry_etag_version_size_and_the_run() -> None:
    obj = {
        "key": "p/landing_date=2017-11-14/US_category_id.json",
        "etag": '"e1"',
        "version_id": "v9",
        "size": 42,
    }
    event = s3_event("b", [obj], run=RunInfo("manual__1", "a", "b"))
    (record,) = event["Records"]
    assert record["s3"]["object"] == {
        "key": "p/landing_date=2017-11-14/US_category_id.json",
        "size": 42,
        "eTag": "e1",
        "versionId": "v9",
    }
    assert event["airflow"] == {"run_id": "manual__1", "interval_start": "a", "interval_end": "b"}


def test_no_object_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        s3_event("b", [])


def test_converted_records_pass() -> None:
    payload = json.dumps({"records": [{"key": "k", "status": "converted", "rows": 31}], "converted": 1})
    result = LambdaResult.from_json(payload)
    assert result.count("converted") == 1 and result.records[0].rows == 31


def test_verdicts_are_results_not_errors() -> None:
    """A quarantined or superseded file does not fail the task: record_verdicts fails the run later."""
    records = [
        {
            "key": "ok.json",
            "status": "converted",
            "reason": "unchanged: region=us already holds this version",
        },
        {"key": "XX_category_id.json", "status": "quarantined", "reason": "unknown_region: 'xx'"},
        {"key": "US_category_id.json", "status": "superseded", "reason": "not_current: version 1 ..."},
    ]
    result = LambdaResult.from_json(json.dumps({"records": records}))
    assert [(r.key, r.status, r.reason) for r in result.records] == [
        (r["key"], r["status"], r["reason"]) for r in records
    ]


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("null", id="null"),
        pytest.param('{"a": 1}', id="no-records"),
        pytest.param('{"records": {}}', id="records-not-a-list"),
        pytest.param("not json", id="not-json"),
        pytest.param('{"records": [{"key": "k", "status": "failed"}]}', id="unknown-status"),
        pytest.param('{"records": [{"status": "converted"}]}', id="no-key"),
        pytest.param('{"records": ["k"]}', id="record-not-an-object"),
        pytest.param('{"records": [{"key": "k", "status": "quarantined"}]}', id="verdict-without-reason"),
    ],
)
def test_an_unexpected_answer_is_an_error(payload: str) -> None:
    with pytest.raises(LambdaResultError, match="unexpected Lambda result"):
        LambdaResult.from_json(payload)
