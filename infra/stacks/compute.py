"""Compute stack: the JSON-to-Parquet Lambda, the Glue 5.1 jobs and the two crawlers, one role per service.

Buckets are referenced by their settings names (not CloudFormation exports) so the lake stack can change
without export locks; only the lake key crosses stacks. Every IAM statement is scoped to the buckets,
prefixes, databases and tables the service touches.
"""

from __future__ import annotations

import json

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import packaging
from infra.stacks.common import (
    REPO_ROOT,
    deployment_log_group,
    glue_arns,
    list_prefixes,
    log_group_arn,
    mark_owned,
    objects_arn,
    skip_checkov,
)
from youtube_etl.settings import Settings

LAMBDA_SOURCE = REPO_ROOT / "include" / "lambda" / "json_to_parquet"
GLUE_SOURCE = REPO_ROOT / "include" / "glue"
#: Owner account of the AWS SDK for pandas managed layers (same in every commercial region it serves).
PANDAS_LAYER_ACCOUNT = "336392948345"

# Sized from the JSON-to-Parquet benchmark (FACTS.md): a 50 MB category-style JSON peaks at 634 MB and takes
# 4.3 s with awswrangler on one core; the real category files are ~10 KB. 1 GB also buys a full vCPU share.
LAMBDA_MEMORY_MB = 1024
LAMBDA_TIMEOUT = Duration.minutes(2)
#: Eleven regional files arrive together at most; more in parallel would only contend on the Glue catalog.
LAMBDA_RESERVED_CONCURRENCY = 5

#: Glue 5.1 = Spark 3.5.6 on Python 3.11. Two G.1X workers (4 vCPU, 16 GB each) clean the 1.4 GB
#: benchmark file in about the time local[2] needs (44 s): the data is small, more workers only add startup.
GLUE_VERSION = "5.1"
GLUE_WORKER_TYPE = "G.1X"
GLUE_WORKERS = 2
GLUE_TIMEOUT_MINUTES = 60

_CODE_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/test_*", "**/tests", "**/.pytest_cache"]


def pandas_layer_arn(region: str, version: int) -> str:
    """ARN of the AWS SDK for pandas managed layer for Python 3.12 on x86_64 in ``region``."""
    return f"arn:aws:lambda:{region}:{PANDAS_LAYER_ACCOUNT}:layer:AWSSDKPandas-Python312:{version}"


class ComputeStack(Stack):
    """The code that moves data: Lambda for category JSON, Glue jobs and crawlers for the rest."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        key: kms.IKey,
        pandas_layer_version: int,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.settings = settings
        self.key = key
        # ---- Lambda ----
        self.dlq = self._failure_queue()
        log_group = self._lambda_log_group()
        self.lambda_role = self._role(
            "LambdaRole",
            "lambda.amazonaws.com",
            "json_to_parquet: read category JSON, write Parquet + catalog, quarantine rejects",
            lambda_statements(self, settings, log_group.log_group_arn),
        )
        self.key.grant_encrypt_decrypt(self.lambda_role)
        self.function = self._function(pandas_layer_version, log_group)
        self._reference_events()
        # ---- Glue ----
        self.security_configuration = self._security_configuration()
        self.scripts = self._glue_scripts()
        log_statement, metrics_statement = glue_log_statement(self), glue_metrics_statement()
        self.job_role = self._role(
            "GlueJobRole",
            "glue.amazonaws.com",
            "Glue jobs clean_statistics and build_analytics: their prefixes only",
            [log_statement, metrics_statement, *glue_job_statements(settings)],
        )
        self.key.grant_encrypt_decrypt(self.job_role)
        self.jobs = self._glue_jobs()
        self.crawler_role = self._role(
            "CrawlerRole",
            "glue.amazonaws.com",
            "Glue crawlers processed and analytics: read their targets, write their databases",
            [log_statement, *crawler_statements(self, settings)],
        )
        self.key.grant_decrypt(self.crawler_role)
        self.key.grant(self.crawler_role, "kms:GenerateDataKey")  # encrypted crawler logs
        self.crawlers = self._crawlers()

    def _role(
        self, construct_id: str, service: str, description: str, statements: list[iam.PolicyStatement]
    ) -> iam.Role:
        """A role ``service`` assumes, with exactly ``statements`` (CloudFormation names it)."""
        role = iam.Role(self, construct_id, assumed_by=iam.ServicePrincipal(service), description=description)
        for statement in statements:
            role.add_to_policy(statement)
        return role

    # ---- Lambda ---------------------------------------------------------------------------------
    def _failure_queue(self) -> sqs.Queue:
        """The Lambda's on-failure destination: events it gave up on, kept 14 days."""
        return sqs.Queue(
            self,
            "LambdaFailures",
            queue_name=self.settings.lambda_failure_queue,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )

    def _lambda_log_group(self) -> logs.LogGroup:
        return logs.LogGroup(
            self,
            "LambdaLogs",
            log_group_name=self.settings.lambda_log_group,
            retention=logs.RetentionDays.ONE_YEAR,
            encryption_key=self.key,
            removal_policy=RemovalPolicy.DESTROY,
        )

    def _function(self, pandas_layer_version: int, log_group: logs.LogGroup) -> lambda_.Function:
        """json_to_parquet with the AWS SDK for pandas layer; retried twice, then to the failure queue."""
        s = self.settings
        function = lambda_.Function(
            self,
            "JsonToParquet",
            function_name=s.lambda_function,
            description="Category reference JSON -> Parquet (processed bucket) + Glue catalog",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.X86_64,
            handler="handler.handler",
            # The handler modules plus youtube_lake/, staged as one folder (infra.packaging).
            code=lambda_.Code.from_asset(str(packaging.stage_lambda()), exclude=_CODE_EXCLUDES),
            layers=[
                lambda_.LayerVersion.from_layer_version_arn(
                    self, "AwsSdkPandas", pandas_layer_arn(self.region, pandas_layer_version)
                )
            ],
            memory_size=LAMBDA_MEMORY_MB,
            timeout=LAMBDA_TIMEOUT,
            reserved_concurrent_executions=LAMBDA_RESERVED_CONCURRENCY,
            environment=s.lambda_environment(),
            environment_encryption=self.key,
            role=self.lambda_role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            retry_attempts=2,
            max_event_age=Duration.hours(6),
            on_failure=destinations.SqsDestination(self.dlq),
        )
        mark_owned(function)
        skip_checkov(
            function,
            (
                "CKV_AWS_116",
                "failures go to an on-failure destination (SQS), which keeps the error a DLQ drops",
            ),
            (
                "CKV_AWS_117",
                "talks only to S3 and Glue public endpoints; a VPC would add NAT cost, no isolation",
            ),
        )
        return function

    def _reference_events(self) -> None:
        """Ad-hoc drops of category files are converted at once; Airflow invokes the same function on
        schedule. One filter per accepted suffix (S3 filters have one suffix; these two do not overlap).
        The planner takes exactly these keys from the reference prefix; any other key gets its verdict from
        the run."""
        raw = s3.Bucket.from_bucket_name(self, "RawBucket", self.settings.raw_bucket)
        for prefix, suffix in self.settings.reference_event_filters:
            raw.add_event_notification(
                s3.EventType.OBJECT_CREATED,
                s3n.LambdaDestination(self.function),
                s3.NotificationKeyFilter(prefix=prefix, suffix=suffix),
            )

    # ---- Glue -----------------------------------------------------------------------------------
    def _security_configuration(self) -> glue.CfnSecurityConfiguration:
        """Glue's S3 output, CloudWatch logs and bookmarks, all encrypted with the lake key."""
        key_arn = self.key.key_arn
        return glue.CfnSecurityConfiguration(
            self,
            "GlueSecurity",
            name=self.settings.glue_security_configuration,
            encryption_configuration=glue.CfnSecurityConfiguration.EncryptionConfigurationProperty(
                s3_encryptions=[
                    glue.CfnSecurityConfiguration.S3EncryptionProperty(
                        s3_encryption_mode="SSE-KMS", kms_key_arn=key_arn
                    )
                ],
                cloud_watch_encryption=glue.CfnSecurityConfiguration.CloudWatchEncryptionProperty(
                    cloud_watch_encryption_mode="SSE-KMS", kms_key_arn=key_arn
                ),
                job_bookmarks_encryption=glue.CfnSecurityConfiguration.JobBookmarksEncryptionProperty(
                    job_bookmarks_encryption_mode="CSE-KMS", kms_key_arn=key_arn
                ),
            ),
        )

    def _glue_scripts(self) -> s3deploy.BucketDeployment:
        """Scripts go to the assets bucket under the settings' prefix, where jobs' ScriptLocation points."""
        s = self.settings
        assets = s3.Bucket.from_bucket_attributes(
            self, "AssetsBucket", bucket_name=s.assets_bucket, encryption_key=self.key
        )
        GLUE_SOURCE.mkdir(parents=True, exist_ok=True)
        return s3deploy.BucketDeployment(
            self,
            "GlueScripts",
            sources=[
                s3deploy.Source.asset(str(GLUE_SOURCE), exclude=_CODE_EXCLUDES),
                # youtube_lake.zip (--extra-py-files) beside the scripts.
                s3deploy.Source.asset(str(packaging.stage_glue_libraries())),
            ],
            destination_bucket=assets,
            destination_key_prefix=s.prefixes.glue_scripts,
            server_side_encryption=s3deploy.ServerSideEncryption.AWS_KMS,
            server_side_encryption_aws_kms_key_id=self.key.key_arn,
            memory_limit=512,
            log_group=deployment_log_group(self, "GlueScriptsLogs", self.key),
        )

    def _glue_jobs(self) -> dict[str, glue.CfnJob]:
        """One job per script in ``settings.glue_jobs``, with the settings' default arguments."""
        s = self.settings
        jobs: dict[str, glue.CfnJob] = {}
        for job_name, script in s.glue_jobs.items():
            job = glue.CfnJob(
                self,
                f"Job{script.removesuffix('.py').title().replace('_', '')}",
                name=job_name,
                description=f"include/glue/{script} (idempotent: replaces its partitions, no bookmarks)",
                role=self.job_role.role_arn,
                command=glue.CfnJob.JobCommandProperty(
                    name="glueetl", python_version="3", script_location=s.glue_script_uri(script)
                ),
                glue_version=GLUE_VERSION,
                worker_type=GLUE_WORKER_TYPE,
                number_of_workers=GLUE_WORKERS,
                timeout=GLUE_TIMEOUT_MINUTES,
                max_retries=0,  # Airflow retries the task; a Glue-level retry would double-run on top.
                execution_property=glue.CfnJob.ExecutionPropertyProperty(max_concurrent_runs=1),
                security_configuration=self.security_configuration.name,
                default_arguments={
                    **s.glue_job_arguments(job_name),
                    "--enable-metrics": "true",
                    "--enable-observability-metrics": "true",
                    "--job-language": "python",
                },
            )
            job.node.add_dependency(self.scripts)
            job.add_resource_dependency(self.security_configuration)
            jobs[job_name] = job
        return jobs

    def _crawlers(self) -> dict[str, glue.CfnCrawler]:
        """One crawler per entry of ``settings.crawler_targets``."""
        crawlers: dict[str, glue.CfnCrawler] = {}
        for name, (database, targets) in self.settings.crawler_targets.items():
            crawlers[name] = glue.CfnCrawler(
                self,
                f"Crawler{name.rsplit('-', 1)[-1].title()}",
                name=name,
                description=f"Tables and region partitions of {database} from {', '.join(targets)}",
                role=self.crawler_role.role_arn,
                database_name=database,
                targets=glue.CfnCrawler.TargetsProperty(
                    s3_targets=[glue.CfnCrawler.S3TargetProperty(path=target) for target in targets]
                ),
                # Jobs rewrite partitions in place, so new-folders-only would miss changed files and schemas.
                recrawl_policy=glue.CfnCrawler.RecrawlPolicyProperty(recrawl_behavior="CRAWL_EVERYTHING"),
                schema_change_policy=glue.CfnCrawler.SchemaChangePolicyProperty(
                    update_behavior="UPDATE_IN_DATABASE", delete_behavior="LOG"
                ),
                configuration=CRAWLER_CONFIGURATION,
                crawler_security_configuration=self.security_configuration.name,
            )
            crawlers[name].add_resource_dependency(self.security_configuration)
        return crawlers


CRAWLER_CONFIGURATION = json.dumps(
    {
        "Version": 1.0,
        "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"},
        "CrawlerOutput": {
            "Partitions": {"AddOrUpdateBehavior": "InheritFromTable"},
            "Tables": {"AddOrUpdateBehavior": "MergeNewColumns"},
        },
    }
)


def lambda_statements(stack: Stack, s: Settings, log_group_arn: str) -> list[iam.PolicyStatement]:
    """json_to_parquet's permissions: its log group, the reference prefix, its partition, the catalog."""
    p = s.prefixes
    catalog = f"arn:aws:glue:{stack.region}:{stack.account}"
    return [
        iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group_arn]),
        # The raw bucket is versioned: the function reads (and copies to the quarantine) the exact
        # version it decided on, so it needs GetObjectVersion besides GetObject.
        iam.PolicyStatement(
            actions=["s3:GetObject", "s3:GetObjectVersion"],
            resources=[objects_arn(s.raw_bucket, p.raw_reference)],
        ),
        list_prefixes(s.raw_bucket, [p.raw_reference]),
        iam.PolicyStatement(actions=["s3:PutObject"], resources=[objects_arn(s.raw_bucket, p.quarantine)]),
        # The region partition: read its object (source metadata, ids), replace it with conditional
        # PUTs (If-Match / If-None-Match need nothing beyond PutObject), delete stray objects.
        iam.PolicyStatement(
            actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            resources=[objects_arn(s.processed_bucket, p.category_reference)],
        ),
        list_prefixes(s.processed_bucket, [p.category_reference]),
        # Ledger documents of category files: written, never read or deleted by the function.
        iam.PolicyStatement(
            actions=["s3:PutObject"], resources=[objects_arn(s.processed_bucket, p.landing_ledger)]
        ),
        # register_partition's catalog calls: get_partition, then awswrangler's create_parquet_table
        # (mode="append": get_table, create_table or update_table) and add_parquet_partitions.
        iam.PolicyStatement(
            actions=[
                "glue:GetTable",
                "glue:CreateTable",
                "glue:UpdateTable",
                "glue:GetPartition",
                "glue:BatchCreatePartition",
            ],
            resources=[
                f"{catalog}:catalog",
                f"{catalog}:database/{s.processed_database}",
                f"{catalog}:table/{s.processed_database}/{s.category_reference_table}",
            ],
        ),
    ]


def glue_log_statement(stack: Stack) -> iam.PolicyStatement:
    """Glue's (encrypted) continuous and crawler logs, shared by the job and crawler roles."""
    glue_logs = log_group_arn(stack, "/aws-glue/*")
    return iam.PolicyStatement(
        actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"],
        resources=[glue_logs, f"{glue_logs}:log-stream:*"],
    )


def glue_metrics_statement() -> iam.PolicyStatement:
    return iam.PolicyStatement(
        actions=["cloudwatch:PutMetricData"],
        resources=["*"],  # PutMetricData has no resource type; the namespace condition scopes it.
        conditions={"StringEquals": {"cloudwatch:namespace": "Glue"}},
    )


def glue_job_statements(s: Settings) -> list[iam.PolicyStatement]:
    """The jobs' S3 access: each prefix a job reads or writes, nothing more."""
    p = s.prefixes
    read_write = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    return [
        iam.PolicyStatement(
            actions=["s3:GetObject"], resources=[objects_arn(s.raw_bucket, p.raw_statistics)]
        ),
        list_prefixes(s.raw_bucket, [p.raw_statistics, p.quarantine]),
        iam.PolicyStatement(
            actions=read_write, resources=[objects_arn(s.raw_bucket, f"{p.quarantine}statistics/")]
        ),
        iam.PolicyStatement(actions=read_write, resources=[objects_arn(s.processed_bucket, p.statistics)]),
        iam.PolicyStatement(
            actions=["s3:GetObject"], resources=[objects_arn(s.processed_bucket, p.category_reference)]
        ),
        list_prefixes(s.processed_bucket, [p.statistics, p.category_reference]),
        # clean_statistics records one ledger document per file it took (it never reads them).
        iam.PolicyStatement(
            actions=["s3:PutObject"], resources=[objects_arn(s.processed_bucket, p.landing_ledger)]
        ),
        iam.PolicyStatement(actions=read_write, resources=[objects_arn(s.reporting_bucket, p.analytics)]),
        list_prefixes(s.reporting_bucket, [p.analytics]),
        iam.PolicyStatement(
            actions=["s3:GetObject"],
            resources=[
                objects_arn(s.assets_bucket, p.glue_scripts),
                objects_arn(s.assets_bucket, p.ingest_plans),  # the run's plan (plan_increment)
            ],
        ),
        iam.PolicyStatement(
            actions=read_write,
            resources=[
                objects_arn(s.assets_bucket, p.glue_temp),
                objects_arn(s.assets_bucket, p.glue_metrics),
            ],
        ),
        list_prefixes(s.assets_bucket, [p.glue_scripts, p.glue_temp, p.glue_metrics]),
    ]


def crawler_statements(stack: Stack, s: Settings) -> list[iam.PolicyStatement]:
    """The crawlers read their targets and write the tables and partitions of their databases."""
    p = s.prefixes
    return [
        iam.PolicyStatement(
            actions=["s3:GetObject"],
            resources=[
                objects_arn(s.processed_bucket, p.statistics),
                objects_arn(s.processed_bucket, p.category_reference),
                objects_arn(s.reporting_bucket, p.analytics),
            ],
        ),
        list_prefixes(s.processed_bucket, [p.statistics, p.category_reference]),
        list_prefixes(s.reporting_bucket, [p.analytics]),
        iam.PolicyStatement(
            actions=[
                "glue:GetDatabase",
                "glue:GetTable",
                "glue:GetTables",
                "glue:CreateTable",
                "glue:UpdateTable",
                "glue:GetPartition",
                "glue:GetPartitions",
                "glue:BatchGetPartition",
                "glue:CreatePartition",
                "glue:BatchCreatePartition",
                "glue:UpdatePartition",
                "glue:BatchUpdatePartition",
            ],
            resources=glue_arns(stack, s, [s.processed_database, s.analytics_database]),
        ),
        iam.PolicyStatement(
            actions=["glue:GetSecurityConfiguration"],
            resources=["*"],  # no resource type for security configurations; read-only.
        ),
    ]
