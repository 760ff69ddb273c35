"""Lake stack: the raw, processed, reporting and assets buckets, the Glue databases, the Athena workgroup.

Encryption decision: one customer-managed KMS key (rotated yearly) for every data bucket, with S3 bucket
keys so the KMS request cost stays flat. A customer key (not SSE-S3) because Glue's security configuration
must encrypt CloudWatch logs and job bookmarks with a KMS key anyway, Athena results use the same key, and
key access is a second, auditable gate in front of the data besides bucket policies. Only the access-log
bucket uses SSE-S3: S3 server access logging cannot deliver into an SSE-KMS bucket.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.stacks.common import lake_bucket, skip_checkov
from youtube_etl.settings import Settings
from youtube_lake.ledger import glue_table_input

#: Athena stops (and bills no further) a query that would scan more than this.
BYTES_SCANNED_CUTOFF = 10 * 1024**3


class LakeStack(Stack):
    """Storage and catalog; everything else reads names from settings and the key from here."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        report_expiry_days: int = 90,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.key = self._lake_key(settings)
        self.access_logs = self._access_log_bucket(settings)
        buckets = {
            construct_id: lake_bucket(
                self,
                construct_id,
                bucket_name=name,
                key=self.key,
                access_logs=self.access_logs,
                lifecycle_rules=rules,
            )
            for construct_id, (name, rules) in lifecycle_rules(settings, report_expiry_days).items()
        }
        self.raw, self.processed = buckets["Raw"], buckets["Processed"]
        self.reporting, self.assets = buckets["Reporting"], buckets["Assets"]
        databases = self._databases(settings)
        self.ledger_table = self._ledger_table(settings, databases[settings.processed_database])
        self.workgroups = self._workgroups(settings)
        self.workgroup = self.workgroups[settings.athena_workgroup]

    def _lake_key(self, settings: Settings) -> kms.Key:
        """The customer key of every data bucket, also usable by CloudWatch Logs of this account."""
        key = kms.Key(
            self,
            "LakeKey",
            alias=settings.lake_key_alias,
            description=f"{settings.project}-{settings.stage}: lake buckets, Glue logs and bookmarks, Athena",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Glue continuous logging, crawler logs and the Lambda's log group are encrypted with this key.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsOfThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{self.region}:{self.account}:*"
                    }
                },
            )
        )
        return key

    def _access_log_bucket(self, settings: Settings) -> s3.Bucket:
        """The S3 server access-log target (SSE-S3: access logging cannot deliver into SSE-KMS)."""
        bucket = s3.Bucket(
            self,
            "AccessLogs",
            bucket_name=settings.access_log_bucket,
            encryption=s3.BucketEncryption.S3_MANAGED,
            versioned=True,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(365),
                    noncurrent_version_expiration=Duration.days(30),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Every bucket of this account may deliver access logs here (also the MWAA source bucket, which
        # lives in another stack: a per-bucket SourceArn would make this stack depend on that one).
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="S3ServerAccessLogsFromThisAccount",
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects("*")],
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            )
        )
        skip_checkov(
            bucket,
            ("CKV_AWS_18", "this is the access-log target; logging it to itself would loop"),
            ("CKV_AWS_145", "S3 server access logging only delivers into SSE-S3 buckets"),
        )
        return bucket

    def _databases(self, settings: Settings) -> dict[str, glue.CfnDatabase]:
        """The processed and analytics Glue databases, by name."""
        databases: dict[str, glue.CfnDatabase] = {}
        for database, location, description in (
            (
                settings.processed_database,
                f"s3://{settings.processed_bucket}/youtube/",
                "Cleansed statistics and category reference (Parquet), tables made by the processed crawler",
            ),
            (
                settings.analytics_database,
                settings.analytics_uri,
                "Joined trending analytics and the Athena report tables",
            ),
        ):
            databases[database] = glue.CfnDatabase(
                self,
                f"Database{database.title().replace('_', '')}",
                catalog_id=self.account,
                database_input=glue.CfnDatabase.DatabaseInputProperty(
                    name=database, description=description, location_uri=location
                ),
            )
        return databases

    def _ledger_table(self, settings: Settings, database: glue.CfnDatabase) -> glue.CfnTable:
        """The landing ledger (docs/daily-pipeline.md) is JSON, not a crawler's Parquet: it is declared."""
        table = glue.CfnTable(
            self,
            "LandingLedgerTable",
            catalog_id=self.account,
            database_name=settings.processed_database,
            table_input=ledger_table_input(settings),
        )
        table.add_resource_dependency(database)
        return table

    def _workgroups(self, settings: Settings) -> dict[str, athena.CfnWorkGroup]:
        """Two workgroups, by name. Athena fails a CTAS with external_location in a workgroup that overrides
        client-side settings, so the pipeline's (CTAS reports, checks) cannot enforce its configuration;
        readers of the report views (QuickSight, analysts, the dashboard) get an enforced one."""
        workgroups = {
            "Workgroup": (settings.athena_workgroup, False, "youtube-etl pipeline: report CTAS and checks"),
            "ReadersWorkgroup": (
                settings.readers_workgroup,
                True,
                "youtube-etl report readers: enforced encrypted result location, per-query scan cutoff",
            ),
        }
        created: dict[str, athena.CfnWorkGroup] = {}
        for construct_id, (name, enforce, description) in workgroups.items():
            created[name] = athena.CfnWorkGroup(
                self,
                construct_id,
                name=name,
                description=description,
                state="ENABLED",
                work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                    enforce_work_group_configuration=enforce,
                    publish_cloud_watch_metrics_enabled=True,
                    bytes_scanned_cutoff_per_query=BYTES_SCANNED_CUTOFF,
                    engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                        selected_engine_version="Athena engine version 3"
                    ),
                    result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                        output_location=settings.athena_results_uri,
                        encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                            encryption_option="SSE_KMS", kms_key=self.key.key_arn
                        ),
                    ),
                ),
            )
        skip_checkov(
            created[settings.athena_workgroup],
            (
                "CKV_AWS_82",
                "Athena rejects CTAS external_location in an enforcing workgroup; results still default to "
                "SSE-KMS and only the MWAA role may use this workgroup",
            ),
        )
        return created


def lifecycle_rules(
    settings: Settings, report_expiry_days: int
) -> dict[str, tuple[str, list[s3.LifecycleRule]]]:
    """Construct id -> (bucket name, lifecycle rules) of the four data buckets, in creation order."""
    p = settings.prefixes
    noncurrent = Duration.days(30)
    return {
        "Raw": (
            settings.raw_bucket,
            [
                s3.LifecycleRule(
                    id="raw-to-cheaper-storage",
                    prefix="youtube/",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=Duration.days(30),
                        ),
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=Duration.days(90),
                        ),
                    ],
                    noncurrent_version_expiration=Duration.days(90),
                ),
                s3.LifecycleRule(id="expire-quarantine", prefix=p.quarantine, expiration=Duration.days(30)),
            ],
        ),
        # Jobs overwrite partitions in place: old versions are only a short safety net.
        "Processed": (
            settings.processed_bucket,
            [s3.LifecycleRule(id="expire-overwritten", noncurrent_version_expiration=noncurrent)],
        ),
        "Reporting": (
            settings.reporting_bucket,
            [
                s3.LifecycleRule(id="expire-overwritten", noncurrent_version_expiration=noncurrent),
                # The DAG keeps the newest report runs; this only catches runs it never got to delete.
                s3.LifecycleRule(
                    id="expire-old-report-runs",
                    prefix=p.reports,
                    expiration=Duration.days(report_expiry_days),
                ),
                s3.LifecycleRule(
                    id="expire-athena-results", prefix=p.athena_results, expiration=Duration.days(7)
                ),
            ],
        ),
        "Assets": (
            settings.assets_bucket,
            [
                s3.LifecycleRule(id="expire-overwritten", noncurrent_version_expiration=noncurrent),
                s3.LifecycleRule(id="expire-glue-temp", prefix=p.glue_temp, expiration=Duration.days(7)),
                s3.LifecycleRule(
                    id="expire-glue-metrics", prefix=p.glue_metrics, expiration=Duration.days(90)
                ),
            ],
        ),
    }


def ledger_table_input(settings: Settings) -> glue.CfnTable.TableInputProperty:
    """The landing ledger's table input (:func:`youtube_etl.ledger.glue_table_input`) as CDK properties."""
    ledger = glue_table_input(settings.landing_ledger_table, settings.landing_ledger_uri)
    storage = ledger["StorageDescriptor"]
    return glue.CfnTable.TableInputProperty(
        name=ledger["Name"],
        description=ledger["Description"],
        table_type=ledger["TableType"],
        parameters=ledger["Parameters"],
        storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
            columns=[
                glue.CfnTable.ColumnProperty(name=c["Name"], type=c["Type"]) for c in storage["Columns"]
            ],
            location=storage["Location"],
            input_format=storage["InputFormat"],
            output_format=storage["OutputFormat"],
            serde_info=glue.CfnTable.SerdeInfoProperty(
                serialization_library=storage["SerdeInfo"]["SerializationLibrary"],
                parameters=storage["SerdeInfo"]["Parameters"],
            ),
        ),
    )
