"""Hook lineage is per task when one process runs many tasks (``dag.test()``, as ``make run`` and the tests
do): the project's plugin gives each task an empty collector, as its own process on a worker has."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.airflow_dags import run_dag_file

PROBE_DAG = """
from datetime import datetime

from airflow.sdk import dag, task


def collected():
    from airflow.sdk.lineage import get_hook_lineage_collector

    return get_hook_lineage_collector().has_collected


@dag(dag_id="hook_lineage_probe", schedule=None, start_date=datetime(2026, 1, 1))
def hook_lineage_probe():
    @task
    def query_like_a_hook():
        from airflow.sdk.bases.hook import BaseHook
        from airflow.sdk.lineage import get_hook_lineage_collector

        get_hook_lineage_collector().add_extra(context=BaseHook(), key="sql", value={"sql": "SELECT 1"})
        return collected()

    @task
    def python_task_after_it():
        return collected()

    query_like_a_hook() >> python_task_after_it()


dag = hook_lineage_probe()
"""


def test_a_task_does_not_inherit_the_hook_lineage_of_the_task_before_it_in_the_same_process(
    airflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    run = run_dag_file(PROBE_DAG, "hook_lineage_probe", tmp_path, monkeypatch)
    assert str(run.state) == "success"
    with create_session() as session:
        query = XComModel.get_many(run_id=run.run_id, dag_ids="hook_lineage_probe", key="return_value")
        values = {x.task_id: XComModel.deserialize_value(x) for x in session.scalars(query)}
    # What OpenLineage reads at the second task's start and end: without the plugin's listener, the first
    # task's extra (make run: every earlier Athena query), sent again as the second task's own lineage.
    assert values == {"query_like_a_hook": True, "python_task_after_it": False}
