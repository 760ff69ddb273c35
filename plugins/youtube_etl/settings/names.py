"""Names: every bucket, prefix, database, table, crawler, job, function, workgroup, role, queue, topic, alarm,
stack and S3 URI of one deployment, derived from its options (:mod:`.options`).

The DAGs, the CDK stacks and the local AWS runtime read names here and nowhere else, so a name is the same on
AWS and locally.
"""

from __future__ import annotations

from dataclasses import dataclass

from youtube_lake.metrics import metrics_uri
from youtube_lake.runs import run_folder, safe_run_id


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


class Names:
    """The names a deployment's options give (a base of :class:`~youtube_etl.settings.Settings`)."""

    # The options names derive from (fields of Settings).
    project: str
    stage: str
    account: str
    region: str
    raw_bucket_name: str
    processed_bucket_name: str
    reporting_bucket_name: str
    assets_bucket_name: str
    processed_database_name: str
    analytics_database_name: str
    alerts_topic_arn: str
    youtube_api_conn_id: str
    prefixes: Prefixes

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
    statistics_table = "statistics"
    category_reference_table = "category_reference"
    analytics_table = "trending"
    #: The landing ledger's Glue table (OpenX JSON SerDe over ``prefixes.landing_ledger``).
    landing_ledger_table = "landing_ledger"

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
