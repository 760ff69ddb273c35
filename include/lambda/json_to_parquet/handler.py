"""Lambda entry point (``handler.handler``): S3 event in, Parquet + Glue partition out, bad files quarantined.

Thin edge: it reads the configuration (:mod:`function_config`, from environment variables on each call:
``function_config.ENV_VARS``) and the event, hands each record to :func:`conversion.process_record`
(which sequences the pure modules :mod:`category_reference` and :mod:`partition_order` with the AWS calls
of :mod:`record_io`), logs, and answers with the lake's contracts shipped beside them in ``youtube_lake/``
(the event and the result: ``invocation``). The AWS endpoint comes from the standard ``AWS_ENDPOINT_URL``
that boto3 and awswrangler honour, so this code does not know whether it runs on AWS or on the local
runtime. Only boto3, awswrangler and pyarrow are imported besides the package's own modules: the AWS SDK
for pandas managed layer provides them.

AWS errors are collected, the other records still processed, and the invocation then raises so Lambda
retries it (every step is idempotent) and finally hands the event to the on-failure destination.

Return value: ``youtube_lake.invocation.LambdaResult`` as JSON (``{"records": [{bucket, key, version_id,
etag, status, region, rows, output, reason, quarantine_key}], "converted": n, "quarantined": n,
"superseded": n}``; ``output`` is the Parquet object's ``s3://`` URI), read back by Airflow with
``LambdaResult.from_json``.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Mapping
from typing import Any

from aws_clients import shared_session
from conversion import RETRYABLE, process_record
from function_config import Config

from youtube_lake.invocation import QUARANTINED, LambdaResult, RecordResult, parse_event, parse_run

log = logging.getLogger("json_to_parquet")


class RecordsFailed(RuntimeError):
    """Some records hit AWS errors; raised after all records were tried so Lambda retries the event."""


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Convert every record of the event; see the module docstring for the failure contract."""
    _ensure_logging()
    config = Config.from_environ(os.environ)
    request_id = str(getattr(context, "aws_request_id", "") or uuid.uuid4())
    objects = parse_event(event)
    run = parse_run(event, request_id)
    session = shared_session()
    results: list[RecordResult] = []
    failures: list[str] = []
    for source in objects:
        try:
            result = process_record(source, config=config, session=session, request_id=request_id, run=run)
        except RETRYABLE as error:
            failures.append(f"s3://{source.bucket}/{source.key}: {type(error).__name__}: {error}")
            _log(
                "record_failed",
                logging.ERROR,
                request_id=request_id,
                bucket=source.bucket,
                key=source.key,
                error=f"{type(error).__name__}: {error}",
            )
            continue
        results.append(result)
        level = logging.WARNING if result.status == QUARANTINED else logging.INFO
        _log("record_processed", level, request_id=request_id, run_id=run.run_id, **result.to_json())
    summary = LambdaResult(tuple(results)).to_json()
    _log(
        "invocation_done",
        logging.INFO,
        request_id=request_id,
        run_id=run.run_id,
        **{k: v for k, v in summary.items() if k != "records"},
        failed=len(failures),
    )
    if failures:
        raise RecordsFailed(f"{len(failures)} of {len(objects)} record(s) failed: " + "; ".join(failures))
    return summary


def _log(event: str, level: int, **fields: Any) -> None:
    """One JSON object per line, so CloudWatch Logs Insights can filter on any field."""
    log.log(level, json.dumps({"event": event, "level": logging.getLevelName(level), **fields}, default=str))


def _ensure_logging() -> None:
    # The Lambda runtime installs a root handler; the local runtime's subprocess and tests may not.
    if not logging.getLogger().handlers and not log.handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    log.setLevel(logging.INFO)
