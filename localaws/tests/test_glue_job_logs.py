"""Glue job runs leave the CloudWatch Logs AWS leaves, read the way the Amazon provider reads them.

Every run has a stream named after its run id in ``/aws-glue/jobs/output`` (the driver's stdout) and
``/aws-glue/jobs/error`` (its stderr), even when nothing was written there or the run failed before its
driver started; with ``--enable-continuous-cloudwatch-log`` also in ``/aws-glue/jobs/logs-v2``. The
provider's ``GlueJobHook.print_job_logs`` reads them with ``filter_log_events`` from ``StartedOn``, its
trigger with ``get_log_events``, and its system tests' clean-up with ``describe_log_streams`` by prefix.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from localaws import LocalAWS
from localaws.tests.lake import NAMES
from localaws.tests.test_glue_jobs import job_maker, wait_for_run

pytestmark = [pytest.mark.spark, pytest.mark.timeout(600)]

OUTPUT, ERROR, CONTINUOUS = "/aws-glue/jobs/output", "/aws-glue/jobs/error", "/aws-glue/jobs/logs-v2"

#: Writes one line to stdout and nothing to stderr (no Spark: a cold driver writes nothing else).
QUIET_SCRIPT = 'print("quiet run done")\n'
#: Writes to both.
CHATTY_SCRIPT = 'import sys\nprint("to stdout")\nprint("to stderr", file=sys.stderr)\n'


@pytest.fixture
def make_job(aws: LocalAWS) -> Iterator[Any]:
    with job_maker(aws, NAMES.assets_bucket, NAMES.role_arn("glue")) as make:
        yield make


def streams(aws: LocalAWS, group: str, run_id: str) -> list[str]:
    """The system tests' clean-up: ``describe_log_streams`` by prefix (``ResourceNotFoundException``
    raised, as it would fail the clean-up)."""
    found = aws.client("logs").describe_log_streams(logGroupName=group, logStreamNamePrefix=run_id)
    return [s["logStreamName"] for s in found["logStreams"]]


def printed(aws: LocalAWS, group: str, run: dict[str, Any]) -> list[str]:
    """What ``GlueJobHook.print_job_logs`` prints of a group: ``filter_log_events`` on the run's stream
    from ``StartedOn`` (in milliseconds), every page."""
    pages = aws.client("logs").get_paginator("filter_log_events")
    start = int(run["StartedOn"].timestamp() * 1000)
    events = pages.paginate(logGroupName=group, logStreamNames=[run["Id"]], startTime=start)
    return [event["message"] for page in events for event in page["events"]]


def forwarded(aws: LocalAWS, group: str, run_id: str) -> list[str]:
    """What the provider's ``GlueJobCompleteTrigger`` forwards: ``get_log_events`` from the head."""
    events = aws.client("logs").get_log_events(logGroupName=group, logStreamName=run_id, startFromHead=True)
    return [event["message"] for event in events["events"]]


def run_job(aws: LocalAWS, job: str, arguments: dict[str, str] | None = None) -> dict[str, Any]:
    glue = aws.client("glue")
    run, _ = wait_for_run(glue, job, glue.start_job_run(JobName=job, Arguments=arguments or {})["JobRunId"])
    return run


def test_a_run_that_writes_nothing_to_stderr_still_has_its_error_stream(aws: LocalAWS, make_job: Any) -> None:
    job = make_job(QUIET_SCRIPT)
    run = run_job(aws, job)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    assert run["LogGroupName"] == "/aws-glue/jobs"
    for group in (OUTPUT, ERROR):
        assert streams(aws, group, run["Id"]) == [run["Id"]], group
    assert "quiet run done" in printed(aws, OUTPUT, run)
    assert forwarded(aws, OUTPUT, run["Id"]) == printed(aws, OUTPUT, run)
    assert "quiet run done" not in printed(aws, ERROR, run)


def test_continuous_logging_writes_the_driver_log_to_logs_v2(aws: LocalAWS, make_job: Any) -> None:
    job = make_job(CHATTY_SCRIPT, {"--enable-continuous-cloudwatch-log": "true"})
    run = run_job(aws, job)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    for group in (OUTPUT, ERROR, CONTINUOUS):
        assert streams(aws, group, run["Id"]) == [run["Id"]], group
    assert "to stdout" in printed(aws, OUTPUT, run)
    assert "to stderr" in printed(aws, ERROR, run)
    assert "to stderr" in forwarded(aws, CONTINUOUS, run["Id"])

    # Without the argument, a run writes nothing there.
    plain = run_job(aws, make_job(CHATTY_SCRIPT))
    assert plain["JobRunState"] == "SUCCEEDED", plain.get("ErrorMessage")
    assert streams(aws, CONTINUOUS, plain["Id"]) == []


def test_a_run_that_fails_before_its_driver_starts_has_its_streams(aws: LocalAWS, make_job: Any) -> None:
    job = make_job(QUIET_SCRIPT)
    glue = aws.client("glue")
    location = glue.get_job(JobName=job)["Job"]["Command"]["ScriptLocation"]
    bucket, key = location.removeprefix("s3://").split("/", 1)
    aws.client("s3").delete_object(Bucket=bucket, Key=key)
    run = run_job(aws, job)
    assert run["JobRunState"] == "FAILED" and "cannot download the script" in run["ErrorMessage"]
    for group in (OUTPUT, ERROR):
        assert streams(aws, group, run["Id"]) == [run["Id"]], group
        assert forwarded(aws, group, run["Id"]) == []


def test_groups_a_clean_up_deleted_come_back_with_the_next_run(aws: LocalAWS, make_job: Any) -> None:
    """The system tests' clean-up (``purge_logs(force_delete=True)``) deletes a run's streams, then the
    groups; the next run's streams are there again."""
    job = make_job(QUIET_SCRIPT, {"--enable-continuous-cloudwatch-log": "true"})
    first = run_job(aws, job)
    logs = aws.client("logs")
    for group in (OUTPUT, ERROR, CONTINUOUS):
        for name in streams(aws, group, first["Id"]):
            logs.delete_log_stream(logGroupName=group, logStreamName=name)
        logs.delete_log_group(logGroupName=group)
    second = run_job(aws, job)
    assert second["JobRunState"] == "SUCCEEDED", second.get("ErrorMessage")
    for group in (OUTPUT, ERROR, CONTINUOUS):
        assert streams(aws, group, second["Id"]) == [second["Id"]], group
