"""Deploy contracts: what the CDK stacks and the local runtime hand the deployed code — the Lambda's
environment, each Glue job's arguments, the crawlers' targets, the SQL templates' parameters.

The Lambda and the Glue scripts never import the settings: they receive these values, built here once so
that AWS and the local runtime set exactly the same ones.
"""

from __future__ import annotations

from typing import Any

from youtube_etl.settings.errors import SettingsError
from youtube_etl.settings.names import Names
from youtube_lake.landing import REFERENCE_SUFFIXES
from youtube_lake.regions import parse_region_codes


class DeployContracts(Names):
    """What infra passes to the deployed code (a base of :class:`~youtube_etl.settings.Settings`)."""

    # The options the deployed code receives (fields of Settings).
    data_regions: str
    category_drop_threshold: float
    min_categories: int
    reference_max_bytes: int
    reject_threshold: float
    trending_feed_start: str
    top_n: int
    row_drop_threshold: float

    @property
    def region_codes(self) -> tuple[str, ...]:
        """:attr:`data_regions` as a tuple, in the configured order."""
        return parse_region_codes(self.data_regions)

    @property
    def reference_event_filters(self) -> tuple[tuple[str, str], ...]:
        """(prefix, suffix) of each S3 notification that sends category drops to the Lambda (CDK and the
        local runtime). S3 filters have one suffix each, matched case-sensitively; the planner takes exactly
        these keys in the reference prefix (``youtube_etl.landing.landing_kinds``), so the event path and
        the scheduled path agree on which files are category files."""
        return tuple((self.prefixes.raw_reference, suffix) for suffix in REFERENCE_SUFFIXES)

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
            # Fewer categories than this in one file: quarantined even as a region's first file.
            "MIN_CATEGORIES": str(self.min_categories),
            "MAX_BODY_BYTES": str(self.reference_max_bytes),
        }

    def _glue_arguments(self, job: str) -> dict[str, str]:
        """What every Glue job gets."""
        return {
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

    def clean_statistics_arguments(self) -> dict[str, str]:
        """Default arguments of the clean_statistics job (``--key``: value)."""
        return self._glue_arguments(self.clean_statistics_job) | {
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

    def build_analytics_arguments(self) -> dict[str, str]:
        """Default arguments of the build_analytics job (``--key``: value)."""
        return self._glue_arguments(self.build_analytics_job) | {
            "--statistics_path": self.statistics_uri,
            "--category_path": self.category_reference_uri,
            "--target_path": self.analytics_uri,
        }

    def glue_job_arguments(self, job: str) -> dict[str, str]:
        """Default arguments of a Glue job by name, as the CDK stack and the local runtime set them."""
        arguments = {
            self.clean_statistics_job: self.clean_statistics_arguments,
            self.build_analytics_job: self.build_analytics_arguments,
        }
        if job not in arguments:
            raise SettingsError(
                f"unknown Glue job {job!r}; known: {self.clean_statistics_job}, {self.build_analytics_job}"
            )
        return arguments[job]()

    @property
    def glue_libraries(self) -> tuple[str, ...]:
        """What the job scripts import (``--extra-py-files``): modules under ``include/glue/`` and the lake's
        contracts as ``youtube_lake.zip`` (``infra.packaging``), uploaded beside the scripts."""
        return (
            "lake_io.py",
            "statistics_formats.py",
            "statistics_rules.py",
            "statistics_pages.py",
            "statistics_inspect.py",
            "statistics_read.py",
            "statistics_increment.py",
            "statistics_verdicts.py",
            "youtube_lake.zip",
        )

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

    def sql_settings(self) -> dict[str, Any]:
        """What the SQL in ``include/sql/`` reads as ``settings``: names, top N and thresholds. The reporting
        DAG gives them as a user-defined macro, not as ``params``: Airflow validates every param of every
        task each time it serializes the DAG (0.35 of the 0.4 s it took, on every parse), and a manual run's
        conf must not point a CTAS at another database."""
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
