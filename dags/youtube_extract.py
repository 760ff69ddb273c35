"""
### youtube_extract — land each region's most-popular chart of one day from the YouTube Data API (daily, UTC)

Each run covers its data interval `[start, end)` like `youtube_ingest` (`CronDataIntervalTimetable`); the
chart it fetches is labelled with the interval's day (`landing_date=D/`). See `docs/extract.md`.

1. `extract_region` (one mapped task per region of `extract_regions`, default every data region): fetches
   `videos.list(chart=mostPopular)` page by page (≤ 200 videos, 50 a page) and `videoCategories.list`,
   lands the response bodies verbatim — pages, then `XX_category_id.json`, then the manifest, last — and
   counts quota units (one per call; a full run of 11 regions costs 55). Skips when the run starts more
   than `snapshot_lag_hours` after its interval ended: the API serves only the current chart, which must
   not be labelled as a past day. A region-day that already has a manifest is not fetched again.
   Quota spent, a refused key (named by its Airflow connection, never its value) and an unknown region
   fail at once, without retries; 5xx, 429, timeouts and dropped connections are retried with backoff.
2. `publish_extract`: sums the regions' results into the day's asset event (regions, items, units), which
   `youtube_ingest` can be scheduled on. No event when no region landed anything.

The API key is the password of the `youtube_api_conn_id` connection (Secrets Manager on MWAA); it is never
logged, returned or landed. Nothing here calls AWS or the API while the file is parsed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, CronDataIntervalTimetable, TriggerRule, dag, task

from youtube_etl.dag_support import TAGS, dag_alerts, default_args
from youtube_etl.settings import get_settings

if TYPE_CHECKING:
    from airflow.sdk.bases.decorator import Task

settings = get_settings()
#: The day's extract, landed in the raw bucket: what youtube_ingest can be scheduled on.
EXTRACT_ASSET = Asset(
    name=f"{settings.project}_{settings.stage}.youtube_extract",
    uri=f"s3://{settings.raw_bucket}/{settings.prefixes.raw_statistics}",
)


def make_extract_region() -> Task[..., dict[str, Any]]:
    """The ``extract_region`` task; built here so that the DAG function only wires tasks."""

    @task(task_id="extract_region", max_active_tis_per_dagrun=4)
    def extract_region(
        region: str,
        data_interval_start: datetime | None = None,
        data_interval_end: datetime | None = None,
        dag_run: Any = None,
    ) -> dict[str, Any]:
        """Fetch and land one region-day (see the DAG's doc); returns counts, never the key."""
        from datetime import UTC

        from airflow.providers.amazon.aws.hooks.s3 import S3Hook
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
        from airflow.sdk.log import mask_secret

        from youtube_etl.extract import Layout, check_snapshot_lag, redact
        from youtube_etl.extract import extract_region as fetch_and_land
        from youtube_etl.landing import run_interval
        from youtube_etl.youtube_api import ExtractError, FatalExtractError, YouTubeApi, build_service

        start, end = run_interval(data_interval_start, data_interval_end, getattr(dag_run, "run_after", None))
        skip = check_snapshot_lag(end, datetime.now(UTC), settings.snapshot_lag)
        if skip:
            raise AirflowSkipException(f"region={region} [{start.isoformat()}, {end.isoformat()}): {skip}")
        conn_id = settings.youtube_api_conn_id
        try:
            key = BaseHook.get_connection(conn_id).password or ""
        except Exception:  # the SDK raises its own not-found error; the message names the connection
            key = ""
        if not key:
            raise AirflowFailException(
                f"no API key: the Airflow connection {conn_id!r} is missing or has no password"
            )
        mask_secret(key)
        api = YouTubeApi(
            build_service(settings.youtube_api_root, key, timeout=settings.youtube_api_timeout_seconds),
            conn_id,
            retries=settings.youtube_api_retries,
            backoff=settings.youtube_api_backoff_seconds,
        )
        layout = Layout(
            settings.raw_bucket, settings.prefixes.raw_statistics, settings.prefixes.raw_reference
        )
        s3 = S3Hook(aws_conn_id=settings.aws_conn_id).get_conn()
        try:
            return fetch_and_land(s3, api, layout, start.date(), region, api_root=settings.youtube_api_root)
        except FatalExtractError as error:
            raise AirflowFailException(f"region={region}: {redact(error, key)}") from None
        except ExtractError as error:
            raise redact(error, key) from None

    return extract_region


def make_publish_extract() -> Task[..., dict[str, Any]]:
    """The ``publish_extract`` task; built here so that the DAG function only wires tasks."""

    @task(task_id="publish_extract", trigger_rule=TriggerRule.ALL_DONE, outlets=[EXTRACT_ASSET])
    def publish_extract(results: Any, outlet_events: Any = None) -> dict[str, Any]:
        """The day's asset event: regions landed, items and quota units (failed regions are named by their
        own tasks)."""
        import logging

        from airflow.sdk.exceptions import AirflowSkipException

        from youtube_etl.extract import summarize

        # One slice: iterating the lazy sequence asks for one XCom past the end, which the task SDK logs as
        # an error ("XCom not found") before it stops.
        values = list(results[:]) if results is not None else []
        summary = summarize([r for r in values if r])
        logging.getLogger(__name__).info("extract: %s", summary)  # the task log (make run: its own line)
        if not summary["landed"]:
            raise AirflowSkipException(f"no region landed a chart: {summary}")
        outlet_events[EXTRACT_ASSET].extra = summary
        return summary

    return publish_extract


@dag(
    dag_id="youtube_extract",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2017, 11, 1),
    # A past chart cannot be fetched: catch-up runs would only skip (snapshot lag).
    catchup=False,
    max_active_runs=1,
    tags=[*TAGS, "extract"],
    doc_md=__doc__,
    default_args=default_args(settings, execution_timeout=timedelta(minutes=30)),
    **dag_alerts(settings, __file__),
)
def youtube_extract() -> None:
    extract_region = make_extract_region()
    publish_extract = make_publish_extract()
    publish_extract(extract_region.expand(region=list(settings.extract_region_codes)))


youtube_extract()
