"""Operators that add the pipeline's own checks to the Amazon provider's operators."""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.operators.lambda_function import LambdaInvokeFunctionOperator

from youtube_etl.dag_support import check_lambda_result


class ConvertReferenceOperator(LambdaInvokeFunctionOperator):
    """Invoke the JSON-to-Parquet Lambda and fail when it quarantined a file, naming file and reason.

    The provider's operator fails only on a ``FunctionError``; the Lambda deliberately answers normally for a
    bad file (retrying it helps nobody), so the scheduled path must read the per-record status.
    """

    def execute(self, context: Any) -> str:
        payload: str = super().execute(context)
        result = check_lambda_result(payload)
        for record in result["records"]:
            self.log.info(
                "converted %s -> %s (%s rows, region %s)",
                record.get("key"),
                record.get("output"),
                record.get("rows"),
                record.get("region"),
            )
        return payload
