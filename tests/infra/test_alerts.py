"""Alerts stack: the encrypted topic, its email subscription, the alarms, the Glue rule, who may publish."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.app import build_app
from infra.stacks.alerts import GLUE_FAILED_STATES
from tests.infra.conftest import ACCOUNT, REGION, Synth
from tests.infra.iam import as_list, role_statements


def only(resources: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    assert len(resources) == 1, sorted(resources)
    return next(iter(resources.items()))


def topic(synth: Synth) -> tuple[str, dict[str, Any]]:
    return only(synth.resources("Alerts", "AWS::SNS::Topic"))


def test_topic_is_named_from_settings_and_encrypted_with_its_own_rotating_key(synth: Synth) -> None:
    _, props = topic(synth)
    key_id, key = only(synth.resources("Alerts", "AWS::KMS::Key"))
    assert props["Properties"]["TopicName"] == synth.settings.alerts_topic == "youtube-test-alerts"
    assert props["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["Properties"]["EnableKeyRotation"] is True
    # CloudWatch alarms and EventBridge can only publish to an encrypted topic the key lets them use.
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    services = {
        s["Principal"]["Service"]
        for s in statements
        if isinstance(s.get("Principal"), dict) and "Service" in s["Principal"]
    }
    assert services == {"cloudwatch.amazonaws.com", "events.amazonaws.com"}
    for statement in statements:
        service = (statement.get("Principal") or {}).get("Service")
        if service:
            assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
        if service == "cloudwatch.amazonaws.com":
            assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_topic_policy_refuses_plain_http(synth: Synth) -> None:
    _, policy = only(synth.resources("Alerts", "AWS::SNS::TopicPolicy"))
    denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_no_email_setting_means_no_subscription(synth: Synth) -> None:
    assert synth.resources("Alerts", "AWS::SNS::Subscription") == {}


def test_the_alert_email_setting_subscribes_that_address(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = build_app(
        {"account": ACCOUNT, "region": REGION, "stage": "test"},
        environ={"AIRFLOW__YOUTUBE_ETL__ALERT_EMAIL": "oncall@example.com"},
        outdir=str(tmp_path),
    )
    template = app.synth().get_stack_by_name("youtube-test-alerts").template
    (subscription,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SNS::Subscription"]
    (topic_id,) = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::SNS::Topic"]
    assert subscription["Properties"] == {
        "Protocol": "email",
        "Endpoint": "oncall@example.com",
        "TopicArn": {"Ref": topic_id},
    }


@pytest.mark.parametrize(
    ("alarm", "namespace", "metric", "dimension", "statistic"),
    [
        pytest.param("LambdaErrors", "AWS/Lambda", "Errors", "FunctionName", "Sum", id="lambda-errors"),
        pytest.param(
            "LambdaThrottles", "AWS/Lambda", "Throttles", "FunctionName", "Sum", id="lambda-throttles"
        ),
        pytest.param(
            "LambdaFailureQueue",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "QueueName",
            "Maximum",
            id="failure-queue-depth",
        ),
    ],
)
def test_alarm_fires_on_the_first_occurrence_and_notifies_the_topic(
    synth: Synth, alarm: str, namespace: str, metric: str, dimension: str, statistic: str
) -> None:
    s = synth.settings
    topic_id, _ = topic(synth)
    alarms = {
        r["Properties"]["AlarmName"]: r["Properties"]
        for r in synth.resources("Alerts", "AWS::CloudWatch::Alarm").values()
    }
    assert len(alarms) == 3
    props = alarms[f"youtube-test-{alarm}"]
    assert (props["Namespace"], props["MetricName"], props["Statistic"]) == (namespace, metric, statistic)
    # The alarm watches the resources the compute stack creates, by their settings names.
    expected = {"FunctionName": s.lambda_function, "QueueName": s.lambda_failure_queue}[dimension]
    assert props["Dimensions"] == [{"Name": dimension, "Value": expected}]
    compute_names = {
        r["Properties"].get("FunctionName") or r["Properties"].get("QueueName")
        for kind in ("AWS::Lambda::Function", "AWS::SQS::Queue")
        for r in synth.resources("Compute", kind).values()
    }
    assert expected in compute_names
    assert props["Threshold"] == 1
    assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert props["EvaluationPeriods"] == 1 and props["Period"] == 300
    assert props["TreatMissingData"] == "notBreaching"
    assert props["AlarmActions"] == [{"Ref": topic_id}]


def test_glue_rule_matches_only_our_jobs_failing_and_publishes_a_readable_message(synth: Synth) -> None:
    s = synth.settings
    topic_id, _ = topic(synth)
    _, rule = only(synth.resources("Alerts", "AWS::Events::Rule"))
    props = rule["Properties"]
    assert props["State"] == "ENABLED"
    assert props["EventPattern"] == {
        "source": ["aws.glue"],
        "detail-type": ["Glue Job State Change"],
        "detail": {"jobName": sorted(s.glue_jobs), "state": list(GLUE_FAILED_STATES)},
    }
    assert set(GLUE_FAILED_STATES) == {"FAILED", "TIMEOUT", "ERROR"}
    (target,) = props["Targets"]
    assert target["Arn"] == {"Ref": topic_id}
    transformer = target["InputTransformer"]
    paths = transformer["InputPathsMap"]
    assert {paths[k] for k in paths} >= {"$.detail.jobName", "$.detail.jobRunId", "$.detail.state"}
    template = transformer["InputTemplate"]
    for placeholder in paths:
        assert f"<{placeholder}>" in template
    # EventBridge may publish: the topic policy admits its service principal.
    _, policy = only(synth.resources("Alerts", "AWS::SNS::TopicPolicy"))
    allowed = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow" and s.get("Principal") == {"Service": "events.amazonaws.com"}
    ]
    assert allowed and all(s["Action"] == "sns:Publish" for s in allowed)


def test_mwaa_may_publish_to_the_topic_and_nothing_else_may(synth: Synth) -> None:
    (env,) = synth.resources("Orchestration", "AWS::MWAA::Environment").values()
    statements = role_statements(
        synth, "Orchestration", env["Properties"]["ExecutionRoleArn"]["Fn::GetAtt"][0]
    )
    topic_id, _ = topic(synth)
    key_id, _ = only(synth.resources("Alerts", "AWS::KMS::Key"))

    def allowed(action: str) -> list[str]:
        return [json.dumps(s.get("Resource")) for s in statements if action in as_list(s["Action"])]

    # The grants name the alerts stack's own topic and key (cross-stack outputs), nothing wider.
    (publish,) = allowed("sns:Publish")
    assert "youtube-test-alerts" in publish and f"Ref{topic_id}" in publish
    assert any(
        "youtube-test-alerts" in resource and f"{key_id}Arn" in resource
        for resource in allowed("kms:GenerateDataKey*")
    ), "publishing to the encrypted topic needs its key"
    other_roles = [
        (stack, k)
        for stack, k, r in synth.all_resources("AWS::IAM::Policy")
        if "sns:Publish" in json.dumps(r["Properties"]["PolicyDocument"]) and stack != "Orchestration"
    ]
    assert other_roles == []


def test_mwaa_lineage_is_off_by_default_and_follows_the_lineage_transport_setting(
    synth: Synth,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    (env,) = synth.resources("Orchestration", "AWS::MWAA::Environment").values()
    options = env["Properties"]["AirflowConfigurationOptions"]
    assert {k: v for k, v in options.items() if k.startswith("openlineage.")} == {
        "openlineage.disabled": "True"
    }
    transport = '{"type": "http", "url": "https://lineage.example.com", "endpoint": "api/v1/lineage"}'
    app = build_app(
        {"account": ACCOUNT, "region": REGION, "stage": "test"},
        environ={"AIRFLOW__YOUTUBE_ETL__LINEAGE_TRANSPORT": transport},
        outdir=str(tmp_path),
    )
    template = app.synth().get_stack_by_name("youtube-test-orchestration").template
    (configured,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::MWAA::Environment"]
    lineage = {
        k: v for k, v in configured["Properties"]["AirflowConfigurationOptions"].items() if "openlineage" in k
    }
    assert lineage == {
        "openlineage.transport": transport,
        "openlineage.namespace": "youtube-test",
        "openlineage.extractors": "youtube_etl.lineage.PipelineExtractor",
    }
