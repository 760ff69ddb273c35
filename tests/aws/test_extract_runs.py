"""``youtube_extract`` through its real DAG task (``dag.test()``) against the YouTube Data API stand-in of
the local runtime: each error behaviour of issue 23 (item 4), with the stand-in's faults, quota and keys.

Every run is for a recorded day with the snapshot lag relaxed through its setting (as ``make run`` does),
and with small retry delays (settings too), so a retried failure costs seconds.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pyarrow.parquet as pq
import pytest

from local.pipeline import DagRunResult, run_dag
from local.replay import relaxed_lag_hours
from local.runtime import LocalRuntime
from localaws import YouTubeFault
from youtube_etl.landing import LandingObject, landing_kinds, plan_increment
from youtube_lake.extract import (
    MANIFEST_STEM,
    Manifest,
    category_key,
    complete_region_days,
    region_day_folder,
)
from youtube_lake.ledger import document_name

DAY = date(2020, 8, 13)
CONN = "AIRFLOW_CONN_YOUTUBE_API"
#: Airflow's own retries of a failed extract_region task (default_args): three tries in all.
TRIES = 3
#: youtube_api_retries here: each try makes two calls of a failing request.
RETRIES = 1


@pytest.fixture
def extract_env(
    clean_aws: LocalRuntime, airflow_db: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalRuntime]:
    """An empty lake, the stand-in serving :data:`DAY`, small retry delays, regions ``us`` and ``gb``."""
    settings = {
        "SNAPSHOT_LAG_HOURS": str(relaxed_lag_hours([DAY], datetime.now(UTC))),
        "POLL_INTERVAL": "0.1",  # Airflow's retry delay: twice that
        "YOUTUBE_API_RETRIES": str(RETRIES),
        "YOUTUBE_API_BACKOFF_SECONDS": "0.05",
        # Long enough for a busy machine: a call the client gave up on is still charged by the stand-in,
        # so a timeout would throw the quota test's sums off by one (the timeout test sets 0.5 s itself).
        "YOUTUBE_API_TIMEOUT_SECONDS": "10",
        "EXTRACT_REGIONS": "us,gb",
    }
    for name, value in settings.items():
        monkeypatch.setenv(f"AIRFLOW__YOUTUBE_ETL__{name}", value)
    clean_aws.youtube.set_day(DAY)
    quota, keys = clean_aws.youtube.quota, clean_aws.youtube.api_keys
    try:
        yield clean_aws
    finally:
        clean_aws.youtube.quota, clean_aws.youtube.api_keys = quota, keys
        clean_aws.youtube.clear_faults()


def extract(runtime: LocalRuntime) -> DagRunResult:
    logical_date = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    return run_dag("youtube_extract", time.perf_counter(), logical_date, progress=False)


def by_region(run: DagRunResult, regions: list[str]) -> dict[str, str]:
    """extract_region's state per region (map index i is the i-th region of extract_regions)."""
    return {region: run.tasks[f"extract_region[{i}]"] for i, region in enumerate(regions)}


def tries(run: DagRunResult, map_index: int) -> int:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        ti = session.query(TaskInstance).filter_by(
            dag_id="youtube_extract", run_id=run.run_id, task_id="extract_region", map_index=map_index
        )
        return int(ti.one().try_number)


def raw_keys(runtime: LocalRuntime) -> list[str]:
    return [o["Key"] for o in runtime.list_objects(runtime.settings.raw_bucket)]


def published(runtime: LocalRuntime) -> set[str]:
    """Regions whose region-day of :data:`DAY` has a manifest (what the planner may take)."""
    days = complete_region_days(raw_keys(runtime), runtime.settings.prefixes.raw_statistics)
    return {region for (day, region) in days if day == DAY}


def landed_units(runtime: LocalRuntime, region: str) -> int:
    """The quota units the manifest of ``region``'s region-day of :data:`DAY` says its fetch spent."""
    s = runtime.settings
    folder = region_day_folder(s.prefixes.raw_statistics, DAY, region)
    (key,) = [k for k in raw_keys(runtime) if k.startswith(folder) and MANIFEST_STEM in k]
    body = runtime.client("s3").get_object(Bucket=s.raw_bucket, Key=key)["Body"].read()
    return Manifest.from_json(body, source=key).quota_units


def planned_statistics(runtime: LocalRuntime) -> list[str]:
    """The statistics keys an ingest run for :data:`DAY` would take now (the planner on a fresh ledger)."""
    s = runtime.settings
    objects = [
        LandingObject(o["Key"], o["ETag"], o["Size"], o["LastModified"])
        for o in runtime.list_objects(s.raw_bucket)
    ]
    start = datetime.combine(DAY, datetime.min.time(), tzinfo=UTC)
    kinds = landing_kinds(s.prefixes.raw_statistics, s.prefixes.raw_reference)
    plan = plan_increment(objects, [], start, start + timedelta(days=1), kinds)
    return [p.item.obj.key for p in plan.statistics]


def api_calls(runtime: LocalRuntime, method: str = "videos.list") -> list[Any]:
    return [c for c in runtime.youtube.calls() if c.method == method]


def test_quota_exceeded_fails_at_once_and_the_landed_region_stays(
    extract_env: LocalRuntime, capfd: pytest.CaptureFixture[str]
) -> None:
    # A full chart costs 5 units (4 pages of 50, then the categories): the first region lands, the second
    # is refused on its third call, which costs its unit too (the API's rule: "All API requests, including
    # invalid requests, incur a quota cost of at least one point").
    extract_env.youtube.quota = 7
    run = extract(extract_env)
    states = by_region(run, ["us", "gb"])
    assert sorted(states.values()) == ["failed", "success"], run.tasks
    landed = {r for r, state in states.items() if state == "success"}
    assert published(extract_env) == landed, "the region already landed stays landed"
    failed = next(i for i, r in enumerate(["us", "gb"]) if states[r] == "failed")
    assert tries(run, failed) == 1, "no retry until the quota resets"
    refused = [c for c in extract_env.youtube.calls() if c.status == 403]
    assert len(refused) == 1, "the refused region stops at its first refusal"
    log = capfd.readouterr()
    text = log.out + log.err
    assert "the API key's quota is spent (quotaExceeded" in text
    # The units the tasks report (the landed region's manifest, the refused one's error) are the units
    # the stand-in charged the key: 5 + 3, one more than its limit. (The landed region's log line is not
    # read: under make test's workers a task's log lines do not always reach the captured output.)
    reported = {region: landed_units(extract_env, region) for region in landed}
    reported |= dict(re.findall(r"region=(\w+)[^:\n]*: [^\n]*? (\d+) units spent by this task", text))
    assert sorted(reported) == ["gb", "us"], text
    (key,) = {c.key for c in extract_env.youtube.calls()}
    charged = extract_env.youtube.quota_spent(key, DAY)
    assert sum(int(units) for units in reported.values()) == charged == 8
    assert sum(c.units for c in extract_env.youtube.calls()) == charged


@pytest.mark.parametrize("key", [None, "AIzaNotTheLocalKey-0123456789"], ids=["missing", "keyInvalid"])
def test_a_missing_or_refused_key_fails_naming_the_connection_not_the_key(
    extract_env: LocalRuntime,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    key: str | None,
) -> None:
    if key is None:
        monkeypatch.delenv(CONN)
    else:
        monkeypatch.setenv(CONN, json.dumps({"conn_type": "generic", "password": key}))
    run = extract(extract_env)
    assert set(by_region(run, ["us", "gb"]).values()) == {"failed"}
    assert [tries(run, i) for i in (0, 1)] == [1, 1], "a refused key is not retried"
    text = "".join(capfd.readouterr())
    if key is None:
        assert extract_env.youtube.calls() == [], "no call without a key"
        assert "no API key: the Airflow connection 'youtube_api' is missing or has no password" in text
    else:
        assert {c.status for c in extract_env.youtube.calls()} == {400}
        assert "the API refused the key of the Airflow connection 'youtube_api'" in text
        assert key not in text
    assert raw_keys(extract_env) == []


@pytest.mark.parametrize(
    "fault",
    [
        YouTubeFault("error", times=0, status=503, reason="backendError"),
        YouTubeFault("error", times=0, status=429, reason="rateLimitExceeded"),
        YouTubeFault("slow", times=0, delay=2.5),  # past youtube_api_timeout_seconds, set to 0.5 s below
        YouTubeFault("truncated", times=0),  # the connection drops halfway through the body
    ],
    ids=["503", "429", "timeout", "reset"],
)
def test_transient_faults_are_retried_with_bounded_backoff_then_fail(
    extract_env: LocalRuntime,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    fault: YouTubeFault,
) -> None:
    monkeypatch.setenv("AIRFLOW__YOUTUBE_ETL__EXTRACT_REGIONS", "us")
    if fault.kind == "slow":
        monkeypatch.setenv("AIRFLOW__YOUTUBE_ETL__YOUTUBE_API_TIMEOUT_SECONDS", "0.5")
    extract_env.youtube.add_fault(fault)
    run = extract(extract_env)
    assert by_region(run, ["us"]) == {"us": "failed"}
    assert tries(run, 0) == TRIES, "Airflow's retries on top of the client's"
    assert len(api_calls(extract_env)) == TRIES * (1 + RETRIES), "each try: the call and its retries"
    text = "".join(capfd.readouterr())
    assert f"still failing after {RETRIES} retries" in text
    assert raw_keys(extract_env) == []


def test_a_transient_fault_that_clears_is_retried_and_the_region_lands(extract_env: LocalRuntime) -> None:
    extract_env.youtube.add_fault(YouTubeFault("error", on_call=2, times=1, status=503))
    run = extract(extract_env)
    assert set(by_region(run, ["us", "gb"]).values()) == {"success"}
    assert [tries(run, i) for i in (0, 1)] == [1, 1]
    assert published(extract_env) == {"us", "gb"}
    assert [c.status for c in extract_env.youtube.calls()].count(503) == 1


def test_an_unknown_region_fails_naming_it_and_the_others_land(
    extract_env: LocalRuntime, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    # zz: a well-formed code the API does not know (the stand-in answers 400 invalidRegionCode).
    monkeypatch.setenv("AIRFLOW__YOUTUBE_ETL__DATA_REGIONS", "us,zz")
    monkeypatch.setenv("AIRFLOW__YOUTUBE_ETL__EXTRACT_REGIONS", "us,zz")
    run = extract(extract_env)
    assert by_region(run, ["us", "zz"]) == {"us": "success", "zz": "failed"}
    assert tries(run, 1) == 1
    assert run.tasks["publish_extract"] == "success"
    assert published(extract_env) == {"us"}
    text = "".join(capfd.readouterr())
    assert "region=zz: videos.list region=zz page 1: the API does not know this region code" in text


def test_a_body_that_is_not_json_is_not_landed_and_the_task_shows_its_first_bytes(
    extract_env: LocalRuntime, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIRFLOW__YOUTUBE_ETL__EXTRACT_REGIONS", "us")
    extract_env.youtube.add_fault(YouTubeFault("not_json", times=0))
    run = extract(extract_env)
    assert by_region(run, ["us"]) == {"us": "failed"}
    text = "".join(capfd.readouterr())
    assert "not a JSON list response with 'items'" in text
    assert 'first bytes: b"<!DOCTYPE html>\\n<html lang=en><title>Error 502' in text
    assert raw_keys(extract_env) == []


def region_day_keys(runtime: LocalRuntime, region: str) -> list[str]:
    """Raw keys of ``region``'s region-day of :data:`DAY`: its pages and manifest, its category file."""
    prefixes = runtime.settings.prefixes
    folder = region_day_folder(prefixes.raw_statistics, DAY, region)
    categories = category_key(prefixes.raw_reference, DAY, region)
    return [k for k in raw_keys(runtime) if k.startswith(folder) or k == categories]


def test_a_json_body_without_items_is_not_landed_and_the_other_region_lands(
    extract_env: LocalRuntime, capfd: pytest.CaptureFixture[str]
) -> None:
    # The first region to run makes calls 1-5 (4 pages, the categories) and lands; every call of the
    # second answers 200 with valid JSON that has no "items", on each of its tries.
    extract_env.youtube.add_fault(YouTubeFault("no_items", on_call=6, times=0))
    run = extract(extract_env)
    states = by_region(run, ["us", "gb"])
    assert sorted(states.values()) == ["failed", "success"], run.tasks
    landed = next(r for r, state in states.items() if state == "success")
    failed = next(r for r, state in states.items() if state == "failed")
    assert run.tasks["publish_extract"] == "success"
    assert {c.status for c in extract_env.youtube.calls() if c.fault} == {200}, "the API answered 200"
    text = "".join(capfd.readouterr())
    what = f"videos.list region={failed} page 1"
    assert f"{what}: the body is not a JSON list response with 'items'" in text
    assert 'first bytes: b\'{\\n  "kind": "youtube#videoListResponse",\\n  "etag": ' in text
    assert region_day_keys(extract_env, failed) == [], "nothing of the failed region-day is landed"
    assert published(extract_env) == {landed}
    planned = planned_statistics(extract_env)
    assert planned and planned == [k for k in planned if k in region_day_keys(extract_env, landed)]


@pytest.mark.parametrize("kind", ["error", "truncated"])
def test_a_page_fetch_failing_midway_leaves_nothing_of_the_region_day_to_the_planner(
    extract_env: LocalRuntime, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    monkeypatch.setenv("AIRFLOW__YOUTUBE_ETL__EXTRACT_REGIONS", "us")
    # Pages 1 and 2 of every try are served, page 3 never is.
    for attempt in range(TRIES):
        on_call = 3 + attempt * (2 + 1 + RETRIES)
        extract_env.youtube.add_fault(
            YouTubeFault(kind, on_call=on_call, times=1 + RETRIES, method="videos.list")  # type: ignore[arg-type]
        )
    run = extract(extract_env)
    assert by_region(run, ["us"]) == {"us": "failed"}
    pages = [c.params.get("pageToken") for c in api_calls(extract_env) if c.status == 200 and not c.fault]
    assert len(pages) >= 2 and pages[1], "the chart was fetched past its first page before failing"
    assert published(extract_env) == set()
    assert planned_statistics(extract_env) == []


def test_an_implausible_categories_response_is_landed_as_sent_and_quarantined_as_a_first_file(
    extract_env: LocalRuntime, data_dir: Path
) -> None:
    """One region's categories answer holds a single category (the API returns ~30). The extract lands it
    as sent (the verdict is the Lambda's); the Lambda, run by the S3 event of the landing, quarantines it as
    ``too_few_categories`` although the lake holds no earlier file of that region; the other region's file
    converts."""
    from local.pipeline import wait_for_event_invocations

    extract_env.youtube.add_fault(YouTubeFault("few_categories"))  # the first categories call, keep=1
    run = extract(extract_env)
    assert set(by_region(run, ["us", "gb"]).values()) == {"success"}, "the extract does not judge it"
    assert published(extract_env) == {"us", "gb"}
    (cut,) = [c for c in api_calls(extract_env, "videoCategories.list") if c.fault == "few_categories"]
    short = cut.params["regionCode"].lower()
    (whole,) = {"us", "gb"} - {short}
    wait_for_event_invocations(extract_env)

    s, s3 = extract_env.settings, extract_env.client("s3")
    short_key = category_key(s.prefixes.raw_reference, DAY, short)
    landed = s3.get_object(Bucket=s.raw_bucket, Key=short_key)["Body"].read()
    recorded = json.loads(_recorded_categories(data_dir, short))
    assert json.loads(landed) == {**recorded, "items": recorded["items"][:1]}
    extract_env.youtube.add_fault(YouTubeFault("few_categories"))
    query = urlencode({"part": "snippet", "regionCode": short.upper(), "key": cut.key})
    assert landed == extract_env.youtube.answer("videoCategories", query).body, "landed verbatim"

    (report_key,) = [k for k in _quarantine_keys(extract_env) if k.endswith(".error.json")]
    report = json.loads(s3.get_object(Bucket=s.raw_bucket, Key=report_key)["Body"].read())
    assert (report["reason"], report["source"]["key"]) == ("too_few_categories", short_key)
    assert report["detail"] == (
        f"1 category where at least {s.min_categories} are expected (MIN_CATEGORIES) for region={short}: "
        "an implausible categories response"
    )
    copy_key = report_key.removesuffix(".error.json")
    assert copy_key.endswith(f"/{short_key}"), "the quarantined copy names the file"
    assert s3.get_object(Bucket=s.raw_bucket, Key=copy_key)["Body"].read() == landed
    etag = s3.head_object(Bucket=s.raw_bucket, Key=short_key)["ETag"]
    ledger_key = s.prefixes.landing_ledger + document_name(short_key, etag)
    verdict = json.loads(s3.get_object(Bucket=s.processed_bucket, Key=ledger_key)["Body"].read())
    reason = f"too_few_categories: {report['detail']}"
    assert (verdict["verdict"], verdict["reason"]) == ("quarantined", reason)

    assert _category_rows(extract_env, short) == [], "no partition for the quarantined region"
    rows = _category_rows(extract_env, whole)
    ids = [int(i["id"]) for i in json.loads(_recorded_categories(data_dir, whole))["items"]]
    assert [r["category_id"] for r in rows] == ids and len(ids) >= 30
    assert {r["source_key"] for r in rows} == {category_key(s.prefixes.raw_reference, DAY, whole)}


def _recorded_categories(data_dir: Path, region: str) -> bytes:
    """The region's recorded category file, which the stand-in serves byte for byte."""
    folder = data_dir / "rsrishav_trending" / "raw_statistics_reference_data"
    return (folder / f"{region.upper()}_category_id.json").read_bytes()


def _quarantine_keys(runtime: LocalRuntime) -> list[str]:
    """Raw keys under the Lambda's quarantine prefix (the copies and their error reports)."""
    prefix = f"{runtime.settings.prefixes.quarantine}reference_data/"
    return [k for k in raw_keys(runtime) if k.startswith(prefix)]


def _category_rows(runtime: LocalRuntime, region: str) -> list[dict[str, Any]]:
    """Every row of ``region``'s category_reference partition, read from its Parquet objects."""
    s, s3 = runtime.settings, runtime.client("s3")
    rows: list[dict[str, Any]] = []
    for obj in runtime.list_objects(s.processed_bucket, f"{s.prefixes.category_reference}region={region}/"):
        body = s3.get_object(Bucket=s.processed_bucket, Key=obj["Key"])["Body"].read()
        rows.extend(pq.read_table(io.BytesIO(body)).to_pylist())
    return rows


#: A key no other test, file or object holds: whatever holds it after a run got it from the run.
SECRET_KEY = "AIzaLocalLeakProbe-5b0e0c7d9a2f41e3"


@pytest.mark.spark
@pytest.mark.timeout(900)
def test_after_an_extract_and_an_ingest_the_key_is_found_nowhere(
    extract_env: LocalRuntime,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Objects of every bucket, task logs (captured and on disk), XCom values, asset events and lineage."""
    from airflow.models.asset import AssetEvent
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from local.pipeline import wait_for_event_invocations
    from tests.conftest import _AIRFLOW_HOME, LINEAGE_DIR

    extract_env.youtube.api_keys = (SECRET_KEY,)
    monkeypatch.setenv(CONN, json.dumps({"conn_type": "generic", "password": SECRET_KEY}))
    extracted = extract(extract_env)
    extracted.check()
    assert {c.key for c in extract_env.youtube.calls()} == {SECRET_KEY}, "the stand-in got the key"
    wait_for_event_invocations(extract_env)
    logical_date = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    ingested = run_dag("youtube_ingest", time.perf_counter(), logical_date, progress=False)
    assert ingested.tasks["plan_increment"] == "success", ingested.tasks
    needle = SECRET_KEY.encode()

    s3 = extract_env.client("s3")
    objects = [(b, o["Key"]) for b in extract_env.settings.buckets for o in extract_env.list_objects(b)]
    assert len(objects) > 10
    assert [k for b, k in objects if needle in s3.get_object(Bucket=b, Key=k)["Body"].read()] == []
    assert [f"{b}/{k}" for b, k in objects if SECRET_KEY in k] == []

    captured = "".join(capfd.readouterr()) + caplog.text
    assert "youtube_extract" in captured and SECRET_KEY not in captured
    files = [p for p in (_AIRFLOW_HOME / "logs").rglob("*") if p.is_file()]
    assert [p for p in files if needle in p.read_bytes()] == []

    run_ids = [extracted.run_id, ingested.run_id]
    with create_session() as session:
        xcoms = session.scalars(select(XComModel).where(XComModel.run_id.in_(run_ids))).all()
        events = session.scalars(select(AssetEvent)).all()
        assert len(xcoms) >= 3 and events, "the runs pushed XComs and updated their assets"
        assert [x.task_id for x in xcoms if SECRET_KEY in json.dumps(x.value, default=str)] == []
        assert [e.id for e in events if SECRET_KEY in json.dumps(e.extra, default=str)] == []

    lineage = [p for p in LINEAGE_DIR.rglob("*") if p.is_file()]
    assert any("youtube_extract" in p.read_text(errors="replace") for p in lineage), "lineage was written"
    assert [p.name for p in lineage if needle in p.read_bytes()] == []
