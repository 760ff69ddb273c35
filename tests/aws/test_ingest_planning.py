"""wait_for_drop and plan_increment on the local runtime: real listings, ledger documents and plan file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from local.runtime import LocalRuntime
from youtube_etl import ingest
from youtube_etl.operators import LandingDropSensor
from youtube_etl.settings import Settings
from youtube_lake import ledger

D = datetime(2017, 11, 14, tzinfo=UTC)
DAY = timedelta(days=1)


def put(runtime: LocalRuntime, key: str, body: bytes = b"x") -> str:
    runtime.client("s3").put_object(Bucket=runtime.settings.raw_bucket, Key=key, Body=body)
    return key


def sensor(settings: Settings, **kwargs: Any) -> LandingDropSensor:
    arguments: dict[str, Any] = {"landing_grace": settings.landing_grace, "poke_interval": 1, **kwargs}
    return LandingDropSensor(
        task_id="wait_for_drop",
        bucket_name=settings.raw_bucket,
        prefixes=settings.landing_prefixes,
        **arguments,
    )


def interval(start: datetime) -> dict[str, Any]:
    return {"data_interval_start": start, "data_interval_end": start + DAY}


def test_backfill_of_a_day_without_a_drop_fails_at_the_first_poke(clean_aws: LocalRuntime) -> None:
    s = clean_aws.settings
    put(clean_aws, f"{s.prefixes.raw_statistics}landing_date=2017-11-13/region=us/US.csv")
    with pytest.raises(AirflowFailException) as failure:
        sensor(s).poke(interval(D))
    message = str(failure.value)
    assert "[2017-11-14T00:00:00+00:00, 2017-11-15T00:00:00+00:00)" in message
    assert f"s3://{s.raw_bucket}/{s.prefixes.raw_statistics}" in message
    assert f"s3://{s.raw_bucket}/{s.prefixes.raw_reference}" in message
    assert "landing_date=2017-11-14/" in message


def test_the_drop_is_found_by_landing_date_whenever_it_was_uploaded(clean_aws: LocalRuntime) -> None:
    s = clean_aws.settings
    put(clean_aws, f"{s.prefixes.raw_reference}landing_date=2017-11-14/US_category_id.json")
    result = sensor(s).poke(interval(D))
    assert result and getattr(result, "xcom_value", None) == {"drop": 1}


def test_an_undated_upload_belongs_to_the_day_it_arrived(clean_aws: LocalRuntime) -> None:
    s = clean_aws.settings
    key = put(clean_aws, f"{s.prefixes.raw_statistics}region=us/US.csv")
    landed = clean_aws.client("s3").head_object(Bucket=s.raw_bucket, Key=key)["LastModified"]
    today = landed.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert sensor(s).poke(interval(today))
    # No grace: the day before has no drop whatever the wall clock says (with the default 6 h grace the
    # sensor would rightly still wait between 00:00 and 06:00 UTC).
    with pytest.raises(AirflowFailException):
        sensor(s, landing_grace=timedelta(0)).poke(interval(today - DAY))


def test_before_its_deadline_the_sensor_keeps_waiting(clean_aws: LocalRuntime) -> None:
    s = clean_aws.settings
    tomorrow = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + DAY
    assert sensor(s).poke(interval(tomorrow)) is False


def test_deferrable_sensor_defers_until_the_next_poke_not_past_the_deadline(clean_aws: LocalRuntime) -> None:
    s = clean_aws.settings
    start = datetime.now(UTC) - DAY + timedelta(minutes=1)  # the interval ends in a minute
    deadline = start + DAY + timedelta(seconds=30)
    hourly = sensor(s, deferrable=True, landing_grace=timedelta(seconds=30), poke_interval=3600)
    with pytest.raises(TaskDeferred) as deferred:
        hourly.execute_complete(interval(start))
    assert deferred.value.trigger.moment == deadline  # not an hour later: the deadline caps the wait
    assert deferred.value.method_name == "execute_complete"
    often = sensor(s, deferrable=True, landing_grace=timedelta(seconds=30), poke_interval=5)
    with pytest.raises(TaskDeferred) as deferred:
        often.execute_complete(interval(start))
    assert deferred.value.trigger.moment <= datetime.now(UTC) + timedelta(seconds=5)


def test_plan_takes_pending_objects_writes_the_plan_and_one_payload_per_category_file(
    clean_aws: LocalRuntime,
) -> None:
    s = clean_aws.settings
    s3 = clean_aws.client("s3")
    stats = put(clean_aws, f"{s.prefixes.raw_statistics}landing_date=2017-11-14/region=us/USvideos.csv")
    late = put(clean_aws, f"{s.prefixes.raw_statistics}landing_date=2017-11-12/region=gb/GBvideos.csv")
    later = put(clean_aws, f"{s.prefixes.raw_statistics}landing_date=2017-11-15/region=us/USvideos.csv")
    ref = put(clean_aws, f"{s.prefixes.raw_reference}landing_date=2017-11-14/US_category_id.json")
    junk = put(clean_aws, f"{s.prefixes.raw_statistics}landing_date=2017-11-14/notes.txt")
    done = put(clean_aws, f"{s.prefixes.raw_reference}landing_date=2017-11-14/CA_category_id.json")
    head = s3.head_object(Bucket=s.raw_bucket, Key=done)
    name = ledger.document_name(done, head["ETag"])
    s3.put_object(Bucket=s.processed_bucket, Key=f"{s.prefixes.landing_ledger}{name}", Body=b"{}")

    result = ingest.plan_task(s3, s, D, D + DAY, "manual__2017-11-15T00:00:00+00:00")

    assert result["plan_uri"] == s.plan_uri("manual__2017-11-15T00:00:00+00:00")
    assert {k: result[k] for k in ("drop", "statistics", "reference", "ignored", "later")} == {
        "drop": 4,
        "statistics": 2,
        "reference": 1,
        "ignored": 1,
        "later": 1,
    }
    plan = ingest.read_json(s3, result["plan_uri"])
    assert plan is not None
    assert [o["key"] for o in plan["statistics"]] == [late, stats]  # arrival order
    assert plan["statistics"][1]["version_id"] == s3.head_object(Bucket=s.raw_bucket, Key=stats)["VersionId"]
    assert [o["key"] for o in plan["ignored"]] == [junk] and later not in json.dumps(plan)
    (payload,) = result["payloads"]
    event = json.loads(payload)
    assert event["Records"][0]["s3"]["object"]["key"] == ref
    assert event["Records"][0]["s3"]["object"]["versionId"]
    assert event["airflow"]["run_id"] == "manual__2017-11-15T00:00:00+00:00"
