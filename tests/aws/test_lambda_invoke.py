"""The deployed function through the AWS API: ``lambda.invoke`` and the raw bucket's S3 trigger.

The local runtime's Lambda executor runs the provisioned code package (every ``.py`` of
``include/lambda/json_to_parquet/`` zipped) in a subprocess with the function's environment, so these tests
check the package, the environment wiring and the trigger filter as well as the handler.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import re
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from airflow.sdk.exceptions import AirflowFailException

from local.runtime import LAMBDA_SOURCE, LocalRuntime
from tests.aws.test_lambda_handler import _real, _variant, client, objects
from youtube_etl.dag_support import LambdaRecordError
from youtube_lake.invocation import s3_event

sys.path.insert(0, str(LAMBDA_SOURCE))
import category_reference as cr  # noqa: E402
import function_config  # noqa: E402

from youtube_lake import invocation  # noqa: E402

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
    event = invocation.s3_event(s.raw_bucket, [*keys, bad])

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


def test_the_deployed_function_quarantines_a_first_file_with_one_category(
    clean_aws: LocalRuntime, data_dir: Path
) -> None:
    """MIN_CATEGORIES reaches the function through the runtime's provisioning (as through CDK): a region's
    first file, one category long, is quarantined although there is nothing stored to compare with."""
    s = clean_aws.settings
    s3 = client(clean_aws, "s3")
    document = json.loads(_real(data_dir, "KR"))
    document["items"] = document["items"][:1]
    key = "youtube/scheduled_drops/KR_category_id.json"  # outside the trigger prefix: only the invoke runs
    s3.put_object(Bucket=s.raw_bucket, Key=key, Body=json.dumps(document).encode())

    response = client(clean_aws, "lambda").invoke(
        FunctionName=s.lambda_function, Payload=json.dumps(invocation.s3_event(s.raw_bucket, [key])).encode()
    )

    assert "FunctionError" not in response, response["Payload"].read()
    (record,) = json.loads(response["Payload"].read())["records"]
    assert record["status"] == "quarantined"
    assert record["reason"].startswith(
        f"too_few_categories: 1 category where at least {s.min_categories} are expected (MIN_CATEGORIES)"
    )
    assert _rows(clean_aws, "kr") == []


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
    assert clean_aws.wait_idle(timeout=TIMEOUT_S)
    for path, region in zip(files, regions, strict=True):
        assert [r["category_id"] for r in _rows(clean_aws, region)] == _ids(path)

    # Same file again (S3 redelivery or a re-upload): the partition is replaced, not appended to.
    us = data_dir / "raw_statistics_reference_data" / "US_category_id.json"
    first_written = _rows(clean_aws, "us")[0]["ingested_at"]
    s3.put_object(Bucket=s.raw_bucket, Key=s.prefixes.raw_reference + us.name, Body=us.read_bytes())
    _poll(lambda: _rows(clean_aws, "us")[0]["ingested_at"] > first_written, "the re-dropped US file")
    assert clean_aws.wait_idle(timeout=TIMEOUT_S)
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
    assert clean_aws.wait_idle(timeout=TIMEOUT_S)
    report = json.loads(s3.get_object(Bucket=s.raw_bucket, Key=reports()[0])["Body"].read())
    assert report["reason"] == "not_json"
    assert report["source"]["key"] == bad_key
    assert report["source"]["version_id"]  # the versioned raw bucket's event names the exact version
    copy_key = reports()[0].removesuffix(".error.json")
    assert s3.get_object(Bucket=s.raw_bucket, Key=copy_key)["Body"].read() == bad_body
    assert s3.get_object(Bucket=s.raw_bucket, Key=bad_key)["Body"].read() == bad_body
    assert len(_rows(clean_aws, "ca")) == 31  # the earlier good CA partition is untouched
    assert _dlq_messages(clean_aws) == []
    assert clean_aws.undelivered_events() == []


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
    event = invocation.s3_event(s.raw_bucket, [s.prefixes.raw_reference + "vanished/US_category_id.json"])
    client(clean_aws, "lambda").invoke(
        FunctionName=s.lambda_function, InvocationType="Event", Payload=json.dumps(event).encode()
    )
    assert clean_aws.wait_idle(timeout=TIMEOUT_S)
    messages: list[dict[str, Any]] = []
    _poll(lambda: bool(messages.extend(_dlq_messages(clean_aws)) or messages), "the on-failure record")
    (failure,) = messages
    assert failure["requestPayload"] == event
    assert failure["requestContext"]["condition"] == "RetriesExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert "NoSuchKey" in json.dumps(failure["responsePayload"])
    assert list(objects(clean_aws, s.raw_bucket, s.prefixes.quarantine)) == []


# ---- ordering through the real event path (issue 13 item 6) -------------------------------------------


def _ledger_documents(runtime: LocalRuntime, key: str) -> dict[str, dict[str, Any]]:
    """ETag -> ledger document, for every version of ``key`` that has one."""
    s = runtime.settings
    s3 = client(runtime, "s3")
    digest = hashlib.sha256(key.encode()).hexdigest()
    found = {}
    for obj in objects(runtime, s.processed_bucket, f"{s.prefixes.landing_ledger}{digest}_"):
        doc = json.loads(s3.get_object(Bucket=s.processed_bucket, Key=obj["Key"])["Body"].read())
        found[doc["etag"]] = doc
    return found


def _stored_head(runtime: LocalRuntime, region: str) -> dict[str, Any]:
    s = runtime.settings
    key = f"{s.prefixes.category_reference}region={region}/{function_config.OUTPUT_FILE}"
    return dict(client(runtime, "s3").head_object(Bucket=s.processed_bucket, Key=key))


def _expected_rows(body: bytes, key: str, region: str) -> list[dict[str, Any]]:
    """What the transform makes of ``body``: the rows the partition must hold (ingested_at aside)."""
    table = cr.transform(body, key=key, region=region, ingested_at=datetime.now(UTC))
    return [_without_time(r) for r in table.drop_columns(["region"]).to_pylist()]


def _without_time(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "ingested_at"}


def _idle_and_clean(runtime: LocalRuntime) -> None:
    assert runtime.wait_idle(timeout=TIMEOUT_S)
    assert _dlq_messages(runtime) == []
    assert runtime.undelivered_events() == []


def test_fifty_concurrent_puts_and_a_redelivered_old_event_end_with_the_newest(
    clean_aws: LocalRuntime, data_dir: Path
) -> None:
    """50 PUTs of different content to one key at once fire 50 events, delivered in any order and
    concurrently; the partition must end with the key's current version, and every version has a verdict.
    An old event redelivered afterwards changes nothing and says why."""
    s = clean_aws.settings
    s3 = client(clean_aws, "s3")
    key = f"{s.prefixes.raw_reference}US_category_id.json"
    bodies = [_variant(data_dir, "US", f"put{i:02d}") for i in range(50)]
    barrier = threading.Barrier(len(bodies))

    def put(body: bytes) -> str:
        barrier.wait()
        return str(s3.put_object(Bucket=s.raw_bucket, Key=key, Body=body)["VersionId"])

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        versions = list(pool.map(put, bodies))
    etags = {hashlib.md5(body).hexdigest() for body in bodies}
    assert len(set(versions)) == len(etags) == 50

    _poll(
        lambda: set(_ledger_documents(clean_aws, key)) == etags,
        "a ledger verdict for each of the 50 versions",
    )
    _idle_and_clean(clean_aws)

    current = s3.get_object(Bucket=s.raw_bucket, Key=key)
    newest = current["Body"].read()
    assert [_without_time(r) for r in _rows(clean_aws, "us")] == _expected_rows(newest, key, "us")
    stored = _stored_head(clean_aws, "us")
    assert stored["Metadata"]["source-version-id"] == current["VersionId"]
    documents = _ledger_documents(clean_aws, key)
    assert documents[current["ETag"].strip('"')]["verdict"] == "processed"
    assert {d["verdict"] for d in documents.values()} <= {"processed", "superseded"}
    assert all(
        d["reason"].startswith(("not_current: ", "older_than_stored: "))
        for d in documents.values()
        if d["verdict"] == "superseded"
    )

    # S3 redelivers the event of the first version, long after: nothing changes.
    listing = s3.list_object_versions(Bucket=s.raw_bucket, Prefix=key)["Versions"]
    oldest = [v for v in listing if v["Key"] == key][-1]  # S3 lists a key's versions newest first
    event = invocation.s3_event(s.raw_bucket, [key])
    event["Records"][0]["s3"]["object"].update(versionId=oldest["VersionId"], eTag=oldest["ETag"].strip('"'))
    lam = client(clean_aws, "lambda")
    lam.invoke(FunctionName=s.lambda_function, InvocationType="Event", Payload=json.dumps(event).encode())
    _idle_and_clean(clean_aws)
    assert _stored_head(clean_aws, "us")["ETag"] == stored["ETag"]
    assert _ledger_documents(clean_aws, key) == documents
    # The same old event answered synchronously says which version is the newest.
    response = lam.invoke(FunctionName=s.lambda_function, Payload=json.dumps(event).encode())
    (record,) = json.loads(response["Payload"].read())["records"]
    assert (record["status"], record["version_id"]) == ("superseded", oldest["VersionId"])
    assert f"the newest is version {current['VersionId']} " in record["reason"]


def test_dated_keys_arriving_out_of_order_keep_the_later_day(clean_aws: LocalRuntime, data_dir: Path) -> None:
    """The day-15 file is uploaded first, the day-14 file (a late drop) after it: the region keeps day 15."""
    s = clean_aws.settings
    s3 = client(clean_aws, "s3")
    day15 = f"{s.prefixes.raw_reference}landing_date=2017-11-15/GB_category_id.json"
    day14 = f"{s.prefixes.raw_reference}landing_date=2017-11-14/GB_category_id.json"
    s3.put_object(Bucket=s.raw_bucket, Key=day15, Body=_variant(data_dir, "GB", "day15"))
    _poll(lambda: bool(_ledger_documents(clean_aws, day15)), "day 15's verdict")
    s3.put_object(Bucket=s.raw_bucket, Key=day14, Body=_variant(data_dir, "GB", "day14"))
    _poll(
        lambda: bool(_ledger_documents(clean_aws, day14)) and bool(_ledger_documents(clean_aws, day15)),
        "verdicts",
    )
    _idle_and_clean(clean_aws)
    assert {r["category_title"].rsplit(" ", 1)[1] for r in _rows(clean_aws, "gb")} == {"day15"}
    (late,) = _ledger_documents(clean_aws, day14).values()
    (kept,) = _ledger_documents(clean_aws, day15).values()
    assert (kept["verdict"], kept["arrival"]) == ("processed", "2017-11-15T00:00:00Z")
    assert (late["verdict"], late["arrival"]) == ("superseded", "2017-11-14T00:00:00Z")
    assert late["reason"].startswith(f"older_than_stored: region=gb holds s3://{s.raw_bucket}/{day15} ")
    assert late["run_id"].startswith("s3-event:")


def test_scheduled_reinvocation_of_a_processed_version_is_a_no_op_that_says_so(
    clean_aws: LocalRuntime, data_dir: Path
) -> None:
    """The event path converted the file; the scheduled run then invokes for it (planned before that): the
    answer says nothing was written, and the ledger keeps the run that did the work."""
    s = clean_aws.settings
    s3 = client(clean_aws, "s3")
    key = f"{s.prefixes.raw_reference}landing_date=2017-11-14/FR_category_id.json"
    s3.put_object(Bucket=s.raw_bucket, Key=key, Body=_real(data_dir, "FR"))
    _poll(lambda: bool(_ledger_documents(clean_aws, key)), "the event path's verdict")
    _idle_and_clean(clean_aws)
    stored = _stored_head(clean_aws, "fr")
    payload = s3_event(s.raw_bucket, [key])
    payload["airflow"] = {
        "run_id": "scheduled__2017-11-15T00:00:00+00:00",
        "interval_start": "2017-11-14T00:00:00+00:00",
        "interval_end": "2017-11-15T00:00:00+00:00",
    }

    response = client(clean_aws, "lambda").invoke(FunctionName=s.lambda_function, Payload=json.dumps(payload))

    assert "FunctionError" not in response
    (record,) = json.loads(response["Payload"].read())["records"]
    assert record["status"] == "converted"
    assert record["reason"] == "unchanged: region=fr already holds this version; nothing written"
    assert _stored_head(clean_aws, "fr")["ETag"] == stored["ETag"]
    (doc,) = _ledger_documents(clean_aws, key).values()
    assert doc["run_id"].startswith("s3-event:") and doc["interval_start"] is None


def test_a_gzip_drop_fires_the_function(clean_aws: LocalRuntime, data_dir: Path) -> None:
    s = clean_aws.settings
    key = f"{s.prefixes.raw_reference}DE_category_id.json.gz"
    client(clean_aws, "s3").put_object(
        Bucket=s.raw_bucket, Key=key, Body=gzip.compress(_real(data_dir, "DE"))
    )
    _poll(lambda: bool(_ledger_documents(clean_aws, key)), "the verdict of the .json.gz drop")
    _idle_and_clean(clean_aws)
    assert [r["category_id"] for r in _rows(clean_aws, "de")] == _ids(
        data_dir / "raw_statistics_reference_data" / "DE_category_id.json"
    )


# ---- the scheduled path's operator --------------------------------------------------------------------


def _operator(payload: str) -> Any:
    from youtube_etl.operators import ConvertReferenceOperator

    return ConvertReferenceOperator(task_id="convert_reference_data", function_name="", payload=payload)


def test_operator_logs_a_quarantine_without_failing(
    clean_aws: LocalRuntime, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = clean_aws.settings
    s3 = client(clean_aws, "s3")
    good, bad = "youtube/scheduled_drops/CA_category_id.json", "youtube/scheduled_drops/ZZ_category_id.json"
    s3.put_object(Bucket=s.raw_bucket, Key=good, Body=_real(data_dir, "CA"))
    s3.put_object(Bucket=s.raw_bucket, Key=bad, Body=b"{}")
    operator = _operator(json.dumps(s3_event(s.raw_bucket, [good, bad])))
    operator.function_name = s.lambda_function
    result = json.loads(operator.execute({}))
    assert [r["status"] for r in result["records"]] == ["converted", "quarantined"]
    # Task logs go through Airflow's structured logger to stdout.
    lines = [line for line in capsys.readouterr().out.splitlines() if "QUARANTINED" in line]
    assert len(lines) == 1 and "[warning" in lines[0], lines
    assert f"QUARANTINED {bad} (region None): unknown_region: region 'zz'" in lines[0]


def test_operator_failure_names_the_file_and_the_error(clean_aws: LocalRuntime) -> None:
    """An AWS error inside the function (here: the object is missing) is a function error: the task fails
    naming the file and the function's error, and keeps its retries."""
    s = clean_aws.settings
    missing = "youtube/scheduled_drops/vanished/US_category_id.json"
    operator = _operator(json.dumps(s3_event(s.raw_bucket, [missing])))
    operator.function_name = s.lambda_function
    with pytest.raises(LambdaRecordError) as caught:
        operator.execute({})
    message = str(caught.value)
    assert message.startswith(f"json_to_parquet failed on {missing} — RecordsFailed: 1 of 1 record(s) failed")
    assert "NoSuchKey" in message
    assert not isinstance(caught.value, AirflowFailException), "weather keeps the task's retries"
