"""The Lambda handler called in-process against the local runtime, with the function's environment.

Objects are dropped under a landing folder the S3 trigger does not watch, so these tests exercise the handler
alone, whatever the Lambda executor does; ``test_lambda_invoke.py`` goes through the real trigger.
"""

from __future__ import annotations

import io
import json
import re
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow.parquet as pq
import pytest

from infra.local.runtime import LAMBDA_SOURCE, LocalRuntime

sys.path.insert(0, str(LAMBDA_SOURCE))
import category_reference as cr  # noqa: E402
import handler as lambda_handler  # noqa: E402

#: Not under ``prefixes.raw_reference``: no S3 notification fires for these drops.
DROP = "youtube/manual_reference_drops/"


_CLIENTS: dict[tuple[str, str], Any] = {}


def client(runtime: LocalRuntime, service: str) -> Any:
    """A cached client per endpoint and service: ``LocalRuntime.client`` builds a new session (~0.5 s)."""
    key = (runtime.endpoint, service)
    if key not in _CLIENTS:
        _CLIENTS[key] = runtime.client(service)
    return _CLIENTS[key]


def objects(runtime: LocalRuntime, bucket: str, prefix: str = "") -> list[dict[str, Any]]:
    paginator = client(runtime, "s3").get_paginator("list_objects_v2")
    return [
        obj for page in paginator.paginate(Bucket=bucket, Prefix=prefix) for obj in page.get("Contents", [])
    ]


def wipe_lambda_state(runtime: LocalRuntime) -> None:
    """Forget what the function wrote (output, quarantine, drops, catalog table): a full reset costs ~5 s."""
    s = runtime.settings
    s3 = client(runtime, "s3")
    for bucket, prefix in (
        (s.processed_bucket, s.prefixes.category_reference),
        (s.raw_bucket, s.prefixes.quarantine),
        (s.raw_bucket, DROP),
    ):
        keys = [{"Key": obj["Key"]} for obj in objects(runtime, bucket, prefix)]
        for start in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[start : start + 1000]})
    glue = client(runtime, "glue")
    try:
        glue.delete_table(DatabaseName=s.processed_database, Name=s.category_reference_table)
    except glue.exceptions.EntityNotFoundException:
        pass


@pytest.fixture
def aws(local_aws: LocalRuntime, monkeypatch: pytest.MonkeyPatch) -> LocalRuntime:
    """The runtime without the function's earlier output, and this process set up like the function
    (its environment; the runtime's endpoint is already set by ``local_aws``)."""
    wipe_lambda_state(local_aws)
    for name, value in local_aws.settings.lambda_environment().items():
        monkeypatch.setenv(name, value)
    return local_aws


def _context(request_id: str = "req-0001") -> SimpleNamespace:
    return SimpleNamespace(aws_request_id=request_id, function_name="json-to-parquet")


def _put(aws: LocalRuntime, key: str, body: bytes) -> None:
    client(aws, "s3").put_object(Bucket=aws.settings.raw_bucket, Key=key, Body=body)


def _event(aws: LocalRuntime, *keys: str) -> dict[str, Any]:
    return cr.s3_event((aws.settings.raw_bucket, key) for key in keys)


def _keys(aws: LocalRuntime, bucket: str, prefix: str) -> list[str]:
    return sorted(obj["Key"] for obj in objects(aws, bucket, prefix))


def _partition(aws: LocalRuntime, region: str) -> list[dict[str, Any]]:
    """Every row stored under the region's partition (all objects, so duplicates would show)."""
    s = aws.settings
    rows: list[dict[str, Any]] = []
    s3 = client(aws, "s3")
    for key in _keys(aws, s.processed_bucket, f"{s.prefixes.category_reference}region={region}/"):
        body = s3.get_object(Bucket=s.processed_bucket, Key=key)["Body"].read()
        rows.extend(pq.read_table(io.BytesIO(body)).to_pylist())
    return rows


def _expected_ids(path: Path) -> list[int]:
    """Ids straight from the raw text, independent of both JSON parsers."""
    return [int(i) for i in re.findall(rb'"id":\s*"(\d+)"', path.read_bytes())]


def _files(data_dir: Path, dataset: str) -> list[Path]:
    folder = data_dir / dataset if dataset else data_dir
    return sorted((folder / "raw_statistics_reference_data").glob("*_category_id.json"))


def test_real_files_of_both_datasets_land_as_partitions_and_catalog(
    aws: LocalRuntime, data_dir: Path
) -> None:
    s = aws.settings
    glue = client(aws, "glue")
    for dataset in ("", "rsrishav_trending"):
        files = _files(data_dir, dataset)
        keys = [f"{DROP}{dataset or 'datasnaek'}/{path.name}" for path in files]
        for path, key in zip(files, keys, strict=True):
            _put(aws, key, path.read_bytes())

        result = lambda_handler.handler(_event(aws, *keys), _context())

        assert json.loads(json.dumps(result)) == result
        assert (result["converted"], result["quarantined"]) == (len(files), 0)
        for path, key, record in zip(files, keys, result["records"], strict=True):
            region = path.name[:2].lower()
            assert record == {
                "bucket": s.raw_bucket,
                "key": key,
                "status": "converted",
                "region": region,
                "rows": len(_expected_ids(path)),
                "output": f"s3://{s.processed_bucket}/{s.prefixes.category_reference}region={region}/"
                f"{cr.OUTPUT_FILE}",
                "reason": None,
                "quarantine_key": None,
            }
            rows = _partition(aws, region)
            # Later datasets replace a region's partition: never the sum of both files.
            assert [r["category_id"] for r in rows] == _expected_ids(path)
            assert {r["source_key"] for r in rows} == {key}

    # datasnaek has 10 regions, rsrishav 11 (adds br): all 11 partitions, each from its latest file.
    table = glue.get_table(DatabaseName=s.processed_database, Name=s.category_reference_table)["Table"]
    columns = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
    assert columns == cr.GLUE_COLUMN_TYPES
    assert columns["category_id"] == "bigint"
    assert [k["Name"] for k in table["PartitionKeys"]] == ["region"]
    assert table["StorageDescriptor"]["Location"].rstrip("/") == s.category_reference_uri.rstrip("/")
    partitions = glue.get_partitions(DatabaseName=s.processed_database, TableName=s.category_reference_table)
    values = sorted(p["Values"][0] for p in partitions["Partitions"])
    assert values == sorted(p.name[:2].lower() for p in _files(data_dir, "rsrishav_trending"))
    assert len(_keys(aws, s.processed_bucket, s.prefixes.category_reference)) == len(values)


def test_same_file_twice_gives_the_same_rows(aws: LocalRuntime, data_dir: Path) -> None:
    path = data_dir / "raw_statistics_reference_data" / "US_category_id.json"
    key = f"{DROP}US_category_id.json"
    _put(aws, key, path.read_bytes())
    first = lambda_handler.handler(_event(aws, key), _context("a"))
    rows_first = _partition(aws, "us")
    # Redelivered event, plus the same file again in one event (Airflow re-sending what S3 already did).
    second = lambda_handler.handler(_event(aws, key, key), _context("b"))
    rows_second = _partition(aws, "us")
    assert first["converted"] == 1 and second["converted"] == 2
    assert len(rows_second) == len(rows_first) == len(_expected_ids(path)) == 32

    def strip(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "ingested_at"} for r in rows]

    assert strip(rows_second) == strip(rows_first)
    assert len(_keys(aws, aws.settings.processed_bucket, aws.settings.prefixes.category_reference)) == 1


def test_stale_objects_in_the_partition_are_replaced(aws: LocalRuntime, data_dir: Path) -> None:
    """A partition written earlier by other means (wrangler's uuid-named files) ends with only our file."""
    s = aws.settings
    stale_key = f"{s.prefixes.category_reference}region=gb/0123abcd.snappy.parquet"
    client(aws, "s3").put_object(Bucket=s.processed_bucket, Key=stale_key, Body=b"old")
    other_region = f"{s.prefixes.category_reference}region=ca/keep.snappy.parquet"
    client(aws, "s3").put_object(Bucket=s.processed_bucket, Key=other_region, Body=b"other")
    key = f"{DROP}GB_category_id.json"
    _put(aws, key, (data_dir / "raw_statistics_reference_data" / "GB_category_id.json").read_bytes())
    lambda_handler.handler(_event(aws, key), _context())
    assert _keys(aws, s.processed_bucket, f"{s.prefixes.category_reference}region=gb/") == [
        cr.Config.from_environ(s.lambda_environment()).output_key("gb")
    ]
    assert other_region in _keys(aws, s.processed_bucket, s.prefixes.category_reference)


def test_bad_file_is_quarantined_and_the_others_still_converted(aws: LocalRuntime, data_dir: Path) -> None:
    s = aws.settings
    good = [f"{DROP}CA_category_id.json", f"{DROP}JP_category_id.json"]
    bad = f"{DROP}FR_category_id.json"
    for key in good:
        _put(aws, key, (data_dir / "raw_statistics_reference_data" / key.rsplit("/", 1)[1]).read_bytes())
    broken = (data_dir / "raw_statistics_reference_data" / "FR_category_id.json").read_bytes()[:3000]
    _put(aws, bad, broken)
    raw_before = {o["Key"]: o["ETag"] for o in objects(aws, s.raw_bucket, DROP)}

    result = lambda_handler.handler(_event(aws, good[0], bad, good[1]), _context("req-bad-1"))

    statuses = [(r["key"], r["status"]) for r in result["records"]]
    assert statuses == [(good[0], "converted"), (bad, "quarantined"), (good[1], "converted")]
    assert (result["converted"], result["quarantined"]) == (2, 1)
    record = result["records"][1]
    assert record["reason"].startswith("not_json: ")
    assert record["region"] == "fr" and record["rows"] == 0 and record["output"] is None
    # The raw object is untouched, the copy is byte-identical, the report says why.
    assert {o["Key"]: o["ETag"] for o in objects(aws, s.raw_bucket, DROP)} == raw_before
    s3 = client(aws, "s3")
    copy_key = record["quarantine_key"]
    assert copy_key.startswith(f"{s.prefixes.quarantine}reference_data/date=")
    assert copy_key.endswith(f"/req-bad-1/{bad}")
    assert s3.get_object(Bucket=s.raw_bucket, Key=copy_key)["Body"].read() == broken
    report = json.loads(s3.get_object(Bucket=s.raw_bucket, Key=copy_key + ".error.json")["Body"].read())
    assert report["reason"] == "not_json"
    assert report["source"]["key"] == bad
    assert report["request_id"] == "req-bad-1"
    assert report["quarantined_copy"] == f"s3://{s.raw_bucket}/{copy_key}"
    assert _keys(aws, s.raw_bucket, s.prefixes.quarantine) == sorted([copy_key, copy_key + ".error.json"])
    assert _partition(aws, "fr") == []
    assert len(_partition(aws, "ca")) == 31 and len(_partition(aws, "jp")) == 31


@pytest.mark.parametrize(
    ("name", "body", "reason"),
    [
        pytest.param("XX_category_id.json", b'{"items": []}', "unknown_region", id="unknown-region"),
        pytest.param("categories.json", b"{}", "unknown_region", id="bad-name"),
        pytest.param("US_category_id.json", b"", "empty_file", id="empty"),
        pytest.param("US_category_id.json", b'{"kind": "x"}', "no_items", id="no-items"),
        pytest.param(
            "US_category_id.json",
            b'{"items": [{"id": "x", "snippet": {"title": "t"}}]}',
            "non_integer_id",
            id="non-integer-id",
        ),
    ],
)
def test_rejections_end_in_quarantine(aws: LocalRuntime, name: str, body: bytes, reason: str) -> None:
    key = f"{DROP}{name}"
    _put(aws, key, body)
    result = lambda_handler.handler(_event(aws, key), _context())
    (record,) = result["records"]
    assert record["status"] == "quarantined"
    assert record["reason"].split(":")[0] == reason
    s = aws.settings
    assert (
        client(aws, "s3").get_object(Bucket=s.raw_bucket, Key=record["quarantine_key"])["Body"].read() == body
    )
    assert list(objects(aws, s.processed_bucket, s.prefixes.category_reference)) == []


def test_key_with_spaces_and_unicode(aws: LocalRuntime, data_dir: Path) -> None:
    key = f"{DROP}drop 2026-11-24 ünïcødé +plus/MX_category_id.json"
    _put(aws, key, (data_dir / "raw_statistics_reference_data" / "MX_category_id.json").read_bytes())
    event = _event(aws, key)
    assert "%C3%BC" in event["Records"][0]["s3"]["object"]["key"]  # URL-encoded as S3 sends it
    result = lambda_handler.handler(event, _context())
    assert result["records"][0]["key"] == key
    assert result["converted"] == 1
    assert {r["source_key"] for r in _partition(aws, "mx")} == {key}


def test_quarantined_copies_are_never_reprocessed(aws: LocalRuntime) -> None:
    s = aws.settings
    key = f"{s.prefixes.quarantine}reference_data/date=2026-01-01/r/US_category_id.json"
    _put(aws, key, b"not json")
    result = lambda_handler.handler(_event(aws, key), _context())
    assert result["records"][0]["status"] == "quarantined"
    assert result["records"][0]["reason"].startswith("in_quarantine")
    assert result["records"][0]["quarantine_key"] is None
    assert _keys(aws, s.raw_bucket, s.prefixes.quarantine) == [key]


def test_aws_error_raises_after_the_other_records(aws: LocalRuntime, data_dir: Path) -> None:
    """A missing object is an AWS error, not bad data: the invocation fails so Lambda retries it."""
    good = f"{DROP}KR_category_id.json"
    _put(aws, good, (data_dir / "raw_statistics_reference_data" / "KR_category_id.json").read_bytes())
    with pytest.raises(lambda_handler.RecordsFailed, match="1 of 2 record.*NoSuchKey"):
        lambda_handler.handler(_event(aws, f"{DROP}RU_category_id.json", good), _context())
    assert len(_partition(aws, "kr")) == 31
    assert list(objects(aws, aws.settings.raw_bucket, aws.settings.prefixes.quarantine)) == []


def test_missing_environment_variable_is_named(aws: LocalRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GLUE_TABLE")
    with pytest.raises(cr.ConfigError, match="GLUE_TABLE"):
        lambda_handler.handler(_event(aws, f"{DROP}US_category_id.json"), _context())


def test_one_structured_log_line_per_record(
    aws: LocalRuntime, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good, bad = f"{DROP}DE_category_id.json", f"{DROP}IN_category_id.json"
    _put(aws, good, (data_dir / "raw_statistics_reference_data" / "DE_category_id.json").read_bytes())
    _put(aws, bad, b"[]")
    with caplog.at_level("INFO", logger="json_to_parquet"):
        lambda_handler.handler(_event(aws, good, bad), _context("req-log"))
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "json_to_parquet"]
    per_record = [line for line in lines if line["event"] == "record_processed"]
    assert [(p["key"], p["status"], p["level"]) for p in per_record] == [
        (good, "converted", "INFO"),
        (bad, "quarantined", "WARNING"),
    ]
    assert all(p["request_id"] == "req-log" for p in per_record)
    assert per_record[1]["reason"].startswith("no_items")


def _run_concurrently(calls: list[Callable[[], Any]]) -> list[Any]:
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(calls))

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


def test_concurrent_drops_do_not_clobber_each_other(aws: LocalRuntime, data_dir: Path) -> None:
    """Different regions at once keep both partitions; the same region at once never doubles rows."""
    names = ["US", "GB", "CA", "US"]
    keys = []
    for index, name in enumerate(names):
        key = f"{DROP}{index}/{name}_category_id.json"
        _put(aws, key, (data_dir / "raw_statistics_reference_data" / f"{name}_category_id.json").read_bytes())
        keys.append(key)
    calls = [lambda key=key: lambda_handler.handler(_event(aws, key), _context(key)) for key in keys]
    results = _run_concurrently(calls)
    assert [r["converted"] for r in results] == [1, 1, 1, 1]
    assert len(_partition(aws, "us")) == 32
    assert len(_partition(aws, "gb")) == 31 and len(_partition(aws, "ca")) == 31
    s = aws.settings
    partitions = client(aws, "glue").get_partitions(
        DatabaseName=s.processed_database, TableName=s.category_reference_table
    )["Partitions"]
    assert sorted(p["Values"][0] for p in partitions) == ["ca", "gb", "us"]
