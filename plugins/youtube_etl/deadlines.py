"""Deadline alerts: a daily interval's reports must be published by ``report_deadline_hours`` after it ends.

Airflow 3's ``DeadlineAlert`` (3.1+; MWAA runs 3.3.1) attaches a deadline to a DAG run when the run is
created; the scheduler fires the callback — in the triggerer — if the run has not *succeeded* by then (a
run that succeeded in time drops its deadline; a failed one keeps it). The reports of interval
``[start, end)`` are published by two runs: ``youtube_ingest`` for that interval, then the
``youtube_reporting`` run its asset events trigger. So both DAGs carry the same deadline, anchored on the
interval's end through :class:`ReportsDue`, a custom reference (registered with the scheduler by the
plugin ``plugins/youtube_etl_plugin.py``):

- an ingest run's due time is its own ``data_interval_end`` + the deadline: it fires while the ingest is
  still waiting for a late drop, running, or failed;
- a reporting run's due time is that of the newest ingest run (``max_active_runs=1``: the one whose asset
  events triggered it) — unless that time had already passed when the reporting run was created: the
  ingest run was then still running at its deadline and has alerted already, so one miss is one alert.

Manual and backfill runs get no deadline: they are started by an operator, often long after the interval
(a backfill of last year would otherwise alert once per day at once).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.sdk.definitions.callback import AsyncCallback
from airflow.sdk.definitions.deadline import BaseDeadlineReference, DeadlineAlert

from youtube_etl.alerts import DEADLINE_MISSED, Alert, environment_name, publish
from youtube_etl.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

#: The DAG whose scheduled runs define the daily intervals.
INTERVAL_DAG_ID = "youtube_ingest"
SCHEDULED = "scheduled"


@dataclass(frozen=True)
class RunFacts:
    """What the deadline rules need of a DAG run."""

    dag_id: str
    run_id: str
    run_type: str
    interval_end: datetime | None


def reports_due_base(
    run: RunFacts, interval_run: RunFacts | None, *, now: datetime, deadline: timedelta
) -> datetime | None:
    """The interval end the run's deadline counts from, or ``None`` when the run gets no deadline.

    ``interval_run`` is the run itself for the interval DAG, else the newest run of the interval DAG.
    """
    if interval_run is None or interval_run.run_type != SCHEDULED or interval_run.interval_end is None:
        return None
    if run.dag_id == interval_run.dag_id:
        return interval_run.interval_end if run.run_id == interval_run.run_id else None
    if interval_run.interval_end + deadline <= now:
        return None  # the interval run was still running at the due time: its own deadline has fired
    return interval_run.interval_end


def _facts(dag_run: Any) -> RunFacts:
    run_type = getattr(dag_run.run_type, "value", dag_run.run_type)
    return RunFacts(dag_run.dag_id, dag_run.run_id, str(run_type), dag_run.data_interval_end)


@dataclass(eq=False)  # the base class compares and hashes references by their serialized form
class ReportsDue(BaseDeadlineReference):
    """Deadline reference: the end of the interval whose reports the run publishes (see the module doc).

    Evaluated by the scheduler when the run is created; it must be registered there through a plugin
    (``deadline_references``), as every custom reference.
    """

    interval_dag_id: str = INTERVAL_DAG_ID
    required_kwargs = {"dag_id", "run_id"}

    def serialize_reference(self) -> dict[str, Any]:
        return {**super().serialize_reference(), "interval_dag_id": self.interval_dag_id}

    @classmethod
    def deserialize_reference(cls, reference_data: dict[str, Any]) -> ReportsDue:
        return cls(interval_dag_id=reference_data.get("interval_dag_id", INTERVAL_DAG_ID))

    def _evaluate_with(self, *, session: Session, **kwargs: Any) -> datetime | None:
        from airflow._shared.timezones import timezone
        from airflow.models import DagRun
        from sqlalchemy import select

        run = session.scalar(
            select(DagRun).where(DagRun.dag_id == kwargs["dag_id"], DagRun.run_id == kwargs["run_id"])
        )
        if run is None:
            return None
        if run.dag_id == self.interval_dag_id:
            interval_run = run
        else:
            interval_run = session.scalar(
                select(DagRun)
                .where(DagRun.dag_id == self.interval_dag_id, DagRun.start_date.is_not(None))
                .order_by(DagRun.start_date.desc())
                .limit(1)
            )
        deadline = timedelta(hours=get_settings().report_deadline_hours)
        return reports_due_base(
            _facts(run),
            _facts(interval_run) if interval_run is not None else None,
            now=timezone.utcnow(),
            deadline=deadline,
        )


@functools.cache
def _package_digest() -> bytes:
    """The source of this package as loaded by this process (it does not change while the process runs)."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.digest()


def definition_digest(settings: Settings, *sources: Path) -> str:
    """A digest of what a DAG is made of: the settings, this package's source and ``sources`` (the DAG file,
    the SQL folder), for the deadline's definition.

    Airflow 3.3.1 (apache/airflow#68732, fixed in 3.3.2) writes a changed DAG whose deadline did not change as
    a new version that reuses the deadline's id but gets no ``deadline_alert`` row: its runs get no deadline,
    silently, after every deploy of a DAG change. With this digest in the deadline, a changed DAG has a
    changed deadline, which Airflow writes anew with the new version; an unchanged DAG keeps its digest, so
    parsing it again writes nothing.
    """
    digest = hashlib.sha256(_package_digest())
    digest.update(json.dumps(asdict(settings), sort_keys=True, default=str).encode())
    for source in sources:
        files = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else [source]
        for path in files:
            digest.update(str(path.name).encode() + b"\0" + (path.read_bytes() if path.exists() else b""))
    return digest.hexdigest()[:16]


def reports_deadline(settings: Settings, definition: str = "") -> DeadlineAlert:
    """The ``deadline=`` of the DAGs; ``definition``: :func:`definition_digest` of the DAG."""
    hours = settings.report_deadline_hours
    return DeadlineAlert(
        reference=ReportsDue(),
        interval=timedelta(hours=hours),
        callback=AsyncCallback(
            on_deadline_missed, kwargs={"deadline_hours": hours, "definition": definition}
        ),
        name="reports_published",
    )


def deadline_alert(context: dict[str, Any], deadline_hours: float, settings: Settings) -> Alert:
    """The alert of a missed deadline, from the context the scheduler gives the callback."""
    run = context.get("dag_run") or {}  # the scheduler's DAGRunResponse, as JSON
    run_id = str(run.get("dag_run_id") or run.get("run_id") or "?")
    due = _parse_time(context.get("deadline", {}).get("deadline_time"))
    interval_end = due - timedelta(hours=deadline_hours) if due else None
    start, end = run.get("data_interval_start"), run.get("data_interval_end")
    interval = (str(start), str(end)) if start and end and start != end else None
    due_text = due.isoformat() if due else "?"
    end_text = interval_end.isoformat() if interval_end else "?"
    from airflow.configuration import conf

    base_url = conf.get("api", "base_url", fallback="http://localhost:8080/").rstrip("/")
    return Alert(
        kind=DEADLINE_MISSED,
        environment=environment_name(settings),
        dag_id=str(run.get("dag_id", "?")),
        run_id=run_id,
        interval=interval,
        error=(
            f"the reports of the interval ending {end_text} were not published by {due_text} "
            f"({deadline_hours:g} h after the interval ended); this run is {run.get('state', '?')}"
        ),
        log_url=f"{base_url}/dags/{run.get('dag_id')}/runs/{quote(run_id, safe='')}",
        details={"due": due_text},
    )


def _parse_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


async def on_deadline_missed(context: dict[str, Any], deadline_hours: float = 0.0, **_: Any) -> None:
    """The deadline callback (``AsyncCallback``: the triggerer awaits it)."""
    settings = get_settings()
    alert = deadline_alert(context, deadline_hours or settings.report_deadline_hours, settings)
    await asyncio.to_thread(publish, alert, settings)
