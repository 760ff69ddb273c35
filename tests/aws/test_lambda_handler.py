"""The Lambda handler called in-process against the local runtime, with the function's environment.

Objects are dropped under a landing folder the S3 trigger does not watch, so these tests exercise the handler
alone, whatever the Lambda executor does; ``test_lambda_invoke.py`` goes through the real trigger.
"""

from __future__ import annotations

import gzip
import hashlib
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

from local.runtime import LAMBDA_SOURCE, LocalRuntime

sys.path.insert(0, str(LAMBDA_SOURCE))
import conversion  # noqa: E402
import function_config  # noqa: E402
import handler as lambda_handler  # noqa: E402

from youtube_lake import invocation  # noqa: E402
from youtube_lake.ledger import document_name  # noqa: E402

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
    """Forget what the function wrote (output, quarantine, ledger, drops, catalog table): a full reset costs
    ~5 s. S3 events of earlier tests' drops may still be running the deployed function: wait for them."""
    assert runtime.wait_idle(timeout=180)
    s = runtime.settings
    s3 = client(runtime, "s3")
    for bucket, prefix in (
        (s.processed_bucket, s.prefixes.category_reference),
        (s.processed_bucket, s.prefixes.landing_ledger),
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
    (its environment; the runtime's endpoint is already set by ``local_aws``). Its landing prefix is
    ``DROP``, so that dated keys count here without firing the S3 trigger."""
    wipe_lambda_state(local_aws)
    for name, value in local_aws.settings.lambda_environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LANDING_PREFIX", DROP)
    return local_aws


def _context(request_id: str = "req-0001") -> SimpleNamespace:
    return SimpleNamespace(aws_request_id=request_id, function_name="json-to-parquet")


def _put(aws: LocalRuntime, key: str, body: bytes) -> str:
    """Upload; returns the new version's id (the raw bucket is versioned)."""
    response = client(aws, "s3").put_object(Bucket=aws.settings.raw_bucket, Key=key, Body=body)
    return str(response["VersionId"])


def _event(aws: LocalRuntime, *keys: str, version: str | None = None) -> dict[str, Any]:
    event = invocation.s3_event(aws.settings.raw_bucket, keys)
    if version:
        for record in event["Records"]:
            record["s3"]["object"]["versionId"] = version
    return event


def _real(data_dir: Path, name: str) -> bytes:
    return (data_dir / "raw_statistics_reference_data" / f"{name}_category_id.json").read_bytes()


def _variant(data_dir: Path, name: str, tag: str) -> bytes:
    """The real file with every title suffixed by ``tag``: same ids, different content and ETag."""
    document = json.loads(_real(data_dir, name))
    for item in document["items"]:
        item["snippet"]["title"] += f" {tag}"
    return json.dumps(document, indent=4, ensure_ascii=False).encode()


def _ledger(aws: LocalRuntime, key: str, etag: str | None = None) -> dict[str, Any]:
    """The ledger document of ``key``'s current version (or of ``etag``)."""
    s, s3 = aws.settings, client(aws, "s3")
    if etag is None:
        etag = s3.head_object(Bucket=s.raw_bucket, Key=key)["ETag"]
    document_key = s.prefixes.landing_ledger + document_name(key, etag)
    body = s3.get_object(Bucket=s.processed_bucket, Key=document_key)["Body"].read()
    assert body.endswith(b"\n") and body.count(b"\n") == 1
    return dict(json.loads(body))


def _ledger_names(aws: LocalRuntime) -> list[str]:
    s = aws.settings
    return [o["Key"].rsplit("/", 1)[1] for o in objects(aws, s.processed_bucket, s.prefixes.landing_ledger)]


def _stored(aws: LocalRuntime, region: str) -> dict[str, Any]:
    """The partition object's HEAD (ETag, LastModified, the source its metadata names)."""
    s = aws.settings
    key = function_config.Config.from_environ(s.lambda_environment()).output_key(region)
    return dict(client(aws, "s3").head_object(Bucket=s.processed_bucket, Key=key))


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
        # The later dataset must win every region: its keys sort last within one LastModified second.
        keys = [f"{DROP}{dataset or 'datasnaek'}/{path.name}" for path in files]
        versions = [_put(aws, key, path.read_bytes()) for path, key in zip(files, keys, strict=True)]

        result = lambda_handler.handler(_event(aws, *keys), _context())

        assert json.loads(json.dumps(result)) == result
        assert (result["converted"], result["quarantined"], result["superseded"]) == (len(files), 0, 0)
        for path, key, version, record in zip(files, keys, versions, result["records"], strict=True):
            region = path.name[:2].lower()
            etag = hashlib.md5(path.read_bytes()).hexdigest()
            output = f"s3://{s.processed_bucket}/{s.prefixes.category_reference}region={region}/{function_config.OUTPUT_FILE}"
            assert record == {
                "bucket": s.raw_bucket,
                "key": key,
                "version_id": version,
                "etag": etag,
                "status": "converted",
                "region": region,
                "rows": len(_expected_ids(path)),
                "output": output,
                "reason": None,
                "quarantine_key": None,
            }
            rows = _partition(aws, region)
            # Later datasets replace a region's partition: never the sum of both files.
            assert [r["category_id"] for r in rows] == _expected_ids(path)
            assert {r["source_key"] for r in rows} == {key}
            metadata = _stored(aws, region)["Metadata"]
            assert (metadata["source-version-id"], metadata["source-etag"]) == (version, etag)
            doc = _ledger(aws, key)
            assert {
                k: doc[k] for k in ("verdict", "reason", "version_id", "region", "rows_read", "output")
            } == {
                "verdict": "processed",
                "reason": None,
                "version_id": version,
                "region": region,
                "rows_read": len(_expected_ids(path)),
                "output": output,
            }
            assert (doc["run_id"], doc["interval_start"], doc["partitions"]) == (
                "s3-event:req-0001",
                None,
                [f"region={region}"],
            )

    # datasnaek has 10 regions, rsrishav 11 (adds br): all 11 partitions, each from its latest file.
    table = glue.get_table(DatabaseName=s.processed_database, Name=s.category_reference_table)["Table"]
    columns = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
    assert columns == function_config.GLUE_COLUMN_TYPES
    assert columns["category_id"] == "bigint"
    assert [k["Name"] for k in table["PartitionKeys"]] == ["region"]
    assert table["StorageDescriptor"]["Location"].rstrip("/") == s.category_reference_uri.rstrip("/")
    partitions = glue.get_partitions(DatabaseName=s.processed_database, TableName=s.category_reference_table)
    values = sorted(p["Values"][0] for p in partitions["Partitions"])
    assert values == sorted(p.name[:2].lower() for p in _files(data_dir, "rsrishav_trending"))
    assert len(_keys(aws, s.processed_bucket, s.prefixes.category_reference)) == len(values)
    ours = {
        document_name(key, hashlib.md5(path.read_bytes()).hexdigest())
        for dataset in ("", "rsrishav_trending")
        for path in _files(data_dir, dataset)
        for key in [f"{DROP}{dataset or 'datasnaek'}/{path.name}"]
    }
    assert len(ours) == 21 and ours <= set(_ledger_names(aws))  # one verdict per version, both datasets


def test_the_same_version_again_is_a_no_op_that_says_so(aws: LocalRuntime, data_dir: Path) -> None:
    """A redelivered event, or the same file twice in one event: nothing is rewritten, the ledger keeps the
    run that processed it."""
    path = data_dir / "raw_statistics_reference_data" / "US_category_id.json"
    key = f"{DROP}US_category_id.json"
    _put(aws, key, path.read_bytes())
    first = lambda_handler.handler(_event(aws, key), _context("a"))
    stored_first = _stored(aws, "us")
    second = lambda_handler.handler(_event(aws, key, key), _context("b"))
    assert first["converted"] == 1 and first["records"][0]["reason"] is None
    assert second["converted"] == 2
    for record in second["records"]:
        assert record["reason"] == "unchanged: region=us already holds this version; nothing written"
        assert record["rows"] == 32 and record["output"] == first["records"][0]["output"]
    stored_second = _stored(aws, "us")
    assert (stored_second["ETag"], stored_second["LastModified"]) == (
        stored_first["ETag"],
        stored_first["LastModified"],
    )
    assert len(_partition(aws, "us")) == len(_expected_ids(path)) == 32
    assert _ledger(aws, key)["run_id"] == "s3-event:a"
    assert len(_keys(aws, aws.settings.processed_bucket, aws.settings.prefixes.category_reference)) == 1


def test_an_interrupted_run_is_completed_by_the_next_event(aws: LocalRuntime, data_dir: Path) -> None:
    """Data committed, then a crash before the ledger document and the catalog: the redelivery finishes."""
    s = aws.settings
    key = f"{DROP}GB_category_id.json"
    _put(aws, key, _real(data_dir, "GB"))
    lambda_handler.handler(_event(aws, key), _context("crashed"))
    ledger_key = s.prefixes.landing_ledger + document_name(
        key, hashlib.md5(_real(data_dir, "GB")).hexdigest()
    )
    client(aws, "s3").delete_object(Bucket=s.processed_bucket, Key=ledger_key)
    client(aws, "glue").delete_partition(
        DatabaseName=s.processed_database, TableName=s.category_reference_table, PartitionValues=["gb"]
    )
    result = lambda_handler.handler(_event(aws, key), _context("redelivered"))
    assert result["records"][0]["reason"].startswith("unchanged: ")
    assert _ledger(aws, key)["verdict"] == "processed"
    assert _ledger(aws, key)["run_id"] == "s3-event:redelivered"
    client(aws, "glue").get_partition(
        DatabaseName=s.processed_database, TableName=s.category_reference_table, PartitionValues=["gb"]
    )


def test_an_older_version_is_superseded_and_changes_nothing(aws: LocalRuntime, data_dir: Path) -> None:
    key = f"{DROP}CA_category_id.json"
    old = _put(aws, key, _variant(data_dir, "CA", "v1"))
    new = _put(aws, key, _variant(data_dir, "CA", "v2"))
    lambda_handler.handler(_event(aws, key, version=new), _context("new"))
    stored = _stored(aws, "ca")

    result = lambda_handler.handler(_event(aws, key, version=old), _context("old"))

    (record,) = result["records"]
    assert (record["status"], record["version_id"], record["rows"]) == ("superseded", old, 0)
    assert record["reason"].startswith(f"not_current: version {old} ")
    assert f"the newest is version {new} " in record["reason"]
    assert _stored(aws, "ca")["ETag"] == stored["ETag"]
    assert {r["category_title"].rsplit(" ", 1)[1] for r in _partition(aws, "ca")} == {"v2"}
    old_etag = hashlib.md5(_variant(data_dir, "CA", "v1")).hexdigest()
    doc = _ledger(aws, key, old_etag)
    assert (doc["verdict"], doc["version_id"], doc["reason"]) == ("superseded", old, record["reason"])
    assert doc["rows_read"] is None and doc["output"] is None


def test_the_current_version_replaces_an_older_one_of_the_same_key(aws: LocalRuntime, data_dir: Path) -> None:
    key = f"{DROP}CA_category_id.json"
    old = _put(aws, key, _variant(data_dir, "CA", "v1"))
    lambda_handler.handler(_event(aws, key, version=old), _context())
    new = _put(aws, key, _variant(data_dir, "CA", "v2"))
    result = lambda_handler.handler(_event(aws, key, version=new), _context())
    assert result["records"][0]["status"] == "converted"
    assert {r["category_title"].rsplit(" ", 1)[1] for r in _partition(aws, "ca")} == {"v2"}
    assert _stored(aws, "ca")["Metadata"]["source-version-id"] == new


def test_a_record_without_a_version_takes_the_current_one(aws: LocalRuntime, data_dir: Path) -> None:
    """What the scheduled path may send: a key alone means its current version."""
    key = f"{DROP}CA_category_id.json"
    _put(aws, key, _variant(data_dir, "CA", "v1"))
    new = _put(aws, key, _variant(data_dir, "CA", "v2"))
    result = lambda_handler.handler(_event(aws, key), _context())
    assert (result["records"][0]["status"], result["records"][0]["version_id"]) == ("converted", new)


def test_a_deleted_key_supersedes_the_version_an_event_names(aws: LocalRuntime, data_dir: Path) -> None:
    key = f"{DROP}FR_category_id.json"
    version = _put(aws, key, _real(data_dir, "FR"))
    client(aws, "s3").delete_object(Bucket=aws.settings.raw_bucket, Key=key)  # a delete marker
    result = lambda_handler.handler(_event(aws, key, version=version), _context())
    (record,) = result["records"]
    assert record["status"] == "superseded"
    assert "the newest is none (the key is deleted)" in record["reason"]
    assert _partition(aws, "fr") == []


def test_dated_keys_arriving_out_of_order_keep_the_later_day(aws: LocalRuntime, data_dir: Path) -> None:
    day14 = f"{DROP}landing_date=2017-11-14/IN_category_id.json"
    day15 = f"{DROP}landing_date=2017-11-15/IN_category_id.json"
    _put(aws, day15, _variant(data_dir, "IN", "day15"))
    _put(aws, day14, _variant(data_dir, "IN", "day14"))  # uploaded last, but belongs to an earlier day
    assert lambda_handler.handler(_event(aws, day15), _context())["converted"] == 1
    result = lambda_handler.handler(_event(aws, day14), _context())
    (record,) = result["records"]
    assert record["status"] == "superseded"
    assert record["reason"].startswith(
        f"older_than_stored: region=in holds s3://{aws.settings.raw_bucket}/{day15}"
    )
    assert "arrival 2017-11-15T00:00:00Z" in record["reason"]
    assert {r["category_title"].rsplit(" ", 1)[1] for r in _partition(aws, "in")} == {"day15"}
    assert _ledger(aws, day14)["arrival"] == "2017-11-14T00:00:00Z"
    assert _ledger(aws, day14)["verdict"] == "superseded"
    # The next day replaces it.
    day16 = f"{DROP}landing_date=2017-11-16/IN_category_id.json"
    _put(aws, day16, _variant(data_dir, "IN", "day16"))
    assert lambda_handler.handler(_event(aws, day16), _context())["converted"] == 1
    assert {r["category_title"].rsplit(" ", 1)[1] for r in _partition(aws, "in")} == {"day16"}


def test_a_write_that_loses_the_race_decides_again(
    aws: LocalRuntime, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another invocation stores a newer source between our read and our PUT: our If-Match PUT gets 412,
    we read again, and the newer source stays."""
    s = aws.settings
    ours, theirs = f"{DROP}a/JP_category_id.json", f"{DROP}z/JP_category_id.json"  # z sorts last: newer
    _put(aws, ours, _variant(data_dir, "JP", "ours"))
    _put(aws, theirs, _variant(data_dir, "JP", "theirs"))
    reads = []
    original = conversion.read_stored

    def read_then_lose_the_race(*args: Any, **kwargs: Any) -> Any:
        stored = original(*args, **kwargs)
        reads.append(stored)
        if len(reads) == 1:  # the other invocation commits right after our first read
            lambda_handler.handler(_event(aws, theirs), _context("theirs"))
        return stored

    monkeypatch.setattr(conversion, "read_stored", read_then_lose_the_race)
    result = lambda_handler.handler(_event(aws, ours), _context("ours"))

    (record,) = result["records"]
    assert record["status"] == "superseded" and record["reason"].startswith("older_than_stored: ")
    assert len(reads) == 3  # ours (before the race), theirs, ours again after the 412
    assert {r["category_title"].rsplit(" ", 1)[1] for r in _partition(aws, "jp")} == {"theirs"}
    assert _stored(aws, "jp")["Metadata"]["source-key"] == theirs
    assert len(_keys(aws, s.processed_bucket, f"{s.prefixes.category_reference}region=jp/")) == 1


def test_a_newer_version_landing_during_the_conversion_supersedes_the_older(
    aws: LocalRuntime, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """v1 is current when its conversion starts; v2 of the same key lands and is converted before v1's
    PUT. v1's write loses (412), it reads again, finds its own key's other version and asks S3: v1 is no
    longer current, so it ends superseded and the partition keeps v2."""
    key = f"{DROP}MX_category_id.json"
    old = _put(aws, key, _variant(data_dir, "MX", "v1"))
    new: list[str] = []
    original = conversion._convert

    def convert_while_a_newer_version_lands(*args: Any, **kwargs: Any) -> Any:
        table = original(*args, **kwargs)
        if not new:  # only during v1's conversion
            new.append(_put(aws, key, _variant(data_dir, "MX", "v2")))
            assert lambda_handler.handler(_event(aws, key, version=new[0]), _context("v2"))["converted"] == 1
        return table

    monkeypatch.setattr(conversion, "_convert", convert_while_a_newer_version_lands)
    result = lambda_handler.handler(_event(aws, key, version=old), _context("v1"))

    (record,) = result["records"]
    assert (record["status"], record["version_id"], record["rows"]) == ("superseded", old, 0)
    assert (
        record["reason"].startswith("not_current: ")
        and f"the newest is version {new[0]} " in record["reason"]
    )
    assert {r["category_title"].rsplit(" ", 1)[1] for r in _partition(aws, "mx")} == {"v2"}
    assert _stored(aws, "mx")["Metadata"]["source-version-id"] == new[0]
    old_etag = hashlib.md5(_variant(data_dir, "MX", "v1")).hexdigest()
    assert _ledger(aws, key, old_etag)["verdict"] == "superseded"
    assert _ledger(aws, key)["verdict"] == "processed"


def test_a_file_dropping_most_categories_is_quarantined(aws: LocalRuntime, data_dir: Path) -> None:
    """A valid file with one item must not replace a region's 31 categories without a word."""
    s = aws.settings
    full, tiny = f"{DROP}a/KR_category_id.json", f"{DROP}b/KR_category_id.json"
    _put(aws, full, _real(data_dir, "KR"))
    lambda_handler.handler(_event(aws, full), _context())
    stored = _stored(aws, "kr")
    document = json.loads(_real(data_dir, "KR"))
    document["items"] = document["items"][:1]
    _put(aws, tiny, json.dumps(document).encode())

    (record,) = lambda_handler.handler(_event(aws, tiny), _context("req-tiny"))["records"]

    assert record["status"] == "quarantined"
    assert record["reason"].startswith(
        "categories_dropped: 30 of the 31 categories region=kr holds (from s3://"
    )
    assert "97% > CATEGORY_DROP_THRESHOLD 50%" in record["reason"]
    assert _stored(aws, "kr")["ETag"] == stored["ETag"]
    copy = client(aws, "s3").get_object(Bucket=s.raw_bucket, Key=record["quarantine_key"])["Body"].read()
    assert copy == json.dumps(document).encode()
    assert _ledger(aws, tiny)["verdict"] == "quarantined"


def _first_items(data_dir: Path, name: str, count: int) -> bytes:
    """The real file cut to its first ``count`` items: valid, only implausibly short."""
    document = json.loads(_real(data_dir, name))
    document["items"] = document["items"][:count]
    return json.dumps(document).encode()


def test_a_first_file_with_a_single_category_is_quarantined(aws: LocalRuntime, data_dir: Path) -> None:
    """No earlier file to compare with, so the drop check cannot see it: the minimum does (issue 23)."""
    s = aws.settings
    assert s.min_categories == 10  # the default the function receives
    key, body = f"{DROP}KR_category_id.json", _first_items(data_dir, "KR", 1)
    version = _put(aws, key, body)

    result = lambda_handler.handler(_event(aws, key), _context("req-first"))

    (record,) = result["records"]
    assert (record["status"], record["region"], record["rows"], record["output"]) == (
        "quarantined",
        "kr",
        0,
        None,
    )
    assert record["reason"] == (
        "too_few_categories: 1 category where at least 10 are expected (MIN_CATEGORIES) for region=kr: "
        "an implausible categories response"
    )
    assert _partition(aws, "kr") == []
    s3 = client(aws, "s3")
    assert s3.get_object(Bucket=s.raw_bucket, Key=record["quarantine_key"])["Body"].read() == body
    report_key = record["quarantine_key"] + ".error.json"
    report = json.loads(s3.get_object(Bucket=s.raw_bucket, Key=report_key)["Body"].read())
    assert (report["reason"], report["source"]["version_id"]) == ("too_few_categories", version)
    doc = _ledger(aws, key)
    assert (doc["verdict"], doc["reason"]) == ("quarantined", record["reason"])
    # A verdict, not an error (the invocation succeeded): a redelivery gives the same one, writes nothing.
    again = lambda_handler.handler(_event(aws, key), _context("req-again"))
    assert again["records"][0]["reason"] == record["reason"]
    assert _partition(aws, "kr") == []


def test_too_few_categories_keep_what_the_partition_had(
    aws: LocalRuntime, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the drop check out of the way (threshold 1.0), the minimum alone keeps the stored 31."""
    monkeypatch.setenv("CATEGORY_DROP_THRESHOLD", "1.0")
    full, short = f"{DROP}a/KR_category_id.json", f"{DROP}b/KR_category_id.json"
    _put(aws, full, _real(data_dir, "KR"))
    assert lambda_handler.handler(_event(aws, full), _context())["converted"] == 1
    stored = _stored(aws, "kr")
    _put(aws, short, _first_items(data_dir, "KR", 9))

    (record,) = lambda_handler.handler(_event(aws, short), _context())["records"]

    assert record["status"] == "quarantined"
    assert record["reason"].startswith("too_few_categories: 9 categories where at least 10 are expected")
    assert _stored(aws, "kr")["ETag"] == stored["ETag"]
    assert {r["source_key"] for r in _partition(aws, "kr")} == {full}
    assert len(_partition(aws, "kr")) == 31


@pytest.mark.parametrize(
    ("minimum", "status"),
    [
        pytest.param("31", "converted", id="exactly-the-minimum-passes"),
        pytest.param("32", "quarantined", id="one-short-is-quarantined"),
    ],
)
def test_the_minimum_comes_from_the_environment(
    aws: LocalRuntime, data_dir: Path, monkeypatch: pytest.MonkeyPatch, minimum: str, status: str
) -> None:
    """The real KR file holds 31 categories: MIN_CATEGORIES=31 takes it, 32 does not (``<``, not ``<=``)."""
    monkeypatch.setenv("MIN_CATEGORIES", minimum)
    key = f"{DROP}KR_category_id.json"
    _put(aws, key, _real(data_dir, "KR"))
    (record,) = lambda_handler.handler(_event(aws, key), _context())["records"]
    assert record["status"] == status
    if status == "converted":
        assert len(_partition(aws, "kr")) == 31
    else:
        assert record["reason"].startswith("too_few_categories: 31 categories where at least 32 are expected")


def test_a_lower_minimum_lets_a_single_category_through(
    aws: LocalRuntime, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same setting turned down (MIN_CATEGORIES=1): a one-item first file is converted."""
    monkeypatch.setenv("MIN_CATEGORIES", "1")
    key = f"{DROP}KR_category_id.json"
    _put(aws, key, _first_items(data_dir, "KR", 1))
    (record,) = lambda_handler.handler(_event(aws, key), _context())["records"]
    assert (record["status"], record["rows"]) == ("converted", 1)


def test_a_bad_minimum_fails_the_invocation(aws: LocalRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIN_CATEGORIES", "0")
    message = "MIN_CATEGORIES='0' must be a whole number of categories"
    with pytest.raises(function_config.ConfigError, match=message):
        lambda_handler.handler(_event(aws, f"{DROP}US_category_id.json"), _context())


def test_gzip_files_are_converted_like_json(aws: LocalRuntime, data_dir: Path) -> None:
    key = f"{DROP}MX_category_id.json.gz"
    _put(aws, key, gzip.compress(_real(data_dir, "MX")))
    (record,) = lambda_handler.handler(_event(aws, key), _context())["records"]
    assert (record["status"], record["region"], record["rows"]) == ("converted", "mx", 31)
    assert [r["category_id"] for r in _partition(aws, "mx")] == _expected_ids(
        data_dir / "raw_statistics_reference_data" / "MX_category_id.json"
    )


def test_a_body_over_the_limit_is_quarantined_unread(
    aws: LocalRuntime, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_BODY_BYTES", "4096")
    plain, packed = f"{DROP}RU_category_id.json", f"{DROP}BR_category_id.json.gz"
    _put(aws, plain, _real(data_dir, "RU"))
    _put(aws, packed, gzip.compress(_real(data_dir, "RU")))  # ~1 KB that inflates past the limit
    result = lambda_handler.handler(_event(aws, plain, packed), _context())
    reasons = [r["reason"] for r in result["records"]]
    assert reasons[0] == f"too_large: {len(_real(data_dir, 'RU'))} bytes; MAX_BODY_BYTES is 4096"
    assert reasons[1] == "too_large: more than 4096 bytes once gunzipped"
    assert _partition(aws, "ru") == [] and _partition(aws, "br") == []


def test_bad_file_is_quarantined_and_the_others_still_converted(aws: LocalRuntime, data_dir: Path) -> None:
    s = aws.settings
    good = [f"{DROP}CA_category_id.json", f"{DROP}JP_category_id.json"]
    bad = f"{DROP}FR_category_id.json"
    for key in good:
        _put(aws, key, (data_dir / "raw_statistics_reference_data" / key.rsplit("/", 1)[1]).read_bytes())
    broken = (data_dir / "raw_statistics_reference_data" / "FR_category_id.json").read_bytes()[:3000]
    bad_version = _put(aws, bad, broken)
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
    assert report["source"] == {"bucket": s.raw_bucket, "key": bad, "version_id": bad_version}
    assert report["request_id"] == "req-bad-1"
    assert report["quarantined_copy"] == f"s3://{s.raw_bucket}/{copy_key}"
    assert _keys(aws, s.raw_bucket, s.prefixes.quarantine) == sorted([copy_key, copy_key + ".error.json"])
    assert _partition(aws, "fr") == []
    assert len(_partition(aws, "ca")) == 31 and len(_partition(aws, "jp")) == 31
    doc = _ledger(aws, bad)
    assert (doc["verdict"], doc["reason"], doc["output"]) == (
        "quarantined",
        record["reason"],
        f"s3://{s.raw_bucket}/{copy_key}",
    )


@pytest.mark.parametrize(
    ("name", "body", "reason"),
    [
        pytest.param("XX_category_id.json", b'{"items": []}', "unknown_region", id="unknown-region"),
        pytest.param("categories.json", b"{}", "unknown_region", id="bad-name"),
        pytest.param("landing_date=2017-02-30/US_category_id.json", b"{}", "bad_landing_date", id="bad-date"),
        pytest.param("US_category_id.json", b"", "empty_file", id="empty"),
        pytest.param("US_category_id.json", b"null", "no_items", id="null"),
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
    assert _ledger(aws, key)["verdict"] == "quarantined"


def test_key_with_spaces_and_unicode(aws: LocalRuntime, data_dir: Path) -> None:
    key = f"{DROP}drop 2026-11-24 ünïcødé +plus/100%/MX_category_id.json"
    _put(aws, key, (data_dir / "raw_statistics_reference_data" / "MX_category_id.json").read_bytes())
    event = _event(aws, key)
    assert "%C3%BC" in event["Records"][0]["s3"]["object"]["key"]  # URL-encoded as S3 sends it
    result = lambda_handler.handler(event, _context())
    assert result["records"][0]["key"] == key
    assert result["converted"] == 1
    assert {r["source_key"] for r in _partition(aws, "mx")} == {key}
    # The metadata names the key (percent-encoded: S3 metadata is ASCII); a redelivery recognises it.
    assert "%C3%BC" in _stored(aws, "mx")["Metadata"]["source-key"]
    assert lambda_handler.handler(event, _context())["records"][0]["reason"].startswith("unchanged: ")
    assert _ledger(aws, key)["key"] == key


def test_quarantined_copies_are_never_reprocessed(aws: LocalRuntime) -> None:
    s = aws.settings
    key = f"{s.prefixes.quarantine}reference_data/date=2026-01-01/r/US_category_id.json"
    _put(aws, key, b"not json")
    result = lambda_handler.handler(_event(aws, key), _context())
    assert result["records"][0]["status"] == "quarantined"
    assert result["records"][0]["reason"].startswith("in_quarantine")
    assert result["records"][0]["quarantine_key"] is None
    assert _keys(aws, s.raw_bucket, s.prefixes.quarantine) == [key]
    assert document_name(key, hashlib.md5(b"not json").hexdigest()) not in _ledger_names(aws)  # no verdict


def test_aws_error_raises_after_the_other_records(aws: LocalRuntime, data_dir: Path) -> None:
    """A missing object is an AWS error, not bad data: the invocation fails so Lambda retries it."""
    good = f"{DROP}KR_category_id.json"
    _put(aws, good, (data_dir / "raw_statistics_reference_data" / "KR_category_id.json").read_bytes())
    with pytest.raises(lambda_handler.RecordsFailed, match="1 of 2 record.*NoSuchKey"):
        lambda_handler.handler(_event(aws, f"{DROP}RU_category_id.json", good), _context())
    assert len(_partition(aws, "kr")) == 31
    assert list(objects(aws, aws.settings.raw_bucket, aws.settings.prefixes.quarantine)) == []


def test_scheduled_payload_names_the_run_in_the_ledger(aws: LocalRuntime, data_dir: Path) -> None:
    key = f"{DROP}landing_date=2017-11-14/DE_category_id.json"
    _put(aws, key, _real(data_dir, "DE"))
    event = _event(aws, key) | {
        "airflow": {
            "run_id": "scheduled__2017-11-15T00:00:00+00:00",
            "interval_start": "2017-11-14T00:00:00Z",
            "interval_end": "2017-11-15T00:00:00Z",
        }
    }
    assert lambda_handler.handler(event, _context())["converted"] == 1
    doc = _ledger(aws, key)
    assert (doc["run_id"], doc["interval_start"], doc["interval_end"], doc["arrival"]) == (
        "scheduled__2017-11-15T00:00:00+00:00",
        "2017-11-14T00:00:00Z",
        "2017-11-15T00:00:00Z",
        "2017-11-14T00:00:00Z",
    )


def test_missing_environment_variable_is_named(aws: LocalRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GLUE_TABLE")
    with pytest.raises(function_config.ConfigError, match="GLUE_TABLE"):
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
    assert all(p["request_id"] == "req-log" and p["run_id"] == "s3-event:req-log" for p in per_record)
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
    """Different regions at once keep every partition; two keys of one region at once end with the one
    that sorts last (same LastModified second), never doubled rows, whatever the interleaving."""
    names = ["US", "GB", "CA", "US"]
    keys = []
    for index, name in enumerate(names):
        key = f"{DROP}{index}/{name}_category_id.json"
        _put(aws, key, (data_dir / "raw_statistics_reference_data" / f"{name}_category_id.json").read_bytes())
        keys.append(key)
    calls = [lambda key=key: lambda_handler.handler(_event(aws, key), _context(key)) for key in keys]
    results = _run_concurrently(calls)
    statuses = [r["records"][0]["status"] for r in results]
    assert statuses[1:3] == ["converted", "converted"]
    assert statuses[3] == "converted" and statuses[0] in ("converted", "superseded")
    assert len(_partition(aws, "us")) == 32
    assert {r["source_key"] for r in _partition(aws, "us")} == {keys[3]}
    assert len(_partition(aws, "gb")) == 31 and len(_partition(aws, "ca")) == 31
    s = aws.settings
    partitions = client(aws, "glue").get_partitions(
        DatabaseName=s.processed_database, TableName=s.category_reference_table
    )["Partitions"]
    assert sorted(p["Values"][0] for p in partitions) == ["ca", "gb", "us"]
