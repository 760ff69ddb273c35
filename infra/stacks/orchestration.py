"""Orchestration stack: Amazon MWAA (Airflow 3.3.1) in a private VPC, its source bucket and execution role.

The source bucket gets one bundle (``infra.mwaa.package.stage_bundle``): ``dags/`` with ``include/sql``,
``plugins.zip`` built from ``plugins/``, ``requirements.txt`` and ``startup.sh``. MWAA syncs ``dags/``
continuously but reads the other three only at the S3 object version the environment names: after each
upload a custom resource reads the new object's version (``HeadObject``) and the environment gets it, so a
redeploy with a changed file updates the environment (one that did not change leaves it alone).

The deployment values DAGs need (bucket names, account, region, stage, deferrable) are Airflow configuration
options of the ``youtube_etl`` section, so DAGs read them from ``airflow.configuration.conf`` with no call at
parse time. The one secret, the YouTube API key, is an Airflow connection served by the Secrets Manager
backend (:mod:`infra.stacks.connections`).
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
from dataclasses import fields, replace
from pathlib import Path

from aws_cdk import Annotations, CfnOutput, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_mwaa as mwaa
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.mwaa.package import AIRFLOW_VERSION, MWAA_DAGS_PATH, MWAA_SQL_SUBDIR, stage_bundle
from infra.stacks.common import (
    bucket_arn,
    deployment_log_group,
    glue_arns,
    list_prefixes,
    log_group_arn,
    objects_arn,
    skip_checkov,
)
from infra.stacks.connections import read_secret_statement, secrets_backend_options, youtube_api_secret
from youtube_etl.lineage import openlineage_options
from youtube_etl.settings import SECTION, Settings

MWAA_ENVIRONMENT_CLASS = "mw1.small"
MWAA_LOG_LEVEL = "INFO"
#: Bundle files MWAA reads at a pinned S3 object version (dags/ is synced without versions).
VERSIONED_FILES = ("plugins.zip", "requirements.txt", "startup.sh")


def airflow_configuration_options(settings: Settings) -> dict[str, str]:
    """``youtube_etl.<field>`` for every Settings field, with MWAA's values (deferrable, real names).

    Field names are exactly the ones :func:`youtube_etl.settings.get_settings` reads, so what the DAGs see
    on MWAA is ``settings`` itself.
    """
    values: dict[str, str] = {}
    resolved = {
        "raw_bucket_name": settings.raw_bucket,
        "processed_bucket_name": settings.processed_bucket,
        "reporting_bucket_name": settings.reporting_bucket,
        "assets_bucket_name": settings.assets_bucket,
        "processed_database_name": settings.processed_database,
        "analytics_database_name": settings.analytics_database,
    }
    for field in fields(settings):
        if not field.init or field.name == "prefixes":
            continue
        value = resolved.get(field.name, getattr(settings, field.name))
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if text:
            values[f"{SECTION}.{field.name}"] = text
    # The OpenLineage provider reads its own section: transport, namespace, our extractor (or disabled).
    values.update({f"openlineage.{k}": v for k, v in openlineage_options(settings).items()})
    return values


class OrchestrationStack(Stack):
    """MWAA, with exactly the AWS permissions the DAGs use."""

    @property
    def availability_zones(self) -> list[str]:
        """The region's first two AZs resolved at deploy time (no context lookup, nothing hard-coded)."""
        return [Fn.select(0, Fn.get_azs()), Fn.select(1, Fn.get_azs())]

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        key: kms.IKey,
        webserver_access: str = "PRIVATE_ONLY",
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        # On MWAA the provider operators defer to the triggerer; the SQL ships inside the dags folder.
        self.settings = replace(settings, deferrable=True, sql_folder=f"{MWAA_DAGS_PATH}/{MWAA_SQL_SUBDIR}")
        self._network(key)
        self.source_bucket = self._source_bucket()
        self._bundle(key)
        self.youtube_api_secret = youtube_api_secret(self, self.settings, key)
        self.execution_role = self._execution_role(key)
        self.airflow = self._environment(webserver_access)
        CfnOutput(self, "SourceBucket", value=self.source_bucket.bucket_name)
        CfnOutput(self, "YoutubeApiSecretName", value=self.settings.youtube_api_secret_name)
        CfnOutput(self, "WebserverUrl", value=self.airflow.attr_webserver_url)

    def _network(self, key: kms.IKey) -> None:
        """Two private subnets (MWAA needs two AZs), one NAT for requirements and AWS APIs, flow logs."""
        flow_logs = logs.LogGroup(
            self,
            "VpcFlowLogs",
            retention=logs.RetentionDays.ONE_YEAR,
            encryption_key=key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=1,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(
                    name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22
                ),
            ],
            flow_logs={
                "all": ec2.FlowLogOptions(destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs))
            },
            restrict_default_security_group=True,
        )
        for subnet in self.vpc.public_subnets:
            skip_checkov(
                subnet,
                ("CKV_AWS_130", "public subnets hold only the NAT gateway; MWAA runs in the private subnets"),
            )
        self.security_group = ec2.SecurityGroup(
            self,
            "MwaaSecurityGroup",
            vpc=self.vpc,
            description="MWAA: its components talk to each other; outbound for AWS APIs and pip",
            allow_all_outbound=True,
        )
        self.security_group.add_ingress_rule(
            self.security_group, ec2.Port.all_traffic(), "MWAA components reach each other (AWS requirement)"
        )

    def _source_bucket(self) -> s3.Bucket:
        """MWAA's versioned source bucket, access-logged into the lake stack's log bucket."""
        s = self.settings
        access_logs = s3.Bucket.from_bucket_name(self, "AccessLogs", s.access_log_bucket)
        bucket = s3.Bucket(
            self,
            "Source",
            bucket_name=s.mwaa_source_bucket,
            versioned=True,  # MWAA requires a versioned source bucket
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=f"{s.mwaa_source_bucket}/",
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-old-code", noncurrent_version_expiration=Duration.days(30)),
                s3.LifecycleRule(
                    id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=Duration.days(7)
                ),
            ],
            removal_policy=RemovalPolicy.DESTROY,
        )
        Annotations.of(bucket).acknowledge_warning(
            "@aws-cdk/aws-s3:accessLogsPolicyNotAdded",
            "the lake stack's access-log bucket policy admits every bucket of this account",
        )
        skip_checkov(
            bucket,
            ("CKV_AWS_145", "holds only code (dags, plugins.zip); SSE-S3 keeps MWAA's own reads keyless"),
        )
        return bucket

    def _bundle(self, key: kms.IKey) -> None:
        """Upload the bundle (``stage_bundle``) and read the S3 version of each file MWAA pins."""
        bundle = Path(tempfile.mkdtemp(prefix="youtube-etl-mwaa-"))
        atexit.register(shutil.rmtree, bundle, True)
        stage_bundle(bundle / "bundle")
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Bundle",
            sources=[s3deploy.Source.asset(str(bundle / "bundle"))],
            destination_bucket=self.source_bucket,
            prune=True,
            memory_limit=512,
            log_group=deployment_log_group(self, "BundleLogs", key),
        )
        bucket = self.settings.mwaa_source_bucket
        self.object_versions = {
            name: self._object_version(name, bundle / "bundle" / name, bucket, key)
            for name in VERSIONED_FILES
        }

    def _execution_role(self, key: kms.IKey) -> iam.Role:
        """MWAA's required statements plus what the DAGs call, the API key's secret, use of the lake key."""
        s = self.settings
        role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.CompositePrincipal(
                iam.ServicePrincipal("airflow.amazonaws.com"),
                iam.ServicePrincipal("airflow-env.amazonaws.com"),
            ),
            description=f"MWAA {s.mwaa_environment}: MWAA's required statements + the pipeline's "
            "Glue/Lambda/Athena/S3",
        )
        for statement in [
            *mwaa_statements(self, s),
            *service_statements(self, s),
            *s3_statements(s),
            read_secret_statement(self.youtube_api_secret),
        ]:
            role.add_to_policy(statement)
        key.grant_encrypt_decrypt(role)  # also decrypts the API key's secret (lake key)
        return role

    def _environment(self, webserver_access: str) -> mwaa.CfnEnvironment:
        """The MWAA environment, its files pinned at the versions just uploaded."""
        s = self.settings

        def log_type() -> mwaa.CfnEnvironment.ModuleLoggingConfigurationProperty:
            return mwaa.CfnEnvironment.ModuleLoggingConfigurationProperty(
                enabled=True, log_level=MWAA_LOG_LEVEL
            )

        airflow = mwaa.CfnEnvironment(
            self,
            "Airflow",
            name=s.mwaa_environment,
            airflow_version=AIRFLOW_VERSION,
            environment_class=MWAA_ENVIRONMENT_CLASS,
            min_workers=1,
            max_workers=2,
            schedulers=2,
            execution_role_arn=self.execution_role.role_arn,
            source_bucket_arn=self.source_bucket.bucket_arn,
            dag_s3_path="dags",
            plugins_s3_path="plugins.zip",
            plugins_s3_object_version=self.object_versions["plugins.zip"],
            requirements_s3_path="requirements.txt",
            requirements_s3_object_version=self.object_versions["requirements.txt"],
            startup_script_s3_path="startup.sh",
            startup_script_s3_object_version=self.object_versions["startup.sh"],
            webserver_access_mode=webserver_access,
            network_configuration=mwaa.CfnEnvironment.NetworkConfigurationProperty(
                security_group_ids=[self.security_group.security_group_id],
                subnet_ids=[subnet.subnet_id for subnet in self.vpc.private_subnets],
            ),
            logging_configuration=mwaa.CfnEnvironment.LoggingConfigurationProperty(
                dag_processing_logs=log_type(),
                scheduler_logs=log_type(),
                task_logs=log_type(),
                webserver_logs=log_type(),
                worker_logs=log_type(),
            ),
            airflow_configuration_options={
                **airflow_configuration_options(s),
                **secrets_backend_options(s),
                "core.load_examples": "False",
            },
            weekly_maintenance_window_start="SUN:03:00",
            tags={"project": s.project, "stage": s.stage},
        )
        airflow.node.add_dependency(self.deployment)
        # The role itself is implied by ExecutionRoleArn; its policy must exist before MWAA validates it.
        policy = self.execution_role.node.try_find_child("DefaultPolicy")
        if policy is not None:
            airflow.node.add_dependency(policy)
        return airflow

    def _object_version(self, name: str, staged: Path, bucket: str, key: kms.IKey) -> str:
        """The S3 version of a bundle file once the deployment uploaded it (a deploy-time token).

        The call's physical id carries the file's hash: a changed file makes CloudFormation run it again after
        the new upload; an unchanged one keeps the version the environment already has.
        """
        digest = hashlib.sha256(staged.read_bytes()).hexdigest()[:16]
        call = cr.AwsSdkCall(
            service="S3",
            action="headObject",
            parameters={"Bucket": bucket, "Key": name},
            physical_resource_id=cr.PhysicalResourceId.of(f"{name}@{digest}"),
            output_paths=["VersionId"],
        )
        resource_id = "".join(part.capitalize() for part in name.replace(".", "_").split("_"))
        version = cr.AwsCustomResource(
            self,
            f"{resource_id}Version",
            on_create=call,
            on_update=call,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[objects_arn(bucket, name)]
                    )
                ]
            ),
            install_latest_aws_sdk=False,
            log_group=deployment_log_group(self, f"{resource_id}VersionLogs", key),
        )
        version.node.add_dependency(self.deployment)
        return version.get_response_field("VersionId")


def mwaa_statements(stack: Stack, s: Settings) -> list[iam.PolicyStatement]:
    """The statements every MWAA execution role needs (AWS's documented policy, scoped to this stage)."""
    region, account, env_name = stack.region, stack.account, s.mwaa_environment
    airflow_logs = log_group_arn(stack, f"airflow-{env_name}-*")
    source = [bucket_arn(s.mwaa_source_bucket), objects_arn(s.mwaa_source_bucket)]
    return [
        iam.PolicyStatement(
            actions=["airflow:PublishMetrics"],
            resources=[f"arn:aws:airflow:{region}:{account}:environment/{env_name}"],
        ),
        iam.PolicyStatement(effect=iam.Effect.DENY, actions=["s3:ListAllMyBuckets"], resources=source),
        iam.PolicyStatement(actions=["s3:GetObject*", "s3:GetBucket*", "s3:List*"], resources=source),
        iam.PolicyStatement(
            actions=[
                "logs:CreateLogStream",
                "logs:CreateLogGroup",
                "logs:PutLogEvents",
                "logs:GetLogEvents",
                "logs:GetLogRecord",
                "logs:GetLogGroupFields",
                "logs:GetQueryResults",
            ],
            resources=[airflow_logs, f"{airflow_logs}:log-stream:*"],
        ),
        iam.PolicyStatement(
            actions=["logs:DescribeLogGroups", "s3:GetAccountPublicAccessBlock", "cloudwatch:PutMetricData"],
            resources=["*"],  # these actions have no resource type
        ),
        iam.PolicyStatement(
            actions=[
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:ReceiveMessage",
                "sqs:SendMessage",
            ],
            resources=[f"arn:aws:sqs:{region}:*:airflow-celery-*"],
        ),
        iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*", "kms:Encrypt"],
            not_resources=[f"arn:aws:kms:*:{account}:key/*"],
            conditions={"StringLike": {"kms:ViaService": [f"sqs.{region}.amazonaws.com"]}},
        ),
    ]


def service_statements(stack: Stack, s: Settings) -> list[iam.PolicyStatement]:
    """What the DAGs call besides S3: the Glue jobs and crawlers, their logs, the Lambda, Athena."""
    region, account = stack.region, stack.account
    function = f"arn:aws:lambda:{region}:{account}:function:{s.lambda_function}"
    glue_logs = log_group_arn(stack, "/aws-glue/*")
    return [
        iam.PolicyStatement(
            actions=[
                "glue:StartJobRun",
                "glue:GetJobRun",
                "glue:GetJobRuns",
                "glue:GetJob",
                "glue:BatchStopJobRun",
            ],
            resources=[f"arn:aws:glue:{region}:{account}:job/{job}" for job in s.glue_jobs],
        ),
        iam.PolicyStatement(
            actions=["glue:StartCrawler", "glue:GetCrawler"],
            resources=[f"arn:aws:glue:{region}:{account}:crawler/{name}" for name in s.crawler_targets],
        ),
        iam.PolicyStatement(actions=["glue:GetCrawlerMetrics"], resources=["*"]),  # no resource type
        iam.PolicyStatement(
            actions=["logs:GetLogEvents", "logs:FilterLogEvents", "logs:DescribeLogStreams"],
            resources=[glue_logs, f"{glue_logs}:log-stream:*"],
        ),
        iam.PolicyStatement(
            actions=["lambda:InvokeFunction", "lambda:GetFunction"], resources=[function, f"{function}:*"]
        ),
        iam.PolicyStatement(
            actions=[
                "athena:StartQueryExecution",
                "athena:GetQueryExecution",
                "athena:GetQueryResults",
                "athena:StopQueryExecution",
                "athena:GetWorkGroup",
            ],
            resources=[f"arn:aws:athena:{region}:{account}:workgroup/{s.athena_workgroup}"],
        ),
        # Athena runs the report CTAS/DDL with the caller's catalog permissions.
        iam.PolicyStatement(
            actions=[
                "glue:GetDatabase",
                "glue:GetDatabases",
                "glue:GetTable",
                "glue:GetTables",
                "glue:GetPartition",
                "glue:GetPartitions",
                "glue:BatchGetPartition",
            ],
            resources=glue_arns(stack, s, [s.processed_database, s.analytics_database]),
        ),
        iam.PolicyStatement(
            actions=["glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable", "glue:BatchCreatePartition"],
            resources=glue_arns(stack, s, [s.analytics_database]),
        ),
    ]


def s3_statements(s: Settings) -> list[iam.PolicyStatement]:
    """The DAGs' S3 access: sensors and Athena reads, the ingest plan and ledger, report runs."""
    p = s.prefixes
    return [
        # Sensors and Athena reads.
        iam.PolicyStatement(
            actions=["s3:GetObject"],
            resources=[
                objects_arn(s.raw_bucket, p.raw_statistics),
                objects_arn(s.raw_bucket, p.raw_reference),
                objects_arn(s.processed_bucket, p.statistics),
                objects_arn(s.processed_bucket, p.category_reference),
                objects_arn(s.reporting_bucket, p.analytics),
                objects_arn(s.assets_bucket, p.glue_metrics),
            ],
        ),
        # plan_increment lists the whole raw bucket (key names only: it reads nothing outside the
        # landing prefixes) so that an object dropped anywhere else is reported as ignored.
        iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket_arn(s.raw_bucket)]),
        list_prefixes(s.processed_bucket, [p.statistics, p.category_reference, p.landing_ledger]),
        list_prefixes(s.reporting_bucket, [p.analytics, p.reports, p.athena_results]),
        list_prefixes(s.assets_bucket, [p.glue_metrics, p.ingest_plans]),
        # youtube_ingest: plan_increment reads the ledger and writes the run's plan; record_verdicts
        # writes the ledger documents of ignored objects.
        iam.PolicyStatement(
            actions=["s3:GetObject", "s3:PutObject"],
            resources=[
                objects_arn(s.processed_bucket, p.landing_ledger),
                objects_arn(s.assets_bucket, p.ingest_plans),
            ],
        ),
        # Report runs (CTAS output, retention deletes) and Athena query results.
        iam.PolicyStatement(
            actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            resources=[
                objects_arn(s.reporting_bucket, p.reports),
                objects_arn(s.reporting_bucket, p.athena_results),
            ],
        ),
        iam.PolicyStatement(
            actions=["s3:GetBucketLocation"],
            resources=[bucket_arn(b) for b in (s.raw_bucket, s.processed_bucket, s.reporting_bucket)],
        ),
    ]
