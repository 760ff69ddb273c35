"""Structure of youtube_extract: daily data intervals, one mapped task per region, the day's asset."""

from __future__ import annotations

import pytest
from airflow.dag_processing.dagbag import DagBag

from local.runtime import REPO_ROOT
from youtube_etl.settings import get_settings


@pytest.fixture(scope="module")
def dag():  # type: ignore[no-untyped-def]
    bag = DagBag(dag_folder=str(REPO_ROOT / "dags" / "youtube_extract.py"))
    assert not bag.import_errors
    return bag.dags["youtube_extract"]


def test_one_mapped_task_per_region_then_the_asset(dag) -> None:  # type: ignore[no-untyped-def]
    extract = dag.get_task("extract_region")
    publish = dag.get_task("publish_extract")
    assert extract.op_kwargs_expand_input.value["region"] == list(get_settings().extract_region_codes)
    assert publish.upstream_task_ids == {"extract_region"}
    assert [a.uri for a in publish.outlets] == [get_settings().raw_statistics_uri.rstrip("/")]
    assert publish.trigger_rule == "all_done"  # one failed region must not hide the others' event
    assert min(extract.partial_kwargs.get("retries", 0), publish.retries) >= 2


def test_daily_utc_data_intervals(dag) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from airflow.serialization.encoders import coerce_to_core_timetable

    timetable = coerce_to_core_timetable(dag.timetable)
    interval = timetable.infer_manual_data_interval(run_after=datetime(2021, 3, 15, 1, tzinfo=UTC))
    assert (interval.start, interval.end) == (
        datetime(2021, 3, 14, tzinfo=UTC),
        datetime(2021, 3, 15, tzinfo=UTC),
    )
