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

from youtube_etl.settings import Settings

#: Glue job run states that end a run without success (EventBridge "Glue Job State Change").
GLUE_FAILED_STATES = ("FAILED", "TIMEOUT", "ERROR")
#: Alarm period: one failed invocation within five minutes is worth a message.
ALARM_PERIOD = Duration.minutes(5)


class AlertsStack(Stack):
    """The alerts topic, its email subscription, the Lambda/queue alarms and the Glue failure rule."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.settings = settings
        self.key = self._topic_key()
        self.topic = sns.Topic(
            self,
            "Alerts",
            topic_name=settings.alerts_topic,
            display_name=f"{settings.project} {settings.stage} alerts",
            master_key=self.key,
            enforce_ssl=True,
        )
        if settings.alert_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(settings.alert_email))
        self.alarms = self._alarms()
        self.glue_rule = self._glue_failure_rule()
        CfnOutput(self, "AlertsTopicArn", value=self.topic.topic_arn)

    def _topic_key(self) -> kms.Key:
        """The topic's own key: CloudWatch alarms (and EventBridge, by its target's grant) may use it."""
        s = self.settings
        key = kms.Key(
            self,
            "AlertsKey",
            alias=s.alerts_key_alias,
            description=f"{s.project}-{s.stage}: encrypts the alerts topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,  # it encrypts messages in flight only, nothing at rest
        )
        # CloudWatch alarms publish with this key; the EventBridge target below adds its own grant.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            )
        )
        return key

    def _alarms(self) -> dict[str, cloudwatch.Alarm]:
        """One alarm per metric of :func:`alarm_metrics`, each publishing to the topic."""
        action = cloudwatch_actions.SnsAction(self.topic)
        alarms: dict[str, cloudwatch.Alarm] = {}
        for alarm_id, (description, metric) in alarm_metrics(self.settings).items():
            alarm = metric.create_alarm(
                self,
                alarm_id,
                alarm_name=self.settings.alarm_name(alarm_id),
                alarm_description=description,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(action)
            alarms[alarm_id] = alarm
        return alarms

    def _glue_failure_rule(self) -> events.Rule:
        """Glue job runs that ended without success, sent to the topic as a readable message."""
        s = self.settings
        rule = events.Rule(
            self,
            "GlueJobFailed",
            rule_name=s.glue_failure_rule,
            description="Glue job runs of the pipeline that ended FAILED, TIMEOUT or ERROR",
            event_pattern=events.EventPattern(
                source=["aws.glue"],
                detail_type=["Glue Job State Change"],
                detail={"jobName": sorted(s.glue_jobs), "state": list(GLUE_FAILED_STATES)},
            ),
        )
        field = events.EventField.from_path
        rule.add_target(
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
        return rule

    def allow_publish(self, role: iam.IRole) -> None:
        """Let ``role`` (MWAA's execution role) publish alerts: sns:Publish plus the topic key's use."""
        self.topic.grant_publish(role)


def alarm_metrics(s: Settings) -> dict[str, tuple[str, cloudwatch.Metric]]:
    """Alarm id -> (description, metric): the Lambda's errors and throttles, its failure queue's depth."""
    function, queue = s.lambda_function, s.lambda_failure_queue
    return {
        "LambdaErrors": (
            f"{function}: invocations failed (S3-event path or scheduled conversions)",
            _metric("AWS/Lambda", "Errors", {"FunctionName": function}, "Sum"),
        ),
        "LambdaThrottles": (
            f"{function}: invocations throttled (reserved concurrency reached)",
            _metric("AWS/Lambda", "Throttles", {"FunctionName": function}, "Sum"),
        ),
        "LambdaFailureQueue": (
            f"{queue}: events the Lambda gave up on are waiting (see docs/operations.md)",
            _metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": queue}, "Maximum"),
        ),
    }


def _metric(namespace: str, name: str, dimensions: dict[str, str], statistic: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=name,
        dimensions_map=dimensions,
        statistic=statistic,
        period=ALARM_PERIOD,
    )
