"""Glue Data Quality: DQDL rulesets through the Glue API, evaluated over a table a crawler made from the
real statistics CSVs; every expected metric is computed here with Python's csv and re modules."""

from __future__ import annotations

import csv
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localaws import LocalAWS
from localaws._glue_dq import spec
from localaws.tests.lake import NAMES, crawl

TABLE = "dq_raw_statistics"
REGIONS = ("us", "ca")


@pytest.fixture(scope="module")
def statistics(data_dir: Path) -> list[dict[str, str]]:
    rows = []
    for region in REGIONS:
        (path,) = (data_dir / "raw_statistics" / f"region={region}").glob("*.csv")
        with path.open(encoding="utf-8", newline="") as handle:
            rows += [{**record, "region": region} for record in csv.DictReader(handle)]
    return rows


@pytest.fixture(scope="module")
def table(aws: LocalAWS, data_dir: Path) -> Iterator[str]:
    """The us and ca CSVs, cataloged by a crawler (OpenCSVSerDe, header skipped, region partitions)."""
    s3, glue = aws.client("s3"), aws.client("glue")
    for region in REGIONS:
        (path,) = (data_dir / "raw_statistics" / f"region={region}").glob("*.csv")
        s3.upload_file(str(path), NAMES.landing_bucket, f"test-dq/{TABLE}/region={region}/{path.name}")
    crawl(aws, TABLE, f"s3://{NAMES.landing_bucket}/test-dq/{TABLE}/", NAMES.database, NAMES.role_arn("glue"))
    yield TABLE
    glue.delete_crawler(Name=TABLE)
    glue.delete_table(DatabaseName=NAMES.database, Name=TABLE)


def evaluate(aws: LocalAWS, rulesets: list[str], table: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    glue = aws.client("glue")
    run_id = glue.start_data_quality_ruleset_evaluation_run(
        DataSource={"GlueTable": {"DatabaseName": NAMES.database, "TableName": table}},
        Role=NAMES.role_arn("glue"),
        RulesetNames=rulesets,
    )["RunId"]
    deadline = time.monotonic() + 120
    while (run := glue.get_data_quality_ruleset_evaluation_run(RunId=run_id))["Status"] not in (
        "SUCCEEDED",
        "FAILED",
    ):
        assert time.monotonic() < deadline, run
        time.sleep(0.2)
    results = (
        glue.batch_get_data_quality_result(ResultIds=run["ResultIds"])["Results"] if run["ResultIds"] else []
    )
    return run, results


def test_a_ruleset_with_passing_and_failing_rules_on_the_real_table(
    aws: LocalAWS, table: str, statistics: list[dict[str, str]]
) -> None:
    ids = Counter(r["video_id"] for r in statistics)
    uniqueness = sum(1 for n in ids.values() if n == 1) / len(statistics)
    id_shape = sum(bool(re.fullmatch(r"[A-Za-z0-9_-]{11}", r["video_id"])) for r in statistics) / len(
        statistics
    )
    more_likes = sum(int(r["likes"]) > int(r["dislikes"]) for r in statistics)
    rules = [
        (f"RowCount = {len(statistics)}", "PASS", {"Dataset.*.RowCount": float(len(statistics))}),
        ("RowCount between 0 and 100", "FAIL", {"Dataset.*.RowCount": float(len(statistics))}),
        ("ColumnCount = 17", "PASS", {"Dataset.*.ColumnCount": 17.0}),  # 16 CSV columns + region
        ('IsComplete "video_id"', "PASS", {"Column.video_id.Completeness": 1.0}),
        ('IsUnique "video_id"', "FAIL", {"Column.video_id.Uniqueness": uniqueness}),
        (
            f'Uniqueness "video_id" > {uniqueness - 0.01:.4f}',
            "PASS",
            {"Column.video_id.Uniqueness": uniqueness},
        ),
        ('ColumnValues "region" in ["us", "ca"]', "PASS", {"Column.region.ColumnValues.Compliance": 1.0}),
        ('ColumnValues "region" in ["us"]', "FAIL", {"Column.region.ColumnValues.Compliance": 3000 / 3786}),
        (
            'ColumnValues "video_id" matches "[A-Za-z0-9_-]{11}"',
            "PASS" if id_shape == 1.0 else "FAIL",
            {"Column.video_id.ColumnValues.Compliance": id_shape},
        ),
        (
            'ColumnValues "likes" between -1 and 100 with threshold > 0.01',
            "PASS",
            {
                "Column.likes.ColumnValues.Compliance": sum(-1 < int(r["likes"]) < 100 for r in statistics)
                / 3786
            },
        ),
        (
            'CustomSql "select count(*) from primary where likes > dislikes" > 0',
            "PASS",
            {"Dataset.*.CustomSQL": float(more_likes)},
        ),
    ]
    lengths = [len(r["video_id"]) for r in statistics]
    length_rule = ('ColumnLength "video_id" = 11', "PASS" if set(lengths) == {11} else "FAIL")
    ruleset = (
        "Rules = [\n    "
        + ",\n    ".join([r[0] for r in rules] + [length_rule[0], 'IsComplete "nope"'])
        + "\n]"
    )
    glue = aws.client("glue")
    glue.create_data_quality_ruleset(
        Name="dq-statistics",
        Ruleset=ruleset,
        TargetTable={"TableName": table, "DatabaseName": NAMES.database},
    )
    run, results = evaluate(aws, ["dq-statistics"], table)
    assert run["Status"] == "SUCCEEDED", run.get("ErrorString")
    (result,) = results
    assert result["RulesetName"] == "dq-statistics" and result["RulesetEvaluationRunId"] == run["RunId"]
    by_rule = {r["Description"]: r for r in result["RuleResults"]}
    for text, expected, metrics in rules:
        got = by_rule[text]
        assert got["Result"] == expected, got
        assert got["EvaluatedMetrics"] == pytest.approx(metrics), text
        assert ("EvaluationMessage" in got) == (expected == "FAIL"), got
    length = by_rule[length_rule[0]]
    assert length["Result"] == length_rule[1]
    assert length["EvaluatedMetrics"]["Column.video_id.MaximumLength"] == max(lengths)
    assert length["EvaluatedMetrics"]["Column.video_id.MinimumLength"] == min(lengths)
    assert by_rule['IsComplete "nope"']["Result"] == "ERROR"
    assert "nope" in by_rule['IsComplete "nope"']["EvaluationMessage"]
    passed = sum(r["Result"] == "PASS" for r in result["RuleResults"])
    assert result["Score"] == pytest.approx(passed / len(result["RuleResults"]))
    assert glue.get_data_quality_result(ResultId=result["ResultId"])["ResultId"] == result["ResultId"]
    glue.delete_data_quality_ruleset(Name="dq-statistics")


def test_ruleset_crud_and_errors(aws: LocalAWS, table: str) -> None:
    glue = aws.client("glue")
    glue.create_data_quality_ruleset(Name="dq-crud", Ruleset="Rules = [ RowCount > 0 ]", Description="first")
    with pytest.raises(ClientError) as duplicate:
        glue.create_data_quality_ruleset(Name="dq-crud", Ruleset="Rules = [ RowCount > 0 ]")
    assert duplicate.value.response["Error"]["Code"] == "AlreadyExistsException"
    got = glue.get_data_quality_ruleset(Name="dq-crud")
    assert (got["Ruleset"], got["Description"]) == ("Rules = [ RowCount > 0 ]", "first")
    glue.update_data_quality_ruleset(Name="dq-crud", Ruleset='Rules = [ RowCount > 0, IsComplete "title" ]')
    listed = {r["Name"]: r for r in glue.list_data_quality_rulesets()["Rulesets"]}
    assert listed["dq-crud"]["RuleCount"] == 2
    with pytest.raises(ClientError) as unsupported:
        glue.create_data_quality_ruleset(Name="dq-bad", Ruleset='Rules = [ Entropy "title" > 1 ]')
    assert unsupported.value.response["Error"]["Code"] == "InvalidInputException"
    assert "'Entropy' is not covered" in unsupported.value.response["Error"]["Message"]
    run, _ = evaluate(aws, ["dq-crud"], "no_such_table")
    assert run["Status"] == "FAILED" and "no_such_table" in run["ErrorString"]
    glue.delete_data_quality_ruleset(Name="dq-crud")
    with pytest.raises(ClientError) as gone:
        glue.get_data_quality_ruleset(Name="dq-crud")
    assert gone.value.response["Error"]["Code"] == "EntityNotFoundException"


@pytest.mark.parametrize(
    ("rule", "value", "holds"),
    [
        pytest.param("RowCount between 1 and 3", 2.0, True, id="between-inside"),
        pytest.param("RowCount between 1 and 3", 3.0, False, id="between-is-exclusive"),
        pytest.param("RowCount not between 1 and 3", 3.0, True, id="not-between"),
        pytest.param("RowCount >= 3", 3.0, True, id="at-least"),
        pytest.param("RowCount != 3", 3.0, False, id="not-equal"),
    ],
)
def test_numeric_conditions(rule: str, value: float, holds: bool) -> None:
    parsed = spec.parse_rule(rule)
    assert parsed.condition is not None and parsed.condition.holds(value) is holds


@pytest.mark.parametrize(
    ("ruleset", "message"),
    [
        pytest.param("RowCount > 0", "Rules = [", id="no-list"),
        pytest.param('Rules = [ (RowCount > 0) or (IsComplete "a") ]', "cannot read rule", id="composite"),
        pytest.param('Rules = [ IsComplete "a" > 1 ]', "takes no condition", id="condition-on-iscomplete"),
        pytest.param('Rules = [ Completeness "a" in ["x"] ]', "numeric condition", id="list-on-completeness"),
        pytest.param(
            "Rules = [ RowCount > 0 with threshold > 1 ]", "with threshold", id="threshold-on-rowcount"
        ),
    ],
)
def test_rulesets_the_local_service_refuses_say_why(ruleset: str, message: str) -> None:
    with pytest.raises(spec.DqdlError, match=re.escape(message)):
        spec.parse_ruleset(ruleset)


def test_rulesets_runs_and_results_survive_a_state_folder(aws: LocalAWS, table: str) -> None:
    """What the executor keeps outside moto goes into the state folder's snapshot and comes back."""
    from localaws._glue_dq.executor import DataQualityExecutor

    glue = aws.client("glue")
    glue.create_data_quality_ruleset(Name="dq-saved", Ruleset="Rules = [ RowCount > 0 ]")
    run, (result,) = evaluate(aws, ["dq-saved"], table)
    serving = DataQualityExecutor.serving()
    snapshot = serving.snapshot()
    import pickle

    resumed = DataQualityExecutor(aws)
    resumed.restore(pickle.loads(pickle.dumps(snapshot)))
    assert resumed.rulesets["dq-saved"].ruleset == "Rules = [ RowCount > 0 ]"
    assert resumed.runs[run["RunId"]].as_dict()["Status"] == "SUCCEEDED"
    assert resumed.runs[run["RunId"]].done.is_set()
    assert resumed.results[result["ResultId"]]["RuleResults"] == result["RuleResults"]
    glue.delete_data_quality_ruleset(Name="dq-saved")
