"""The project's Lambda invoked by Airflow's LambdaInvokeFunctionOperator on the local runtime (the Lambda
executor itself is tested with the runtime, in ``localaws/tests/test_lambda.py``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import awswrangler as wr
import pytest

from local.runtime import LAMBDA_SOURCE, LocalRuntime
from tests.airflow_dags import run_dag_file

sys.path.insert(0, str(LAMBDA_SOURCE))
from youtube_lake import invocation  # noqa: E402

DAG_SOURCE = """
from airflow.providers.amazon.aws.operators.lambda_function import LambdaInvokeFunctionOperator
from airflow.sdk import DAG

with DAG(dag_id="test_executor_lambda_operator", schedule=None, params={{"payload": "{{}}"}}) as dag:
    LambdaInvokeFunctionOperator(
        task_id="invoke_function",
        function_name={function!r},
        payload="{{{{ params.payload }}}}",
    )
"""


def test_lambda_invoke_operator_in_a_dag(
    clean_aws: LocalRuntime,
    data_dir: Path,
    airflow_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The operator invokes the deployed function with an S3-shaped event for a file outside the trigger
    prefix (as the scheduled path does); the task succeeds once the function wrote the region's rows."""
    s = clean_aws.settings
    path = data_dir / "raw_statistics_reference_data" / "FR_category_id.json"
    key = "youtube/scheduled_drops/FR_category_id.json"
    clean_aws.client("s3").put_object(Bucket=s.raw_bucket, Key=key, Body=path.read_bytes())
    payload = json.dumps(invocation.s3_event(s.raw_bucket, [key]))
    source = DAG_SOURCE.format(function=s.lambda_function)
    run = run_dag_file(source, "test_executor_lambda_operator", tmp_path, monkeypatch, payload=payload)
    assert run.state == "success"
    written = wr.s3.read_parquet(f"{s.category_reference_uri}region=fr/", boto3_session=clean_aws.session())
    ids = [int(item["id"]) for item in json.loads(path.read_bytes())["items"]]
    assert sorted(written["category_id"].tolist()) == sorted(ids)
