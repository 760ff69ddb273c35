"""One source of truth for every name the pipeline uses.

DAGs, the CDK app and the local AWS runtime all derive bucket, database, table, crawler, job, function,
workgroup, queue, role, topic, alarm and stack names from here. Values come from Airflow configuration
options in the ``[youtube_etl]`` section (on MWAA the CDK stack sets them; anywhere they can also be
environment variables ``AIRFLOW__YOUTUBE_ETL__<OPTION>``). Reading them never touches the network, so DAG
files may call :func:`get_settings` at parse time.

The Lambda and the Glue scripts never import this module: they receive what they need as environment
variables / job arguments, built here by :meth:`Settings.lambda_environment` and
:meth:`Settings.glue_job_arguments` so that infra and the local runtime set exactly the same values.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, timedelta
from typing import Any

from youtube_lake.landing import REFERENCE_SUFFIXES
from youtube_lake.metrics import metrics_uri
from youtube_lake.regions import KNOWN_REGIONS, parse_region_codes
from youtube_lake.runs import run_folder, safe_run_id

__all__ = [
    "ENV_PREFIX",
    "KNOWN_REGIONS",
    "SECTION",
    "Prefixes",
    "Settings",
    "SettingsError",
    "get_settings",
    "safe_run_id",
]

SECTION = "youtube_etl"
ENV_PREFIX = "AIRFLOW__YOUTUBE_ETL__"

_PROJECT_RE = re.compile(r"^[a-z][a-z0-9]{1,19}$")
_STAGE_RE = re.compile(r"^[a-z][a-z0-9]{0,9}$")
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_AWS_REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_GLUE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,254}$")
_RESOURCE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_CONN_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SNS_TOPIC_ARN_RE = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")


class SettingsError(ValueError):
    """A configuration value is invalid; the message names the option and the rule it breaks."""


@dataclass(frozen=True)
class Prefixes:
    """S3 key prefixes (always ending in ``/``) inside the three lake buckets."""

    raw_statistics: str = "youtube/raw_statistics/"
    raw_reference: str = "youtube/raw_statistics_reference_data/"
    statistics: str = "youtube/statistics/"
    category_reference: str = "youtube/category_reference/"
    analytics: str = "youtube/analytics/trending/"
    reports: str = "youtube/reports/"
    quarantine: str = "quarantine/"
    #: One JSON document per landing object version with its verdict (processed bucket).
    landing_ledger: str = "youtube/landing_ledger/"
    athena_results: str = "athena-results/"
    glue_scripts: str = "glue/scripts/"
    glue_temp: str = "glue/temp/"
    glue_metrics: str = "glue/metrics/"
    #: The plan of each youtube_ingest run (assets bucket): what clean_statistics takes.
    ingest_plans: str = "glue/plans/"
    lambda_code: str = "lambda/"


@dataclass(frozen=True)
class Settings:
    """Every deployment-dependent value of the pipeline. Build with :func:`get_settings`."""

    project: str = "youtube"
    stage: str = "dev"
    #: AWS account id; empty on the local runtime. When set, bucket names carry account and region.
    account: str = ""
    region: str = "us-east-1"
    aws_conn_id: str = "aws_default"
    #: Airflow connection holding the YouTube Data API key in its password. On MWAA it is the Secrets
    #: Manager secret :attr:`youtube_api_secret_name`, created empty by the CDK (docs/deploy.md: filling it).
    youtube_api_conn_id: str = "youtube_api"
    #: Deferrable provider operators (MWAA) vs. polling in the worker (local runs).
    deferrable: bool = False
    #: Seconds between status polls of sensors, Glue jobs, crawlers and Athena queries (fractions allowed:
    #: the local runtime answers in milliseconds).
    poll_interval: float = 30.0
    #: Report run folders kept per report table; older ones are deleted after a successful run.
    report_retention: int = 3
    #: Fraction of a statistics file's rows that may be rejected; above it the file is quarantined whole.
    reject_threshold: float = 0.01
    #: Hours after the end of its data interval that ``wait_for_drop`` waits for the interval's drop.
    landing_grace_hours: float = 6.0
    #: Fraction a region's row count may drop compared with the previous run before the check fails.
    row_drop_threshold: float = 0.5
    #: Top-N rows per region and day in the top_videos_by_region report.
    top_n: int = 10
    #: The region codes the pipeline accepts, comma-separated (lower case, two letters): the one definition
    #: the Lambda and the Glue jobs receive as configuration; inputs of any other region are quarantined.
    data_regions: str = ",".join(KNOWN_REGIONS)
    #: Share of a region's categories a new category file may drop before it is quarantined (a file with
    #: one item must not silently replace a region's 31 categories).
    category_drop_threshold: float = 0.5
    #: First day a trending list can be dated (YouTube's Trending feed launched in December 2015): earlier
    #: trending dates in a statistics file are implausible (``99.14.11`` must not become 1999 or 2099, and
    #: the Glue job also rejects days after the ingest). ISO date, passed as ``--earliest_trending_date``.
    trending_feed_start: str = "2015-12-01"
    #: Largest category file (bytes, after gunzip) the Lambda reads; larger ones are quarantined. The strict
    #: JSON parser needs ~6x the body in memory: 64 MiB fits the function's 1 GB with room to spare.
    reference_max_bytes: int = 64 * 1024 * 1024
    # Explicit overrides (the CDK stack sets the real bucket names on MWAA). Empty means "derive".
    raw_bucket_name: str = ""
    processed_bucket_name: str = ""
    reporting_bucket_name: str = ""
    assets_bucket_name: str = ""
    processed_database_name: str = ""
    analytics_database_name: str = ""
    #: Folder of the Athena SQL templates; empty means include/sql in a checkout or dags/sql on MWAA.
    sql_folder: str = ""
    # ---- operations (docs/operations.md) ----
    #: Who receives the alerts topic's messages by email (the CDK stack subscribes it); empty: nobody yet.
    alert_email: str = ""
    #: ARN of the alerts SNS topic; empty means derived from account, region and name (the local runtime
    #: sets it, having no account).
    alerts_topic_arn: str = ""
    #: Hours after a daily interval ends by which its reports must be published, else a deadline alert;
    #: 0 attaches no deadline to the DAGs.
    report_deadline_hours: float = 8.0
    #: OpenLineage transport as the provider's JSON (``{"type": "file", ...}``, ``{"type": "http", ...}``);
    #: empty disables lineage. On MWAA the CDK stack passes it as ``[openlineage] transport``.
    lineage_transport: str = ""
    prefixes: Prefixes = field(default_factory=Prefixes)

    def __post_init__(self) -> None:
        _check(_PROJECT_RE, "project", self.project, "2-20 characters: a lower-case letter, then a-z or 0-9")
        _check(_STAGE_RE, "stage", self.stage, "1-10 characters: a lower-case letter, then a-z or 0-9")
        if self.account:
            _check(_ACCOUNT_RE, "account", self.account, "12 digits")
        _check(_AWS_REGION_RE, "region", self.region, "an AWS region code such as eu-west-1")
        # Part of a secret name, an IAM resource and the backend's lookup pattern: no separators, no spaces.
        _check(_CONN_ID_RE, "youtube_api_conn_id", self.youtube_api_conn_id, "1-64 of A-Z a-z 0-9 _ . -")
        if self.poll_interval < 0.1:
            raise SettingsError(f"[{SECTION}] poll_interval={self.poll_interval!r}: must be >= 0.1 second")
        if self.report_retention < 1:
            raise SettingsError(f"[{SECTION}] report_retention={self.report_retention!r}: must be >= 1")
        for name in ("reject_threshold", "row_drop_threshold", "category_drop_threshold"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise SettingsError(f"[{SECTION}] {name}={value!r}: must be a fraction between 0 and 1")
        if not 0.0 <= self.landing_grace_hours <= 24 * 7:
            raise SettingsError(
                f"[{SECTION}] landing_grace_hours={self.landing_grace_hours!r}: must be between 0 and 168"
            )
        if not 1 <= self.top_n <= 1000:
            raise SettingsError(f"[{SECTION}] top_n={self.top_n!r}: must be between 1 and 1000")
        try:
            parse_region_codes(self.data_regions)
        except ValueError as error:
            raise SettingsError(f"[{SECTION}] data_regions is invalid: {error}") from None
        try:
            date.fromisoformat(self.trending_feed_start)
        except ValueError:
            raise SettingsError(
                f"[{SECTION}] trending_feed_start={self.trending_feed_start!r}: must be an ISO date such as "
                "2015-12-01"
            ) from None
        if not 1024 <= self.reference_max_bytes <= 1024**3:
            raise SettingsError(
                f"[{SECTION}] reference_max_bytes={self.reference_max_bytes!r}: must be from 1 KiB to 1 GiB"
            )
        if self.alert_email:
            _check(_EMAIL_RE, "alert_email", self.alert_email, "one email address such as ops@example.com")
        if self.alerts_topic_arn:
            _check(_SNS_TOPIC_ARN_RE, "alerts_topic_arn", self.alerts_topic_arn, "an SNS topic ARN")
        if not 0 <= self.report_deadline_hours <= 7 * 24:
            raise SettingsError(
                f"[{SECTION}] report_deadline_hours={self.report_deadline_hours!r}: must be between 0 "
                "(no deadline) and 168"
            )
        if self.lineage_transport:
            _check_lineage_transport(self.lineage_transport)
        for bucket in (self.raw_bucket, self.processed_bucket, self.reporting_bucket, self.assets_bucket):
            _check_bucket(bucket)
        for database in (self.processed_database, self.analytics_database):
            _check(_GLUE_NAME_RE, "database", database, "lower-case letters, digits and _ (Glue/Athena)")
        for name in (
            self.lambda_function,
            self.clean_statistics_job,
            self.build_analytics_job,
            self.processed_crawler,
            self.analytics_crawler,
            self.athena_workgroup,
            self.readers_workgroup,
        ):
            _check(_RESOURCE_NAME_RE, "resource name", name, "at most 64 of A-Z a-z 0-9 _ -")

    @property
    def region_codes(self) -> tuple[str, ...]:
        """:attr:`data_regions` as a tuple, in the configured order."""
        return parse_region_codes(self.data_regions)

    @property
    def waiter_delay(self) -> int:
        """The poll interval for deferrable triggers, whose botocore waiters take whole seconds."""
        return max(1, round(self.poll_interval))

    # ---- buckets -------------------------------------------------------------------------------
    def _bucket(self, role: str, override: str) -> str:
        if override:
            return override
        name = f"{self.project}-{self.stage}-{role}"
        return f"{name}-{self.account}-{self.region}" if self.account else name

    @property
    def raw_bucket(self) -> str:
        """Landing bucket: immutable inputs, plus ``quarantine/`` for rejected ones."""
        return self._bucket("raw", self.raw_bucket_name)

    @property
    def processed_bucket(self) -> str:
        """Cleansed Parquet: statistics and category reference, partitioned by region."""
        return self._bucket("processed", self.processed_bucket_name)

    @property
    def reporting_bucket(self) -> str:
        """Analytics table, report runs and Athena query results."""
        return self._bucket("reporting", self.reporting_bucket_name)

    @property
    def assets_bucket(self) -> str:
        """Deployment artifacts: Glue scripts, Glue temp dir, the Lambda package."""
        return self._bucket("assets", self.assets_bucket_name)

    @property
    def buckets(self) -> tuple[str, str, str, str]:
        return (self.raw_bucket, self.processed_bucket, self.reporting_bucket, self.assets_bucket)

    # ---- catalog -------------------------------------------------------------------------------
    @property
    def _db_prefix(self) -> str:
        return self.project.replace("-", "_")

    @property
    def processed_database(self) -> str:
        return self.processed_database_name or f"{self._db_prefix}_processed"

    @property
    def analytics_database(self) -> str:
        return self.analytics_database_name or f"{self._db_prefix}_analytics"

    # Crawlers name tables after the folder they find; these match the prefixes above.
    statistics_table: str = field(default="statistics", init=False)
    category_reference_table: str = field(default="category_reference", init=False)
    analytics_table: str = field(default="trending", init=False)
    #: The landing ledger's Glue table (OpenX JSON SerDe over ``prefixes.landing_ledger``).
    landing_ledger_table: str = field(default="landing_ledger", init=False)

    # ---- compute -------------------------------------------------------------------------------
    def _name(self, suffix: str) -> str:
        return f"{self.project}-{self.stage}-{suffix}"

    @property
    def lambda_function(self) -> str:
        return self._name("json-to-parquet")

    @property
    def clean_statistics_job(self) -> str:
        return self._name("clean-statistics")

    @property
    def build_analytics_job(self) -> str:
        return self._name("build-analytics")

    @property
    def processed_crawler(self) -> str:
        return self._name("processed")

    @property
    def analytics_crawler(self) -> str:
        return self._name("analytics")

    @property
    def alerts_topic(self) -> str:
        """Name of the SNS topic every alert goes to (task and DAG-run failures, deadlines, alarms)."""
        return self._name("alerts")

    @property
    def alerts_target(self) -> str:
        """The alerts topic's ARN, or ``""`` when it is unknown (no account and no explicit ARN)."""
        if self.alerts_topic_arn:
            return self.alerts_topic_arn
        if not self.account:
            return ""
        return f"arn:aws:sns:{self.region}:{self.account}:{self.alerts_topic}"

    @property
    def athena_workgroup(self) -> str:
        """The pipeline's workgroup (CTAS reports, checks). It cannot enforce its result location: Athena
        fails a CTAS with ``external_location`` in a workgroup that overrides client-side settings."""
        return self._name("workgroup")

    @property
    def readers_workgroup(self) -> str:
        """The enforced workgroup for readers of the report views (QuickSight, analysts, the dashboard)."""
        return self._name("readers")

    # ---- names of the deployment (CDK stacks and the local runtime read them here, nowhere else) ----
    @property
    def lambda_failure_queue(self) -> str:
        """SQS queue that keeps the events the Lambda gave up on (its on-failure destination)."""
        return self._name("json-to-parquet-failures")

    @property
    def lambda_log_group(self) -> str:
        return f"/aws/lambda/{self.lambda_function}"

    @property
    def lambda_role(self) -> str:
        """The Lambda's IAM role on the local runtime; on AWS CloudFormation names the stacks' roles."""
        return self._name("lambda")

    @property
    def glue_role(self) -> str:
        """The Glue jobs' and crawlers' IAM role on the local runtime (CloudFormation names it on AWS)."""
        return self._name("glue")

    @property
    def alerts_inbox_queue(self) -> str:
        """Local only: the SQS queue subscribed to the alerts topic, standing in for the email subscriber."""
        return f"{self.alerts_topic}-inbox"

    def alarm_name(self, alarm: str) -> str:
        """CloudWatch alarm of the alerts stack, e.g. ``youtube-dev-LambdaErrors``."""
        return self._name(alarm)

    @property
    def glue_failure_rule(self) -> str:
        """EventBridge rule that alerts on failed Glue job runs."""
        return self._name("glue-job-failed")

    @property
    def glue_security_configuration(self) -> str:
        return self._name("glue")

    @property
    def access_log_bucket(self) -> str:
        """AWS only: the S3 server access-log target of every bucket of the stage."""
        return self._bucket("access-logs", "")

    @property
    def mwaa_source_bucket(self) -> str:
        """AWS only: MWAA's source bucket (dags/, plugins.zip, requirements.txt, startup.sh)."""
        return self._bucket("mwaa", "")

    @property
    def mwaa_environment(self) -> str:
        return self._name("airflow")

    @property
    def airflow_connections_prefix(self) -> str:
        """AWS only: MWAA's Secrets Manager backend reads connection ``<id>`` from secret ``<this>/<id>``."""
        return f"{self.project}-{self.stage}/airflow/connections"

    @property
    def youtube_api_secret_name(self) -> str:
        """AWS only: the secret that *is* the YouTube API connection (created empty, filled by hand)."""
        return f"{self.airflow_connections_prefix}/{self.youtube_api_conn_id}"

    @property
    def lake_key_alias(self) -> str:
        return f"alias/{self._name('lake')}"

    @property
    def alerts_key_alias(self) -> str:
        return f"alias/{self._name('alerts')}"

    def stack_name(self, concern: str) -> str:
        """CloudFormation stack name, e.g. ``youtube-dev-lake``."""
        return self._name(concern)

    # ---- S3 URIs ---------------------------------------------------------------------------------
    @property
    def raw_statistics_uri(self) -> str:
        return f"s3://{self.raw_bucket}/{self.prefixes.raw_statistics}"

    @property
    def raw_reference_uri(self) -> str:
        return f"s3://{self.raw_bucket}/{self.prefixes.raw_reference}"

    @property
    def statistics_uri(self) -> str:
        return f"s3://{self.processed_bucket}/{self.prefixes.statistics}"

    @property
    def category_reference_uri(self) -> str:
        return f"s3://{self.processed_bucket}/{self.prefixes.category_reference}"

    @property
    def landing_ledger_uri(self) -> str:
        return f"s3://{self.processed_bucket}/{self.prefixes.landing_ledger}"

    @property
    def landing_prefixes(self) -> tuple[str, str]:
        """The raw bucket's two landing prefixes: statistics CSVs, category JSONs."""
        return (self.prefixes.raw_statistics, self.prefixes.raw_reference)

    @property
    def raw_owned_prefixes(self) -> tuple[str, ...]:
        """Prefixes of the raw bucket the pipeline writes into itself — the Lambda's quarantine copies and
        error reports (``QUARANTINE_PREFIX``), clean_statistics' rejected rows (``--quarantine_path``):
        not drops, so the planner gives them no verdict. Everything else outside :attr:`landing_prefixes`
        is reported as ignored."""
        return (self.prefixes.quarantine,)

    @property
    def reference_event_filters(self) -> tuple[tuple[str, str], ...]:
        """(prefix, suffix) of each S3 notification that sends category drops to the Lambda (CDK and the
        local runtime). S3 filters have one suffix each, matched case-sensitively; the planner takes exactly
        these keys in the reference prefix (``youtube_etl.landing.landing_kinds``), so the event path and
        the scheduled path agree on which files are category files."""
        return tuple((self.prefixes.raw_reference, suffix) for suffix in REFERENCE_SUFFIXES)

    @property
    def landing_grace(self) -> timedelta:
        return timedelta(hours=self.landing_grace_hours)

    def plan_uri(self, run_id: str) -> str:
        """Where ``plan_increment`` writes the plan of one ingest run for ``clean_statistics``."""
        return (
            run_folder(f"s3://{self.assets_bucket}/{self.prefixes.ingest_plans}", safe_run_id(run_id))
            + "plan.json"
        )

    def glue_metrics_path(self, job: str) -> str:
        """A Glue job's ``--metrics_path``: each run writes ``run_id=<its --run_id>/metrics.json`` there."""
        return f"s3://{self.assets_bucket}/{self.prefixes.glue_metrics}{job}/"

    def glue_metrics_uri(self, job: str, run_id: str) -> str:
        """Where the run of ``job`` given ``--run_id run_id`` writes its counts. ``run_id`` is that argument:
        already safe (:func:`safe_run_id`), or the DAG's template of it, rendered when the task runs."""
        return metrics_uri(self.glue_metrics_path(job), run_id)

    @property
    def analytics_uri(self) -> str:
        return f"s3://{self.reporting_bucket}/{self.prefixes.analytics}"

    @property
    def reports_uri(self) -> str:
        return f"s3://{self.reporting_bucket}/{self.prefixes.reports}"

    @property
    def athena_results_uri(self) -> str:
        return f"s3://{self.reporting_bucket}/{self.prefixes.athena_results}"

    def report_location(self, table: str, run_id: str) -> str:
        """Where one run of a report CTAS writes: never reused, so a CTAS never hits a non-empty path."""
        return f"{self.reports_uri}{table}/run={safe_run_id(run_id)}/"

    def glue_script_uri(self, script: str) -> str:
        return f"s3://{self.assets_bucket}/{self.prefixes.glue_scripts}{script}"

    # ---- what infra passes to the deployed code ------------------------------------------------
    def lambda_environment(self) -> dict[str, str]:
        """Environment of the JSON-to-Parquet Lambda (identical on AWS and on the local runtime)."""
        return {
            "PROCESSED_BUCKET": self.processed_bucket,
            "PROCESSED_PREFIX": self.prefixes.category_reference,
            "RAW_BUCKET": self.raw_bucket,
            "QUARANTINE_PREFIX": self.prefixes.quarantine,
            "GLUE_DATABASE": self.processed_database,
            "GLUE_TABLE": self.category_reference_table,
            "ALLOWED_REGIONS": ",".join(self.region_codes),
            # Ledger documents of category files (docs/daily-pipeline.md, "The landing ledger").
            "LEDGER_BUCKET": self.processed_bucket,
            "LEDGER_PREFIX": self.prefixes.landing_ledger,
            # Arrival: a landing_date=YYYY-MM-DD/ folder counts only below this prefix.
            "LANDING_PREFIX": self.prefixes.raw_reference,
            "CATEGORY_DROP_THRESHOLD": str(self.category_drop_threshold),
            "MAX_BODY_BYTES": str(self.reference_max_bytes),
        }

    def glue_job_arguments(self, job: str) -> dict[str, str]:
        """Default arguments of a Glue job (``--key``: value), as the CDK stack and local runtime set them."""
        common = {
            "--job-bookmark-option": "job-bookmark-disable",
            "--TempDir": f"s3://{self.assets_bucket}/{self.prefixes.glue_temp}",
            "--enable-continuous-cloudwatch-log": "true",
            # The DAG passes its run id; manual runs fall back to this.
            "--run_id": "manual",
            # The job writes <metrics_path>run_id=<run id>/metrics.json with its row counts.
            "--metrics_path": self.glue_metrics_path(job),
            # The modules both scripts import (deployed next to them).
            "--extra-py-files": ",".join(self.glue_script_uri(lib) for lib in self.glue_libraries),
        }
        if job == self.clean_statistics_job:
            return common | {
                # The DAG passes each run's plan (plan_increment); a manual run needs one written first.
                "--plan_path": self.plan_uri("manual"),
                "--target_path": self.statistics_uri,
                "--ledger_path": self.landing_ledger_uri,
                "--quarantine_path": f"s3://{self.raw_bucket}/{self.prefixes.quarantine}statistics/",
                "--reject_threshold": str(self.reject_threshold),
                # The one region definition: a CSV in another region's folder is quarantined.
                "--allowed_regions": ",".join(self.region_codes),
                # Rows trending before this day (or after the ingest) are rejected as implausible.
                "--earliest_trending_date": self.trending_feed_start,
            }
        if job == self.build_analytics_job:
            return common | {
                "--statistics_path": self.statistics_uri,
                "--category_path": self.category_reference_uri,
                "--target_path": self.analytics_uri,
            }
        raise SettingsError(
            f"unknown Glue job {job!r}; known: {self.clean_statistics_job}, {self.build_analytics_job}"
        )

    @property
    def glue_libraries(self) -> tuple[str, ...]:
        """What the job scripts import (``--extra-py-files``): modules under ``include/glue/`` and the lake's
        contracts as ``youtube_lake.zip`` (``infra.packaging``), uploaded beside the scripts."""
        return ("lake_io.py", "youtube_lake.zip")

    @property
    def glue_jobs(self) -> dict[str, str]:
        """Job name -> script file name under ``include/glue/``."""
        return {
            self.clean_statistics_job: "clean_statistics.py",
            self.build_analytics_job: "build_analytics.py",
        }

    @property
    def crawler_targets(self) -> dict[str, tuple[str, list[str]]]:
        """Crawler name -> (database, S3 target paths). Each target folder becomes one table."""
        return {
            self.processed_crawler: (
                self.processed_database,
                [self.statistics_uri, self.category_reference_uri],
            ),
            self.analytics_crawler: (self.analytics_database, [self.analytics_uri]),
        }

    def sql_params(self) -> dict[str, Any]:
        """Jinja ``params`` for the SQL in ``include/sql/``."""
        return {
            "processed_database": self.processed_database,
            "analytics_database": self.analytics_database,
            "statistics_table": self.statistics_table,
            "category_reference_table": self.category_reference_table,
            "analytics_table": self.analytics_table,
            "reports_uri": self.reports_uri,
            "top_n": self.top_n,
            "row_drop_threshold": self.row_drop_threshold,
        }


def _check(pattern: re.Pattern[str], option: str, value: str, rule: str) -> None:
    if not pattern.fullmatch(value):
        raise SettingsError(f"[{SECTION}] {option}={value!r} is invalid: {rule}")


def _check_lineage_transport(raw: str) -> None:
    try:
        transport = json.loads(raw)
    except ValueError as error:
        raise SettingsError(f"[{SECTION}] lineage_transport is not JSON: {error}") from None
    if not isinstance(transport, dict) or not isinstance(transport.get("type"), str):
        raise SettingsError(
            f'[{SECTION}] lineage_transport={raw!r}: must be a JSON object with a "type" '
            '(OpenLineage transport, e.g. {"type": "file", "log_file_path": "..."})'
        )


def _check_bucket(name: str) -> None:
    if not _BUCKET_RE.fullmatch(name) or ".." in name or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        raise SettingsError(
            f"[{SECTION}] bucket name {name!r} is invalid for S3: 3-63 characters of a-z 0-9 . -, "
            "starting and ending with a letter or digit"
        )


_BOOL = {
    "true": True,
    "1": True,
    "yes": True,
    "on": True,
    "false": False,
    "0": False,
    "no": False,
    "off": False,
}


def _coerce(name: str, raw: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            return _BOOL[raw.strip().lower()]
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except (KeyError, ValueError):
        raise SettingsError(f"[{SECTION}] {name}={raw!r}: expected a {type(default).__name__}") from None
    return raw.strip()


def _configured(option: str, environ: Mapping[str, str]) -> str | None:
    """An option from ``environ`` or, when Airflow is importable, its configuration (airflow.cfg)."""
    env_value = environ.get(ENV_PREFIX + option.upper())
    if env_value is not None:
        return env_value
    # Airflow's configuration (airflow.cfg) is consulted only inside Airflow processes: importing it
    # elsewhere (CDK app, local runtime) would create an AIRFLOW_HOME as a side effect.
    if environ is not os.environ or "airflow.configuration" not in sys.modules:
        return None
    from airflow.configuration import conf

    if conf.has_option(SECTION, option):
        return str(conf.get(SECTION, option))
    return None


def get_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from configuration (``[youtube_etl]`` / ``AIRFLOW__YOUTUBE_ETL__*``), then ``overrides``.

    Pass ``environ`` to read only that mapping (tests, the CDK app); by default the process environment and
    Airflow's configuration are read. No network access.
    """
    env = os.environ if environ is None else environ
    defaults = Settings()
    values: dict[str, Any] = {}
    for f in fields(Settings):
        if not f.init or f.name == "prefixes":
            continue
        raw = _configured(f.name, env)
        if raw is not None:
            values[f.name] = _coerce(f.name, raw, getattr(defaults, f.name))
    values.update(overrides)
    return replace(defaults, **values)
