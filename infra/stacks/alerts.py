"""Alerts stack: one encrypted SNS topic that every alert of the stage goes to, and what feeds it.

- Airflow publishes task failures, DAG-run failures and missed deadlines (``youtube_etl.alerts``); the app
  grants MWAA's execution role ``sns:Publish`` on the topic.
- CloudWatch alarms on the JSON-to-Parquet Lambda's errors and throttles and on its failure queue's depth:
  they catch the S3-event path, which no Airflow task watches.
- An EventBridge rule on the Glue jobs' state changes to FAILED, TIMEOUT or ERROR: a job run started by
  hand (or whose Airflow task was killed) still alerts.

The topic is encrypted with a key of its own: CloudWatch and EventBridge can publish to an encrypted topic
only when the key's policy lets their service principals use it, which the AWS-managed SNS key never does.
Resources of other stacks are named from settings, not imported, so this stack deploys on its own.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.stacks.common import InfraNames
from youtube_etl.settings import Settings

#: Glue job run states that end a run without success (EventBridge "Glue Job State Change").
GLUE_FAILED_STATES = ("FAILED", "TIMEOUT", "ERROR")
#: Alarm period: one failed invocation within five minutes is worth a message.
ALARM_PERIOD = Duration.minutes(5)


class AlertsStack(Stack):
    """The alerts topic, its email subscription, the Lambda/queue alarms and the Glue failure rule."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        s = settings
        names = InfraNames(s)
        self.key = kms.Key(
            self,
            "AlertsKey",
            alias=names.alerts_key_alias,
            description=f"{s.project}-{s.stage}: encrypts the alerts topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,  # it encrypts messages in flight only, nothing at rest
        )
        # CloudWatch alarms publish with this key; the EventBridge target below adds its own grant.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            )
        )
        self.topic = sns.Topic(
            self,
            "Alerts",
            topic_name=s.alerts_topic,
            display_name=f"{s.project} {s.stage} alerts",
            master_key=self.key,
            enforce_ssl=True,
        )
        if s.alert_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(s.alert_email))

        action = cloudwatch_actions.SnsAction(self.topic)
        alarms = {
            "LambdaErrors": (
                f"{s.lambda_function}: invocations failed (S3-event path or scheduled conversions)",
                _metric("AWS/Lambda", "Errors", {"FunctionName": s.lambda_function}, "Sum"),
            ),
            "LambdaThrottles": (
                f"{s.lambda_function}: invocations throttled (reserved concurrency reached)",
                _metric("AWS/Lambda", "Throttles", {"FunctionName": s.lambda_function}, "Sum"),
            ),
            "LambdaFailureQueue": (
                f"{names.lambda_dlq}: events the Lambda gave up on are waiting (see docs/operations.md)",
                _metric(
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    {"QueueName": names.lambda_dlq},
                    "Maximum",
                ),
            ),
        }
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        for alarm_id, (description, metric) in alarms.items():
            alarm = metric.create_alarm(
                self,
                alarm_id,
                alarm_name=f"{s.project}-{s.stage}-{alarm_id}",
                alarm_description=description,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(action)
            self.alarms[alarm_id] = alarm

        self.glue_rule = events.Rule(
            self,
            "GlueJobFailed",
            rule_name=f"{s.project}-{s.stage}-glue-job-failed",
            description="Glue job runs of the pipeline that ended FAILED, TIMEOUT or ERROR",
            event_pattern=events.EventPattern(
                source=["aws.glue"],
                detail_type=["Glue Job State Change"],
                detail={"jobName": sorted(s.glue_jobs), "state": list(GLUE_FAILED_STATES)},
            ),
        )
        field = events.EventField.from_path
        self.glue_rule.add_target(
            targets.SnsTopic(
                self.topic,
                message=events.RuleTargetInput.from_multiline_text(
                    f"[{s.project}-{s.stage}] Glue job failed: {field('$.detail.jobName')}\n\n"
                    f"Job:    {field('$.detail.jobName')}\n"
                    f"Run:    {field('$.detail.jobRunId')}\n"
                    f"State:  {field('$.detail.state')}\n"
                    f"Error:  {field('$.detail.message')}\n"
                    f"Time:   {events.EventField.time}\n\n"
                    "What to do: docs/operations.md, section 'glue_job_failed'."
                ),
            )
        )
        CfnOutput(self, "AlertsTopicArn", value=self.topic.topic_arn)

    def allow_publish(self, role: iam.IRole) -> None:
        """Let ``role`` (MWAA's execution role) publish alerts: sns:Publish plus the topic key's use."""
        self.topic.grant_publish(role)


def _metric(namespace: str, name: str, dimensions: dict[str, str], statistic: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=name,
        dimensions_map=dimensions,
        statistic=statistic,
        period=ALARM_PERIOD,
    )
