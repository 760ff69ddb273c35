"""The provider's Glue Data Quality operators and sensor in a tiny DAG (``dag.test()``) against the local
runtime: a ruleset is created, evaluated on a table a crawler made from the real CA statistics, and the
sensor passes or fails the run on the per-rule results."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.runtime import LocalRuntime
from localaws.tests.lake import crawl
from tests.airflow_dags import run_dag_file

pytestmark = [pytest.mark.timeout(600)]

DQ_DAG = """\
from airflow.providers.amazon.aws.operators.glue import (
    GlueDataQualityOperator,
    GlueDataQualityRuleSetEvaluationRunOperator,
)
from airflow.providers.amazon.aws.sensors.glue import GlueDataQualityRuleSetEvaluationRunSensor
from airflow.sdk import DAG

table = {{"DatabaseName": {database!r}, "TableName": {table!r}}}
aws = {{"aws_conn_id": {conn_id!r}, "region_name": {region!r}}}
with DAG(dag_id={dag_id!r}, schedule=None, catchup=False) as dag:
    create = GlueDataQualityOperator(
        task_id="create_ruleset",
        name={ruleset_name!r},
        ruleset={ruleset!r},
        data_quality_ruleset_kwargs={{"TargetTable": table}},
        retries=0,
        **aws,
    )
    evaluate = GlueDataQualityRuleSetEvaluationRunOperator(
        task_id="evaluate",
        datasource={{"GlueTable": table}},
        role={role!r},
        rule_set_names=[{ruleset_name!r}],
        wait_for_completion=False,
        retries=0,
        **aws,
    )
    wait = GlueDataQualityRuleSetEvaluationRunSensor(
        task_id="wait_for_results",
        evaluation_run_id=evaluate.output,
        poke_interval=1,
        max_retries=60,
        timeout=120,
        retries=0,
        **aws,
    )
    create >> evaluate >> wait
"""


@pytest.fixture(scope="module")
def table(local_aws: LocalRuntime, data_dir: Path) -> Iterator[tuple[str, int]]:
    """The real CA statistics cataloged by a crawler; (table name, rows by Python's csv module)."""
    s = local_aws.settings
    name = f"dq_ca_{uuid.uuid4().hex[:6]}"
    (path,) = (data_dir / "raw_statistics" / "region=ca").glob("*.csv")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = sum(1 for _ in csv.DictReader(handle))
    local_aws.client("s3").upload_file(str(path), s.assets_bucket, f"test-dq/{name}/region=ca/{path.name}")
    path = f"s3://{s.assets_bucket}/test-dq/{name}/"
    crawl(local_aws, name, path, s.processed_database, local_aws.role_arn("glue"))
    yield name, rows
    glue = local_aws.client("glue")
    glue.delete_crawler(Name=name)
    glue.delete_table(DatabaseName=s.processed_database, Name=name)


@pytest.mark.parametrize(
    ("failing_rule", "state"),
    [
        pytest.param(None, "success", id="all-rules-pass"),
        pytest.param('IsUnique "video_id"', "failed", id="a-failing-rule-fails-the-sensor"),
    ],
)
def test_provider_data_quality_operators_and_sensor(
    local_aws: LocalRuntime,
    table: tuple[str, int],
    airflow_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failing_rule: str | None,
    state: str,
) -> None:
    name, rows = table
    s = local_aws.settings
    rules = [f"RowCount = {rows}", 'IsComplete "video_id"', 'ColumnValues "region" in ["ca"]']
    ruleset = "Rules = [ " + ", ".join(rules + ([failing_rule] if failing_rule else [])) + " ]"
    dag_id = f"test_glue_dq_{uuid.uuid4().hex[:8]}"
    ruleset_name = f"{dag_id}_rules"
    source = DQ_DAG.format(
        dag_id=dag_id,
        database=s.processed_database,
        table=name,
        conn_id=s.aws_conn_id,
        region=s.region,
        ruleset_name=ruleset_name,
        ruleset=ruleset,
        role=local_aws.role_arn("glue"),
    )
    dag_run = run_dag_file(source, dag_id, tmp_path, monkeypatch)
    assert dag_run.state == state

    glue = local_aws.client("glue")
    assert glue.get_data_quality_ruleset(Name=ruleset_name)["Ruleset"] == ruleset
    (run,) = [
        r
        for r in glue.list_data_quality_ruleset_evaluation_runs()["Runs"]
        if r["DataSource"]["GlueTable"]["TableName"] == name
        and glue.get_data_quality_ruleset_evaluation_run(RunId=r["RunId"])["RulesetNames"] == [ruleset_name]
    ]
    details = glue.get_data_quality_ruleset_evaluation_run(RunId=run["RunId"])
    assert details["Status"] == "SUCCEEDED"
    (result,) = glue.batch_get_data_quality_result(ResultIds=details["ResultIds"])["Results"]
    outcomes = {r["Description"]: r["Result"] for r in result["RuleResults"]}
    assert outcomes == {rule: "PASS" for rule in rules} | ({failing_rule: "FAIL"} if failing_rule else {})
    glue.delete_data_quality_ruleset(Name=ruleset_name)
