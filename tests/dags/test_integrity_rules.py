"""The integrity rules themselves: they pass an empty folder and catch broken or careless DAG files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dags.integrity import check_folder

GOOD = '''
"""A fine DAG."""
from datetime import datetime, timedelta
from airflow.sdk import dag, task

@dag(schedule=None, start_date=datetime(2026, 1, 1), tags=["t"], doc_md=__doc__,
     default_args={"retries": 2, "execution_timeout": timedelta(minutes=1)})
def good():
    @task
    def hello() -> None:
        pass
    hello()

good()
'''


def write(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(body)
    return path


def test_an_empty_folder_passes(tmp_path: Path) -> None:
    report = check_folder(tmp_path)
    assert report.problems == []
    assert report.dagbag.dags == {}


def test_a_good_dag_passes(tmp_path: Path) -> None:
    write(tmp_path, "good.py", GOOD)
    report = check_folder(tmp_path)
    assert report.problems == []
    assert list(report.dagbag.dags) == ["good"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param(
            GOOD + "\nraise RuntimeError('boom at parse time')\n",
            "import error: RuntimeError: boom",
            id="import-error",
        ),
        pytest.param(
            GOOD.replace(
                "from airflow.sdk import dag, task", "from airflow.sdk import dag, task\nimport nope"
            ),
            "No module named 'nope'",
            id="missing-module",
        ),
        pytest.param(
            GOOD.replace(
                "    hello()\n",
                "    a, b = hello.override(task_id='a')(), hello.override(task_id='b')()\n    a >> b >> a\n",
            ),
            "Cycle detected",
            id="cycle",
        ),
        pytest.param(
            GOOD + "\nimport boto3\nboto3.client('s3', region_name='us-east-1').list_buckets()\n",
            "network access while parsing DAGs",
            id="aws-call-at-parse-time",
        ),
        pytest.param(GOOD.replace('tags=["t"], ', ""), "good: no tags", id="no-tags"),
        pytest.param(
            GOOD.replace('"retries": 2', '"retries": 1'), "good.hello: retries=1 < 2", id="few-retries"
        ),
        pytest.param(
            GOOD.replace(', "execution_timeout": timedelta(minutes=1)', ""),
            "good.hello: no execution_timeout",
            id="no-timeout",
        ),
        pytest.param(
            GOOD.replace("def good():", "def other():").replace("good()", "other()"),
            "DAG id 'other' differs from the file name",
            id="id-not-file-name",
        ),
    ],
)
def test_a_broken_dag_is_caught(tmp_path: Path, body: str, problem: str) -> None:
    write(tmp_path, "good.py", body)
    report = check_folder(tmp_path)
    assert any(problem in p for p in report.problems), report.problems
