"""One query execution's record: what GetQueryExecution reports, and its result."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from localaws._athena.errors import AthenaError


@dataclass
class ResultSet:
    columns: list[tuple[str, pa.DataType]]
    rows: Sequence[Sequence[str | None]]
    #: SELECT-like results start with a header row; DDL output (SHOW, DESCRIBE, MSCK) has none.
    header: bool = True


@dataclass
class QueryRun:
    id: str
    query: str
    database: str
    catalog: str
    workgroup: str
    output_location: str
    parameters: list[str] | None
    #: The workgroup overrides client-side settings (EnforceWorkGroupConfiguration).
    enforced: bool = False
    #: StartQueryExecution's ClientRequestToken: a second start with it answers this query.
    client_token: str | None = None
    submitted: float = field(default_factory=time.time)
    state: str = "QUEUED"
    reason: str | None = None
    error: AthenaError | None = None
    started: float | None = None
    completed: float | None = None
    scanned_bytes: int = 0
    statement_type: str = "DML"
    substatement_type: str | None = None
    manifest_location: str | None = None
    result: ResultSet | None = None
    connection: Any = None

    def describe(self) -> dict[str, Any]:
        """The ``QueryExecution`` structure of GetQueryExecution / BatchGetQueryExecution."""
        now = time.time()
        end = self.completed or now
        engine_ms = int(((end - self.started) if self.started else 0) * 1000)
        queue_ms = int(((self.started or now) - self.submitted) * 1000)
        status: dict[str, Any] = {"State": self.state, "SubmissionDateTime": self.submitted}
        if self.completed:
            status["CompletionDateTime"] = self.completed
        if self.reason:
            status["StateChangeReason"] = self.reason
        if self.error is not None:
            status["AthenaError"] = {
                "ErrorCategory": self.error.category,
                "ErrorType": 200
                if self.error.category == 1
                else 1003
                if self.statement_type == "DDL"
                else 1000,
                "Retryable": False,
                "ErrorMessage": self.reason,
            }
        statistics: dict[str, Any] = {
            "EngineExecutionTimeInMillis": engine_ms,
            "DataScannedInBytes": self.scanned_bytes,
            "TotalExecutionTimeInMillis": int((end - self.submitted) * 1000),
            "QueryQueueTimeInMillis": queue_ms,
            "ServicePreProcessingTimeInMillis": 0,
            "QueryPlanningTimeInMillis": 0,
            "ServiceProcessingTimeInMillis": 0,
            "ResultReuseInformation": {"ReusedPreviousResult": False},
        }
        if self.manifest_location:
            statistics["DataManifestLocation"] = self.manifest_location
        described: dict[str, Any] = {
            "QueryExecutionId": self.id,
            "Query": self.query,
            "StatementType": self.statement_type,
            "ResultConfiguration": {"OutputLocation": self.output_location},
            "ResultReuseConfiguration": {"ResultReuseByAgeConfiguration": {"Enabled": False}},
            "QueryExecutionContext": {"Database": self.database, "Catalog": self.catalog},
            "Status": status,
            "Statistics": statistics,
            "WorkGroup": self.workgroup,
            "EngineVersion": {
                "SelectedEngineVersion": "AUTO",
                "EffectiveEngineVersion": "Athena engine version 3",
            },
        }
        if self.substatement_type:
            described["SubstatementType"] = self.substatement_type
        if self.parameters is not None:
            described["ExecutionParameters"] = self.parameters
        return described
