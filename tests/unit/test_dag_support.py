"""Pure DAG helpers: task defaults, the failure message of a Lambda invocation, templated XCom arguments."""

from __future__ import annotations

import json

from youtube_etl.dag_support import default_args, lambda_failure_message, sql_dir, xcom_json
from youtube_etl.settings import get_settings
from youtube_lake.invocation import s3_event


def test_a_function_error_names_the_files_and_the_error() -> None:
    payload = json.dumps(s3_event("raw", ["youtube/raw_statistics_reference_data/a b/US_category_id.json"]))
    error = json.dumps({"errorType": "RecordsFailed", "errorMessage": "1 of 1 record(s) failed: NoSuchKey"})
    assert lambda_failure_message(payload, error) == (
        "json_to_parquet failed on youtube/raw_statistics_reference_data/a b/US_category_id.json — "
        "RecordsFailed: 1 of 1 record(s) failed: NoSuchKey"
    )
    assert lambda_failure_message("{}", "Task timed out") == (
        "json_to_parquet failed on (no S3 records in the payload) — Task timed out"
    )


def test_default_args_retry_twice_with_timeout() -> None:
    args = default_args(get_settings({}))
    assert args["retries"] >= 2 and args["execution_timeout"].total_seconds() > 0
    assert args["retry_exponential_backoff"] is True


def test_sql_dir_is_the_checkout_folder_unless_configured(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert sql_dir(get_settings({})).parts[-2:] == ("include", "sql")
    assert sql_dir(get_settings({}, sql_folder=str(tmp_path))) == tmp_path


def test_an_xcom_argument_renders_as_json_text_the_operators_parse() -> None:
    """``tojson`` (not Python's repr, which is no JSON); a missing XCom is ``null``."""
    from jinja2.sandbox import SandboxedEnvironment

    from youtube_etl.operators import json_argument

    pushed = {("plan_increment", "plan"): {"statistics": 2, "interval_start": "2017-11-14T00:00:00+00:00"}}

    class TaskInstance:
        def xcom_pull(self, task_ids: str, key: str) -> object:
            return pushed.get((task_ids, key))

    def render(template: str) -> str:
        return SandboxedEnvironment().from_string(template).render(ti=TaskInstance())

    plan = render(xcom_json("plan_increment", "plan"))
    assert json_argument(plan) == pushed[("plan_increment", "plan")]
    assert json_argument(render(xcom_json("run_clean_statistics", "metrics"))) is None
