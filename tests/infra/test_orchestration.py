"""Orchestration stack: MWAA version, network, logging, bundle, configuration options, execution role;
plus least privilege across every stack."""

from __future__ import annotations

import json
from typing import Any

from infra.mwaa.package import AIRFLOW_VERSION
from tests.infra.conftest import Synth
from tests.infra.iam import all_statements, as_list, role_statements
from youtube_etl.settings import ENV_PREFIX, SECTION, get_settings

#: Actions AWS defines without a resource type: "*" is the only resource they accept.
NO_RESOURCE_TYPE = {
    "logs:DescribeLogGroups",
    "s3:GetAccountPublicAccessBlock",
    "cloudwatch:PutMetricData",
    "glue:GetCrawlerMetrics",
    "glue:GetSecurityConfiguration",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}


def environment(synth: Synth) -> dict[str, Any]:
    (env,) = synth.resources("Orchestration", "AWS::MWAA::Environment").values()
    return dict(env["Properties"])


def test_mwaa_runs_airflow_3_3_1_privately_with_all_logs(synth: Synth) -> None:
    props = environment(synth)
    assert props["AirflowVersion"] == AIRFLOW_VERSION == "3.3.1"
    assert props["Name"] == synth.settings.mwaa_environment
    assert props["WebserverAccessMode"] == "PRIVATE_ONLY"
    logging = props["LoggingConfiguration"]
    assert set(logging) == {"DagProcessingLogs", "SchedulerLogs", "TaskLogs", "WebserverLogs", "WorkerLogs"}
    assert all(entry["Enabled"] is True for entry in logging.values())
    assert (
        props["DagS3Path"],
        props["PluginsS3Path"],
        props["RequirementsS3Path"],
        props["StartupScriptS3Path"],
    ) == (
        "dags",
        "plugins.zip",
        "requirements.txt",
        "startup.sh",
    )


def test_mwaa_lives_in_two_private_subnets(synth: Synth) -> None:
    subnets = synth.resources("Orchestration", "AWS::EC2::Subnet")
    ids = [ref["Ref"] for ref in environment(synth)["NetworkConfiguration"]["SubnetIds"]]
    assert len(ids) == 2
    for subnet_id in ids:
        assert subnets[subnet_id]["Properties"]["MapPublicIpOnLaunch"] is False
        tags = {t["Key"]: t["Value"] for t in subnets[subnet_id]["Properties"]["Tags"]}
        assert tags["aws-cdk:subnet-type"] == "Private"
    assert synth.resources("Orchestration", "AWS::EC2::FlowLog"), "VPC flow logs are on"


def test_configuration_options_round_trip_to_the_same_settings(synth: Synth) -> None:
    """What the DAGs read on MWAA (``[youtube_etl]`` options) gives exactly the deployed names."""
    options = environment(synth)["AirflowConfigurationOptions"]
    ours = {k.split(".", 1)[1]: v for k, v in options.items() if k.startswith(f"{SECTION}.")}
    assert ours["deferrable"] == "true"
    for key in ("raw_bucket_name", "account", "region", "stage"):
        assert key in ours
    on_mwaa = get_settings({f"{ENV_PREFIX}{k.upper()}": v for k, v in ours.items()})
    s = synth.settings
    assert on_mwaa.deferrable is True
    assert on_mwaa.buckets == s.buckets
    assert (on_mwaa.account, on_mwaa.region, on_mwaa.stage) == (s.account, s.region, s.stage)
    assert on_mwaa.glue_jobs == s.glue_jobs and on_mwaa.crawler_targets == s.crawler_targets
    assert on_mwaa.lambda_function == s.lambda_function and on_mwaa.athena_workgroup == s.athena_workgroup
    assert on_mwaa.sql_folder == "/usr/local/airflow/dags/sql"


def test_source_bucket_is_versioned_and_receives_the_bundle(synth: Synth) -> None:
    names = synth.settings
    buckets = {
        r["Properties"].get("BucketName"): (k, r)
        for k, r in synth.resources("Orchestration", "AWS::S3::Bucket").items()
    }
    bucket_id, bucket = buckets[names.mwaa_source_bucket]
    assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["Properties"]["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    (deployment,) = synth.resources("Orchestration", "Custom::CDKBucketDeployment").values()
    assert deployment["Properties"]["DestinationBucketName"] == {"Ref": bucket_id}
    assert deployment["Properties"]["Prune"] is True
    (env,) = synth.resources("Orchestration", "AWS::MWAA::Environment").values()
    deployment_ids = set(synth.resources("Orchestration", "Custom::CDKBucketDeployment"))
    assert deployment_ids & set(env.get("DependsOn", [])), "MWAA is created only after the bundle is uploaded"


def test_plugins_requirements_and_startup_script_are_pinned_to_their_uploaded_versions(synth: Synth) -> None:
    """MWAA reads these three at the object version the environment names: each is the VersionId a HeadObject
    returns after the bundle upload, and the call is keyed on the file's hash, so a changed file is re-read
    (and the environment updated) on the next deploy while an unchanged one is left alone."""
    import hashlib
    import tempfile
    from pathlib import Path

    from infra.mwaa.package import stage_bundle

    bundle = stage_bundle(Path(tempfile.mkdtemp()) / "bundle")
    props = environment(synth)
    calls = synth.resources("Orchestration", "Custom::AWS")
    deployments = set(synth.resources("Orchestration", "Custom::CDKBucketDeployment"))
    bucket = synth.settings.mwaa_source_bucket
    for prop, name in (
        ("PluginsS3ObjectVersion", "plugins.zip"),
        ("RequirementsS3ObjectVersion", "requirements.txt"),
        ("StartupScriptS3ObjectVersion", "startup.sh"),
    ):
        resource_id, field = props[prop]["Fn::GetAtt"]
        assert field == "VersionId", prop
        resource = calls[resource_id]
        create = json.loads(resource["Properties"]["Create"])  # plain JSON: no deploy-time token inside
        assert (create["service"], create["action"]) == ("S3", "headObject")
        assert create["parameters"] == {"Bucket": bucket, "Key": name}
        digest = hashlib.sha256((bundle / name).read_bytes()).hexdigest()[:16]
        assert create["physicalResourceId"] == {"id": f"{name}@{digest}"}
        assert resource["Properties"]["Update"] == resource["Properties"]["Create"]
        assert deployments & set(resource.get("DependsOn", [])), f"{name}: read only after the upload"


def _actions_on(statements: list[dict[str, Any]], action: str) -> list[Any]:
    return [
        r
        for st in statements
        if st["Effect"] == "Allow" and action in as_list(st["Action"])
        for r in as_list(st["Resource"])
    ]


def test_execution_role_has_mwaa_statements_and_only_the_pipelines_resources(synth: Synth) -> None:
    s = synth.settings
    env = environment(synth)
    role_id = env["ExecutionRoleArn"]["Fn::GetAtt"][0]
    statements = role_statements(synth, "Orchestration", role_id)
    region, account = s.region, s.account
    assert _actions_on(statements, "airflow:PublishMetrics") == [
        f"arn:aws:airflow:{region}:{account}:environment/{s.mwaa_environment}"
    ]
    assert sorted(_actions_on(statements, "glue:StartJobRun")) == sorted(
        f"arn:aws:glue:{region}:{account}:job/{job}" for job in s.glue_jobs
    )
    assert sorted(_actions_on(statements, "glue:StartCrawler")) == sorted(
        f"arn:aws:glue:{region}:{account}:crawler/{c}" for c in s.crawler_targets
    )
    function = f"arn:aws:lambda:{region}:{account}:function:{s.lambda_function}"
    assert sorted(_actions_on(statements, "lambda:InvokeFunction")) == [function, f"{function}:*"]
    assert _actions_on(statements, "athena:StartQueryExecution") == [
        f"arn:aws:athena:{region}:{account}:workgroup/{s.athena_workgroup}"
    ]
    deletable = _actions_on(statements, "s3:DeleteObject")
    assert sorted(deletable) == sorted(
        f"arn:aws:s3:::{s.reporting_bucket}/{prefix}*"
        for prefix in (s.prefixes.reports, s.prefixes.athena_results)
    ), "MWAA may delete only report runs and Athena results"
    # Besides report runs: the ingest plans and the ledger documents youtube_ingest writes itself.
    assert sorted(map(str, _actions_on(statements, "s3:PutObject"))) == sorted(
        [
            f"arn:aws:s3:::{s.reporting_bucket}/{s.prefixes.reports}*",
            f"arn:aws:s3:::{s.reporting_bucket}/{s.prefixes.athena_results}*",
            f"arn:aws:s3:::{s.processed_bucket}/{s.prefixes.landing_ledger}*",
            f"arn:aws:s3:::{s.assets_bucket}/{s.prefixes.ingest_plans}*",
        ]
    )


def test_execution_role_lists_the_whole_raw_bucket_but_reads_only_its_landing_prefixes(synth: Synth) -> None:
    """plan_increment lists every key of the raw bucket (an object outside the landing prefixes gets an
    ``ignored`` verdict) and reads none outside them."""
    s, p = synth.settings, synth.settings.prefixes
    role_id = environment(synth)["ExecutionRoleArn"]["Fn::GetAtt"][0]
    statements = role_statements(synth, "Orchestration", role_id)
    raw = f"arn:aws:s3:::{s.raw_bucket}"
    listing = [
        st
        for st in statements
        if st["Effect"] == "Allow"
        and "s3:ListBucket" in as_list(st["Action"])
        and raw in as_list(st["Resource"])
    ]
    assert [st.get("Condition") for st in listing] == [None], "one unconditional ListBucket on the raw bucket"
    readable = sorted(r for r in _actions_on(statements, "s3:GetObject") if str(r).startswith(f"{raw}/"))
    assert readable == sorted(f"{raw}/{prefix}*" for prefix in (p.raw_statistics, p.raw_reference))


def test_no_statement_anywhere_allows_wildcard_actions_or_unscoped_resources(synth: Synth) -> None:
    offenders = []
    for stack, owner, statement in all_statements(synth):
        if statement["Effect"] != "Allow":
            continue
        actions = as_list(statement.get("Action", []))
        resources = as_list(statement.get("Resource", []))
        if any(a == "*" or a.endswith(":*") for a in actions):
            offenders.append((stack, owner, "wildcard action", actions))
        if "*" in resources and not set(actions) <= NO_RESOURCE_TYPE:
            offenders.append((stack, owner, "Resource *", sorted(set(actions) - NO_RESOURCE_TYPE)))
    assert offenders == []


def test_every_service_has_its_own_role(synth: Synth) -> None:
    roles = {
        (stack, rid): {
            st["Principal"]["Service"]
            if isinstance(st["Principal"]["Service"], str)
            else tuple(st["Principal"]["Service"])
            for st in r["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        }
        for stack, rid, r in synth.all_resources("AWS::IAM::Role")
    }
    glue_roles = [k for k, v in roles.items() if "glue.amazonaws.com" in v]
    assert len(glue_roles) == 2, "one role for the Glue jobs, one for the crawlers"
    (job,) = [r for r in synth.resources("Compute", "AWS::Glue::Job").values()][:1]
    (crawler,) = [r for r in synth.resources("Compute", "AWS::Glue::Crawler").values()][:1]
    assert job["Properties"]["Role"] != crawler["Properties"]["Role"]
