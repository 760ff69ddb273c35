"""record_verdicts decides which answers of the Lambda and the Glue job fail the run, and says why."""

from __future__ import annotations

import json
from typing import Any

from youtube_etl.ingest import asset_extras, parse_lambda_results, record_verdicts_task
from youtube_etl.settings import get_settings
from youtube_lake.metrics import GlueMetrics

KEY = "youtube/raw_statistics_reference_data/{}_category_id.json"


def lambda_result(*records: dict[str, Any]) -> str:
    return json.dumps({"records": list(records)})


CONVERTED = {"key": KEY.format("US"), "status": "converted", "region": "us", "rows": 32}
SUPERSEDED = {
    "key": KEY.format("CA"),
    "status": "superseded",
    "region": "ca",
    "reason": "not_current: version 1 is not the current version 2",
}
QUARANTINED = {
    "key": KEY.format("DE"),
    "status": "quarantined",
    "region": "de",
    "reason": "no_items: the file holds no category",
    "quarantine_key": "youtube/quarantine/reference_data/DE_category_id.json",
}


def test_a_superseded_answer_is_not_a_failure_and_a_quarantined_one_is() -> None:
    # No plan, no Glue run: the task reads nothing from S3 (a client that is never called).
    calm = record_verdicts_task(
        None,
        get_settings(),
        "r1",
        None,
        GlueMetrics(),
        parse_lambda_results(lambda_result(CONVERTED, SUPERSEDED)),
    )
    assert (calm.quarantined, calm.processed) == ([], 1)
    answers = parse_lambda_results([lambda_result(SUPERSEDED), lambda_result(QUARANTINED), None])
    failed = record_verdicts_task(None, get_settings(), "r2", None, GlueMetrics(), answers)
    assert [q["key"] for q in failed.quarantined] == [QUARANTINED["key"]]
    message = failed.failure_message("r2")
    assert "region de" in message and QUARANTINED["key"] in message and "no_items" in message
    assert QUARANTINED["quarantine_key"] in message
    assert SUPERSEDED["key"] not in message


def test_quarantined_files_of_the_glue_job_fail_the_run_beside_the_lambdas() -> None:
    files = [
        {"key": "a/region=us/US.csv", "region": "us", "verdict": "processed"},
        {
            "key": "a/region=fr/FR.csv",
            "region": "fr",
            "verdict": "quarantined",
            "reason": "too_many_rejected",
            "output": "s3://raw/quarantine/statistics/run_id=r3/",
        },
    ]
    verdicts = record_verdicts_task(
        None,
        get_settings(),
        "r3",
        None,
        GlueMetrics.from_json({"files": files}),
        parse_lambda_results([lambda_result(CONVERTED, QUARANTINED)]),
    )
    assert [q["key"] for q in verdicts.quarantined] == ["a/region=fr/FR.csv", QUARANTINED["key"]]
    assert verdicts.quarantined[0] == {
        "key": "a/region=fr/FR.csv",
        "region": "fr",
        "reason": "too_many_rejected",
        "output": "s3://raw/quarantine/statistics/run_id=r3/",
    }
    assert verdicts.processed == 2  # one CSV, one category file


def test_the_lambdas_answers_arrive_as_one_a_list_or_none() -> None:
    one = lambda_result(CONVERTED)
    assert [r.count("converted") for r in parse_lambda_results(one)] == [1]
    assert len(parse_lambda_results([one, None, one])) == 2  # a skipped mapping answers nothing
    assert parse_lambda_results(None) == []
    assert parse_lambda_results(json.loads(one))[0].records[0].key == CONVERTED["key"]


def test_asset_extras_count_what_the_run_changed() -> None:
    plan = {"interval_start": "2017-11-14T00:00:00Z", "interval_end": "2017-11-15T00:00:00Z"}
    metrics = {
        "read": 10,
        "written": 7,
        "duplicates": 2,
        "rejected": 1,
        "files": [{}, {}],
        "files_quarantined": 1,
        "partitions": {"region=us/dt=2017-11-14": {}, "region=fr/dt=2017-11-13": {}},
    }
    extras = asset_extras(
        plan,
        GlueMetrics.from_json(metrics),
        parse_lambda_results([lambda_result(CONVERTED, SUPERSEDED, QUARANTINED)]),
    )
    statistics, reference = extras["statistics"], extras["category_reference"]
    assert (
        statistics["read"],
        statistics["written"],
        statistics["files"],
        statistics["quarantined_files"],
    ) == (
        10,
        7,
        2,
        1,
    )
    assert statistics["changed_partitions"] == ["region=fr/dt=2017-11-13", "region=us/dt=2017-11-14"]
    assert (reference["converted"], reference["superseded"], reference["quarantined"]) == (1, 1, 1)
    assert reference["regions"] == ["us"]


def test_asset_extras_of_a_run_without_glue_job_count_nothing_for_statistics() -> None:
    extras = asset_extras(None, GlueMetrics(), [])
    assert extras["statistics"]["files"] == 0 and extras["statistics"]["changed_partitions"] == []
    assert extras["statistics"]["read"] == 0 and extras["category_reference"]["converted"] == 0
