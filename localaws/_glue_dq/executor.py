"""Glue Data Quality executor: rulesets are kept here, an evaluation run reads its catalog table into DuckDB
(view ``primary``) in a thread and records one result per ruleset with a result per rule.

moto has no Data Quality API (the client got HTTP 500); :mod:`.patches` adds it to moto's Glue responses.
The table is read through the catalog (Parquet, or text tables: OpenCSVSerDe, LazySimpleSerDe, JSON lines)
with pyarrow, partitions as columns, then typed by the catalog's column types.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq
from moto.core.utils import utcnow

from localaws._aws import s3_filesystem, split_s3_uri
from localaws._catalog import (
    HIVE_NULL_PARTITION,
    GlueCatalog,
    columns_of,
    format_of,
    is_hidden,
    partition_keys_of,
)
from localaws._executor import Executor, Patch
from localaws._glue_dq import spec

if TYPE_CHECKING:
    from localaws._runtime import LocalAWS

log = logging.getLogger(__name__)

FINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT"})


@dataclass
class Ruleset:
    name: str
    ruleset: str
    description: str = ""
    target_table: dict[str, Any] | None = None
    created: datetime = field(default_factory=utcnow)
    modified: datetime = field(default_factory=utcnow)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "Name": self.name,
            "Description": self.description,
            "Ruleset": self.ruleset,
            "CreatedOn": self.created,
            "LastModifiedOn": self.modified,
        }
        if self.target_table:
            data["TargetTable"] = self.target_table
        return data

    def summary(self) -> dict[str, Any]:
        data = {k: v for k, v in self.as_dict().items() if k != "Ruleset"}
        data["RuleCount"] = len(spec.split_rules(self.ruleset))
        return data


@dataclass
class EvaluationRun:
    run_id: str
    data_source: dict[str, Any]
    role: str
    ruleset_names: list[str]
    number_of_workers: int = 5
    timeout: int = 2880
    status: str = "STARTING"
    error: str | None = None
    started: datetime = field(default_factory=utcnow)
    modified: datetime = field(default_factory=utcnow)
    completed: datetime | None = None
    execution_seconds: int = 0
    result_ids: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "RunId": self.run_id,
            "DataSource": self.data_source,
            "Role": self.role,
            "NumberOfWorkers": self.number_of_workers,
            "Timeout": self.timeout,
            "Status": self.status,
            "StartedOn": self.started,
            "LastModifiedOn": self.modified,
            "ExecutionTime": self.execution_seconds,
            "RulesetNames": self.ruleset_names,
            "ResultIds": self.result_ids,
        }
        if self.completed:
            data["CompletedOn"] = self.completed
        if self.error:
            data["ErrorString"] = self.error
        return data


class DataQualityExecutor(Executor):
    service = "Glue Data Quality"

    def __init__(self, aws: LocalAWS) -> None:
        super().__init__(aws)
        self.lock = threading.Lock()
        self.rulesets: dict[str, Ruleset] = {}
        self.runs: dict[str, EvaluationRun] = {}
        self.results: dict[str, dict[str, Any]] = {}

    def patches(self) -> list[Patch]:
        from localaws._glue_dq.patches import HANDLERS

        return [Patch(owner, name, handler) for (owner, name), handler in HANDLERS.items()]

    def reset(self) -> None:
        self.wait_idle(30)
        with self.lock:
            self.rulesets.clear()
            self.runs.clear()
            self.results.clear()

    def shutdown(self) -> None:
        self.wait_idle(30)

    def snapshot(self) -> dict[str, Any]:
        """Rulesets, finished evaluation runs and their results, for a state folder."""
        with self.lock:
            runs = [
                {k: v for k, v in vars(run).items() if k != "done"}
                for run in self.runs.values()
                if run.status in FINAL_STATES
            ]
            return {"rulesets": dict(self.rulesets), "runs": runs, "results": dict(self.results)}

    def restore(self, snapshot: dict[str, Any] | None) -> None:
        if not snapshot:
            return
        with self.lock:
            self.rulesets.update(snapshot["rulesets"])
            self.results.update(snapshot["results"])
            for fields in snapshot["runs"]:
                run = EvaluationRun(**fields)
                run.done.set()
                self.runs[run.run_id] = run

    def wait_idle(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        for run in list(self.runs.values()):
            if not run.done.wait(None if deadline is None else max(0.0, deadline - time.monotonic())):
                return False
        return True

    # -- evaluation runs --
    def start(self, run: EvaluationRun) -> None:
        with self.lock:
            self.runs[run.run_id] = run
        threading.Thread(target=self._run, args=(run,), name=f"dq-{run.run_id[:12]}", daemon=True).start()

    def _run(self, run: EvaluationRun) -> None:
        began = time.monotonic()
        try:
            run.status, run.modified = "RUNNING", utcnow()
            table = run.data_source.get("GlueTable") or {}
            with self.lock:
                rulesets = [self.rulesets[name] for name in run.ruleset_names]
            con = duckdb.connect()
            try:
                column_count = self._load(con, table["DatabaseName"], table["TableName"])
                for ruleset in rulesets:
                    result = self._evaluate(con, run, ruleset, column_count)
                    with self.lock:
                        self.results[result["ResultId"]] = result
                    run.result_ids.append(result["ResultId"])
            finally:
                con.close()
            run.status = "SUCCEEDED"
        except Exception as error:  # a run must never stay RUNNING
            log.warning("data quality run %s FAILED", run.run_id, exc_info=True)
            run.error = f"{type(error).__name__}: {error}" if not isinstance(error, KeyError) else str(error)
            run.status = "FAILED"
        finally:
            run.completed = run.modified = utcnow()
            run.execution_seconds = max(1, round(time.monotonic() - began))
            run.done.set()

    def _evaluate(
        self, con: duckdb.DuckDBPyConnection, run: EvaluationRun, ruleset: Ruleset, column_count: int
    ) -> dict[str, Any]:
        started = utcnow()
        rule_results = []
        for number, rule in enumerate(spec.parse_ruleset(ruleset.ruleset), start=1):
            entry: dict[str, Any] = {
                "Name": f"Rule_{number}",
                "Description": rule.text,
                "EvaluatedRule": rule.text,
            }
            try:
                metrics = {}
                for metric, sql in spec.metric_queries(rule, column_count).items():
                    rows = con.execute(sql).fetchall()
                    if len(rows) != 1 or len(rows[0]) != 1:
                        raise spec.DqdlError(f"the query must return one value, it returned {len(rows)} rows")
                    metrics[metric] = float(rows[0][0]) if rows[0][0] is not None else 0.0
                result, message = spec.outcome(rule, metrics)
                entry.update({"Result": result, "EvaluatedMetrics": metrics})
                if message:
                    entry["EvaluationMessage"] = message
            except (duckdb.Error, spec.DqdlError) as error:
                entry.update({"Result": "ERROR", "EvaluationMessage": str(error).splitlines()[0]})
            rule_results.append(entry)
        passed = sum(1 for r in rule_results if r["Result"] == "PASS")
        return {
            "ResultId": "dqresult-" + uuid.uuid4().hex[:40],
            "Score": passed / len(rule_results),
            "DataSource": run.data_source,
            "RulesetName": ruleset.name,
            "RulesetEvaluationRunId": run.run_id,
            "StartedOn": started,
            "CompletedOn": utcnow(),
            "RuleResults": rule_results,
            "AnalyzerResults": [],
            "Observations": [],
        }

    # -- the table --
    def _load(self, con: duckdb.DuckDBPyConnection, database: str, name: str) -> int:
        """Register the table as the view ``primary``; returns its number of columns."""
        catalog = GlueCatalog(self.aws.client("glue"))
        table = catalog.table(database, name)
        if table is None:
            raise LookupError(f"Table {database}.{name} not found in the Data Catalog")
        columns, keys = columns_of(table), partition_keys_of(table)
        fs = s3_filesystem(self.aws.endpoint, self.aws.region, self.aws.account_id)
        if keys:
            places = [
                (p["Values"], p["StorageDescriptor"]["Location"]) for p in catalog.partitions(database, name)
            ]
        else:
            places = [([], table["StorageDescriptor"]["Location"])]
        pieces = []
        for values, location in places:
            for path in _files(fs, location):
                piece = _read(fs, path, table, [c for c, _ in columns])
                for (key, _), value in zip(keys, values, strict=True):
                    piece = piece.append_column(
                        key,
                        pa.array(
                            [None if value == HIVE_NULL_PARTITION else value] * piece.num_rows, pa.string()
                        ),
                    )
                pieces.append(piece)
        names = [c for c, _ in columns] + [k for k, _ in keys]
        data = (
            pa.concat_tables(pieces, promote_options="permissive")
            if pieces
            else pa.table({n: pa.array([], pa.string()) for n in names})
        )
        con.register("primary_raw", data)
        present = set(data.column_names)
        projection = ", ".join(
            (
                f"TRY_CAST({spec.quote_identifier(n)} AS {_duck_type(t)})"
                if n in present
                else f"NULL::{_duck_type(t)}"
            )
            + f" AS {spec.quote_identifier(n)}"
            for n, t in [*columns, *keys]
        )
        con.execute(f"CREATE VIEW {spec.VIEW} AS SELECT {projection} FROM primary_raw")
        return len(names)


def _files(fs: Any, location: str) -> list[str]:
    from pyarrow import fs as pafs

    bucket, prefix = split_s3_uri(location)
    prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
    selector = pafs.FileSelector(f"{bucket}/{prefix}".rstrip("/"), recursive=True, allow_not_found=True)
    return sorted(
        info.path
        for info in fs.get_file_info(selector)
        if info.type == pafs.FileType.File
        and info.size
        and not is_hidden(info.path[len(bucket) + 1 + len(prefix) :])
    )


def _read(fs: Any, path: str, table: dict[str, Any], names: list[str]) -> pa.Table:
    """One object of the table, its columns as the SerDe splits them (text columns as strings)."""
    stored = format_of(table)
    with fs.open_input_file(path) as handle:
        if stored.kind == "parquet":
            return pq.read_table(handle)
        if stored.kind == "json":
            return pajson.read_json(handle)
        read = pacsv.ReadOptions(skip_rows=stored.skip_header, column_names=names)
        convert = pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names}, strings_can_be_null=False
        )
        if stored.kind == "csv":
            parse = pacsv.ParseOptions(
                delimiter=stored.delimiter,
                quote_char=stored.quote,
                double_quote=True,
                newlines_in_values=True,
            )
        else:
            parse = pacsv.ParseOptions(delimiter=stored.delimiter, quote_char=False)
            convert = pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                null_values=[stored.null_format],
                strings_can_be_null=True,
            )
        return pacsv.read_csv(handle, read_options=read, parse_options=parse, convert_options=convert)


_DUCK_TYPES = {
    "string": "VARCHAR",
    "varchar": "VARCHAR",
    "char": "VARCHAR",
    "bigint": "BIGINT",
    "int": "INTEGER",
    "integer": "INTEGER",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "double": "DOUBLE",
    "float": "REAL",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}


def _duck_type(glue_type: str) -> str:
    base = glue_type.strip().lower()
    if base.startswith("decimal"):
        return base.upper()
    return _DUCK_TYPES.get(base.split("(")[0], "VARCHAR")
