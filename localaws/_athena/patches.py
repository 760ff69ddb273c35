"""moto's Athena API handlers, replaced: queries run in the executor, results come from its runs."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from typing import TYPE_CHECKING, Any

from moto.athena.responses import AthenaResponse

from localaws._athena import results
from localaws._athena.executor import START_WAIT_SECONDS
from localaws._athena.query import QueryRun, ResultSet
from localaws._athena.statements import CATALOG
from localaws._aws import as_folder

if TYPE_CHECKING:
    from localaws._athena.executor import AthenaExecutor

#: GetQueryResults' page size limit.
MAX_RESULTS = 1000
#: Makes a token's look-up and its query's registration one step (two starts with one token: one query).
_start_lock = threading.Lock()


def _error(message: str) -> tuple[str, dict[str, int]]:
    return json.dumps({"__type": "InvalidRequestException", "Message": message}), {"status": 400}


def _output_location(
    backend: Any, workgroup_name: str, config: dict[str, Any] | None, query_id: str
) -> str | None:
    workgroup = backend.work_groups.get(workgroup_name)
    configuration = workgroup.configuration if workgroup else {}
    enforced = configuration.get("EnforceWorkGroupConfiguration", False)
    wg_location = (configuration.get("ResultConfiguration") or {}).get("OutputLocation")
    client_location = (config or {}).get("OutputLocation")
    location = wg_location if (enforced and wg_location) or not client_location else client_location
    if not location:
        return None
    return as_folder(location) + f"{query_id}.csv"


def start_query_execution(executor: AthenaExecutor, response: Any) -> Any:
    """StartQueryExecution, idempotent on ``ClientRequestToken`` as on AWS: a start whose token an earlier
    start carried answers that query (whatever its state) and runs nothing; with another query string,
    database or workgroup it is an error. (boto3 generates a token when the caller gives none.)"""
    token = response._get_param("ClientRequestToken")
    with _start_lock:
        earlier = next((r for r in list(executor.runs.values()) if token and r.client_token == token), None)
        if earlier is None:
            answer, queued = _start(executor, response, token)
    if earlier is None:
        if queued is not None:
            wait([queued], START_WAIT_SECONDS)  # outside the lock: other starts go on meanwhile
        return answer
    context = response._get_param("QueryExecutionContext") or {}
    same = (
        earlier.query == response._get_param("QueryString")
        and earlier.workgroup == (response._get_param("WorkGroup") or "primary")
        and earlier.database == (context.get("Database") or "default").lower()
    )
    if not same:
        return _error(
            f"ClientRequestToken {token} was used by query {earlier.id} with other parameters "
            "(QueryString, QueryExecutionContext or WorkGroup)"
        )
    return json.dumps({"QueryExecutionId": earlier.id})


def _start(executor: AthenaExecutor, response: Any, token: str | None) -> tuple[Any, Future[None] | None]:
    """Register and queue the query: (the answer, the query's future), or (an error answer, None)."""
    query = response._get_param("QueryString")
    context = response._get_param("QueryExecutionContext") or {}
    config = response._get_param("ResultConfiguration") or {}
    workgroup = response._get_param("WorkGroup") or "primary"
    parameters = response._get_param("ExecutionParameters")
    backend = response.athena_backend
    if workgroup not in backend.work_groups:
        return _error("WorkGroup does not exist"), None
    query_id = backend.start_query_execution(
        query=query, context=context, config=None, workgroup=workgroup, execution_parameters=parameters
    )
    location = _output_location(backend, workgroup, config, query_id)
    if location is None:
        message = (
            "No output location provided. An output location is required either through the Workgroup result "
            "configuration setting or as an API input."
        )
        return _error(message), None
    run = QueryRun(
        id=query_id,
        query=query,
        database=(context.get("Database") or "default").lower(),
        catalog=context.get("Catalog") or "AwsDataCatalog",
        workgroup=workgroup,
        output_location=location,
        parameters=parameters,
        enforced=bool(backend.work_groups[workgroup].configuration.get("EnforceWorkGroupConfiguration")),
        client_token=token,
    )
    return json.dumps({"QueryExecutionId": query_id}), executor.submit(run)


def get_query_execution(executor: AthenaExecutor, response: Any) -> Any:
    query_id = response._get_param("QueryExecutionId")
    run = executor.runs.get(query_id)
    if run is None:
        return _error(f"QueryExecution {query_id} was not found")
    return json.dumps({"QueryExecution": run.describe()})


def batch_get_query_execution(executor: AthenaExecutor, response: Any) -> Any:
    ids = response._get_param("QueryExecutionIds") or []
    runs = executor.runs
    found = [runs[i].describe() for i in ids if i in runs]
    missing = [
        {
            "QueryExecutionId": i,
            "ErrorCode": "INVALID_INPUT",
            "ErrorMessage": f"QueryExecution {i} was not found",
        }
        for i in ids
        if i not in runs
    ]
    return json.dumps({"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing})


def get_query_results(executor: AthenaExecutor, response: Any) -> Any:
    query_id = response._get_param("QueryExecutionId")
    run = executor.runs.get(query_id)
    if run is None:
        return _error(f"QueryExecution {query_id} was not found")
    if run.state in ("QUEUED", "RUNNING"):
        return _error(f"Query has not yet finished. Current state: {run.state}")
    if run.state != "SUCCEEDED":
        return _error(f"Query did not finish successfully. Final query state: {run.state}")
    result = run.result or ResultSet([], [], header=False)
    max_results = int(response._get_param("MaxResults") or MAX_RESULTS)
    if not 1 <= max_results <= MAX_RESULTS:
        return _error(f"MaxResults must be between 1 and {MAX_RESULTS}")
    token = response._get_param("NextToken")
    try:
        offset = int(token) if token else 0
    except ValueError:
        return _error("Invalid NextToken")
    all_rows: list[Sequence[str | None]] = []
    if result.header and result.columns:
        all_rows.append([name for name, _ in result.columns])
    all_rows.extend(result.rows)
    page = all_rows[offset : offset + max_results]
    total = len(all_rows)
    body: dict[str, Any] = {
        "UpdateCount": 0,
        "ResultSet": {
            "Rows": [{"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in page],
            "ResultSetMetadata": {"ColumnInfo": [results.column_info(n, t) for n, t in result.columns]},
        },
    }
    if offset + max_results < total:
        body["NextToken"] = str(offset + max_results)
    return json.dumps(body)


def stop_query_execution(executor: AthenaExecutor, response: Any) -> Any:
    executor.stop(response._get_param("QueryExecutionId"))
    return json.dumps({})


def _metadata_error(message: str) -> tuple[str, dict[str, int]]:
    return json.dumps({"__type": "MetadataException", "Message": message}), {"status": 400}


def _epoch(value: Any) -> float | None:
    return value.timestamp() if hasattr(value, "timestamp") else None


def table_metadata(table: dict[str, Any]) -> dict[str, Any]:
    """A Glue table as Athena's ``TableMetadata``: columns, partition keys, and the parameters Athena adds
    (``location``, ``inputformat``, ``outputformat``, ``serde.serialization.lib``, ``serde.param.*``)."""
    storage = table.get("StorageDescriptor") or {}
    serde = storage.get("SerdeInfo") or {}
    parameters = dict(table.get("Parameters") or {})
    derived = {
        "location": storage.get("Location"),
        "inputformat": storage.get("InputFormat"),
        "outputformat": storage.get("OutputFormat"),
        "serde.serialization.lib": serde.get("SerializationLibrary"),
    }
    parameters |= {key: value for key, value in derived.items() if value}
    parameters |= {f"serde.param.{k}": v for k, v in (serde.get("Parameters") or {}).items()}

    def columns(items: list[dict[str, Any]]) -> list[dict[str, str]]:
        return [
            {"Name": c["Name"], "Type": c.get("Type", "string")}
            | ({"Comment": c["Comment"]} if "Comment" in c else {})
            for c in items
        ]

    metadata: dict[str, Any] = {
        "Name": table["Name"],
        "TableType": table.get("TableType", "EXTERNAL_TABLE"),
        "Columns": columns(storage.get("Columns", [])),
        "PartitionKeys": columns(table.get("PartitionKeys", [])),
        "Parameters": parameters,
    }
    for key, source in (("CreateTime", "CreateTime"), ("LastAccessTime", "LastAccessTime")):
        when = _epoch(table.get(source))
        if when is not None:
            metadata[key] = when
    return metadata


class MetadataError(Exception):
    """Athena's ``MetadataException`` (an unknown catalog, database or table)."""


def _database(executor: AthenaExecutor, response: Any) -> str:
    catalog = response._get_param("CatalogName") or ""
    database = (response._get_param("DatabaseName") or "").lower()
    if catalog.lower() != CATALOG:
        raise MetadataError(f"Catalog {catalog} not found (only AwsDataCatalog is local)")
    glue = executor.client("glue")
    try:
        glue.get_database(Name=database)
    except glue.exceptions.EntityNotFoundException:
        raise MetadataError(f"Database {database} not found") from None
    return database


def get_table_metadata(executor: AthenaExecutor, response: Any) -> Any:
    """``GetTableMetadata`` (missing in moto; the provider's OpenLineage extractor calls it)."""
    name = (response._get_param("TableName") or "").lower()
    glue = executor.client("glue")
    try:
        database = _database(executor, response)
        try:
            table = glue.get_table(DatabaseName=database, Name=name)["Table"]
        except glue.exceptions.EntityNotFoundException:
            raise MetadataError(f"Table {name} not found in database {database}") from None
    except MetadataError as error:
        return _metadata_error(str(error))
    return json.dumps({"TableMetadata": table_metadata(table)})


def list_table_metadata(executor: AthenaExecutor, response: Any) -> Any:
    """``ListTableMetadata``: the database's tables (``Expression`` a regex on names), paged."""
    try:
        database = _database(executor, response)
    except MetadataError as error:
        return _metadata_error(str(error))
    expression = response._get_param("Expression")
    max_results = int(response._get_param("MaxResults") or 50)
    if not 1 <= max_results <= 50:
        return _error("MaxResults must be between 1 and 50")
    token = response._get_param("NextToken")
    try:
        offset = int(token) if token else 0
    except ValueError:
        return _error("Invalid NextToken")
    pages = executor.client("glue").get_paginator("get_tables").paginate(DatabaseName=database)
    tables = sorted((t for page in pages for t in page["TableList"]), key=lambda t: t["Name"])
    if expression:
        try:
            pattern = re.compile(expression)
        except re.error:
            return _error(f"Invalid Expression: {expression}")
        tables = [t for t in tables if pattern.fullmatch(t["Name"])]
    body: dict[str, Any] = {
        "TableMetadataList": [table_metadata(t) for t in tables[offset : offset + max_results]]
    }
    if offset + max_results < len(tables):
        body["NextToken"] = str(offset + max_results)
    return json.dumps(body)


#: (moto owner, attribute) -> its replacement.
HANDLERS: dict[tuple[Any, str], Callable[..., Any]] = {
    (AthenaResponse, "start_query_execution"): start_query_execution,
    (AthenaResponse, "get_query_execution"): get_query_execution,
    (AthenaResponse, "batch_get_query_execution"): batch_get_query_execution,
    (AthenaResponse, "get_query_results"): get_query_results,
    (AthenaResponse, "stop_query_execution"): stop_query_execution,
    (AthenaResponse, "get_table_metadata"): get_table_metadata,
    (AthenaResponse, "list_table_metadata"): list_table_metadata,
}
