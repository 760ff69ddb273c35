"""Options: the deployment-dependent values of the pipeline, how they are loaded and validated.

Values come from Airflow configuration options in the ``[youtube_etl]`` section (on MWAA the CDK stack sets
them; anywhere they can also be environment variables ``AIRFLOW__YOUTUBE_ETL__<OPTION>``). Reading them
never touches the network, so DAG files may call :func:`get_settings` at parse time. :class:`Settings` also
hands out the names (:mod:`.names`) and deploy contracts (:mod:`.deploy`) the options give.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, timedelta
from typing import Any, NamedTuple

from youtube_etl.settings.deploy import DeployContracts
from youtube_etl.settings.errors import SettingsError
from youtube_etl.settings.names import Prefixes
from youtube_lake.regions import KNOWN_REGIONS, parse_region_codes

SECTION = "youtube_etl"
#: Upper bound of ``min_categories``: YouTube has ~32 categories per region, so more is a typo.
MAX_MIN_CATEGORIES = 100
ENV_PREFIX = "AIRFLOW__YOUTUBE_ETL__"
#: The shortest poll interval at which ``wait_for_drop`` reschedules between pokes (``sensor_mode``).
RESCHEDULE_MIN_SECONDS = 30.0

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


@dataclass(frozen=True)
class Settings(DeployContracts):
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
    #: Fewest categories a region's category file may hold, else it is quarantined (``too_few_categories``)
    #: even when the region has no earlier file for the drop check. Every real file (10 datasnaek regions,
    #: 2017-18; 11 rsrishav regions, 2020-21) holds 31 or 32: 10 leaves room for retired categories and
    #: still catches a stub or cut-short ``videoCategories.list`` response of one or two.
    min_categories: int = 10
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
    # ---- extract (youtube_extract, docs/extract.md); the key's connection is youtube_api_conn_id ----
    #: Root URL of the YouTube Data API (the bundled discovery document's rootUrl); the local stand-in's
    #: root locally. Requests go to ``{root}youtube/v3/videos``.
    youtube_api_root: str = "https://youtube.googleapis.com/"
    #: Regions the extract fetches, comma-separated; empty means every region of ``data_regions``.
    extract_regions: str = ""
    #: Hours after its interval ended that a run may still fetch the chart (a snapshot of *now*): later
    #: runs (backfills, catch-ups, late retries) skip. ``make run`` raises it to replay recorded days.
    snapshot_lag_hours: float = 6.0
    #: Retries of one API call on 5xx, 429, timeouts and dropped connections (exponential backoff).
    youtube_api_retries: int = 4
    #: Seconds before the first of those retries; each next one waits twice as long, at most 30 s.
    youtube_api_backoff_seconds: float = 1.0
    #: Seconds an API call may take before it counts as a timeout (then retried as above).
    youtube_api_timeout_seconds: float = 30.0
    prefixes: Prefixes = field(default_factory=Prefixes)

    def __post_init__(self) -> None:
        """Reject a wrong option at once, naming it: checked group by group, the first error is raised."""
        _check_identity(self)
        _check_rules(self, _TUNING_RULES)
        _check_data_rules(self)
        _check_operations(self)
        _check_extract(self)
        _check_names(self)

    @property
    def waiter_delay(self) -> int:
        """The poll interval for deferrable triggers, whose botocore waiters take whole seconds."""
        return max(1, round(self.poll_interval))

    @property
    def sensor_mode(self) -> str:
        """How ``wait_for_drop`` waits between pokes when not deferrable.

        ``reschedule`` (the worker slot is freed) only for poll intervals of
        :data:`RESCHEDULE_MIN_SECONDS` or more, MWAA's default among them: each reschedule is a whole task
        start, and at a few seconds the executor's report of one poke can reach the scheduler after the next
        poke was queued, which fails the try (apache/airflow#71172, open in 3.3). Shorter intervals (the
        local runtime's) poke in one try, holding its slot.
        """
        if self.deferrable or self.poll_interval < RESCHEDULE_MIN_SECONDS:
            return "poke"
        return "reschedule"

    @property
    def landing_grace(self) -> timedelta:
        return timedelta(hours=self.landing_grace_hours)

    @property
    def extract_region_codes(self) -> tuple[str, ...]:
        """The regions ``youtube_extract`` fetches: :attr:`extract_regions`, else every data region."""
        if not self.extract_regions.strip():
            return self.region_codes
        return tuple(code.strip() for code in self.extract_regions.split(",") if code.strip())

    @property
    def snapshot_lag(self) -> timedelta:
        return timedelta(hours=self.snapshot_lag_hours)


def _check(pattern: re.Pattern[str], option: str, value: str, rule: str) -> None:
    if not pattern.fullmatch(value):
        raise SettingsError(f"[{SECTION}] {option}={value!r} is invalid: {rule}")


class _Rule(NamedTuple):
    """An option's accepted values: ``accepts(value)`` is false means ``{option}={value!r}: {rule}``."""

    option: str
    accepts: Callable[[Any], bool]
    rule: str


def _check_rules(settings: Settings, rules: tuple[_Rule, ...]) -> None:
    for option, accepts, rule in rules:
        value = getattr(settings, option)
        if not accepts(value):
            raise SettingsError(f"[{SECTION}] {option}={value!r}: {rule}")


def _is_iso_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_fraction(value: float) -> bool:
    return 0.0 <= value <= 1.0


#: How often and how patiently the pipeline polls, what it keeps and what it tolerates.
_TUNING_RULES = (
    # Written as "at least" so that nan (a float option read from "nan") and inf are refused too.
    _Rule("poll_interval", lambda v: math.isfinite(v) and v >= 0.1, "must be a number of seconds >= 0.1"),
    _Rule("report_retention", lambda v: v >= 1, "must be >= 1"),
    _Rule("reject_threshold", _is_fraction, "must be a fraction between 0 and 1"),
    _Rule("row_drop_threshold", _is_fraction, "must be a fraction between 0 and 1"),
    _Rule("category_drop_threshold", _is_fraction, "must be a fraction between 0 and 1"),
    _Rule("landing_grace_hours", lambda v: 0.0 <= v <= 24 * 7, "must be between 0 and 168"),
    _Rule("top_n", lambda v: 1 <= v <= 1000, "must be between 1 and 1000"),
)

#: What the Lambda and the Glue jobs accept of the data (after ``data_regions``, checked on its own).
_DATA_RULES = (
    _Rule("trending_feed_start", _is_iso_date, "must be an ISO date such as 2015-12-01"),
    _Rule(
        "min_categories",
        lambda v: 1 <= v <= MAX_MIN_CATEGORIES,
        f"must be from 1 to {MAX_MIN_CATEGORIES} (a region's file holds about 32 categories)",
    ),
    _Rule("reference_max_bytes", lambda v: 1024 <= v <= 1024**3, "must be from 1 KiB to 1 GiB"),
)

#: When reports are due (after the alert addresses, before the lineage transport).
_OPERATIONS_RULES = (
    _Rule("report_deadline_hours", lambda v: 0 <= v <= 7 * 24, "must be between 0 (no deadline) and 168"),
)

#: The extract's bounds (after its root URL and regions). At most a century of snapshot lag: make run replays
#: days recorded in 2020 through the stand-in with a lag that reaches them (it says so); on AWS anything
#: beyond a few hours labels today's chart as a past day.
_EXTRACT_RULES = (
    _Rule("snapshot_lag_hours", lambda v: 0 < v <= 24 * 366 * 100, "above 0, at most a century"),
    _Rule("youtube_api_retries", lambda v: 0 <= v <= 10, "0 to 10"),
    _Rule("youtube_api_backoff_seconds", lambda v: 0 <= v <= 60, "0 to 60"),
    _Rule("youtube_api_timeout_seconds", lambda v: 0 < v <= 300, "above 0, at most 300"),
)


def _check_identity(settings: Settings) -> None:
    """Where the pipeline is deployed and as whom: project, stage, account, region, the API's connection."""
    _check(_PROJECT_RE, "project", settings.project, "2-20 characters: a lower-case letter, then a-z or 0-9")
    _check(_STAGE_RE, "stage", settings.stage, "1-10 characters: a lower-case letter, then a-z or 0-9")
    if settings.account:
        _check(_ACCOUNT_RE, "account", settings.account, "12 digits")
    _check(_AWS_REGION_RE, "region", settings.region, "an AWS region code such as eu-west-1")
    # Part of a secret name, an IAM resource and the backend's lookup pattern: no separators, no spaces.
    _check(_CONN_ID_RE, "youtube_api_conn_id", settings.youtube_api_conn_id, "1-64 of A-Z a-z 0-9 _ . -")


def _check_data_rules(settings: Settings) -> None:
    """What the Lambda and the Glue jobs accept: the region codes, then :data:`_DATA_RULES`."""
    try:
        parse_region_codes(settings.data_regions)
    except ValueError as error:
        raise SettingsError(f"[{SECTION}] data_regions is invalid: {error}") from None
    _check_rules(settings, _DATA_RULES)


def _check_operations(settings: Settings) -> None:
    """docs/operations.md: who is alerted, where, by when reports are due, where lineage goes."""
    if settings.alert_email:
        _check(_EMAIL_RE, "alert_email", settings.alert_email, "one email address such as ops@example.com")
    if settings.alerts_topic_arn:
        _check(_SNS_TOPIC_ARN_RE, "alerts_topic_arn", settings.alerts_topic_arn, "an SNS topic ARN")
    _check_rules(settings, _OPERATIONS_RULES)
    if settings.lineage_transport:
        _check_lineage_transport(settings.lineage_transport)


def _check_extract(settings: Settings) -> None:
    """The extract's block: an http(s) root ending in ``/``, regions among data_regions, bounds."""
    root = settings.youtube_api_root
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?/", root):
        raise SettingsError(
            f"[{SECTION}] youtube_api_root={root!r}: must be an http(s) URL ending in / such as "
            "https://youtube.googleapis.com/"
        )
    codes = settings.extract_region_codes
    unknown = [code for code in codes if code not in settings.region_codes]
    if not codes or unknown or len(set(codes)) != len(codes):
        raise SettingsError(
            f"[{SECTION}] extract_regions={settings.extract_regions!r}: distinct codes among data_regions "
            f"({settings.data_regions})" + (f"; not data regions: {', '.join(unknown)}" if unknown else "")
        )
    _check_rules(settings, _EXTRACT_RULES)


def _check_names(settings: Settings) -> None:
    """The derived (or overridden) AWS names: each must be valid for its service."""
    for bucket in (
        settings.raw_bucket,
        settings.processed_bucket,
        settings.reporting_bucket,
        settings.assets_bucket,
    ):
        _check_bucket(bucket)
    for database in (settings.processed_database, settings.analytics_database):
        _check(_GLUE_NAME_RE, "database", database, "lower-case letters, digits and _ (Glue/Athena)")
    for name in (
        settings.lambda_function,
        settings.clean_statistics_job,
        settings.build_analytics_job,
        settings.processed_crawler,
        settings.analytics_crawler,
        settings.athena_workgroup,
        settings.readers_workgroup,
    ):
        _check(_RESOURCE_NAME_RE, "resource name", name, "at most 64 of A-Z a-z 0-9 _ -")


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
