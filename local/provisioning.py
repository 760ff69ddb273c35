"""This project's resources in the local AWS runtime, named by settings, as the CDK stacks deploy them.

:func:`provision` is the provisioning hook ``LocalRuntime`` gives :class:`localaws.LocalAWS`: IAM roles,
the buckets, the Glue databases and the landing ledger's table, the Lambda (packaged by
:mod:`infra.packaging` like the CDK asset: its modules plus ``youtube_lake/``) with its S3 trigger and
failure queue, the Glue jobs (scripts, the modules they share from ``include/glue`` and
``youtube_lake.zip``), the crawlers, the Athena workgroups and the alerts
topic (with a local inbox queue subscribed to it, standing in for the email subscription).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infra import packaging
from localaws import LOCAL_ACCOUNT, LocalAWS
from youtube_etl.settings import Settings
from youtube_lake.ledger import glue_table_input

REPO_ROOT = packaging.REPO_ROOT
LAMBDA_SOURCE = packaging.LAMBDA_SOURCE
GLUE_SOURCE = packaging.GLUE_SOURCE


def package_lambda(source: Path = LAMBDA_SOURCE) -> bytes:
    """The Lambda's zip as the CDK asset holds it: its modules at the root, plus ``youtube_lake/``."""
    return packaging.lambda_zip(source)


def _roles(settings: Settings) -> dict[str, tuple[str, str]]:
    """Service -> (role name from settings, principal that assumes it)."""
    return {
        "lambda": (settings.lambda_role, "lambda.amazonaws.com"),
        "glue": (settings.glue_role, "glue.amazonaws.com"),
    }


def role_arn(settings: Settings, service: str) -> str:
    """ARN of the local role of ``service`` (``lambda`` or ``glue``)."""
    return f"arn:aws:iam::{LOCAL_ACCOUNT}:role/{_roles(settings)[service][0]}"


def alerts_topic_arn(settings: Settings) -> str:
    return f"arn:aws:sns:{settings.region}:{LOCAL_ACCOUNT}:{settings.alerts_topic}"


def provision(aws: LocalAWS, settings: Settings) -> None:
    """Create every resource the pipeline uses, named by settings, as the CDK stacks do on AWS."""
    s = settings
    iam = aws.client("iam")
    for name, principal in _roles(s).values():
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}
            ],
        }
        try:
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        except iam.exceptions.EntityAlreadyExistsException:
            pass

    s3 = aws.client("s3")
    for bucket in s.buckets:
        if s.region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": s.region})
    s3.put_bucket_versioning(Bucket=s.raw_bucket, VersioningConfiguration={"Status": "Enabled"})

    glue = aws.client("glue")
    for database in (s.processed_database, s.analytics_database):
        try:
            glue.create_database(DatabaseInput={"Name": database})
        except glue.exceptions.AlreadyExistsException:
            pass
    # The landing ledger's table (JSON documents, declared like the lake stack declares it).
    try:
        glue.create_table(
            DatabaseName=s.processed_database,
            TableInput=glue_table_input(s.landing_ledger_table, s.landing_ledger_uri),
        )
    except glue.exceptions.AlreadyExistsException:
        pass
    _provision_alerts(aws, s)
    _provision_lambda(aws, s)
    _provision_glue_jobs(aws, s)
    _provision_crawlers(aws, s)
    athena = aws.client("athena")
    names = [w["Name"] for w in athena.list_work_groups()["WorkGroups"]]
    # The pipeline's CTAS needs external_location, which an enforcing workgroup rejects; readers get
    # an enforced one, as the lake stack deploys them.
    for workgroup, enforce in ((s.athena_workgroup, False), (s.readers_workgroup, True)):
        if workgroup not in names:
            athena.create_work_group(
                Name=workgroup,
                Configuration={
                    "ResultConfiguration": {"OutputLocation": s.athena_results_uri},
                    "EnforceWorkGroupConfiguration": enforce,
                    "BytesScannedCutoffPerQuery": 10 * 1024**3,
                },
            )


def _provision_alerts(aws: LocalAWS, settings: Settings) -> None:
    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic = sns.create_topic(Name=settings.alerts_topic)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=settings.alerts_inbox_queue)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    subscribed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    if not any(sub["Endpoint"] == queue_arn for sub in subscribed):
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)


def _provision_lambda(aws: LocalAWS, settings: Settings) -> None:
    s = settings
    lam = aws.client("lambda")
    sqs = aws.client("sqs")
    failures_url = sqs.create_queue(QueueName=s.lambda_failure_queue)["QueueUrl"]
    failures_arn = sqs.get_queue_attributes(QueueUrl=failures_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    code = package_lambda()
    try:
        lam.get_function(FunctionName=s.lambda_function)
        lam.update_function_code(FunctionName=s.lambda_function, ZipFile=code)
    except lam.exceptions.ResourceNotFoundException:
        lam.create_function(
            FunctionName=s.lambda_function,
            Runtime="python3.12",
            Role=role_arn(s, "lambda"),
            Handler="handler.handler",
            Code={"ZipFile": code},
            Timeout=300,
            MemorySize=1024,
            Environment={"Variables": s.lambda_environment()},
        )
    function_arn = lam.get_function(FunctionName=s.lambda_function)["Configuration"]["FunctionArn"]
    lam.put_function_event_invoke_config(
        FunctionName=s.lambda_function,
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": failures_arn}},
    )
    aws.client("s3").put_bucket_notification_configuration(
        Bucket=s.raw_bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "Id": f"json-to-parquet{suffix.replace('.', '-')}",
                    "LambdaFunctionArn": function_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {
                            "FilterRules": [
                                {"Name": "prefix", "Value": prefix},
                                {"Name": "suffix", "Value": suffix},
                            ]
                        }
                    },
                }
                for prefix, suffix in s.reference_event_filters
            ]
        },
    )


def _provision_glue_jobs(aws: LocalAWS, settings: Settings) -> None:
    s = settings
    glue = aws.client("glue")
    s3 = aws.client("s3")
    for library in s.glue_libraries:
        key = s.glue_script_uri(library).split("/", 3)[3]
        s3.put_object(Bucket=s.assets_bucket, Key=key, Body=packaging.glue_library(library))
    for job, script in s.glue_jobs.items():
        path = GLUE_SOURCE / script
        if path.exists():
            key = s.glue_script_uri(script).split("/", 3)[3]
            s3.put_object(Bucket=s.assets_bucket, Key=key, Body=path.read_bytes())
        spec: dict[str, Any] = {
            "Role": role_arn(settings, "glue"),
            "Command": {
                "Name": "glueetl",
                "ScriptLocation": s.glue_script_uri(script),
                "PythonVersion": "3",
            },
            "DefaultArguments": s.glue_job_arguments(job),
            "GlueVersion": "5.1",
            "WorkerType": "G.1X",
            "NumberOfWorkers": 2,
            "ExecutionProperty": {"MaxConcurrentRuns": 1},
            "Timeout": 60,
        }
        # moto has no UpdateJob; its backends are per process, so a second runtime finds the job.
        try:
            glue.get_job(JobName=job)
            glue.delete_job(JobName=job)
        except glue.exceptions.EntityNotFoundException:
            pass
        glue.create_job(Name=job, **spec)


def _provision_crawlers(aws: LocalAWS, settings: Settings) -> None:
    glue = aws.client("glue")
    configuration = json.dumps(
        {
            "Version": 1.0,
            "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"},
            "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}},
        }
    )
    for crawler, (database, paths) in settings.crawler_targets.items():
        spec = {
            "Role": role_arn(settings, "glue"),
            "DatabaseName": database,
            "Targets": {"S3Targets": [{"Path": p} for p in paths]},
            "SchemaChangePolicy": {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"},
            "RecrawlPolicy": {"RecrawlBehavior": "CRAWL_EVERYTHING"},
            "Configuration": configuration,
        }
        try:
            glue.get_crawler(Name=crawler)
            glue.update_crawler(Name=crawler, **spec)
        except glue.exceptions.EntityNotFoundException:
            glue.create_crawler(Name=crawler, **spec)
