"""Settings: every derived name obeys the naming rules of the AWS service it is used in."""

from __future__ import annotations

import re

import pytest

from youtube_etl.settings import KNOWN_REGIONS, Settings, SettingsError, get_settings, safe_run_id

S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
GLUE_NAME = re.compile(r"^[a-z0-9_]{1,255}$")
# Lambda function, Glue job/crawler and Athena workgroup names: letters, digits, - and _, at most 64.
RESOURCE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

CASES = [
    pytest.param({}, id="local-defaults"),
    pytest.param(
        {
            "AIRFLOW__YOUTUBE_ETL__STAGE": "prod",
            "AIRFLOW__YOUTUBE_ETL__ACCOUNT": "123456789012",
            "AIRFLOW__YOUTUBE_ETL__REGION": "eu-west-1",
        },
        id="aws-prod",
    ),
    pytest.param(
        {
            "AIRFLOW__YOUTUBE_ETL__PROJECT": "ytanalytics2",
            "AIRFLOW__YOUTUBE_ETL__STAGE": "qa1",
            "AIRFLOW__YOUTUBE_ETL__ACCOUNT": "000000000001",
            "AIRFLOW__YOUTUBE_ETL__REGION": "ap-southeast-2",
        },
        id="aws-long-region",
    ),
]


@pytest.mark.parametrize("environ", CASES)
def test_every_name_is_valid_for_its_service(environ: dict[str, str]) -> None:
    s = get_settings(environ)
    assert len(set(s.buckets)) == 4
    for bucket in s.buckets:
        assert S3_BUCKET.fullmatch(bucket), bucket
        assert 3 <= len(bucket) <= 63
    for name in (
        s.processed_database,
        s.analytics_database,
        s.statistics_table,
        s.category_reference_table,
        s.analytics_table,
    ):
        assert GLUE_NAME.fullmatch(name), name
    names = [
        s.lambda_function,
        s.clean_statistics_job,
        s.build_analytics_job,
        s.processed_crawler,
        s.analytics_crawler,
        s.athena_workgroup,
    ]
    assert len(set(names)) == len(names)
    for name in names:
        assert RESOURCE.fullmatch(name), name
    for prefix in vars(s.prefixes).values():
        assert prefix.endswith("/") and not prefix.startswith("/")


def test_defaults_match_the_design() -> None:
    s = get_settings({})
    assert s.processed_database == "youtube_processed"
    assert s.analytics_database == "youtube_analytics"
    assert s.raw_bucket == "youtube-dev-raw"
    assert s.prefixes.raw_reference == "youtube/raw_statistics_reference_data/"
    assert s.statistics_uri == "s3://youtube-dev-processed/youtube/statistics/"


def test_aws_bucket_names_carry_account_and_region() -> None:
    s = get_settings(
        {"AIRFLOW__YOUTUBE_ETL__ACCOUNT": "123456789012", "AIRFLOW__YOUTUBE_ETL__REGION": "eu-west-1"}
    )
    assert all(b.endswith("-123456789012-eu-west-1") for b in s.buckets)


def test_deployment_names_are_the_ones_the_stacks_deploy() -> None:
    """One name per resource for CDK and the local runtime alike (the failure queue was ``-dlq`` locally)."""
    s = get_settings({}, project="yt", stage="qa", account="123456789012", region="eu-west-1")
    assert s.lambda_failure_queue == "yt-qa-json-to-parquet-failures"
    assert s.lambda_log_group == "/aws/lambda/yt-qa-json-to-parquet"
    assert (s.lambda_role, s.glue_role) == ("yt-qa-lambda", "yt-qa-glue")
    assert s.alerts_inbox_queue == "yt-qa-alerts-inbox"
    assert s.alarm_name("LambdaErrors") == "yt-qa-LambdaErrors"
    assert s.glue_failure_rule == "yt-qa-glue-job-failed"
    assert s.glue_security_configuration == "yt-qa-glue"
    assert s.access_log_bucket == "yt-qa-access-logs-123456789012-eu-west-1"
    assert s.mwaa_source_bucket == "yt-qa-mwaa-123456789012-eu-west-1"
    assert s.mwaa_environment == "yt-qa-airflow"
    assert (s.lake_key_alias, s.alerts_key_alias) == ("alias/yt-qa-lake", "alias/yt-qa-alerts")
    assert s.stack_name("lake") == "yt-qa-lake"
    assert s.airflow_connections_prefix == "yt-qa/airflow/connections"
    assert s.youtube_api_secret_name == "yt-qa/airflow/connections/youtube_api"
    assert get_settings({"AIRFLOW__YOUTUBE_ETL__YOUTUBE_API_CONN_ID": "yt_key"}).youtube_api_secret_name == (
        "youtube-dev/airflow/connections/yt_key"
    ), "the secret is named after the connection the extract reads"
    for name in (s.lambda_failure_queue, s.alerts_inbox_queue, s.mwaa_environment, s.glue_failure_rule):
        assert RESOURCE.fullmatch(name), name
    for bucket in (s.access_log_bucket, s.mwaa_source_bucket):
        assert S3_BUCKET.fullmatch(bucket), bucket
    # Bucket overrides rename the lake buckets only, not the deployment's own.
    moved = get_settings({"AIRFLOW__YOUTUBE_ETL__RAW_BUCKET_NAME": "landing"}, stage="qa")
    assert moved.access_log_bucket == "youtube-qa-access-logs"


def test_explicit_bucket_override_wins() -> None:
    s = get_settings({"AIRFLOW__YOUTUBE_ETL__RAW_BUCKET_NAME": "my-landing-zone"})
    assert s.raw_bucket == "my-landing-zone"
    assert s.lambda_environment()["RAW_BUCKET"] == "my-landing-zone"


def test_typed_options_are_coerced() -> None:
    s = get_settings(
        {
            "AIRFLOW__YOUTUBE_ETL__DEFERRABLE": "true",
            "AIRFLOW__YOUTUBE_ETL__POLL_INTERVAL": "5",
            "AIRFLOW__YOUTUBE_ETL__REJECT_THRESHOLD": "0.05",
        }
    )
    assert s.deferrable is True and s.poll_interval == 5 and s.reject_threshold == 0.05
    assert get_settings({"AIRFLOW__YOUTUBE_ETL__POLL_INTERVAL": "0.2"}).waiter_delay == 1
    with pytest.raises(SettingsError, match="poll_interval=0.01: must be a number of seconds >= 0.1"):
        get_settings({"AIRFLOW__YOUTUBE_ETL__POLL_INTERVAL": "0.01"})
    # float("nan") and float("inf") parse: a poll interval that is no number of seconds is refused too
    for text in ("nan", "inf", "-inf"):
        with pytest.raises(SettingsError, match=f"poll_interval={float(text)!r}: must be a number"):
            get_settings({"AIRFLOW__YOUTUBE_ETL__POLL_INTERVAL": text})


@pytest.mark.parametrize(
    ("environ", "mode"),
    [
        ({}, "reschedule"),  # MWAA's default 30 s frees the worker slot between pokes
        ({"AIRFLOW__YOUTUBE_ETL__POLL_INTERVAL": "300"}, "reschedule"),
        # a few seconds (make airflow's 2) would race the executor's report of the last poke: poke in one try
        ({"AIRFLOW__YOUTUBE_ETL__POLL_INTERVAL": "29.9"}, "poke"),
        ({"AIRFLOW__YOUTUBE_ETL__POLL_INTERVAL": "2"}, "poke"),
        # deferred between pokes, by the sensor itself
        ({"AIRFLOW__YOUTUBE_ETL__DEFERRABLE": "true"}, "poke"),
    ],
)
def test_the_drop_sensor_reschedules_only_at_long_poll_intervals(environ: dict[str, str], mode: str) -> None:
    assert get_settings(environ).sensor_mode == mode


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        pytest.param(
            {"AIRFLOW__YOUTUBE_ETL__PROJECT": "YouTube"}, "project='YouTube' is invalid", id="upper-case"
        ),
        pytest.param(
            {"AIRFLOW__YOUTUBE_ETL__PROJECT": "you_tube"}, "project='you_tube' is invalid", id="underscore"
        ),
        pytest.param({"AIRFLOW__YOUTUBE_ETL__PROJECT": "y"}, "project='y' is invalid", id="too-short"),
        pytest.param({"AIRFLOW__YOUTUBE_ETL__STAGE": "Dev-1"}, "stage='Dev-1' is invalid", id="bad-stage"),
        pytest.param(
            {"AIRFLOW__YOUTUBE_ETL__ACCOUNT": "12345"}, "account='12345' is invalid", id="short-account"
        ),
        pytest.param({"AIRFLOW__YOUTUBE_ETL__REGION": "mars"}, "region='mars' is invalid", id="bad-region"),
        pytest.param(
            {"AIRFLOW__YOUTUBE_ETL__DEFERRABLE": "maybe"},
            "deferrable='maybe': expected a bool",
            id="bad-bool",
        ),
        pytest.param(
            {"AIRFLOW__YOUTUBE_ETL__REJECT_THRESHOLD": "2"}, "reject_threshold=2.0", id="bad-fraction"
        ),
        pytest.param(
            {"AIRFLOW__YOUTUBE_ETL__LANDING_GRACE_HOURS": "-1"},
            "landing_grace_hours=-1.0: must be between 0 and 168",
            id="negative-grace",
        ),
        pytest.param(
            {"AIRFLOW__YOUTUBE_ETL__DATA_REGIONS": "us,usa"},
            "'usa' is not one",
            id="three-letter-data-region",
        ),
        pytest.param({"AIRFLOW__YOUTUBE_ETL__DATA_REGIONS": "us,US"}, "'US' is not one", id="upper-region"),
        pytest.param({"AIRFLOW__YOUTUBE_ETL__DATA_REGIONS": "us,us"}, "distinct", id="repeated-region"),
        pytest.param({"AIRFLOW__YOUTUBE_ETL__DATA_REGIONS": " , "}, "distinct", id="no-region"),
        pytest.param(
            {"AIRFLOW__YOUTUBE_ETL__CATEGORY_DROP_THRESHOLD": "1.5"},
            "category_drop_threshold=1.5",
            id="bad-drop-threshold",
        ),
        pytest.param(
            {"AIRFLOW__YOUTUBE_ETL__MIN_CATEGORIES": "0"},
            "min_categories=0: must be from 1 to 100",
            id="min-categories-zero",
        ),
        pytest.param(
            {"AIRFLOW__YOUTUBE_ETL__MIN_CATEGORIES": "101"},
            "min_categories=101: must be from 1 to 100",
            id="min-categories-typo",
        ),
        pytest.param(
            {"AIRFLOW__YOUTUBE_ETL__MIN_CATEGORIES": "ten"},
            "min_categories='ten': expected a int",
            id="min-categories-text",
        ),
        pytest.param(
            {"AIRFLOW__YOUTUBE_ETL__REFERENCE_MAX_BYTES": "10"}, "reference_max_bytes=10", id="tiny-max-bytes"
        ),
        pytest.param(
            {"AIRFLOW__YOUTUBE_ETL__YOUTUBE_API_CONN_ID": "api/key"},
            "youtube_api_conn_id='api/key' is invalid",
            id="conn-id-with-a-separator",
        ),
        pytest.param(
            {"AIRFLOW__YOUTUBE_ETL__RAW_BUCKET_NAME": "Bad_Bucket"},
            "bucket name 'Bad_Bucket'",
            id="bad-bucket-override",
        ),
        pytest.param(
            {
                "AIRFLOW__YOUTUBE_ETL__PROJECT": "abcdefghijklmnopqrst",
                "AIRFLOW__YOUTUBE_ETL__STAGE": "abcdefghij",
                "AIRFLOW__YOUTUBE_ETL__ACCOUNT": "123456789012",
                "AIRFLOW__YOUTUBE_ETL__REGION": "ap-southeast-2",
            },
            "invalid for S3: 3-63 characters",
            id="bucket-too-long",
        ),
    ],
)
def test_bad_configuration_gives_a_clear_error(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        get_settings(environ)


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(AttributeError):
        s.stage = "prod"  # type: ignore[misc]


def test_known_regions_are_lower_case_two_letter_codes() -> None:
    assert all(re.fullmatch(r"[a-z]{2}", r) for r in KNOWN_REGIONS)


def test_data_regions_are_one_setting_the_lambda_receives() -> None:
    assert get_settings({}).region_codes == KNOWN_REGIONS
    s = get_settings({"AIRFLOW__YOUTUBE_ETL__DATA_REGIONS": "us, ca,gb "})
    assert s.region_codes == ("us", "ca", "gb")
    environment = s.lambda_environment()
    assert environment["ALLOWED_REGIONS"] == "us,ca,gb"
    assert (environment["CATEGORY_DROP_THRESHOLD"], environment["MAX_BODY_BYTES"]) == (
        "0.5",
        str(64 * 1024**2),
    )
    assert environment["MIN_CATEGORIES"] == "10"
    assert environment["LEDGER_BUCKET"] == s.processed_bucket
    assert environment["LEDGER_PREFIX"] == s.prefixes.landing_ledger == "youtube/landing_ledger/"


@pytest.mark.parametrize(
    ("run_id", "expected"),
    [
        pytest.param(
            "scheduled__2026-11-24T00:00:00+00:00", "scheduled_2026_11_24t00_00_00_00_00", id="scheduled"
        ),
        pytest.param(
            "manual__2026-11-24T10:11:12.123456+00:00", "manual_2026_11_24t10_11_12_123456_00_00", id="manual"
        ),
    ],
)
def test_safe_run_id_is_usable_in_s3_and_athena(run_id: str, expected: str) -> None:
    assert safe_run_id(run_id) == expected
    assert GLUE_NAME.fullmatch(safe_run_id(run_id))


def test_safe_run_id_rejects_empty() -> None:
    with pytest.raises(ValueError, match="no usable characters"):
        safe_run_id("+++")


def test_glue_arguments_only_for_known_jobs() -> None:
    s = get_settings({})
    clean = s.glue_job_arguments(s.clean_statistics_job)
    assert clean["--plan_path"] == s.plan_uri("manual") and clean["--ledger_path"] == s.landing_ledger_uri
    assert "--source_path" not in clean  # the job reads its run's plan, never the whole landing prefix
    assert clean["--allowed_regions"] == ",".join(s.region_codes) == s.lambda_environment()["ALLOWED_REGIONS"]
    for job in s.glue_jobs:
        libraries = s.glue_job_arguments(job)["--extra-py-files"].split(",")
        assert libraries == [s.glue_script_uri(library) for library in s.glue_libraries]
        assert {s.glue_script_uri("lake_io.py"), s.glue_script_uri("youtube_lake.zip")} <= set(libraries)
    with pytest.raises(SettingsError, match="unknown Glue job 'nope'"):
        s.glue_job_arguments("nope")


def test_landing_grace_and_plan_location() -> None:
    s = get_settings({"AIRFLOW__YOUTUBE_ETL__LANDING_GRACE_HOURS": "1.5"})
    assert s.landing_grace.total_seconds() == 5400
    assert get_settings({}).landing_grace.total_seconds() == 6 * 3600
    assert s.landing_prefixes == (s.prefixes.raw_statistics, s.prefixes.raw_reference)
    assert s.plan_uri("manual__2017-11-15T00:00:00+00:00") == (
        f"s3://{s.assets_bucket}/glue/plans/run_id=manual_2017_11_15t00_00_00_00_00/plan.json"
    )
    assert s.landing_ledger_uri == f"s3://{s.processed_bucket}/youtube/landing_ledger/"


def test_the_glue_metrics_uri_is_below_the_jobs_metrics_path_for_the_run_id_it_gets() -> None:
    s = get_settings({})
    job = s.clean_statistics_job
    run_id = safe_run_id("scheduled__2026-11-28T00:00:00+00:00")
    path = s.glue_job_arguments(job)["--metrics_path"]
    assert path == f"s3://{s.assets_bucket}/glue/metrics/{job}/"
    assert s.glue_metrics_uri(job, run_id) == f"{path}run_id=scheduled_2026_11_28t00_00_00_00_00/metrics.json"


def test_the_raw_prefixes_the_pipeline_writes_are_owned_and_apart_from_the_landing_prefixes() -> None:
    """The planner gives no verdict under ``raw_owned_prefixes``: every pipeline output in the raw bucket
    must be there, and no landing object may be (it would be skipped in silence)."""
    s = Settings()
    lambda_quarantine = s.lambda_environment()["QUARANTINE_PREFIX"]
    bucket, _, glue_quarantine = (
        s.glue_job_arguments(s.clean_statistics_job)["--quarantine_path"].removeprefix("s3://").partition("/")
    )
    assert bucket == s.raw_bucket
    for written in (lambda_quarantine, glue_quarantine):
        assert written.startswith(s.raw_owned_prefixes), written
    for owned in s.raw_owned_prefixes:
        for landing in s.landing_prefixes:
            assert not (owned.startswith(landing) or landing.startswith(owned)), (owned, landing)


@pytest.mark.parametrize("minimum", [pytest.param(1, id="lowest"), pytest.param(100, id="highest")])
def test_min_categories_reaches_the_lambda_environment(minimum: int) -> None:
    """One option, one environment variable: what CDK and the local runtime both pass to the function."""
    s = get_settings({"AIRFLOW__YOUTUBE_ETL__MIN_CATEGORIES": str(minimum)})
    assert s.min_categories == minimum
    assert s.lambda_environment()["MIN_CATEGORIES"] == str(minimum)
