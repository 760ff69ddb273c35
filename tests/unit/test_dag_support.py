"""Pure DAG helpers: the S3-event payloads the scheduled path sends and the Lambda result checks."""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

import pytest

from youtube_etl.dag_support import (
    LambdaRecordError,
    check_lambda_result,
    default_args,
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


def test_a_quarantined_file_fails_with_its_reason() -> None:
    payload = json.dumps(
        {
            "records": [
                {"key": "ok.json", "status": "converted"},
                {
                    "key": "XX_category_id.json",
                    "status": "quarantined",
                    "reason": "unknown region 'xx'",
                    "quarantine_key": "quarantine/reference_data/x",
                },
            ]
        }
    )
    with pytest.raises(
        LambdaRecordError, match=r"1 of 2 .*XX_category_id\.json: quarantined: unknown region 'xx'"
    ):
        check_lambda_result(payload)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("null", id="null"),
        pytest.param('{"a": 1}', id="no-records"),
        pytest.param("not json", id="not-json"),
    ],
)
def test_an_unexpected_answer_is_an_error(payload: str) -> None:
    with pytest.raises(LambdaRecordError, match="unexpected Lambda result"):
        check_lambda_result(payload)


def test_default_args_retry_twice_with_timeout() -> None:
    args = default_args(get_settings({}))
    assert args["retries"] >= 2 and args["execution_timeout"].total_seconds() > 0
    assert args["retry_exponential_backoff"] is True


def test_sql_dir_is_the_checkout_folder_unless_configured(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert sql_dir(get_settings({})).parts[-2:] == ("include", "sql")
    assert sql_dir(get_settings({}, sql_folder=str(tmp_path))) == tmp_path
