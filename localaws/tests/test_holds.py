"""Holds: a query or a crawl kept RUNNING on demand, so a test can kill its waiting task mid-run."""

from __future__ import annotations

import time
from typing import Any

import pytest

from localaws import LocalAWS
from localaws._holds import ROUTE
from localaws.tests.control import control
from localaws.tests.lake import Names


def holds(aws: LocalAWS, method: str, body: Any = None) -> tuple[int, Any]:
    return control(f"{aws.endpoint}{ROUTE}", method, body)


def query_state(aws: LocalAWS, query_id: str) -> str:
    execution = aws.client("athena").get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
    return str(execution["Status"]["State"])


def start(aws: LocalAWS, names: Names, query: str) -> str:
    return str(
        aws.client("athena").start_query_execution(
            QueryString=query, QueryExecutionContext={"Database": names.database}, WorkGroup=names.workgroup
        )["QueryExecutionId"]
    )


def wait_state(aws: LocalAWS, query_id: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while (state := query_state(aws, query_id)) in ("QUEUED", "RUNNING"):
        assert time.monotonic() < deadline, f"query {query_id} still {state}"
        time.sleep(0.05)
    return state


def test_a_held_query_stays_running_then_runs_and_only_the_matching_ones(aws: LocalAWS, names: Names) -> None:
    assert holds(aws, "POST", {"service": "athena", "match": "held_marker", "seconds": 2})[0] == 200
    other = start(aws, names, "SELECT 1 AS not_this_one")
    held = start(aws, names, "SELECT 2 AS held_marker")
    assert wait_state(aws, other) == "SUCCEEDED", "a query the hold does not match runs at once"
    time.sleep(1)
    assert query_state(aws, held) == "RUNNING", "held"
    assert wait_state(aws, held) == "SUCCEEDED"
    assert holds(aws, "GET")[1] == {"holds": []}, "count 1: used up"
    again = start(aws, names, "SELECT 3 AS held_marker")
    assert wait_state(aws, again, timeout=1.5) == "SUCCEEDED", "the next one is not held"


def test_a_held_query_is_stopped_at_once(aws: LocalAWS, names: Names) -> None:
    holds(aws, "POST", {"service": "athena", "match": "stop_marker", "seconds": 60})
    held = start(aws, names, "SELECT 1 AS stop_marker")
    time.sleep(0.5)
    aws.client("athena").stop_query_execution(QueryExecutionId=held)
    assert wait_state(aws, held, timeout=2) == "CANCELLED"


def test_a_held_crawl_stays_running(aws: LocalAWS, names: Names) -> None:
    glue = aws.client("glue")
    holds(aws, "POST", {"service": "crawler", "match": f"^{names.crawler}$", "seconds": 2})
    glue.start_crawler(Name=names.crawler)
    time.sleep(1)
    assert glue.get_crawler(Name=names.crawler)["Crawler"]["State"] == "RUNNING"
    deadline = time.monotonic() + 60
    while (crawler := glue.get_crawler(Name=names.crawler)["Crawler"])["State"] != "READY":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"service": "lambda", "match": "x", "seconds": 1}, "hold service 'lambda'"),
        ({"service": "athena", "match": "(", "seconds": 1}, "not a regular expression"),
        ({"service": "athena", "match": "x", "seconds": 0}, "hold seconds 0.0"),
        ({"service": "athena", "match": "x", "seconds": 1, "count": 0}, "hold count 0"),
        ({"service": "athena", "match": "x", "seconds": 1, "every": True}, "unknown hold fields ['every']"),
        (["athena"], "must be a JSON object"),
    ],
)
def test_a_wrong_hold_is_refused_naming_the_field(aws: LocalAWS, body: Any, fragment: str) -> None:
    status, answer = holds(aws, "POST", body)
    assert status == 400 and fragment in answer["message"], answer
    assert holds(aws, "DELETE")[1] == {"holds": []}
