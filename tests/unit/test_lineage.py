"""Lineage names: datasets per operator, the graph the DAGs' tasks form, the provider's configuration."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import SimpleNamespace

import pytest

from youtube_etl.lineage import (
    ATHENA_CATALOG,
    EXTRACTOR,
    OPERATORS,
    DatasetName,
    TaskLineage,
    crawler_lineage,
    file_transport,
    glue_job_lineage,
    lineage_environment,
    openlineage_options,
    operator_lineage,
    s3_dataset,
    sensor_lineage,
    sql_lineage,
    table_dataset,
)
from youtube_etl.settings import get_settings

S = get_settings({})
ATHENA = "awsathena://athena.us-east-1.amazonaws.com"


def reachable(edges: Mapping[DatasetName, set[DatasetName]], start: DatasetName) -> set[DatasetName]:
    seen, stack = set(), [start]
    while stack:
        node = stack.pop()
        for following in edges.get(node, set()) - seen:
            seen.add(following)
            stack.append(following)
    return seen


def dataset_edges(lineages: Iterable[TaskLineage]) -> dict[DatasetName, set[DatasetName]]:
    """input -> outputs of the same task: the dataset graph a lineage backend draws."""
    edges: dict[DatasetName, set[DatasetName]] = defaultdict(set)
    for lineage in lineages:
        for source in lineage.inputs:
            edges[source].update(lineage.outputs)
    return edges


def test_s3_prefixes_and_tables_are_named_like_openlineage_and_the_athena_extractor() -> None:
    assert s3_dataset("s3://b/youtube/statistics/") == DatasetName("s3://b", "youtube/statistics")
    assert s3_dataset("s3://b") == DatasetName("s3://b", "/")
    with pytest.raises(ValueError, match="not an S3 URI"):
        s3_dataset("/tmp/x")
    assert table_dataset(S, "db", "t") == DatasetName(ATHENA, f"{ATHENA_CATALOG}.db.t")


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        pytest.param("youtube/raw_statistics/region=*/*.csv", ["youtube/raw_statistics"], id="wildcard"),
        pytest.param(
            "youtube/raw_statistics_reference_data/*.json",
            ["youtube/raw_statistics_reference_data"],
            id="flat",
        ),
        pytest.param(["a/b/x.csv", "a/c/?.csv"], ["a/b", "a/c"], id="several-keys"),
    ],
)
def test_sensor_reads_the_folder_before_a_wildcard(keys: str | list[str], expected: list[str]) -> None:
    assert [d.name for d in sensor_lineage("raw", keys).inputs] == expected


def test_unknown_jobs_and_crawlers_name_nothing() -> None:
    assert glue_job_lineage(S, "someone-elses-job") == TaskLineage()
    assert crawler_lineage(S, "someone-elses-crawler") == TaskLineage()


def test_crawler_tables_are_the_ones_the_settings_name() -> None:
    processed = crawler_lineage(S, S.processed_crawler)
    assert set(processed.outputs) == {
        table_dataset(S, S.processed_database, S.statistics_table),
        table_dataset(S, S.processed_database, S.category_reference_table),
    }
    (analytics,) = crawler_lineage(S, S.analytics_crawler).outputs
    assert analytics == table_dataset(S, S.analytics_database, S.analytics_table)


def test_sql_without_a_schema_uses_the_operator_database() -> None:
    lineage = sql_lineage(S, "SELECT count(*) AS failures FROM trending WHERE views < 0", "youtube_analytics")
    assert lineage == TaskLineage(inputs=(table_dataset(S, "youtube_analytics", "trending"),))


@pytest.fixture(scope="module")
def dag_tasks() -> list[object]:
    from airflow.dag_processing.dagbag import DagBag

    from local.runtime import REPO_ROOT

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert not bag.import_errors
    return [task for dag in bag.dags.values() for task in dag.tasks]


def rendered(task: object) -> object:
    """What the extractor sees at run time: a mapped task unmapped, Athena SQL rendered for a run (through the
    DAG's template environment, like Airflow: its search path holds the SQL's shared macros.sql)."""
    partial = getattr(task, "partial_kwargs", None)
    if partial is not None:
        return SimpleNamespace(**partial)
    query = getattr(task, "query", None)
    if not isinstance(query, str):
        return task
    params = task.params.dump()  # type: ignore[attr-defined]
    context = {"params": params, "run_id": "scheduled__1", "columns": []}  # readable_*: looked up at run time
    text = task.render_template(query, context, jinja_env=task.dag.get_template_env())  # type: ignore[attr-defined]
    return SimpleNamespace(query=text, database=task.database)


def test_the_dags_tasks_form_one_graph_from_raw_to_published_reports(dag_tasks: list[object]) -> None:
    from youtube_etl.dag_support import sql_dir
    from youtube_etl.reports import discover_reports

    lineages = {t.task_id: operator_lineage(S, rendered(t)) for t in dag_tasks}
    # The extractor is chosen by class name: every task that touches AWS must be one it names.
    kinds = {t.task_id: getattr(t, "operator_class", type(t)).__name__ for t in dag_tasks}
    plain = {"_PythonDecoratedOperator", "EmptyOperator"}
    assert {task: kind for task, kind in kinds.items() if kind not in OPERATORS and kind not in plain} == {}
    covered = {task for task, kind in kinds.items() if kind in OPERATORS}
    unnamed = sorted(task for task in covered if not (lineages[task].inputs or lineages[task].outputs))
    assert unnamed == [], "every AWS task names its data"
    edges = dataset_edges(lineages.values())
    views = {table_dataset(S, S.analytics_database, report) for report in discover_reports(sql_dir(S))}
    assert len(views) >= 6
    raw = s3_dataset(S.raw_statistics_uri)
    downstream = reachable(edges, raw)
    # raw -> processed -> analytics -> reports, every step by name
    assert s3_dataset(S.statistics_uri) in downstream
    assert table_dataset(S, S.processed_database, S.statistics_table) in downstream
    assert s3_dataset(S.analytics_uri) in downstream
    assert table_dataset(S, S.analytics_database, S.analytics_table) in downstream
    assert views <= downstream, sorted(views - downstream)
    # the category reference joins the same graph through the Lambda
    assert views <= reachable(edges, s3_dataset(S.raw_reference_uri))


def test_openlineage_is_off_without_a_transport_and_configured_with_one(tmp_path: Path) -> None:
    assert openlineage_options(S) == {"disabled": "True"}
    configured = get_settings({}, lineage_transport=file_transport(tmp_path))
    options = openlineage_options(configured)
    assert json.loads(options["transport"]) == {
        "type": "file",
        "log_file_path": str(tmp_path / "event"),
        "append": False,
    }
    assert options["namespace"] == "youtube-dev"
    assert options["extractors"] == EXTRACTOR


def test_local_environment_empties_the_folder_of_earlier_events(tmp_path: Path) -> None:
    old = tmp_path / "event-251128T000000.json"
    old.write_text("{}")
    keep = tmp_path / "notes.txt"
    keep.write_text("mine")
    env = lineage_environment(tmp_path)
    assert not old.exists() and keep.exists()
    assert json.loads(env["AIRFLOW__OPENLINEAGE__TRANSPORT"])["type"] == "file"
    # A loaded laptop must not lose events to the provider's 10 s emit timeout (and warn about it).
    assert int(env["AIRFLOW__OPENLINEAGE__EXECUTION_TIMEOUT"]) >= 60
    assert lineage_environment(None) == {"AIRFLOW__OPENLINEAGE__DISABLED": "True"}


def test_the_extractor_is_importable_by_its_configured_path() -> None:
    from airflow.providers.openlineage.extractors.base import BaseExtractor
    from airflow.sdk._shared.module_loading import import_string

    extractor = import_string(EXTRACTOR)
    assert issubclass(extractor, BaseExtractor)
    assert extractor.get_operator_classnames() == list(OPERATORS)
