"""The contracts package: stdlib only, and each contract round-trips or refuses with a reason."""

from __future__ import annotations

import ast
import hashlib
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from youtube_lake import (
    invocation,
    landing,
    ledger,
    metrics,
    partitions,
    plan,
    regions,
    runs,
    timestamps,
    uris,
)

PACKAGE = Path(__file__).resolve().parents[2] / "include" / "youtube_lake"


def test_the_package_imports_only_the_standard_library() -> None:
    imported: set[str] = set()
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    foreign = {name for name in imported if name not in sys.stdlib_module_names and name != "youtube_lake"}
    assert not foreign, f"youtube_lake must ship alone (Lambda zip, Glue --extra-py-files): {foreign}"


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        pytest.param("us", True, id="ascii"),
        pytest.param("US", False, id="upper"),
        pytest.param("éa", False, id="non-ascii-letter"),
        pytest.param("u", False, id="one-letter"),
        pytest.param("usa", False, id="three-letters"),
    ],
)
def test_region_codes_are_two_lower_case_ascii_letters(code: str, ok: bool) -> None:
    assert regions.is_region_code(code) is ok


def test_region_code_lists_name_what_is_wrong() -> None:
    assert regions.parse_region_codes("us, gb") == ("us", "gb")
    with pytest.raises(ValueError, match="'éa' is not one"):
        regions.parse_region_codes("us,éa")
    with pytest.raises(ValueError):
        regions.parse_region_codes("us,us")


def test_instants_round_trip_and_refuse_naive_times() -> None:
    when = datetime(2017, 11, 14, 13, 5, 9, 999, tzinfo=UTC)
    assert timestamps.iso(when) == "2017-11-14T13:05:09Z"
    assert timestamps.parse_instant("2017-11-14T14:05:09+01:00") == when.replace(microsecond=0)
    with pytest.raises(ValueError):
        timestamps.iso(datetime(2017, 11, 14))
    with pytest.raises(ValueError):
        timestamps.parse_instant("2017-11-14T00:00:00")


def test_s3_uris_split_keep_empty_path_components() -> None:
    assert uris.split_s3_uri("s3://bucket/a/b.csv") == ("bucket", "a/b.csv")
    assert uris.split_s3_uri("s3a://bucket//table") == ("bucket", "/table")
    assert uris.bucket_of("/tmp/x") == ""
    with pytest.raises(ValueError, match="not an S3 URI"):
        uris.split_s3_uri("https://bucket/key")
    with pytest.raises(ValueError, match="names no bucket"):
        uris.split_s3_uri("s3:///key")


def test_partition_names_round_trip() -> None:
    name = partitions.partition_name("us", "2017-11-14")
    assert partitions.parse_partition(name) == ("us", "2017-11-14")
    assert partitions.partition_of(f"{name}/data.snappy.parquet") == name
    assert partitions.partition_of("region=us/x.parquet") is None
    assert partitions.partition_regions([name, "other"]) == {"us"}


def test_arrival_is_the_landing_date_else_last_modified() -> None:
    modified = datetime(2020, 8, 13, 9, 30, tzinfo=UTC)
    prefix = "youtube/raw_statistics/"
    dated = f"{prefix}landing_date=2020-08-12/region=us/a.csv"
    assert landing.arrival(dated, modified, prefix) == datetime(2020, 8, 12, tzinfo=UTC)
    assert landing.arrival(f"{prefix}region=us/a.csv", modified, prefix) == modified
    assert landing.landing_date_folder(date(2020, 8, 12)) == "landing_date=2020-08-12/"
    bad = f"{prefix}landing_date=2020-13-45/a.csv"
    with pytest.raises(landing.LandingDateError, match="is not a calendar date"):
        landing.arrival(bad, modified, prefix)
    assert landing.arrival_or_last_modified(bad, modified, prefix) == modified
    assert landing.region_folder(f"{prefix}REGION=Us/a.csv") == "us"
    assert landing.region_folder(f"{prefix}region=éa/a.csv") is None


def test_ledger_documents_have_the_documented_fields_and_names() -> None:
    doc = ledger.document(
        key="k.csv",
        bucket="raw",
        etag='"abc"',
        kind="statistics",
        verdict="processed",
        run_id="r",
        recorded_by="clean_statistics",
        counts={"rows_read": 3, "rows_written": 2, "duplicates": 1, "rejected": 0},
        partitions=["region=us/dt=2", "region=us/dt=1"],
        recorded_at="2020-01-01T00:00:00Z",
    )
    assert list(doc) == list(ledger.FIELDS)
    assert doc["etag"] == "abc" and doc["partitions"] == ["region=us/dt=1", "region=us/dt=2"]
    assert json.loads(ledger.document_body(doc)) == doc
    name = ledger.document_name("k.csv", '"abc"')
    assert ledger.parse_listing([f"prefix/{name}", "prefix/", "prefix/readme.txt"]) == {
        ledger.key_hash("k.csv"): {"abc"}
    }
    with pytest.raises(ledger.LedgerError, match="needs a reason"):
        ledger.document(
            key="k",
            bucket="b",
            etag="e",
            kind="other",
            verdict="ignored",
            run_id="r",
            recorded_by="youtube_ingest",
        )
    with pytest.raises(ledger.LedgerError, match="cannot name"):
        ledger.document_name("k", "a/b")


def test_the_ingest_plan_round_trips_in_arrival_order() -> None:
    early = datetime(2020, 8, 12, tzinfo=UTC)
    late = datetime(2020, 8, 13, tzinfo=UTC)

    def obj(key: str, when: datetime, **extra: object) -> plan.PlanObject:
        return plan.PlanObject(
            key=key, uri=f"s3://raw/{key}", etag="e", size=1, arrival=when, kind="statistics", **extra
        )  # type: ignore[arg-type]

    written = plan.IngestPlan(
        run_id="run",
        bucket="raw",
        interval_start="2020-08-12T00:00:00+00:00",
        interval_end="2020-08-13T00:00:00+00:00",
        statistics=[obj("b.csv", early, previous_partitions=("region=us/dt=1",)), obj("a.csv", early)],
        rebuild_sources=[obj("c.csv", late, partitions=("region=us/dt=1",))],
        ignored=[obj("x.txt", early, reason="wrong_suffix: x")],
        drop=3,
    )
    read = plan.IngestPlan.from_json(json.dumps(written.to_json()))
    assert [o.key for o in read.statistics] == ["a.csv", "b.csv"]
    assert read.statistics[1].previous_partitions == ("region=us/dt=1",)
    assert read.rebuild_sources[0].rebuild and read.rebuild_sources[0].partitions == ("region=us/dt=1",)
    assert read.ignored[0].reason == "wrong_suffix: x"
    assert read.summary() == written.summary()
    with pytest.raises(plan.PlanError, match="s3://assets/plan.json: not an ingest plan"):
        plan.IngestPlan.from_json("{}", "s3://assets/plan.json")


def test_glue_metrics_location_and_reading() -> None:
    assert (
        metrics.metrics_uri("s3://a/glue/metrics/job/", "run_1")
        == "s3://a/glue/metrics/job/run_id=run_1/metrics.json"
    )
    read = metrics.GlueMetrics.from_json(
        json.dumps(
            {
                "job": "clean_statistics",
                "read": 3,
                "written": 2,
                "files": [
                    {"key": "a", "region": "us", "verdict": "processed"},
                    {"key": "b", "region": "gb", "verdict": "quarantined", "reason": "r", "output": "o"},
                ],
            }
        )
    )
    assert read.totals() == {"read": 3, "written": 2, "duplicates": 0, "rejected": 0}
    assert read.processed() == 1
    assert [q.quarantine() for q in read.quarantined()] == [
        {"key": "b", "region": "gb", "reason": "r", "output": "o"}
    ]
    assert read.summary() == "job=clean_statistics read=3 written=2"
    assert not metrics.GlueMetrics.from_json(None)
    assert runs.safe_run_id("scheduled__2020-08-12T00:00:00+00:00") == "scheduled_2020_08_12t00_00_00_00_00"


def test_lambda_events_and_results_round_trip() -> None:
    run = invocation.RunInfo("run", "2020-08-12T00:00:00Z", None)
    event = invocation.s3_event(
        "raw", [{"key": "a b/US_category_id.json", "etag": '"e"', "size": 5}], run=run
    )
    assert event["Records"][0]["s3"]["object"]["key"] == "a+b/US_category_id.json"
    assert invocation.parse_event(event) == [invocation.S3Object("raw", "a b/US_category_id.json", None, "e")]
    assert invocation.parse_run(event, "req") == run
    assert invocation.parse_run({"Records": []}, "req").run_id == "s3-event:req"
    result = invocation.LambdaResult(
        (
            invocation.RecordResult("raw", "a", "converted", rows=31),
            invocation.RecordResult("raw", "b", "quarantined", reason="bad_json: x", quarantine_key="q"),
        )
    )
    payload = json.dumps(result.to_json())
    assert invocation.LambdaResult.from_json(payload) == result
    assert result.to_json()["quarantined"] == 1
    assert result.quarantines() == [{"key": "b", "region": None, "reason": "bad_json: x", "output": "q"}]
    with pytest.raises(invocation.LambdaResultError, match="without a reason"):
        invocation.LambdaResult.from_json('{"records": [{"key": "k", "status": "superseded"}]}')
    with pytest.raises(invocation.LambdaResultError, match="no 'records'"):
        invocation.LambdaResult.from_json("null")


@pytest.mark.parametrize(
    ("folders", "expected"),
    [
        pytest.param("", None, id="undated-last-modified"),
        pytest.param("landing_date=2017-11-14/", datetime(2017, 11, 14, tzinfo=UTC), id="dated"),
        pytest.param("feed/landing_date=2017-11-14/x/", datetime(2017, 11, 14, tzinfo=UTC), id="any-level"),
        pytest.param("US_landing_date=2017-11-14/", None, id="not-the-folder-name"),
    ],
)
def test_arrival_cases(folders: str, expected: datetime | None) -> None:
    """(moved from the Lambda's copy of the rule) Every level below the prefix counts, nothing above it."""
    modified = datetime(2026, 11, 24, 9, 30, 5, tzinfo=UTC)
    prefix = "youtube/raw_statistics_reference_data/"
    key = f"{prefix}{folders}US_category_id.json"
    assert landing.arrival(key, modified, prefix) == (expected or modified)
    assert landing.arrival(f"other/{folders}US_category_id.json", modified, prefix) == modified
    for folder in ("landing_date=2017-13-45", "landing_date=2017-1-4", "landing_date="):
        with pytest.raises(landing.LandingDateError, match=folder):
            landing.arrival(f"{prefix}{folder}/US_category_id.json", modified, prefix)
    with pytest.raises(ValueError, match="no time zone"):
        landing.arrival(key, datetime(2026, 1, 1), prefix)


def test_ledger_document_names_are_the_key_hash_and_the_etag() -> None:
    key = "youtube/raw_statistics_reference_data/landing_date=2017-11-14/ünï/US_category_id.json"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    assert ledger.document_name(key, '"0a1b-3"') == f"{digest}_0a1b-3.json"
    with pytest.raises(ledger.LedgerError, match="cannot name"):
        ledger.document_name(key, '""')
