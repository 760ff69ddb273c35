"""Alerts through the local runtime: a failing run publishes exactly one message per failed task and one per
failed DAG run to the alerts topic (read back from an SQS queue subscribed to it); deadlines are created
for scheduled runs by Airflow's own code and a missed one publishes its alert."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from local.export import format_alerts
from local.provisioning import alerts_topic_arn
from local.runtime import LocalRuntime
from tests.airflow_dags import run_dag_file
from youtube_etl.settings import get_settings

TOPIC_ENV = "AIRFLOW__YOUTUBE_ETL__ALERTS_TOPIC_ARN"


def alerted_dag(dag_id: str, body: str, imports: str = "") -> str:
    """A DAG file of one DAG, ``dag_id``, wired as the project's DAGs are (``default_args``, ``dag_alerts``),
    with ``body`` (its indented lines) inside and ``imports`` beside the project's."""
    return f"""
from datetime import datetime

from airflow.sdk import dag, task

from youtube_etl.dag_support import dag_alerts, default_args
from youtube_etl.settings import get_settings
{imports}
settings = get_settings()


@dag(
    dag_id="{dag_id}",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    default_args=default_args(settings),
    **dag_alerts(settings, __file__),
)
def {dag_id}():
{body}

dag = {dag_id}()
"""


PROBE_DAG = alerted_dag(
    "alerts_probe",
    """\
    @task
    def fail_always():
        raise ValueError("probe: bad input in s3://raw/x.csv")

    @task(retries=0)
    def fail_mapped(n):
        raise RuntimeError(f"probe: mapped failure {n}")

    @task
    def succeed():
        return 1

    fail_always()
    fail_mapped.expand(n=[1, 2])
    succeed()
""",
)


@dataclass
class AlertsInbox:
    """An SQS queue subscribed to the alerts topic: what an email subscriber would have received."""

    runtime: LocalRuntime
    topic_arn: str
    queue_url: str

    def drain(self, wait: float = 1.0) -> list[dict[str, Any]]:
        sqs = self.runtime.client("sqs")
        messages: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=int(wait)
            ).get("Messages", [])
            if not batch:
                return messages
            for message in batch:
                messages.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def inbox(clean_aws: LocalRuntime, monkeypatch: pytest.MonkeyPatch) -> Iterator[AlertsInbox]:
    """The alerts topic and its inbox queue as the runtime provisions them (local/provisioning.py)."""
    s = clean_aws.settings
    topic_arn = alerts_topic_arn(s)
    queue_url = clean_aws.client("sqs").get_queue_url(QueueName=s.alerts_inbox_queue)["QueueUrl"]
    monkeypatch.setenv("AIRFLOW__YOUTUBE_ETL__ALERTS_TOPIC_ARN", clean_aws.client_env()[TOPIC_ENV])
    monkeypatch.setenv("AIRFLOW__YOUTUBE_ETL__POLL_INTERVAL", "0.1")  # retry delays of a fraction of a second
    yield AlertsInbox(clean_aws, topic_arn, queue_url)


@pytest.mark.usefixtures("airflow_db")
def test_a_failing_run_alerts_once_per_failed_task_and_once_for_the_run(
    inbox: AlertsInbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = run_dag_file(PROBE_DAG, "alerts_probe", tmp_path, monkeypatch)
    assert run.state == "failed"
    tries = {(ti.task_id, ti.map_index): ti.try_number for ti in run.get_task_instances()}
    # The default retries (2) tried fail_always three times: a retry is not an alert.
    assert tries == {("fail_always", -1): 3, ("fail_mapped", 0): 1, ("fail_mapped", 1): 1, ("succeed", -1): 1}

    messages = inbox.drain()
    subjects = sorted(m["Subject"] for m in messages)
    assert subjects == [
        "[youtube-dev] DAG run failed: alerts_probe",
        "[youtube-dev] task failed: alerts_probe.fail_always",
        "[youtube-dev] task failed: alerts_probe.fail_mapped",
        "[youtube-dev] task failed: alerts_probe.fail_mapped",
    ]
    by_subject = {m["Subject"]: m["Message"] for m in messages}
    failed_task = by_subject["[youtube-dev] task failed: alerts_probe.fail_always"]
    assert "ValueError: probe: bad input in s3://raw/x.csv" in failed_task
    assert f"Run:      {run.run_id}" in failed_task
    assert "/dags/alerts_probe/runs/" in failed_task and "/tasks/fail_always" in failed_task
    mapped = sorted(m["Message"] for m in messages if m["Subject"].endswith("fail_mapped"))
    assert ["Map index: 0" in mapped[0], "Map index: 1" in mapped[1]] == [True, True]
    assert "RuntimeError: probe: mapped failure 1" in mapped[0]
    dag_run = by_subject["[youtube-dev] DAG run failed: alerts_probe"]
    assert "task_failure" in dag_run and run.run_id in dag_run
    kinds = sorted(m["MessageAttributes"]["kind"]["Value"] for m in messages)
    assert kinds == ["dag_run_failed", "task_failed", "task_failed", "task_failed"]


@pytest.mark.usefixtures("airflow_db")
def test_make_run_prints_the_alerts_its_failing_run_published(
    inbox: AlertsInbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """make run reads the provisioned topic's inbox after the run (format_alerts): the operator's view."""
    source = (
        PROBE_DAG.replace('dag_id="alerts_probe"', 'dag_id="alerts_probe_printed"')
        .replace("    fail_mapped.expand(n=[1, 2])\n", "")
        .replace("    @task\n    def fail_always", "    @task(retries=0)\n    def fail_always")
    )
    run = run_dag_file(source, "alerts_probe_printed", tmp_path, monkeypatch)
    assert run.state == "failed"
    alerts = inbox.runtime.read_alerts()
    assert [subject for subject, _ in alerts] == [
        "[youtube-dev] task failed: alerts_probe_printed.fail_always",
        "[youtube-dev] DAG run failed: alerts_probe_printed",
    ], "oldest first: the task's alert, then the run's"
    printed = format_alerts(alerts).splitlines()
    assert printed[0] == "alerts published to the alerts topic: 2"
    assert "  [youtube-dev] task failed: alerts_probe_printed.fail_always" in printed
    assert any(line.startswith("    Error:") and "ValueError: probe: bad input" in line for line in printed)
    assert inbox.runtime.read_alerts() == [], "each alert is read once"
    assert format_alerts([]) == "alerts published to the alerts topic: none"


@pytest.mark.usefixtures("airflow_db")
def test_a_succeeding_run_publishes_nothing(
    inbox: AlertsInbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = PROBE_DAG.replace("    fail_always()\n    fail_mapped.expand(n=[1, 2])\n", "")
    run = run_dag_file(source, "alerts_probe_ok", tmp_path, monkeypatch)
    assert run.state == "success"
    assert inbox.drain() == []


# ---- deadlines, through Airflow's own run creation and miss handling -------------------------------
def _serialized_dag(dag_id: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The project's DAG as the scheduler holds it (parsed, serialized, stored), with its deadline alert.

    Every parse is written: the DAG processor writes a DAG at most every 30 s, and this worker may have
    written it less than 30 s ago (``make run``'s ``run_dag`` stores it without its deadline for
    ``dag.test()``), or the test parses twice at once."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

    from local.runtime import REPO_ROOT

    monkeypatch.setenv("AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL", "0")
    bag = BundleDagBag(
        dag_folder=str(REPO_ROOT / "dags"), bundle_path=REPO_ROOT / "dags", bundle_name="dags-folder"
    )
    assert not bag.import_errors
    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(bag, "dags-folder", None)
    from airflow.models.serialized_dag import SerializedDagModel

    dag = SerializedDagModel.get_dag(dag_id)
    assert dag is not None and dag.deadline, f"{dag_id} carries a deadline alert"
    return dag


def _interval_run(
    dag: Any,
    session: Any,
    run_id: str,
    logical_date: datetime,
    interval: tuple[datetime, datetime],
    scheduled: bool = True,
) -> Any:
    """A run of ``dag`` over ``interval``: scheduled (running, as the scheduler creates it) or manual."""
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    return dag.create_dagrun(
        run_id=run_id,
        logical_date=logical_date,
        data_interval=interval,
        run_after=interval[1],
        run_type=DagRunType.SCHEDULED if scheduled else DagRunType.MANUAL,
        triggered_by=DagRunTriggeredByType.TIMETABLE if scheduled else DagRunTriggeredByType.TEST,
        state=DagRunState.RUNNING if scheduled else DagRunState.QUEUED,
        session=session,
    )


def _deadlines(run_id: str) -> list[Any]:
    from airflow.models import DagRun
    from airflow.models.deadline import Deadline
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(select(Deadline).join(DagRun).where(DagRun.run_id == run_id)).all()
        session.expunge_all()
        return list(rows)


@pytest.mark.usefixtures("airflow_db")
def test_scheduled_runs_get_the_reports_deadline_and_a_missed_one_alerts(
    inbox: AlertsInbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.models.deadline import Deadline
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType
    from sqlalchemy import select

    hours = 30.0  # due tomorrow: a reporting run created now still gets the deadline
    monkeypatch.setenv("AIRFLOW__YOUTUBE_ETL__REPORT_DEADLINE_HOURS", str(hours))
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    end = start + timedelta(days=1)
    ingest = _serialized_dag("youtube_ingest", monkeypatch)
    with create_session() as session:
        scheduled = _interval_run(ingest, session, f"scheduled__{start.isoformat()}", start, (start, end))
        scheduled.start_date = datetime.now(UTC)
        manual = _interval_run(
            ingest,
            session,
            f"manual__{start.isoformat()}",
            start + timedelta(seconds=1),
            (start, end),
            scheduled=False,
        )
    (deadline,) = _deadlines(scheduled.run_id)
    assert deadline.deadline_time == end + timedelta(hours=hours)
    assert _deadlines(manual.run_id) == []

    reporting = _serialized_dag("youtube_reporting", monkeypatch)
    with create_session() as session:
        triggered = reporting.create_dagrun(
            run_id="asset_triggered__probe",
            logical_date=None,
            data_interval=None,
            run_after=datetime.now(UTC),
            run_type=DagRunType.ASSET_TRIGGERED,
            triggered_by=DagRunTriggeredByType.ASSET,
            state=DagRunState.QUEUED,
            session=session,
        )
    (reporting_deadline,) = _deadlines(triggered.run_id)
    assert reporting_deadline.deadline_time == deadline.deadline_time, "the ingest run's interval"

    # The scheduler's miss handling queues the callback with its context; the triggerer then awaits it.
    with create_session() as session:
        missed = session.scalars(select(Deadline).where(Deadline.id == deadline.id)).one()
        missed.handle_miss(session)
        data = dict(missed.callback.data)
    from airflow.sdk._shared.module_loading import import_string

    callback = import_string(data["path"])
    asyncio.run(callback(**data["kwargs"]))
    (message,) = inbox.drain()
    assert message["Subject"] == "[youtube-dev] deadline missed: youtube_ingest"
    assert f"the reports of the interval ending {end.isoformat()}" in message["Message"]
    assert f"not published by {(end + timedelta(hours=hours)).isoformat()}" in message["Message"]
    assert scheduled.run_id in message["Message"]


@pytest.mark.usefixtures("airflow_db")
def test_a_new_version_of_a_dag_keeps_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow 3.3.1 (apache/airflow#68732, fixed in 3.3.2): when a DAG changes but its deadline does not,
    the new serialized version reuses the deadline's id and gets no deadline_alert row, so its runs get no
    deadline — every deploy of a DAG change would silently end the reports deadline on MWAA. The deadline
    carries a digest of what the DAG is made of (youtube_etl.deadlines.definition_digest): a changed DAG
    has a changed deadline, written anew with the new version."""
    from airflow.models import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    monkeypatch.setenv("AIRFLOW__YOUTUBE_ETL__POLL_INTERVAL", "7")
    first = _serialized_dag("youtube_ingest", monkeypatch)
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    end = start + timedelta(days=1)
    with create_session() as session:  # a run with task instances: the next change is a new version
        earlier = (start - timedelta(days=40), end - timedelta(days=40))
        _interval_run(first, session, "manual__version_probe", earlier[0], earlier, scheduled=False)
    monkeypatch.setenv("AIRFLOW__YOUTUBE_ETL__POLL_INTERVAL", "9")  # the tasks' retry delay: not the deadline
    second = _serialized_dag("youtube_ingest", monkeypatch)
    with create_session() as session:
        scheduled = _interval_run(
            second, session, "scheduled__version_probe", start - timedelta(days=39), (start, end)
        )
        version = scheduled.created_dag_version_id
    with create_session() as session:
        probe = session.scalars(
            select(DagRun).where(DagRun.dag_id == "youtube_ingest", DagRun.run_id == "manual__version_probe")
        ).one()
        assert probe.created_dag_version_id != version, "the changed DAG is a new version"
    (deadline,) = _deadlines(scheduled.run_id)
    assert deadline.deadline_time == end + timedelta(hours=get_settings().report_deadline_hours)


def glue_dag(job: str) -> str:
    """A DAG whose one task waits for a run of ``job`` deferred (its trigger, not the worker, waits)."""
    body = f"""\
    GlueJobSummaryOperator(
        task_id="run_job",
        job_name={job!r},
        aws_conn_id=settings.aws_conn_id,
        deferrable=True,
        waiter_delay=1,
        retries=0,
    )
"""
    return alerted_dag(
        "alerts_deferred_glue", body, "from youtube_etl.operators import GlueJobSummaryOperator\n"
    )


@pytest.mark.spark  # a Glue job run: the runtime's job executor
@pytest.mark.usefixtures("airflow_db")
def test_a_glue_run_failing_while_deferred_alerts_with_the_run_and_glues_message(
    inbox: AlertsInbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 25: a deferred wait that fails is not "Trigger failure" in the alert: the job, the run id and
    Glue's own error message."""
    from localaws.tests.test_glue_jobs import RAISING_SCRIPT, job_maker

    runtime = inbox.runtime
    with job_maker(runtime, runtime.settings.assets_bucket, runtime.role_arn("glue")) as make_job:
        job = make_job(RAISING_SCRIPT, {"--region": "zz"})
        run = run_dag_file(glue_dag(job), "alerts_deferred_glue", tmp_path, monkeypatch)
        assert run.state == "failed"
        (glue_run,) = runtime.client("glue").get_job_runs(JobName=job)["JobRuns"]
    messages = {m["Subject"]: m["Message"] for m in inbox.drain()}
    alert = messages["[youtube-dev] task failed: alerts_deferred_glue.run_job"]
    assert f"Glue job {job} run {glue_run['Id']} FAILED: " in alert, alert
    assert "unknown region 'zz'" in alert, alert
