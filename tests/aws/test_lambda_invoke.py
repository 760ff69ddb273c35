"""The deployed function through the AWS API: ``lambda.invoke`` and the raw bucket's S3 trigger.

The local runtime's Lambda executor runs the provisioned code package (every ``.py`` of
``include/lambda/json_to_parquet/`` zipped) in a subprocess with the function's environment, so these tests
check the package, the environment wiring and the trigger filter as well as the handler.
"""

from __future__ import annotations

import base64
import io
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from infra.local.executors import awslambda
from infra.local.runtime import LAMBDA_SOURCE, LocalRuntime
from tests.aws.test_lambda_handler import client, objects

sys.path.insert(0, str(LAMBDA_SOURCE))
import category_reference as cr  # noqa: E402

#: Bound for waiting on asynchronous invocations (interpreter start + awswrangler import per event).
TIMEOUT_S = 180.0


def _poll(check: Callable[[], bool], what: str, timeout: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.5)


def _rows(runtime: LocalRuntime, region: str) -> list[dict[str, Any]]:
    s = runtime.settings
    s3 = client(runtime, "s3")
    rows: list[dict[str, Any]] = []
    for obj in objects(runtime, s.processed_bucket, f"{s.prefixes.category_reference}region={region}/"):
        body = s3.get_object(Bucket=s.processed_bucket, Key=obj["Key"])["Body"].read()
        rows.extend(pq.read_table(io.BytesIO(body)).to_pylist())
    return rows


def _ids(path: Path) -> list[int]:
    return [int(i) for i in re.findall(rb'"id":\s*"(\d+)"', path.read_bytes())]


def _partition_values(runtime: LocalRuntime) -> list[str]:
    s = runtime.settings
    glue = client(runtime, "glue")
    partitions = glue.get_partitions(DatabaseName=s.processed_database, TableName=s.category_reference_table)
    return sorted(p["Values"][0] for p in partitions["Partitions"])


def _dlq_messages(runtime: LocalRuntime) -> list[dict[str, Any]]:
    sqs = client(runtime, "sqs")
    url = sqs.get_queue_url(QueueName=runtime.dlq_name)["QueueUrl"]
    response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [json.loads(m["Body"]) for m in response.get("Messages", [])]


def test_invoke_with_several_records(clean_aws: LocalRuntime, data_dir: Path) -> None:
    """What Airflow does: a RequestResponse invoke with an S3-shaped event; one record is bad."""
    s = clean_aws.settings
    s3 = client(clean_aws, "s3")
    drop = "youtube/scheduled_drops/"  # outside the trigger prefix: only the invoke runs the function
    names = ["US", "IN", "GB"]
    keys = [f"{drop}run 1/ünï/{name}_category_id.json" for name in names]
    for name, key in zip(names, keys, strict=True):
        s3.put_object(
            Bucket=s.raw_bucket,
            Key=key,
            Body=(data_dir / "raw_statistics_reference_data" / f"{name}_category_id.json").read_bytes(),
        )
    bad = f"{drop}ZZ_category_id.json"
    s3.put_object(Bucket=s.raw_bucket, Key=bad, Body=b'{"items": []}')
    event = cr.s3_event((s.raw_bucket, key) for key in [*keys, bad])

    response = client(clean_aws, "lambda").invoke(
        FunctionName=s.lambda_function, Payload=json.dumps(event).encode(), LogType="Tail"
    )

    assert "FunctionError" not in response, response["Payload"].read()
    payload = json.loads(response["Payload"].read())
    assert (payload["converted"], payload["quarantined"]) == (3, 1)
    assert [r["key"] for r in payload["records"]] == [*keys, bad]
    assert payload["records"][3]["reason"].startswith("unknown_region")
    copy_key = payload["records"][3]["quarantine_key"]
    assert s3.get_object(Bucket=s.raw_bucket, Key=copy_key)["Body"].read() == b'{"items": []}'
    for name, record in zip(names, payload["records"][:3], strict=True):
        path = data_dir / "raw_statistics_reference_data" / f"{name}_category_id.json"
        assert record["rows"] == len(_ids(path))
        assert [r["category_id"] for r in _rows(clean_aws, name.lower())] == _ids(path)
    assert _partition_values(clean_aws) == ["gb", "in", "us"]
    # The function's structured log lines reach the caller's log tail.
    logs = base64.b64decode(response["LogResult"]).decode()
    assert '"event": "invocation_done"' in logs


def test_s3_drops_trigger_the_function(clean_aws: LocalRuntime, data_dir: Path) -> None:
    """Every real file dropped under the landing prefix becomes its partition; a re-drop changes nothing;
    a malformed drop is quarantined; nothing reaches the on-failure destination."""
    s = clean_aws.settings
    s3 = client(clean_aws, "s3")
    files = sorted((data_dir / "raw_statistics_reference_data").glob("*_category_id.json"))
    for path in files:
        s3.put_object(Bucket=s.raw_bucket, Key=s.prefixes.raw_reference + path.name, Body=path.read_bytes())
    regions = [p.name[:2].lower() for p in files]
    _poll(
        lambda: _partition_values(clean_aws) == sorted(regions) if _table_exists(clean_aws) else False,
        "all partitions from S3-triggered invocations",
    )
    assert awslambda.wait_idle(clean_aws, timeout=TIMEOUT_S)
    for path, region in zip(files, regions, strict=True):
        assert [r["category_id"] for r in _rows(clean_aws, region)] == _ids(path)

    # Same file again (S3 redelivery or a re-upload): the partition is replaced, not appended to.
    us = data_dir / "raw_statistics_reference_data" / "US_category_id.json"
    first_written = _rows(clean_aws, "us")[0]["ingested_at"]
    s3.put_object(Bucket=s.raw_bucket, Key=s.prefixes.raw_reference + us.name, Body=us.read_bytes())
    _poll(lambda: _rows(clean_aws, "us")[0]["ingested_at"] > first_written, "the re-dropped US file")
    assert awslambda.wait_idle(clean_aws, timeout=TIMEOUT_S)
    assert [r["category_id"] for r in _rows(clean_aws, "us")] == _ids(us)

    # A malformed drop: quarantined with its report, raw object kept, no retry, nothing in the DLQ.
    bad_key = s.prefixes.raw_reference + "broken drop/CA_category_id.json"
    bad_body = us.read_bytes()[:500]
    s3.put_object(Bucket=s.raw_bucket, Key=bad_key, Body=bad_body)
    report_prefix = f"{s.prefixes.quarantine}reference_data/"

    def reports() -> list[str]:
        return [
            o["Key"]
            for o in objects(clean_aws, s.raw_bucket, report_prefix)
            if o["Key"].endswith(".error.json")
        ]

    _poll(lambda: len(reports()) == 1, "the quarantine report")
    assert awslambda.wait_idle(clean_aws, timeout=TIMEOUT_S)
    report = json.loads(s3.get_object(Bucket=s.raw_bucket, Key=reports()[0])["Body"].read())
    assert report["reason"] == "not_json"
    assert report["source"]["key"] == bad_key
    assert report["source"]["version_id"]  # the versioned raw bucket's event names the exact version
    copy_key = reports()[0].removesuffix(".error.json")
    assert s3.get_object(Bucket=s.raw_bucket, Key=copy_key)["Body"].read() == bad_body
    assert s3.get_object(Bucket=s.raw_bucket, Key=bad_key)["Body"].read() == bad_body
    assert len(_rows(clean_aws, "ca")) == 31  # the earlier good CA partition is untouched
    assert _dlq_messages(clean_aws) == []
    executor = awslambda.executor()
    assert executor is not None and executor.undelivered == []


def _table_exists(runtime: LocalRuntime) -> bool:
    s = runtime.settings
    glue = client(runtime, "glue")
    try:
        glue.get_table(DatabaseName=s.processed_database, Name=s.category_reference_table)
    except glue.exceptions.EntityNotFoundException:
        return False
    return True


def test_aws_error_is_retried_then_sent_to_the_on_failure_destination(clean_aws: LocalRuntime) -> None:
    """An asynchronous invoke naming a missing object fails (AWS error, not bad data): Lambda retries and
    then hands the event to the DLQ, so nothing is lost."""
    s = clean_aws.settings
    event = cr.s3_event([(s.raw_bucket, s.prefixes.raw_reference + "vanished/US_category_id.json")])
    client(clean_aws, "lambda").invoke(
        FunctionName=s.lambda_function, InvocationType="Event", Payload=json.dumps(event).encode()
    )
    assert awslambda.wait_idle(clean_aws, timeout=TIMEOUT_S)
    messages: list[dict[str, Any]] = []
    _poll(lambda: bool(messages.extend(_dlq_messages(clean_aws)) or messages), "the on-failure record")
    (failure,) = messages
    assert failure["requestPayload"] == event
    assert failure["requestContext"]["condition"] == "RetriesExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert "NoSuchKey" in json.dumps(failure["responsePayload"])
    assert list(objects(clean_aws, s.raw_bucket, s.prefixes.quarantine)) == []
