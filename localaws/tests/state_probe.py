"""A process using a runtime with a state folder (moto's state is per process: each phase is its own).

``python -m localaws.tests.state_probe <folder> write|read <data_dir>`` prints one JSON line of what
it saw; ``write`` creates a bucket and objects, a catalog table, a function and an Athena query, ``read``
looks at them again from the folder and deletes one object.
"""

from __future__ import annotations

import io
import json
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

from localaws import LocalAWS

BUCKET = "state-probe"
FUNCTION = "state-probe"
SOURCE = "def handler(event, context):\n    return {'doubled': event['n'] * 2}\n"
#: Larger than moto's in-memory threshold (5 MB): moto would keep it in a temporary file of its own.
BIG = bytes(range(256)) * (6 * 4096)


ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def provision(aws: LocalAWS) -> None:
    aws.client("iam").create_role(RoleName="probe", AssumeRolePolicyDocument=json.dumps(ROLE_POLICY))
    aws.client("s3").create_bucket(Bucket=BUCKET)
    aws.client("s3").put_object(Bucket=BUCKET, Key="provisioned", Body=b"by the hook")


def _wait_query(aws: LocalAWS, query_id: str) -> dict[str, Any]:
    athena = aws.client("athena")
    for _ in range(600):
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        if execution["Status"]["State"] not in ("QUEUED", "RUNNING"):
            return dict(execution)
        time.sleep(0.05)
    raise TimeoutError(query_id)


def write(aws: LocalAWS, data_dir: Path) -> dict[str, Any]:
    s3 = aws.client("s3")
    categories = (data_dir / "raw_statistics_reference_data" / "US_category_id.json").read_bytes()
    s3.put_object(Bucket=BUCKET, Key="raw/US_category_id.json", Body=categories)
    s3.put_object(Bucket=BUCKET, Key="big.bin", Body=BIG)
    s3.put_object(Bucket=BUCKET, Key="overwritten", Body=b"first")
    s3.put_object(Bucket=BUCKET, Key="overwritten", Body=b"second")
    glue = aws.client("glue")
    glue.create_database(DatabaseInput={"Name": "probe_db"})
    glue.create_table(
        DatabaseName="probe_db",
        TableInput={
            "Name": "probe_table",
            "StorageDescriptor": {
                "Columns": [{"Name": "x", "Type": "int"}],
                "Location": f"s3://{BUCKET}/table/",
            },
        },
    )
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("probe.py", SOURCE)
    aws.client("lambda").create_function(
        FunctionName=FUNCTION,
        Runtime="python3.12",
        Handler="probe.handler",
        Role=f"arn:aws:iam::{aws.account_id}:role/probe",
        Code={"ZipFile": archive.getvalue()},
    )
    query_id = aws.client("athena").start_query_execution(
        QueryString="SELECT 6 * 7 AS answer",
        ResultConfiguration={"OutputLocation": f"s3://{BUCKET}/athena/"},
    )["QueryExecutionId"]
    failing_id = aws.client("athena").start_query_execution(
        QueryString="SELECT nope FROM probe_db.probe_table",
        ResultConfiguration={"OutputLocation": f"s3://{BUCKET}/athena/"},
    )["QueryExecutionId"]
    return {
        "query_id": query_id,
        "state": _wait_query(aws, query_id)["Status"]["State"],
        "failing_id": failing_id,
        "failing_status": _wait_query(aws, failing_id)["Status"],
    }


def read(aws: LocalAWS, data_dir: Path, query_id: str, failing_id: str) -> dict[str, Any]:
    s3 = aws.client("s3")
    body = s3.get_object(Bucket=BUCKET, Key="raw/US_category_id.json")["Body"].read()
    expected = (data_dir / "raw_statistics_reference_data" / "US_category_id.json").read_bytes()
    result = aws.client("lambda").invoke(FunctionName=FUNCTION, Payload=json.dumps({"n": 21}))
    athena = aws.client("athena")
    rows = athena.get_query_results(QueryExecutionId=query_id)["ResultSet"]["Rows"]
    seen = {
        "keys": sorted(o["Key"] for o in aws.list_objects(BUCKET)),
        "categories_equal": body == expected,
        "big_equal": s3.get_object(Bucket=BUCKET, Key="big.bin")["Body"].read() == BIG,
        "overwritten": s3.get_object(Bucket=BUCKET, Key="overwritten")["Body"].read().decode(),
        "table_location": aws.client("glue").get_table(DatabaseName="probe_db", Name="probe_table")["Table"][
            "StorageDescriptor"
        ]["Location"],
        "lambda": json.loads(result["Payload"].read()),
        "query_state": athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"][
            "State"
        ],
        "query_rows": [[c.get("VarCharValue") for c in r["Data"]] for r in rows],
        "failing_status": athena.get_query_execution(QueryExecutionId=failing_id)["QueryExecution"]["Status"],
    }
    s3.delete_object(Bucket=BUCKET, Key="big.bin")
    return seen


def main(argv: list[str]) -> int:
    folder, phase, data_dir = Path(argv[1]), argv[2], Path(argv[3])
    calls: list[str] = []

    def hook(aws: LocalAWS) -> None:
        calls.append("provision")
        provision(aws)

    with LocalAWS(state_dir=folder, provision=hook) as aws:
        seen = write(aws, data_dir) if phase == "write" else read(aws, data_dir, argv[4], argv[5])
        seen.update(resumed=aws.resumed, provisioned=len(calls))
    print(json.dumps(seen, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
