"""Alerts: one clear message per failed task, per failed DAG run and per missed deadline, to one SNS topic.

Airflow calls :func:`on_task_failure` once per task instance that failed for good (retries exhausted: a
retry calls ``on_retry_callback`` instead), :func:`on_dag_failure` once per DAG run that failed, and
:func:`on_deadline_missed` (in the triggerer) when a run's deadline passed (:mod:`youtube_etl.deadlines`).
Each builds an :class:`Alert` from the callback's context — pure code — and publishes it to the alerts
topic (``Settings.alerts_target``) through the Amazon provider's SNS hook. The same topic receives the
CloudWatch alarms and the Glue job state changes of the alerts stack (``infra/stacks/alerts.py``), so one
email subscription sees every kind. ``docs/operations.md`` says what each alert means and what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from youtube_etl.settings import Settings, get_settings

log = logging.getLogger(__name__)

TASK_FAILED = "task_failed"
DAG_RUN_FAILED = "dag_run_failed"
DEADLINE_MISSED = "deadline_missed"
#: SNS subjects are at most 100 printable ASCII characters, on one line.
SUBJECT_LIMIT = 100
#: Enough of an error to act on; the full text is in the task log the alert links to.
ERROR_LIMIT = 4000
RUNBOOK = "docs/operations.md"
_TITLES = {TASK_FAILED: "task failed", DAG_RUN_FAILED: "DAG run failed", DEADLINE_MISSED: "deadline missed"}


@dataclass(frozen=True)
class Alert:
    """What an operator needs to act: which DAG, task and run, which data interval, what went wrong, where
    the log is. ``kind`` is one of :data:`TASK_FAILED`, :data:`DAG_RUN_FAILED`, :data:`DEADLINE_MISSED`."""

    kind: str
    environment: str
    dag_id: str
    run_id: str
    error: str
    task_id: str | None = None
    interval: tuple[str, str] | None = None
    log_url: str | None = None
    details: dict[str, str] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        target = f"{self.dag_id}.{self.task_id}" if self.task_id else self.dag_id
        subject = f"[{self.environment}] {_TITLES.get(self.kind, self.kind)}: {target}"
        printable = "".join(c if " " <= c <= "~" else "?" for c in subject)
        return printable if len(printable) <= SUBJECT_LIMIT else printable[: SUBJECT_LIMIT - 3] + "..."

    @property
    def message(self) -> str:
        rows = [("DAG", self.dag_id)]
        if self.task_id:
            rows.append(("Task", self.task_id))
        rows.append(("Run", self.run_id))
        rows.append(("Interval", f"{self.interval[0]} to {self.interval[1]}" if self.interval else "none"))
        rows += [(key.replace("_", " ").capitalize(), value) for key, value in self.details.items()]
        rows.append(("Error", _clip(self.error)))
        rows.append(("Log", self.log_url or "not available"))
        width = max(len(key) for key, _ in rows) + 1
        body = "\n".join(f"{key + ':':<{width}} {value}" for key, value in rows)
        return f"{self.subject}\n\n{body}\n\nWhat to do: {RUNBOOK}, section '{self.kind}'.\n"

    @property
    def attributes(self) -> dict[str, str]:
        """SNS message attributes, for subscription filter policies (e.g. only deadlines to a pager)."""
        values = {"kind": self.kind, "dag_id": self.dag_id, "task_id": self.task_id or ""}
        return {key: value for key, value in values.items() if value}

    def log_line(self) -> str:
        task = f" task={self.task_id}" if self.task_id else ""
        first_line = (self.error.splitlines() or [""])[0]
        return f"{self.kind}: dag={self.dag_id}{task} run={self.run_id} error={_clip(first_line, 500)}"


def _clip(text: str, limit: int = ERROR_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _interval(start: Any, end: Any) -> tuple[str, str] | None:
    start_text, end_text = _iso(start), _iso(end)
    return (start_text, end_text) if start_text and end_text else None


def _describe(error: Any) -> str:
    if error is None:
        return "no exception recorded (see the log)"
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    return str(error)


def environment_name(settings: Settings) -> str:
    return f"{settings.project}-{settings.stage}"


def task_failure_alert(context: Mapping[str, Any], settings: Settings) -> Alert:
    """The alert for a task instance that failed for good (its context as ``on_failure_callback`` gets it)."""
    ti = context.get("ti") or context.get("task_instance")
    details = {}
    map_index = getattr(ti, "map_index", -1)
    if map_index is not None and map_index >= 0:
        details["map_index"] = str(map_index)
    if ti is not None and getattr(ti, "try_number", None):
        details["try"] = str(ti.try_number)
    return Alert(
        kind=TASK_FAILED,
        environment=environment_name(settings),
        dag_id=str(getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")),
        task_id=str(getattr(ti, "task_id", "?")),
        run_id=str(context.get("run_id") or getattr(ti, "run_id", "?")),
        interval=_interval(context.get("data_interval_start"), context.get("data_interval_end")),
        error=_describe(context.get("exception")),
        log_url=getattr(ti, "log_url", None),
        details=details,
    )


def dag_failure_alert(context: Mapping[str, Any], settings: Settings) -> Alert:
    """The alert for a failed DAG run (``DAG(on_failure_callback=…)``: ``reason`` and the failed task)."""
    dag_run = context.get("dag_run")
    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    details = {"reason": str(context.get("reason") or "failed")}
    if ti is not None:
        details["failed_task"] = str(ti.task_id)
    return Alert(
        kind=DAG_RUN_FAILED,
        environment=environment_name(settings),
        dag_id=str(getattr(dag, "dag_id", None) or getattr(dag_run, "dag_id", "?")),
        run_id=str(context.get("run_id") or getattr(dag_run, "run_id", "?")),
        interval=_interval(
            context.get("data_interval_start") or getattr(dag_run, "data_interval_start", None),
            context.get("data_interval_end") or getattr(dag_run, "data_interval_end", None),
        ),
        error=_describe(context.get("exception")) if context.get("exception") else details["reason"],
        log_url=getattr(ti, "log_url", None),
        details=details,
    )


def publish(alert: Alert, settings: Settings) -> str | None:
    """Log the alert and publish it to the alerts topic; returns the SNS message id.

    Without a topic (no account and no ``alerts_topic_arn``) the alert is only logged, with a warning that
    nobody is notified. A publishing error is logged, never raised: it must not hide the original failure.
    """
    log.error("%s", alert.log_line())
    target = settings.alerts_target
    if not target:
        log.warning("no alerts topic configured ([youtube_etl] alerts_topic_arn): nobody was notified")
        return None
    from airflow.providers.amazon.aws.hooks.sns import SnsHook

    try:
        response = SnsHook(aws_conn_id=settings.aws_conn_id, region_name=settings.region).publish_to_target(
            target_arn=target,
            message=alert.message,
            subject=alert.subject,
            message_attributes=alert.attributes,
        )
    except Exception as error:  # an unpublished alert is reported; the callback goes on
        log.exception("could not publish the alert to %s: %s", target, error)
        return None
    message_id = str(response.get("MessageId", "")) if isinstance(response, Mapping) else None
    log.info("alert published to %s (message %s)", target, message_id)
    return message_id


def on_task_failure(context: Mapping[str, Any]) -> None:
    """``on_failure_callback`` of every task (``dag_support.default_args``)."""
    settings = get_settings()
    publish(task_failure_alert(context, settings), settings)


def on_dag_failure(context: Mapping[str, Any]) -> None:
    """``on_failure_callback`` of every DAG."""
    settings = get_settings()
    publish(dag_failure_alert(context, settings), settings)
