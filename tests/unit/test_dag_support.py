"""Pure DAG helpers: the S3-event payloads the scheduled path sends and the Lambda result checks."""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

import pytest

from youtube_etl.dag_support import (
    LambdaRecordError,
    check_lambda_result,
    default_args,
    lambda_failure_message,
    s3_event_payload,
    sql_dir,
)
from youtube_etl.settings import get_settings


def test_payload_has_the_s3_event_shape_with_encoded_keys() -> None:
    keys = ["youtube/raw_statistics_reference_data/US_category_id.json", "youtube/raw/a b/ü.json"]
    event = json.loads(s3_event_payload("raw-bucket", keys))
    assert [r["eventSource"] for r in event["Records"]] == ["aws:s3", "aws:s3"]
    assert [r["s3"]["bucket"]["name"] for r in event["Records"]] == ["raw-bucket", "raw-bucket"]
    encoded = [r["s3"]["object"]["key"] for r in event["Records"]]
    assert encoded[1] == "youtube/raw/a+b/%C3%BC.json"
    assert [unquote_plus(k) for k in encoded] == keys


def test_planned_objects_carry_etag_version_size_and_the_run() -> None:
    obj = {
        "key": "p/landing_date=2017-11-14/US_category_id.json",
        "etag": '"e1"',
        "version_id": "v9",
        "size": 42,
    }
    run = {"run_id": "manual__1", "interval_start": "a", "interval_end": "b"}
    event = json.loads(s3_event_payload("b", [obj], run=run))
    (record,) = event["Records"]
    assert record["s3"]["object"] == {
        "key": "p/landing_date=2017-11-14/US_category_id.json",
        "size": 42,
        "eTag": "e1",
        "versionId": "v9",
    }
    assert event["airflow"] == run


def test_no_object_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        s3_event_payload("b", [])


def test_converted_records_pass() -> None:
    payload = json.dumps({"records": [{"key": "k", "status": "converted", "rows": 31}], "converted": 1})
    assert check_lambda_result(payload)["converted"] == 1


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
    assert check_lambda_result(json.dumps({"records": records}))["records"] == records


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
    with pytest.raises(LambdaRecordError, match="unexpected Lambda result"):
        check_lambda_result(payload)


def test_a_function_error_names_the_files_and_the_error() -> None:
    payload = s3_event_payload("raw", ["youtube/raw_statistics_reference_data/a b/US_category_id.json"])
    error = json.dumps({"errorType": "RecordsFailed", "errorMessage": "1 of 1 record(s) failed: NoSuchKey"})
    assert lambda_failure_message(payload, error) == (
        "json_to_parquet failed on youtube/raw_statistics_reference_data/a b/US_category_id.json — "
        "RecordsFailed: 1 of 1 record(s) failed: NoSuchKey"
    )
    assert lambda_failure_message("{}", "Task timed out") == (
        "json_to_parquet failed on (no S3 records in the payload) — Task timed out"
    )


def test_default_args_retry_twice_with_timeout() -> None:
    args = default_args(get_settings({}))
    assert args["retries"] >= 2 and args["execution_timeout"].total_seconds() > 0
    assert args["retry_exponential_backoff"] is True


def test_sql_dir_is_the_checkout_folder_unless_configured(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert sql_dir(get_settings({})).parts[-2:] == ("include", "sql")
    assert sql_dir(get_settings({}, sql_folder=str(tmp_path))) == tmp_path
