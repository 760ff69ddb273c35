"""Each custom operator built with plain arguments, as any DAG (or a test) may build it: no upstream task id,
no settings read while it runs. AWS calls are replaced at the provider's edge."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.amazon.aws.operators.lambda_function import LambdaInvokeFunctionOperator
from airflow.sdk import Asset
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from youtube_etl import ingest, operators, reports
from youtube_etl.landing import LandingObject
from youtube_etl.settings import Settings

D = datetime(2017, 11, 14, tzinfo=UTC)
STATS = "youtube/raw_statistics/"
PLAN = {"interval_start": "2017-11-14T00:00:00+00:00", "interval_end": "2017-11-15T00:00:00+00:00"}


class TaskInstance:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


@pytest.mark.parametrize(
    "plan",
    [
        pytest.param(json.dumps({**PLAN, "statistics": 0, "later": 2}), id="json-text"),
        pytest.param({**PLAN, "statistics": 0, "later": 2}, id="native"),
    ],
)
def test_clean_statistics_is_skipped_when_the_plan_takes_no_file(plan: Any) -> None:
    task = operators.CleanStatisticsOperator(task_id="t", job_name="job", plan=plan, metrics_uri="s3://a/m")
    assert {"plan", "metrics_uri", "script_args"} <= set(task.template_fields)
    with pytest.raises(
        AirflowSkipException, match=r"no statistics file to take in \[2017-11-14.*2 arrive later"
    ):
        task.execute({})


def test_the_glue_job_summary_without_a_metrics_uri_reads_and_passes_on_nothing() -> None:
    task = operators.GlueJobSummaryOperator(task_id="t", job_name="job")
    ti = TaskInstance()
    assert not task.report_metrics({"ti": ti}) and ti.pushed == {}


def test_the_processed_crawl_says_what_the_run_changed_from_its_arguments() -> None:
    statistics, reference = Asset(name="db.statistics", uri="s3://p/s/"), Asset(name="db.category_reference")
    metrics = {
        "read": 3,
        "written": 2,
        "files": [{"key": "a", "verdict": "processed"}],
        "partitions": {"p": 2},
    }
    answer = {"records": [{"key": "US.json", "status": "converted", "region": "us"}]}
    task = operators.CrawlProcessedOperator(
        task_id="t",
        crawler_name="crawler",
        outlets=[statistics, reference],
        plan=json.dumps(PLAN),
        glue_metrics=json.dumps(metrics),
        lambda_results=json.dumps([json.dumps(answer), None]),
    )
    events = {statistics: SimpleNamespace(extra=None), reference: SimpleNamespace(extra=None)}
    task._set_extras({"outlet_events": events})
    assert events[statistics].extra["read"] == 3 and events[statistics].extra["changed_partitions"] == ["p"]
    assert events[statistics].extra["interval_start"] == PLAN["interval_start"]
    assert events[reference].extra["regions"] == ["us"] and events[reference].extra["converted"] == 1
    skipped = operators.CrawlProcessedOperator(
        task_id="t",
        crawler_name="c",
        outlets=[statistics],
        plan="null",
        glue_metrics="null",
        lambda_results="null",
    )
    events = {statistics: SimpleNamespace(extra=None)}
    skipped._set_extras({"outlet_events": events})
    assert (events[statistics].extra["files"], events[statistics].extra["interval_start"]) == (0, None)


def test_convert_reference_logs_each_verdict_and_returns_the_answer(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = json.dumps(
        {
            "records": [
                {"key": "US.json", "status": "converted", "region": "us", "rows": 31, "output": "s3://p/us"},
                {
                    "key": "ZZ.json",
                    "status": "quarantined",
                    "reason": "unknown_region: 'zz'",
                    "quarantine_key": "q",
                },
            ]
        }
    )
    monkeypatch.setattr(LambdaInvokeFunctionOperator, "execute", lambda self, context: answer)
    task = operators.ConvertReferenceOperator(task_id="t", function_name="f", payload="{}")
    assert task.execute({}) == answer
    out = capsys.readouterr().out
    assert "converted US.json -> s3://p/us (31 rows, region us)" in out
    assert "QUARANTINED ZZ.json (region None): unknown_region: 'zz' — copy at q" in out


def test_convert_reference_fails_on_an_answer_that_is_not_the_lambdas_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(LambdaInvokeFunctionOperator, "execute", lambda self, context: '{"oops": 1}')
    task = operators.ConvertReferenceOperator(task_id="t", function_name="f", payload="{}")
    with pytest.raises(ValueError, match="unexpected Lambda result"):
        task.execute({})


def test_a_report_check_looks_up_its_columns_in_the_deployment_it_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(stage="test")
    with pytest.raises(ValueError, match="needs the settings"):
        operators.AthenaCheckOperator(task_id="t", check_name="c", report="r", query="SELECT 1")
    task = operators.AthenaCheckOperator(
        task_id="t", check_name="c", report="r", settings=settings, query="{{ columns }}", database="db"
    )
    assert task.params["report"] == "r"
    seen: list[tuple[Any, ...]] = []

    def columns(session: Any, given: Settings, report: str, run_id: str) -> list[str]:
        seen.append((given, report, run_id))
        return ["a", "b"]

    monkeypatch.setattr(reports, "run_table_columns", columns)
    task.__dict__["hook"] = SimpleNamespace(get_session=lambda: None)
    task.render_template_fields({"run_id": "manual__1", "params": task.params})
    assert seen == [(settings, "r", "manual__1")] and task.query == "['a', 'b']"


class TaskStateStore:
    """``context["task_state_store"]``: what one task of one DAG run keeps across its tries."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any, **_: Any) -> None:
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


def test_a_report_build_discards_its_own_earlier_attempt_only_before_a_ctas_it_submits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(stage="test")
    calls: list[Any] = []
    monkeypatch.setattr(
        reports, "discard_report_run", lambda session, s, r, run: calls.append((s, r, run)) or []
    )
    states = {"q-1": "SUCCEEDED"}
    hook = SimpleNamespace(
        get_session=lambda: None,
        run_query=lambda *args: calls.append("ctas") or "q-1",
        check_query_status=lambda query_id: states.get(query_id),
        poll_query_status=lambda query_id, **_: states[query_id],
        conn_region_name="us-east-1",
        conn_partition="aws",
    )
    task = operators.AthenaReportOperator(task_id="t", report="top", settings=settings, query="SELECT 1")
    task.__dict__["hook"] = hook
    store = TaskStateStore()
    ti = SimpleNamespace(stats_tags={}, xcom_push=lambda **_: None)
    context = {"run_id": "manual__1", "ti": ti, "task_state_store": store}

    def dying_poll(query_id: str, **_: Any) -> str:
        raise SystemExit("the worker died while the CTAS ran")

    hook.poll_query_status = dying_poll
    with pytest.raises(SystemExit):
        task.execute(context)
    assert calls == [(settings, "top", "manual__1"), "ctas"] and store.values
    # The retry finds the CTAS succeeded: it neither discards its table nor runs the CTAS again.
    assert task.execute(context) == "q-1"
    assert calls == [(settings, "top", "manual__1"), "ctas"]
    assert not store.values, "a task that succeeded forgets its query: a cleared task builds again"


def test_the_drop_sensor_finds_the_intervals_drop_in_the_listing_it_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    listing = {
        STATS: [
            LandingObject(f"{STATS}landing_date=2017-11-13/region=us/a.csv", "e", 1, D + timedelta(days=9)),
            LandingObject(f"{STATS}region=us/b.csv", "e", 1, D + timedelta(hours=3)),
            LandingObject(f"{STATS}region=us/", "e", 0, D + timedelta(hours=1)),
        ]
    }
    monkeypatch.setattr(S3Hook, "get_conn", lambda self: None)
    monkeypatch.setattr(ingest, "list_landing", lambda s3, bucket, prefixes: listing[prefixes[0]])
    sensor = operators.LandingDropSensor(
        task_id="t", bucket_name="raw", prefixes=(STATS,), landing_grace=timedelta(hours=6)
    )
    assert set(sensor.template_fields) == {"bucket_name", "prefixes"}
    found = sensor.poke({"data_interval_start": D, "data_interval_end": D + timedelta(days=1)})
    assert getattr(found, "xcom_value", None) == {"drop": 1}
    with pytest.raises(AirflowFailException, match="empty data interval"):
        sensor.poke({"data_interval_start": D, "data_interval_end": D})


def test_landing_drop_sensor_waits_while_the_extract_of_its_interval_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    class TaskInstance:
        def __init__(self, running: int) -> None:
            self.running = running
            self.asked: list[dict[str, Any]] = []

        def get_dr_count(self, **query: Any) -> int:
            self.asked.append(query)
            return self.running

    csv = LandingObject(f"{STATS}landing_date=2017-11-14/region=us/a.csv", "e", 1, D + timedelta(days=9))
    monkeypatch.setattr(S3Hook, "get_conn", lambda self: None)
    monkeypatch.setattr(ingest, "list_landing", lambda s3, bucket, prefixes: [csv])
    sensor = operators.LandingDropSensor(
        task_id="t",
        bucket_name="raw",
        prefixes=(STATS,),
        landing_grace=timedelta(hours=6),
        extract_dag_id="youtube_extract",
    )
    context: dict[str, Any] = {
        "data_interval_start": D,
        "data_interval_end": D + timedelta(days=1),
        "logical_date": D,
    }
    running = TaskInstance(running=1)
    assert sensor.poke({**context, "ti": running}) is False
    assert running.asked == [
        {"dag_id": "youtube_extract", "logical_dates": [D], "states": ["queued", "running"]}
    ]
    done = sensor.poke({**context, "ti": TaskInstance(running=0)})
    assert getattr(done, "xcom_value", None) == {"drop": 1}
