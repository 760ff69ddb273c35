"""Athena executor: StartQueryExecution really runs the query, in DuckDB, over the Glue catalog's S3 data.

moto answers every Athena query with an empty result. Here moto's Athena API handlers
(:mod:`.responses`) hand each query to this executor, which runs it on a background thread:
:mod:`.parse` classifies the Athena (Trino) SQL, :mod:`.dialect` translates it for DuckDB, tables and views
are resolved in the runtime's Glue catalog and their Parquet scanned through pyarrow's S3 filesystem
(:mod:`.scan`; DuckDB 2 cannot load httpfs offline), and results, CTAS output, partitions and views are
written back to S3 and Glue like Athena does (:mod:`.dml`, :mod:`.ddl`). Callers see only the AWS API:
QUEUED -> RUNNING -> SUCCEEDED/FAILED, Athena's error wording, bytes scanned, paginated results.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
import traceback
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

import duckdb

from localaws._athena import results
from localaws._athena import statements as st
from localaws._athena.context import QueryContext, s3_location
from localaws._athena.errors import AthenaError
from localaws._athena.parse import parse_statement
from localaws._athena.query import QueryRun, ResultSet
from localaws._athena.scan import Counter
from localaws._aws import s3_filesystem
from localaws._executor import Executor, Patch

if TYPE_CHECKING:
    from localaws._runtime import LocalAWS

log = logging.getLogger(__name__)

#: Queries running at once; more wait in QUEUED, like an Athena account's concurrency quota.
MAX_CONCURRENT_QUERIES = 4
#: Seconds StartQueryExecution waits for its query before answering. Most local queries end within a
#: fraction of this, so the caller's first GetQueryExecution already sees the final state instead of
#: sleeping a whole poll interval (the provider's waiter: one sleep of its delay per RUNNING answer).
#: A longer query is answered QUEUED/RUNNING as on AWS. ``LOCAL_ATHENA_START_WAIT`` overrides it (0: off).
START_WAIT_SECONDS = float(os.environ.get("LOCAL_ATHENA_START_WAIT", "0.5"))


class AthenaExecutor(Executor):
    """Runs the Athena queries of one runtime."""

    service = "Athena"

    def __init__(self, aws: LocalAWS) -> None:
        super().__init__(aws)
        self.runs: dict[str, QueryRun] = {}
        self._lock = threading.Lock()
        self._futures: set[Future[None]] = set()
        self._pool = ThreadPoolExecutor(MAX_CONCURRENT_QUERIES, thread_name_prefix="athena-local")
        self.s3fs = s3_filesystem(aws.endpoint, aws.region, aws.account_id)

    def client(self, service: str) -> Any:
        return self.aws.client(service)

    # -- executor hooks
    def patches(self) -> Iterable[Patch]:
        from localaws._athena.patches import HANDLERS

        return [Patch(owner, name, handler) for (owner, name), handler in HANDLERS.items()]

    def shutdown(self) -> None:
        for run in list(self.runs.values()):
            self._interrupt(run)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def snapshot(self) -> dict[str, QueryRun]:
        """The query history: every finished query (state, statistics, result), without its connection."""
        with self._lock:
            return {
                run_id: dataclasses.replace(run, connection=None)
                for run_id, run in self.runs.items()
                if run.state in ("SUCCEEDED", "FAILED", "CANCELLED")
            }

    def restore(self, snapshot: dict[str, QueryRun] | None) -> None:
        with self._lock:
            self.runs.update(snapshot or {})

    def reset(self) -> None:
        """moto forgot every query execution: forget (and cancel) ours too."""
        with self._lock:
            runs, self.runs = list(self.runs.values()), {}
        for run in runs:
            self._interrupt(run)

    def wait_idle(self, timeout: float | None = None) -> bool:
        with self._lock:
            pending = list(self._futures)
        return not wait(pending, timeout).not_done

    @staticmethod
    def _interrupt(run: QueryRun) -> None:
        if run.state in ("QUEUED", "RUNNING"):
            run.state, run.completed = "CANCELLED", time.time()
            if run.connection is not None:
                try:
                    run.connection.interrupt()
                except duckdb.Error:
                    pass

    # -- API
    def submit(self, run: QueryRun, wait_seconds: float = 0.0) -> Future[None]:
        """Queue the query; wait up to ``wait_seconds`` for it to end (see ``START_WAIT_SECONDS``)."""
        with self._lock:
            self.runs[run.id] = run
            future = self._pool.submit(self._run, run)
            self._futures.add(future)
        future.add_done_callback(self._forget)
        if wait_seconds > 0:
            wait([future], wait_seconds)
        return future

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)

    def stop(self, query_id: str) -> None:
        run = self.runs.get(query_id)
        if run is not None:
            self._interrupt(run)

    # -- running
    def _run(self, run: QueryRun) -> None:
        if run.state != "QUEUED":
            return
        run.state, run.started = "RUNNING", time.time()
        counter = Counter()
        try:
            if not self._held(run):
                return  # stopped while held
            statement = parse_statement(run.query, run.database, run.parameters)
            run.statement_type = statement.statement_type
            run.substatement_type = statement.substatement_type
            if statement.statement_type == "DDL" and not isinstance(statement, st.CreateTableAs):
                run.output_location = run.output_location[: -len(".csv")] + ".txt"
            context = QueryContext(self, run, counter)
            try:
                run.result = context.execute(statement)
            finally:
                context.close()
            run.scanned_bytes = counter.value
            if run.state == "CANCELLED":
                return
            self._write_result(run)
            run.state = "SUCCEEDED"
        except AthenaError as error:
            run.scanned_bytes = counter.value
            if run.state != "CANCELLED":
                run.error, run.reason, run.state = error, str(error), "FAILED"
        except Exception as error:  # an executor bug must surface as a failed query, not a hung one
            log.error("local Athena query %s failed:\n%s", run.id, traceback.format_exc())
            run.scanned_bytes = counter.value
            if run.state != "CANCELLED":
                run.error = AthenaError(
                    "GENERIC_INTERNAL_ERROR", f"{type(error).__name__}: {error}", category=1
                )
                run.reason, run.state = str(run.error), "FAILED"
        finally:
            run.completed = time.time()
            run.connection = None

    def _held(self, run: QueryRun) -> bool:
        """Stay RUNNING as long as a hold asks (``localaws._holds``); False if the query was stopped."""
        deadline = time.monotonic() + self.aws.holds.take("athena", run.query)
        while run.state == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.05)
        return run.state == "RUNNING"

    def _write_result(self, run: QueryRun) -> None:
        """The result file at the output location (CSV with header like Athena) and its metadata."""
        result = run.result or ResultSet([], [], header=False)
        lines = []
        if result.header and result.columns:
            lines.append(results.csv_line([name for name, _ in result.columns]))
        if run.output_location.endswith(".txt"):
            lines.extend("\t".join(v or "" for v in row) + "\n" for row in result.rows)
        else:
            lines.extend(results.csv_line(row) for row in result.rows)
        bucket, key = s3_location(run.output_location)
        s3 = self.client("s3")
        s3.put_object(Bucket=bucket, Key=key, Body="".join(lines).encode("utf-8"))
        metadata = {
            "columns": [results.column_info(n, t) for n, t in result.columns],
            "rows": len(result.rows),
        }
        s3.put_object(Bucket=bucket, Key=key + ".metadata", Body=json.dumps(metadata).encode("utf-8"))
