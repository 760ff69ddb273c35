"""``make run``'s default: E → T → L over recorded days, the YouTube Data API stand-in as the API.

Day by day, the stand-in's clock is set to the recorded day D, ``youtube_extract`` runs for D's interval
(``dag.test(logical_date=D+1)``) and lands every region's chart and categories, their category files fire the
Lambda (the ad-hoc path), then ``youtube_ingest`` runs for D; ``local.pipeline`` runs ``youtube_reporting``
once at the end. One progress line per day: regions, items fetched, quota units spent, rows written,
verdicts.

The chart is a snapshot of *now*: ``youtube_extract`` skips a run that starts more than
``snapshot_lag_hours`` after its interval ended. Replaying 2020 on a later date needs that lag relaxed, which
is done through the same setting (``AIRFLOW__YOUTUBE_ETL__SNAPSHOT_LAG_HOURS``), and said on the terminal.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from local.export import PipelineError, PipelineResult, StageTiming
from local.runtime import LocalRuntime, patched_environ

#: The recorded days ``make run`` replays by default: the first three, where every region has a full chart.
DEFAULT_DAYS = 3
SNAPSHOT_LAG = "AIRFLOW__YOUTUBE_ETL__SNAPSHOT_LAG_HOURS"


def relaxed_lag_hours(days: Sequence[date], now: datetime) -> int:
    """Hours from the end of the oldest day's interval to now, plus a day: enough for every replayed run."""
    oldest_end = datetime.combine(min(days) + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    return math.ceil((now - oldest_end).total_seconds() / 3600) + 24


def replay_days(runtime: LocalRuntime, count: int = DEFAULT_DAYS) -> list[date]:
    """The first ``count`` recorded days of the stand-in (an error when it is off or has fewer)."""
    try:
        recorded = runtime.youtube.days
    except RuntimeError as error:
        raise PipelineError(
            f"{error}: make run replays the recorded rsrishav days (../shared/data/youtube/rsrishav_trending)"
        ) from None
    if len(recorded) < count:
        raise PipelineError(f"the stand-in has {len(recorded)} recorded day(s), make run replays {count}")
    return list(recorded[:count])


@contextmanager
def relaxed_snapshot_lag(days: Sequence[date]) -> Iterator[None]:
    """Set the lag through the setting for the block, and say so and why."""
    hours = relaxed_lag_hours(days, datetime.now(UTC))
    print(
        f"snapshot lag relaxed to {hours} h (snapshot_lag_hours, {SNAPSHOT_LAG}; default 6 h): the stand-in "
        f"replays charts recorded on {days[0]} … {days[-1]}, long past; on AWS a run that late would skip, "
        "because the API serves only the current chart",
        flush=True,
    )
    with patched_environ({SNAPSHOT_LAG: str(hours)}):
        yield


def extract_summary(runtime: LocalRuntime, run: Any, day: date) -> dict[str, Any]:
    """What one extract run did: ``publish_extract``'s summary, and the units the stand-in counted."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(
            run_id=run.run_id, dag_ids="youtube_extract", task_ids="publish_extract", key="return_value"
        )
        row = session.scalars(query).first()
        published = dict(XComModel.deserialize_value(row) or {}) if row is not None else {}
    return {
        "extract_run_id": run.run_id,
        "extract_state": run.state,
        "regions": len(published.get("landed", [])),
        "items_fetched": int(published.get("items", 0)),
        "units": int(published.get("units", 0)),
        "units_counted_by_stand_in": runtime.youtube.quota_spent(runtime.youtube_api_key, day),
    }


def day_line(summary: Mapping[str, Any], elapsed: float) -> str:
    """The day's progress line: extract, then the ingest's counts and verdicts."""
    from local.pipeline import ingest_counts  # local.pipeline imports this module

    failed = "" if summary["state"] == "success" else f", ingest run {summary['state']}"
    return (
        f"  [{elapsed:6.1f} s] {summary['date']}: {summary['regions']} regions, {summary['items_fetched']} "
        f"items fetched, {summary['units']} units spent; {ingest_counts(summary)} "
        f"({summary['extract_seconds'] + summary['seconds']:.1f} s){failed}"
    )


def extract_and_ingest(
    runtime: LocalRuntime, result: PipelineResult, started: float, count: int = DEFAULT_DAYS
) -> None:
    """E → T for each replayed day (see the module's doc); the timings go into ``result``."""
    from local.pipeline import Drop, ingest_summary, report_verdicts, run_dag, wait_for_event_invocations
    from local.runtime import YOUTUBE_RECORDING

    days = replay_days(runtime, count)
    extracting = loading = ingesting = 0.0
    with relaxed_snapshot_lag(days):
        for day in days:
            runtime.youtube.set_day(day)
            drop = Drop(runtime.youtube_data or YOUTUBE_RECORDING, day)
            mark = time.perf_counter()
            extract = run_dag("youtube_extract", started, drop.logical_date, progress=False)
            extract.check()
            now = time.perf_counter()
            fetched = extract_summary(runtime, extract, day) | {"extract_seconds": round(now - mark, 2)}
            extracting += now - mark
            wait_for_event_invocations(runtime)  # the category files' S3 events run the Lambda
            loading += time.perf_counter() - now
            mark = time.perf_counter()
            run = run_dag("youtube_ingest", started, drop.logical_date, progress=False)
            now = time.perf_counter()
            ingesting += now - mark
            summary = {**ingest_summary(runtime, drop, run, now - mark), **fetched}
            result.runs.append(summary)
            print(day_line(summary, now - started), flush=True)
            report_verdicts(run, summary)
            result.run_ids["youtube_extract"] = extract.run_id
            result.run_ids["youtube_ingest"] = run.run_id
    runs = f"{len(days)} run{'s' * (len(days) > 1)}"
    recorded = f"{len(days)} recorded day{'s' * (len(days) > 1)}"
    result.timings += [
        StageTiming(f"youtube_extract ({runs}, {recorded} from the stand-in)", extracting),
        StageTiming("S3-event Lambda (the extract's category files)", loading),
        StageTiming(f"youtube_ingest ({runs})", ingesting),
    ]
