"""Airflow's AthenaOperator running a CTAS of the project's tables on the local runtime (Athena itself is
tested with the runtime, in ``localaws/tests/test_athena.py``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import awswrangler as wr
import pandas as pd
import pytest

from local.runtime import LocalRuntime
from localaws.tests.test_athena import TABLE, register_statistics, statistics
from tests.airflow_dags import run_dag_file
from youtube_etl.settings import Settings

__all__ = ["statistics"]  # a fixture of the runtime's tests, used here too


@pytest.fixture(scope="module")
def project_lake(local_aws: LocalRuntime, statistics: pd.DataFrame) -> Iterator[LocalRuntime]:
    """The real statistics as a partitioned Parquet table of the project's processed database."""
    settings = local_aws.settings
    register_statistics(local_aws, statistics, settings.processed_bucket, settings.processed_database)
    yield local_aws


OPERATOR_DAG = """
from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.sdk import DAG

with DAG(dag_id={dag_id!r}, schedule=None, catchup=False) as dag:
    AthenaOperator(
        task_id="run_report",
        query={query!r},
        database={database!r},
        workgroup={workgroup!r},
        output_location={output!r},
        aws_conn_id={conn_id!r},
        region_name={region!r},
        deferrable={deferrable!r},
        sleep_time=1,
        max_polling_attempts=60,
    )
"""


@pytest.mark.parametrize(
    "deferrable", [pytest.param(False, id="polling"), pytest.param(True, id="deferrable")]
)
def test_airflow_athena_operator_runs_a_ctas(
    project_lake: LocalRuntime,
    settings: Settings,
    airflow_db: Path,
    deferrable: bool,
    statistics: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = f"athena_operator_{'deferrable' if deferrable else 'polling'}"
    dag_id = f"test_{name}_{uuid.uuid4().hex[:8]}"
    location = f"{settings.reports_uri}{name}/run=1/"
    source = OPERATOR_DAG.format(
        dag_id=dag_id,
        query=(
            f"CREATE TABLE {settings.analytics_database}.{name} WITH (format='PARQUET', "
            f"external_location='{location}') AS SELECT region, count(*) AS n "
            f"FROM {settings.processed_database}.{TABLE} GROUP BY region"
        ),
        database=settings.processed_database,
        workgroup=settings.athena_workgroup,
        output=settings.athena_results_uri,
        conn_id=settings.aws_conn_id,
        region=settings.region,
        deferrable=deferrable,
    )
    run = run_dag_file(source, dag_id, tmp_path, monkeypatch)
    assert run.state == "success"
    written = wr.s3.read_parquet(location, boto3_session=project_lake.session()).sort_values(
        "region", ignore_index=True
    )
    expected = statistics.groupby("region").size()
    assert written["region"].tolist() == expected.index.tolist()
    assert written["n"].tolist() == expected.tolist()
