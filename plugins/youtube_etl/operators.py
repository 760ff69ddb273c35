"""Operators that add the pipeline's own checks to the Amazon provider's operators."""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.providers.amazon.aws.operators.lambda_function import LambdaInvokeFunctionOperator
from airflow.sdk.exceptions import AirflowSkipException

from youtube_etl.dag_support import check_lambda_result
from youtube_etl.reports import DataQualityError, evaluate_check, rows_from_athena


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


class AthenaCheckOperator(AthenaOperator):
    """Run a data-quality check query and fail when its one result row reports offending rows.

    Every check returns ``failures`` and ``example`` (see ``include/sql/checks/``); the failure names the
    check and the count. Checks that compare with the previously published run declare ``baseline_view``:
    on the very first run that view does not exist yet, so the check is skipped with a clear message.
    """

    def __init__(self, *, check_name: str, baseline_view: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check_name = check_name
        self.baseline_view = baseline_view

    def execute(self, context: Any) -> str | None:
        if self.baseline_view and not self._baseline_exists():
            raise AirflowSkipException(
                f"check {self.check_name!r} skipped: no previous run to compare with "
                f"({self.database}.{self.baseline_view} does not exist yet)"
            )
        query_execution_id = super().execute(context)
        return self._evaluate(query_execution_id or self.query_execution_id)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> str:
        return self._evaluate(super().execute_complete(context, event))

    def _baseline_exists(self) -> bool:
        from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

        glue: Any = GlueCatalogHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name).get_conn()
        try:
            glue.get_table(DatabaseName=self.database, Name=self.baseline_view)
        except glue.exceptions.EntityNotFoundException:
            return False
        return True

    def _evaluate(self, query_execution_id: str | None) -> str:
        if not query_execution_id:
            raise DataQualityError(self.check_name, -1, "the check query did not run")
        result = self.hook.get_query_results(query_execution_id=query_execution_id)
        if result is None:
            raise DataQualityError(self.check_name, -1, f"no result for query {query_execution_id}")
        evaluate_check(self.check_name, rows_from_athena(result["ResultSet"]))
        self.log.info("data-quality check %s passed", self.check_name)
        return query_execution_id


class AthenaReportOperator(AthenaOperator):
    """Run a report's CTAS after discarding whatever an earlier attempt of this run left behind.

    A CTAS fails on an existing table or a non-empty location; a retried attempt would otherwise always fail
    with ``HIVE_PATH_ALREADY_EXISTS``. The table the report's view shows is never touched.
    """

    def __init__(self, *, report: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.report = report

    def execute(self, context: Any) -> str | None:
        from youtube_etl.reports import discard_report_run
        from youtube_etl.settings import get_settings

        dropped = discard_report_run(self.hook.get_session(), get_settings(), self.report, context["run_id"])
        if dropped:
            self.log.info("discarded what an earlier attempt left: %s", dropped)
        return super().execute(context)
