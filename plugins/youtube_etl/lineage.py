"""OpenLineage: which S3 prefixes and tables each task of the pipeline reads and writes.

The ``apache-airflow-providers-openlineage`` listener emits a START and a COMPLETE/FAIL event for every task
and DAG run; an extractor names the task's input and output datasets. The Amazon provider's own coverage of
our operators is thin — only ``AthenaOperator`` reports datasets, and it reads each table's metadata with
Athena's ``GetTableMetadata`` (logging an error and dropping the dataset where that API is missing, as on
the local runtime); the Glue job, crawler, Lambda and S3 sensor report none. So :class:`PipelineExtractor`
covers all of them from what the pipeline already knows, without a call to AWS:

- S3 datasets from ``youtube_etl.settings`` (namespace ``s3://<bucket>``, name = prefix), per Glue job,
  crawler target, Lambda and sensor;
- tables named as the provider's Athena extractor names them (``awsathena://athena.<region>.amazonaws.com``,
  ``AwsDataCatalog.<database>.<table>``), so lineage recorded by other Athena users links to ours; the SQL
  of Athena tasks is parsed with the provider's ``SQLParser`` (openlineage-sql), whose job facet is kept.

A run's events thus form one graph: raw landing prefixes → Glue ``clean_statistics`` / the Lambda →
processed prefixes → crawler → processed tables; processed prefixes → Glue ``build_analytics`` → analytics
prefix → crawler → ``trending`` → report CTAS tables → published views.

The transport is a setting (``[youtube_etl] lineage_transport``, the provider's JSON);
:func:`openlineage_options` turns it into the provider's ``[openlineage]`` options, which the CDK sets on
MWAA and ``make run`` sets locally (a file transport under ``out/lineage/``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from youtube_etl.settings import Settings, get_settings

ATHENA_CATALOG = "AwsDataCatalog"
EXTRACTOR = "youtube_etl.lineage.PipelineExtractor"
#: The operator classes :class:`PipelineExtractor` names datasets for (the OpenLineage provider picks an
#: extractor by the task's class name).
OPERATORS = (
    "GlueJobOperator",
    "ResumableGlueJobOperator",
    "GlueJobSummaryOperator",
    "CleanStatisticsOperator",
    "GlueCrawlerRunOperator",
    "ResumableCrawlerOperator",
    "CrawlProcessedOperator",
    "LambdaInvokeFunctionOperator",
    "ConvertReferenceOperator",
    "S3KeySensor",
    "LandingDropSensor",
    "AthenaOperator",
    "ResumableAthenaOperator",
    "AthenaCheckOperator",
    "AthenaReportOperator",
)


@dataclass(frozen=True, order=True)
class DatasetName:
    """An OpenLineage dataset identity (namespace + name), independent of the client library."""

    namespace: str
    name: str


@dataclass(frozen=True)
class TaskLineage:
    inputs: tuple[DatasetName, ...] = ()
    outputs: tuple[DatasetName, ...] = ()


def s3_dataset(uri: str) -> DatasetName:
    """``s3://bucket/a/b/`` -> (``s3://bucket``, ``a/b``): a prefix is named without its trailing slash."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri!r}")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return DatasetName(f"s3://{bucket}", key.rstrip("/") or "/")


def table_dataset(settings: Settings, database: str, table: str) -> DatasetName:
    """A Glue Data Catalog table or view, named as the provider's Athena extractor names it."""
    return DatasetName(
        f"awsathena://athena.{settings.region}.amazonaws.com", f"{ATHENA_CATALOG}.{database}.{table}"
    )


def _prefix_of_pattern(key: str) -> str:
    """The folder part of a key pattern before its first wildcard (``a/b/region=*/*.csv`` -> ``a/b``)."""
    static = key.split("*", 1)[0].split("?", 1)[0]
    return static.rsplit("/", 1)[0] if "/" in static else static


def glue_job_lineage(settings: Settings, job_name: str) -> TaskLineage:
    s, p = settings, settings.prefixes
    if job_name == s.clean_statistics_job:
        return TaskLineage(
            inputs=(s3_dataset(s.raw_statistics_uri),),
            outputs=(
                s3_dataset(s.statistics_uri),
                s3_dataset(f"s3://{s.raw_bucket}/{p.quarantine}statistics/"),
            ),
        )
    if job_name == s.build_analytics_job:
        return TaskLineage(
            inputs=(s3_dataset(s.statistics_uri), s3_dataset(s.category_reference_uri)),
            outputs=(s3_dataset(s.analytics_uri),),
        )
    return TaskLineage()


def crawler_lineage(settings: Settings, crawler_name: str) -> TaskLineage:
    """A crawler reads its S3 targets and writes one table per target, named after the target's folder."""
    if crawler_name not in settings.crawler_targets:
        return TaskLineage()
    database, targets = settings.crawler_targets[crawler_name]
    return TaskLineage(
        inputs=tuple(s3_dataset(t) for t in targets),
        outputs=tuple(table_dataset(settings, database, t.rstrip("/").rsplit("/", 1)[1]) for t in targets),
    )


def lambda_lineage(settings: Settings, function_name: str) -> TaskLineage:
    s = settings
    if function_name != s.lambda_function:
        return TaskLineage()
    return TaskLineage(
        inputs=(s3_dataset(s.raw_reference_uri),),
        outputs=(
            s3_dataset(s.category_reference_uri),
            s3_dataset(f"s3://{s.raw_bucket}/{s.prefixes.quarantine}reference_data/"),
        ),
    )


def sensor_lineage(bucket: str, keys: str | Iterable[str]) -> TaskLineage:
    patterns = [keys] if isinstance(keys, str) else list(keys)
    folders = sorted({_prefix_of_pattern(k) for k in patterns})
    return TaskLineage(inputs=tuple(DatasetName(f"s3://{bucket}", f or "/") for f in folders))


def sql_lineage(settings: Settings, sql: str, default_database: str | None) -> TaskLineage:
    """Input and output tables of Athena SQL (CTAS, views, checks), parsed with openlineage-sql."""
    from airflow.providers.openlineage.sqlparser import SQLParser

    parsed = SQLParser(dialect="generic").parse(sql)
    if parsed is None:
        return TaskLineage()

    def tables(found: Iterable[Any]) -> tuple[DatasetName, ...]:
        named = ((t.schema or default_database, t.name) for t in found)
        return tuple(sorted({table_dataset(settings, db, name) for db, name in named if db}))

    return TaskLineage(inputs=tables(parsed.in_tables), outputs=tables(parsed.out_tables))


def operator_lineage(settings: Settings, operator: Any) -> TaskLineage:
    """The datasets of one of the pipeline's operators (by the attributes the provider's operators have)."""
    kind = type(operator).__name__
    if hasattr(operator, "job_name") and kind in OPERATORS:
        return glue_job_lineage(settings, operator.job_name)
    if hasattr(operator, "crawler_name"):
        return crawler_lineage(settings, operator.crawler_name)
    if hasattr(operator, "function_name"):
        return lambda_lineage(settings, operator.function_name)
    if hasattr(operator, "bucket_key"):
        return sensor_lineage(operator.bucket_name, operator.bucket_key)
    if hasattr(operator, "prefixes") and hasattr(operator, "bucket_name"):  # LandingDropSensor
        return sensor_lineage(operator.bucket_name, operator.prefixes)
    if hasattr(operator, "query") and hasattr(operator, "database"):
        return sql_lineage(settings, operator.query, operator.database)
    return TaskLineage()


def openlineage_options(settings: Settings) -> dict[str, str]:
    """The provider's ``[openlineage]`` options for these settings (no transport: lineage disabled)."""
    if not settings.lineage_transport:
        return {"disabled": "True"}
    return {
        "transport": settings.lineage_transport,
        "namespace": f"{settings.project}-{settings.stage}",
        "extractors": EXTRACTOR,
    }


#: ``[openlineage] execution_timeout`` of local runs (file transport); deployments keep the provider's.
LOCAL_EMIT_TIMEOUT_SECONDS = 120


def file_transport(folder: Path) -> str:
    """A ``lineage_transport`` writing one JSON file per event under ``folder`` (the local default)."""
    return json.dumps({"type": "file", "log_file_path": str(folder / "event"), "append": False})


def lineage_environment(folder: Path | None) -> dict[str, str]:
    """``AIRFLOW__OPENLINEAGE__*`` for a local run: events as files in ``folder`` (emptied first), or none."""
    settings = get_settings({})
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("event-*.json"):
            old.unlink()
        settings = get_settings({}, lineage_transport=file_transport(folder))
    options = openlineage_options(settings)
    if folder is not None:
        # The listener emits from a forked process and kills it after execution_timeout (10 s by default),
        # logging a warning and losing the event: a fork of a large local process on a busy laptop can take
        # longer. Writing a file costs nothing to wait for.
        options["execution_timeout"] = str(LOCAL_EMIT_TIMEOUT_SECONDS)
        # A file write needs no fork of the task process (the listener's default forks it twice per task).
        options["execute_in_thread"] = "True"
    return {f"AIRFLOW__OPENLINEAGE__{k.upper()}": v for k, v in options.items()}


def __getattr__(name: str) -> Any:
    """``PipelineExtractor`` is built on first use: importing the provider imports Airflow, which the CDK app
    and the local runtime — readers of :func:`openlineage_options` — must not do."""
    if name == "PipelineExtractor":
        return _extractor_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@cache
def _extractor_class() -> type:
    from airflow.providers.common.compat.openlineage.facet import Dataset, SQLJobFacet
    from airflow.providers.openlineage.extractors.base import BaseExtractor, OperatorLineage

    class PipelineExtractor(BaseExtractor):
        """Input and output datasets of the pipeline's operators (registered by ``openlineage_options``)."""

        @classmethod
        def get_operator_classnames(cls) -> list[str]:
            return list(OPERATORS)

        def _execute_extraction(self) -> OperatorLineage:
            lineage = operator_lineage(get_settings(), self.operator)
            query = getattr(self.operator, "query", None)
            return OperatorLineage(
                inputs=[Dataset(namespace=d.namespace, name=d.name) for d in lineage.inputs],
                outputs=[Dataset(namespace=d.namespace, name=d.name) for d in lineage.outputs],
                job_facets={"sql": SQLJobFacet(query=query)} if isinstance(query, str) else {},
            )

    PipelineExtractor.__module__ = __name__
    PipelineExtractor.__qualname__ = "PipelineExtractor"
    return PipelineExtractor
