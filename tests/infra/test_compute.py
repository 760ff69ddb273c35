"""Compute stack: the Lambda (runtime, layer, sizing, DLQ, S3 trigger), Glue jobs, crawlers, their roles."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra.stacks.compute import GLUE_VERSION, LAMBDA_RESERVED_CONCURRENCY
from tests.infra.conftest import ACCOUNT, REGION, Synth
from tests.infra.iam import glue_resources, role_statements, s3_object_resources


def only(resources: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    assert len(resources) == 1, sorted(resources)
    return next(iter(resources.items()))


def our_function(synth: Synth) -> tuple[str, dict[str, Any]]:
    functions = synth.resources("Compute", "AWS::Lambda::Function")
    return only(
        {
            k: r
            for k, r in functions.items()
            if r["Properties"].get("FunctionName") == synth.settings.lambda_function
        }
    )


def test_lambda_runtime_layer_sizing_and_environment(synth: Synth) -> None:
    s = synth.settings
    _, function = our_function(synth)
    props = function["Properties"]
    assert props["Runtime"] == "python3.12"
    assert props["Handler"] == "handler.handler"
    assert props["Architectures"] == ["x86_64"]
    (layer,) = props["Layers"]
    assert re.fullmatch(rf"arn:aws:lambda:{s.region}:336392948345:layer:AWSSDKPandas-Python312:\d+", layer)
    assert props["ReservedConcurrentExecutions"] == LAMBDA_RESERVED_CONCURRENCY
    # The benchmark's 50 MB file peaks at 634 MB: memory must leave headroom above that.
    assert props["MemorySize"] >= 1024
    assert 30 <= props["Timeout"] <= 900
    assert props["Environment"]["Variables"] == s.lambda_environment()
    assert "KmsKeyArn" in props, "environment variables are encrypted with the lake key"
    assert props["TracingConfig"] == {"Mode": "Active"}


def test_lambda_failures_go_to_an_encrypted_sqs_queue(synth: Synth) -> None:
    function_id, _ = our_function(synth)
    queue_id, queue = only(synth.resources("Compute", "AWS::SQS::Queue"))
    assert "KmsMasterKeyId" in queue["Properties"]
    _, config = only(synth.resources("Compute", "AWS::Lambda::EventInvokeConfig"))
    props = config["Properties"]
    assert props["FunctionName"] == {"Ref": function_id}
    assert props["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert props["MaximumRetryAttempts"] == 2


def test_s3_notification_filters_on_reference_prefix_and_each_suffix(synth: Synth) -> None:
    s = synth.settings
    function_id, _ = our_function(synth)
    _, notifications = only(synth.resources("Compute", "Custom::S3BucketNotifications"))
    props = notifications["Properties"]
    assert props["BucketName"] == s.raw_bucket
    assert props["Managed"] is False, "an imported bucket: existing notifications must be kept"
    configs = props["NotificationConfiguration"]["LambdaFunctionConfigurations"]
    filters = []
    for config in configs:
        assert config["Events"] == ["s3:ObjectCreated:*"]
        assert config["LambdaFunctionArn"] == {"Fn::GetAtt": [function_id, "Arn"]}
        filters.append({r["Name"]: r["Value"] for r in config["Filter"]["Key"]["FilterRules"]})
    assert filters == [
        {"prefix": s.prefixes.raw_reference, "suffix": ".json"},
        {"prefix": s.prefixes.raw_reference, "suffix": ".json.gz"},
    ]
    permission = [
        p["Properties"]
        for p in synth.resources("Compute", "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "s3.amazonaws.com"
    ]
    assert len(permission) == 1
    assert permission[0]["SourceArn"] == f"arn:aws:s3:::{s.raw_bucket}"
    assert permission[0]["SourceAccount"] == s.account


@pytest.mark.parametrize(
    "job",
    [
        pytest.param("clean_statistics", id="clean_statistics"),
        pytest.param("build_analytics", id="build_analytics"),
    ],
)
def test_glue_jobs_run_glue_5_1_without_bookmarks_with_security_configuration(synth: Synth, job: str) -> None:
    s = synth.settings
    name = {"clean_statistics": s.clean_statistics_job, "build_analytics": s.build_analytics_job}[job]
    jobs = {
        r["Properties"]["Name"]: r["Properties"]
        for r in synth.resources("Compute", "AWS::Glue::Job").values()
    }
    props = jobs[name]
    assert props["GlueVersion"] == GLUE_VERSION == "5.1"
    assert props["Command"] == {
        "Name": "glueetl",
        "PythonVersion": "3",
        "ScriptLocation": s.glue_script_uri(f"{job}.py"),
    }
    assert props["WorkerType"] == "G.1X" and props["NumberOfWorkers"] >= 2
    arguments = props["DefaultArguments"]
    assert arguments["--job-bookmark-option"] == "job-bookmark-disable"
    assert arguments["--enable-continuous-cloudwatch-log"] == "true"
    expected = s.glue_job_arguments(name)
    assert {k: arguments[k] for k in expected} == expected
    (config,) = synth.resources("Compute", "AWS::Glue::SecurityConfiguration").values()
    assert props["SecurityConfiguration"] == config["Properties"]["Name"]


def test_glue_security_configuration_encrypts_s3_logs_and_bookmarks_with_kms(synth: Synth) -> None:
    (config,) = synth.resources("Compute", "AWS::Glue::SecurityConfiguration").values()
    encryption = config["Properties"]["EncryptionConfiguration"]
    (s3,) = encryption["S3Encryptions"]
    assert s3["S3EncryptionMode"] == "SSE-KMS" and s3["KmsKeyArn"]
    assert encryption["CloudWatchEncryption"]["CloudWatchEncryptionMode"] == "SSE-KMS"
    assert encryption["JobBookmarksEncryption"]["JobBookmarksEncryptionMode"] == "CSE-KMS"


def test_glue_scripts_are_deployed_where_the_jobs_look(synth: Synth) -> None:
    s = synth.settings
    (deployment,) = synth.resources("Compute", "Custom::CDKBucketDeployment").values()
    props = deployment["Properties"]
    assert props["DestinationBucketName"] == s.assets_bucket
    assert props["DestinationBucketKeyPrefix"] == s.prefixes.glue_scripts
    assert props["SystemMetadata"]["sse"] == "aws:kms"


def test_crawlers_combine_compatible_schemas_and_recrawl_everything(synth: Synth) -> None:
    s = synth.settings
    crawlers = {
        r["Properties"]["Name"]: r["Properties"]
        for r in synth.resources("Compute", "AWS::Glue::Crawler").values()
    }
    assert set(crawlers) == set(s.crawler_targets)
    for name, (database, targets) in s.crawler_targets.items():
        props = crawlers[name]
        assert props["DatabaseName"] == database
        assert [t["Path"] for t in props["Targets"]["S3Targets"]] == targets
        configuration = json.loads(props["Configuration"])
        assert configuration["Grouping"]["TableGroupingPolicy"] == "CombineCompatibleSchemas"
        assert props["RecrawlPolicy"] == {"RecrawlBehavior": "CRAWL_EVERYTHING"}
        assert props["SchemaChangePolicy"]["DeleteBehavior"] == "LOG"
        assert props["CrawlerSecurityConfiguration"]


def test_lambda_role_reaches_only_its_prefixes(synth: Synth) -> None:
    s, p = synth.settings, synth.settings.prefixes
    _, function = our_function(synth)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    objects = s3_object_resources(role_statements(synth, "Compute", role_id))
    assert objects == {
        f"arn:aws:s3:::{s.raw_bucket}/{p.raw_reference}*": {"s3:GetObject", "s3:GetObjectVersion"},
        f"arn:aws:s3:::{s.raw_bucket}/{p.quarantine}*": {"s3:PutObject"},
        f"arn:aws:s3:::{s.processed_bucket}/{p.category_reference}*": {
            "s3:GetObject",
            "s3:PutObject",
            "s3:DeleteObject",
        },
        f"arn:aws:s3:::{s.processed_bucket}/{p.landing_ledger}*": {"s3:PutObject"},
    }


#: The catalog calls json_to_parquet's register_partition makes (directly and through awswrangler).
LAMBDA_GLUE_ACTIONS = {
    "glue:GetPartition",  # is the region's partition registered already (the usual re-run: stop here)
    "glue:GetTable",  # create_parquet_table(mode="append") reads the table first
    "glue:CreateTable",  # ... creates it when it is missing
    "glue:UpdateTable",  # ... or updates it when its columns differ from GLUE_COLUMN_TYPES
    "glue:BatchCreatePartition",  # add_parquet_partitions
}


def test_lambda_role_has_exactly_the_glue_actions_it_calls_on_its_table(synth: Synth) -> None:
    s = synth.settings
    _, function = our_function(synth)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    catalog = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    assert glue_resources(role_statements(synth, "Compute", role_id)) == {
        f"{catalog}:catalog": LAMBDA_GLUE_ACTIONS,
        f"{catalog}:database/{s.processed_database}": LAMBDA_GLUE_ACTIONS,
        f"{catalog}:table/{s.processed_database}/{s.category_reference_table}": LAMBDA_GLUE_ACTIONS,
    }


def test_glue_job_role_writes_only_job_outputs(synth: Synth) -> None:
    s, p = synth.settings, synth.settings.prefixes
    (job,) = [r for r in synth.resources("Compute", "AWS::Glue::Job").values()][:1]
    role_id = job["Properties"]["Role"]["Fn::GetAtt"][0]
    objects = s3_object_resources(role_statements(synth, "Compute", role_id))
    writable = {arn for arn, actions in objects.items() if "s3:PutObject" in actions}
    assert writable == {
        f"arn:aws:s3:::{s.raw_bucket}/{p.quarantine}statistics/*",
        f"arn:aws:s3:::{s.processed_bucket}/{p.statistics}*",
        f"arn:aws:s3:::{s.processed_bucket}/{p.landing_ledger}*",
        f"arn:aws:s3:::{s.reporting_bucket}/{p.analytics}*",
        f"arn:aws:s3:::{s.assets_bucket}/{p.glue_temp}*",
        f"arn:aws:s3:::{s.assets_bucket}/{p.glue_metrics}*",
    }
    assert objects[f"arn:aws:s3:::{s.processed_bucket}/{p.landing_ledger}*"] == {"s3:PutObject"}
    assert f"arn:aws:s3:::{s.raw_bucket}/{p.raw_statistics}*" in objects
    assert objects[f"arn:aws:s3:::{s.raw_bucket}/{p.raw_statistics}*"] == {"s3:GetObject"}
    # The run's plan and the shared module (lake_io.py, --extra-py-files) are read, never written.
    assert objects[f"arn:aws:s3:::{s.assets_bucket}/{p.ingest_plans}*"] == {"s3:GetObject"}


def test_crawler_role_reads_targets_and_writes_nothing_to_s3(synth: Synth) -> None:
    (crawler,) = [r for r in synth.resources("Compute", "AWS::Glue::Crawler").values()][:1]
    role_id = crawler["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = role_statements(synth, "Compute", role_id)
    objects = s3_object_resources(statements)
    assert objects and all(actions == {"s3:GetObject"} for actions in objects.values())
    glue_resources = {
        json.dumps(r, sort_keys=True)
        for st in statements
        if any(str(a).startswith("glue:Create") for a in _list(st["Action"]))
        for r in _list(st["Resource"])
    }
    s = synth.settings
    for database in (s.processed_database, s.analytics_database):
        assert any(f"table/{database}/*" in r for r in glue_resources)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _asset_dirs(synth: Synth) -> list[Any]:
    """The file assets' folders in the cloud assembly (what CDK zips and uploads)."""
    folders = []
    for manifest in synth.outdir.glob("*.assets.json"):
        for asset in json.loads(manifest.read_text()).get("files", {}).values():
            path = synth.outdir / asset["source"]["path"]
            if path.is_dir():
                folders.append(path)
    return folders


def test_the_lambda_and_glue_assets_ship_the_lake_contracts(synth: Synth) -> None:
    """The Lambda's asset holds its handler beside youtube_lake/; the Glue scripts' deployment carries
    youtube_lake.zip, the --extra-py-files entry the settings name."""
    folders = _asset_dirs(synth)
    lambda_assets = [f for f in folders if (f / "handler.py").is_file()]
    assert len(lambda_assets) == 1, folders
    assert (lambda_assets[0] / "youtube_lake" / "invocation.py").is_file()
    assert any((f / "youtube_lake.zip").is_file() for f in folders)
    extra = synth.settings.glue_job_arguments(synth.settings.clean_statistics_job)["--extra-py-files"]
    assert extra.split(",")[-1].endswith("/youtube_lake.zip")
    _, deployment = only(synth.resources("Compute", "Custom::CDKBucketDeployment"))
    assert len(deployment["Properties"]["SourceObjectKeys"]) == 2, "the scripts and youtube_lake.zip"
