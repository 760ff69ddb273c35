"""Lambda: invokes and S3 events really run the handler, like AWS.

A small probe function (an in-memory zip created through the Lambda API) reads the real category files
from S3 and records what it received, so each test asserts on effects the handler produced.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import sys
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import pytest

from localaws import LocalAWS
from localaws.tests.lake import NAMES

PROBE = """
import json
import os
import time
import uuid
from urllib.parse import unquote_plus

import boto3


def handler(event, context):
    s3 = boto3.client("s3")
    results = os.environ["RESULT_BUCKET"]
    if "Records" in event:
        record = event["Records"][0]
        key = unquote_plus(record["s3"]["object"]["key"])
        body = s3.get_object(Bucket=record["s3"]["bucket"]["name"], Key=key)["Body"].read()
        seen = {"event": event, "items": len(json.loads(body)["items"]), "request_id": context.aws_request_id}
        s3.put_object(Bucket=results, Key=f"seen/{context.aws_request_id}.json", Body=json.dumps(seen))
        return seen
    if "fail_marker" in event:
        s3.put_object(Bucket=results, Key=f"attempts/{event['fail_marker']}/{uuid.uuid4().hex}", Body=b"x")
        raise KeyError("no category " + str(event["category"]))
    if "sleep" in event:
        time.sleep(event["sleep"])
        return {"slept": True}
    obj = s3.get_object(Bucket=event["bucket"], Key=event["key"])
    items = json.loads(obj["Body"].read())["items"]
    out = {
        "titles": sorted({i["snippet"]["title"] for i in items}),
        "function_name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "request_id": context.aws_request_id,
        "stage": os.environ.get("STAGE"),
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
    }
    if "marker" in event:
        s3.put_object(Bucket=results, Key=f"done/{event['marker']}.json", Body=json.dumps(out))
    print("converted", len(items), "categories")
    return out
"""

RESULTS = "lambda-executor-results"
#: In the command line of every Lambda worker process.
BOOTSTRAP = "localaws/_lambda/bootstrap.py"
DLQ = "lambda-executor-dlq"


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("probe.py", source)
    return buffer.getvalue()


def create_function(aws: LocalAWS, name: str, source: str, **config: Any) -> dict[str, Any]:
    """A Python 3.12 function whose package is ``source`` as ``probe.py`` (handler ``probe.handler``)."""
    settings: dict[str, Any] = {"Runtime": "python3.12", "Handler": "probe.handler", **config}
    return dict(
        aws.client("lambda").create_function(
            FunctionName=name, Role=NAMES.role_arn("lambda"), Code={"ZipFile": _zip(source)}, **settings
        )
    )


@pytest.fixture
def probe(clean_aws: LocalAWS) -> dict[str, Any]:
    """The probe function (5 s timeout), a results bucket and an SQS on-failure destination."""
    runtime = clean_aws
    runtime.client("s3").create_bucket(Bucket=RESULTS)
    lam = runtime.client("lambda")
    function = create_function(
        runtime,
        "probe",
        PROBE,
        Timeout=5,
        MemorySize=256,
        Environment={"Variables": {"RESULT_BUCKET": RESULTS, "STAGE": "probe-stage"}},
    )
    sqs = runtime.client("sqs")
    queue_url = sqs.create_queue(QueueName=DLQ)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    lam.put_function_event_invoke_config(
        FunctionName="probe",
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    return {"arn": function["FunctionArn"], "queue_url": queue_url}


def _upload_category(runtime: LocalAWS, data_dir: Path, region: str, bucket: str, key: str) -> bytes:
    body = (data_dir / "raw_statistics_reference_data" / f"{region}_category_id.json").read_bytes()
    runtime.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    return body


def _titles(body: bytes) -> list[str]:
    return sorted({item["snippet"]["title"] for item in json.loads(body)["items"]})


def _read_json(runtime: LocalAWS, bucket: str, key: str) -> Any:
    return json.loads(runtime.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def test_request_response_runs_handler_with_environment_and_context(
    probe: dict[str, Any], clean_aws: LocalAWS, data_dir: Path
) -> None:
    body = _upload_category(clean_aws, data_dir, "US", RESULTS, "in/US_category_id.json")
    response = clean_aws.client("lambda").invoke(
        FunctionName="probe",
        Payload=json.dumps({"bucket": RESULTS, "key": "in/US_category_id.json"}),
        LogType="Tail",
    )
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    result = json.loads(response["Payload"].read())
    assert result["titles"] == _titles(body)
    assert "Nonprofits & Activism" in result["titles"]  # US is the only region with category 29
    assert result["function_name"] == "probe"
    assert result["memory"] == "256"
    assert 0 < result["remaining_ms"] <= 5000
    assert result["stage"] == "probe-stage"
    assert result["endpoint"] == clean_aws.endpoint
    log_tail = base64.b64decode(response["LogResult"]).decode()
    assert f"converted {len(json.loads(body)['items'])} categories" in log_tail
    assert f"REPORT RequestId: {result['request_id']}" in log_tail


def test_unhandled_error_has_aws_shape(probe: dict[str, Any], clean_aws: LocalAWS) -> None:
    response = clean_aws.client("lambda").invoke(
        FunctionName="probe", Payload=json.dumps({"fail_marker": "sync", "category": 29})
    )
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "KeyError"
    assert error["errorMessage"] == repr("no category 29")  # str(KeyError) quotes its argument, as on AWS
    assert any("probe.py" in frame and "in handler" in frame for frame in error["stackTrace"])
    assert not any("bootstrap.py" in frame for frame in error["stackTrace"])


def test_handler_outliving_timeout_is_killed(probe: dict[str, Any], clean_aws: LocalAWS) -> None:
    lam = clean_aws.client("lambda")
    lam.update_function_configuration(FunctionName="probe", Timeout=1)
    response = lam.invoke(FunctionName="probe", Payload=json.dumps({"sleep": 30}))
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]


def test_missing_handler_module_is_an_import_error(clean_aws: LocalAWS) -> None:
    lam = clean_aws.client("lambda")
    create_function(clean_aws, "broken", PROBE, Handler="nothere.handler")
    response = lam.invoke(FunctionName="broken", Payload=b"{}")
    error = json.loads(response["Payload"].read())
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "nothere" in error["errorMessage"]


def test_async_invoke_runs_in_background(probe: dict[str, Any], clean_aws: LocalAWS, data_dir: Path) -> None:
    body = _upload_category(clean_aws, data_dir, "GB", RESULTS, "in/GB_category_id.json")
    marker = uuid.uuid4().hex
    response = clean_aws.client("lambda").invoke(
        FunctionName="probe",
        InvocationType="Event",
        Payload=json.dumps({"bucket": RESULTS, "key": "in/GB_category_id.json", "marker": marker}),
    )
    assert response["StatusCode"] == 202
    assert clean_aws.wait_idle(timeout=60)
    done = _read_json(clean_aws, RESULTS, f"done/{marker}.json")
    assert done["titles"] == _titles(body)
    assert "Nonprofits & Activism" not in done["titles"]


def test_async_failure_is_retried_twice_then_sent_to_on_failure_destination(
    probe: dict[str, Any], clean_aws: LocalAWS
) -> None:
    event = {"fail_marker": uuid.uuid4().hex, "category": 29}
    clean_aws.client("lambda").invoke(FunctionName="probe", InvocationType="Event", Payload=json.dumps(event))
    assert clean_aws.wait_idle(timeout=60)
    attempts = list(clean_aws.list_objects(RESULTS, f"attempts/{event['fail_marker']}/"))
    assert len(attempts) == 3  # the first attempt and two retries
    messages = clean_aws.client("sqs").receive_message(
        QueueUrl=probe["queue_url"], MaxNumberOfMessages=10, WaitTimeSeconds=1
    )["Messages"]
    assert len(messages) == 1
    record = json.loads(messages[0]["Body"])
    assert record["requestPayload"] == event
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].startswith(probe["arn"])
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "KeyError"


def test_async_failure_without_destination_is_kept_not_lost(clean_aws: LocalAWS) -> None:
    clean_aws.client("s3").create_bucket(Bucket=RESULTS)
    lam = clean_aws.client("lambda")
    create_function(clean_aws, "nodest", PROBE, Environment={"Variables": {"RESULT_BUCKET": RESULTS}})
    lam.put_function_event_invoke_config(FunctionName="nodest", MaximumRetryAttempts=0)
    event = {"fail_marker": uuid.uuid4().hex, "category": 29}
    lam.invoke(FunctionName="nodest", InvocationType="Event", Payload=json.dumps(event))
    assert clean_aws.wait_idle(timeout=60)
    assert len(list(clean_aws.list_objects(RESULTS, f"attempts/{event['fail_marker']}/"))) == 1
    kept = [entry for entry in clean_aws.undelivered_events() if entry["event"] == event]
    assert len(kept) == 1 and kept[0]["attempts"] == 1


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("drop/US_category_id.json", id="plain"),
        pytest.param("drop/region=us/my categories ü 東京+x.json", id="space-unicode-plus-equals"),
    ],
)
def test_s3_object_created_invokes_function_with_real_event_record(
    probe: dict[str, Any], clean_aws: LocalAWS, data_dir: Path, key: str
) -> None:
    s3 = clean_aws.client("s3")
    bucket = "lambda-executor-landing"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "Id": "probe-on-json",
                    "LambdaFunctionArn": probe["arn"],
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {
                            "FilterRules": [
                                {"Name": "prefix", "Value": "drop/"},
                                {"Name": "suffix", "Value": ".json"},
                            ]
                        }
                    },
                }
            ]
        },
    )
    body = (data_dir / "raw_statistics_reference_data" / "US_category_id.json").read_bytes()
    put = s3.put_object(Bucket=bucket, Key=key, Body=body)
    s3.put_object(Bucket=bucket, Key="drop/ignored.csv", Body=b"a,b\n")  # filtered out by the suffix rule
    assert clean_aws.wait_idle(timeout=60)

    seen = [_read_json(clean_aws, RESULTS, o["Key"]) for o in clean_aws.list_objects(RESULTS, "seen/")]
    assert len(seen) == 1
    assert seen[0]["items"] == len(json.loads(body)["items"])
    (record,) = seen[0]["event"]["Records"]
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["awsRegion"] == clean_aws.region
    assert record["s3"]["configurationId"] == "probe-on-json"
    assert record["s3"]["bucket"]["name"] == bucket
    assert record["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    obj = record["s3"]["object"]
    assert obj["key"] == quote_plus(key, safe="/")
    assert unquote_plus(obj["key"]) == key
    assert obj["size"] == len(body)
    assert obj["eTag"] == hashlib.md5(body).hexdigest()
    assert obj["versionId"] == put["VersionId"]
    assert int(obj["sequencer"], 16) > 0


def test_s3_events_on_same_key_have_increasing_sequencers(
    probe: dict[str, Any], clean_aws: LocalAWS, data_dir: Path
) -> None:
    s3 = clean_aws.client("s3")
    bucket = "lambda-executor-landing"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"LambdaFunctionArn": probe["arn"], "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    for region in ("CA", "GB"):
        _upload_category(clean_aws, data_dir, region, bucket, "drop/category.json")
    assert clean_aws.wait_idle(timeout=60)
    seen = [_read_json(clean_aws, RESULTS, o["Key"]) for o in clean_aws.list_objects(RESULTS, "seen/")]
    sizes = {
        region: (data_dir / "raw_statistics_reference_data" / f"{region}_category_id.json").stat().st_size
        for region in ("CA", "GB")
    }
    by_size = {s["event"]["Records"][0]["s3"]["object"]["size"]: s for s in seen}
    assert set(by_size) == set(sizes.values())
    first = by_size[sizes["CA"]]["event"]["Records"][0]["s3"]["object"]["sequencer"]
    second = by_size[sizes["GB"]]["event"]["Records"][0]["s3"]["object"]["sequencer"]
    assert int(second, 16) > int(first, 16)


# ---- warm execution environments ------------------------------------------------------------------
WARM = """
import os
import signal
import subprocess
import sys
import time

COUNT = 0  # module state: survives between invocations only in a reused execution environment
print("init in", os.getpid())


def handler(event, context):
    global COUNT
    COUNT += 1
    if "exit" in event:
        os._exit(event["exit"])
    if "kill" in event:
        os.kill(os.getpid(), signal.SIGKILL)
    if "child" in event:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        return {"pid": os.getpid(), "count": COUNT, "child": child.pid}
    if "unserialisable" in event:
        return {"pid": {os.getpid()}}
    if "rendezvous" in event:  # wait (bounded) until n invocations are running at once
        folder = event["rendezvous"]
        open(os.path.join(folder, context.aws_request_id), "w").close()
        deadline = time.time() + 4
        while len(os.listdir(folder)) < event["n"] and time.time() < deadline:
            time.sleep(0.01)
        return {"pid": os.getpid(), "count": COUNT, "met": len(os.listdir(folder)) >= event["n"]}
    time.sleep(event.get("sleep", 0))
    print("invocation", COUNT, "in", os.getpid())
    return {
        "pid": os.getpid(),
        "count": COUNT,
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "stage": os.environ.get("STAGE"),
    }
"""


def _create_warm(runtime: LocalAWS, timeout: int = 5, source: str = WARM) -> None:
    create_function(runtime, "warm", source, Timeout=timeout, Environment={"Variables": {"STAGE": "one"}})


def _call(runtime: LocalAWS, event: dict[str, Any] | None = None) -> tuple[dict[str, Any], Any, str]:
    """Invoke ``warm``: the response metadata, the decoded payload and the decoded log tail."""
    response = runtime.client("lambda").invoke(
        FunctionName="warm", Payload=json.dumps(event or {}), LogType="Tail"
    )
    payload = json.loads(response["Payload"].read())
    return response, payload, base64.b64decode(response["LogResult"]).decode()


def error_request_id(tail: str) -> str:
    """The request id of the invocation whose log tail this is (from its REPORT line)."""
    (request_id,) = re.findall(r"^REPORT RequestId: (\S+)", tail, re.MULTILINE)
    return str(request_id)


def _gone(pid: int) -> bool:
    """True once the process no longer runs (exited, or a zombie nobody has reaped yet)."""
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def worker_pids(function: str | None = None) -> list[int]:
    """Execution environments (Lambda worker processes) running under this test process, of one function
    or of all."""
    import psutil

    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE or BOOTSTRAP not in " ".join(child.cmdline()):
                continue
            if function is None or child.environ().get("AWS_LAMBDA_FUNCTION_NAME") == function:
                found.append(child.pid)
        except psutil.NoSuchProcess:
            pass
    return sorted(found)


@pytest.fixture
def start_private(clean_aws: LocalAWS) -> Iterator[Callable[..., LocalAWS]]:
    """Starts a second runtime with the given options: started after the session's, its executors serve
    (moto's state is shared). Stopped after the test."""
    started: list[LocalAWS] = []

    def start(**options: Any) -> LocalAWS:
        started.append(LocalAWS(region=clean_aws.region, **options).start())
        return started[-1]

    yield start
    for runtime in started:
        runtime.stop()


def test_warm_worker_keeps_module_state_and_is_replaced_on_code_or_configuration_change(
    clean_aws: LocalAWS,
) -> None:
    _create_warm(clean_aws)
    _, first, first_log = _call(clean_aws, {"sleep": 1})
    _, second, second_log = _call(clean_aws)
    assert second["pid"] == first["pid"]
    assert (first["count"], second["count"]) == (1, 2)
    assert first["request_id"] != second["request_id"]
    # Each invocation gets its own deadline: the second starts with more time left than the first had
    # after sleeping a second of its own.
    assert first["remaining_ms"] <= 4000 < second["remaining_ms"] <= 5000
    # Init output and Init Duration belong to the cold start only; each log has only its own invocation.
    assert "init in" in first_log and "Init Duration" in first_log
    assert "init in" not in second_log and "Init Duration" not in second_log
    assert f"invocation 2 in {first['pid']}" in second_log and "invocation 1" not in second_log
    assert f"RequestId: {second['request_id']}" in second_log and first["request_id"] not in second_log
    # One CloudWatch log stream per execution environment, holding both invocations.
    logs = clean_aws.client("logs")
    (stream,) = logs.describe_log_streams(logGroupName="/aws/lambda/warm")["logStreams"]
    events = logs.get_log_events(logGroupName="/aws/lambda/warm", logStreamName=stream["logStreamName"])
    starts = [e["message"] for e in events["events"] if e["message"].startswith("START RequestId:")]
    assert starts == [
        f"START RequestId: {first['request_id']} Version: $LATEST",
        f"START RequestId: {second['request_id']} Version: $LATEST",
    ]

    lam = clean_aws.client("lambda")
    lam.update_function_configuration(FunctionName="warm", Environment={"Variables": {"STAGE": "two"}})
    _, after_config, _ = _call(clean_aws)
    assert after_config["pid"] != first["pid"] and after_config["count"] == 1
    assert after_config["stage"] == "two"
    assert _gone(first["pid"])  # the environment of the old configuration was retired

    lam.update_function_code(FunctionName="warm", ZipFile=_zip(WARM + "\n# version 2\n"))
    _, after_code, _ = _call(clean_aws)
    assert after_code["pid"] not in (first["pid"], after_config["pid"]) and after_code["count"] == 1
    assert _gone(after_config["pid"])


def test_function_errors_keep_the_worker(clean_aws: LocalAWS) -> None:
    """A handler exception or an unserialisable result is the function's error, not the environment's."""
    _create_warm(clean_aws)
    _, first, _ = _call(clean_aws)
    response, error, _ = _call(clean_aws, {"unserialisable": True})
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.MarshalError"
    assert "Unable to marshal response" in error["errorMessage"]
    _, after, _ = _call(clean_aws)
    assert (after["pid"], after["count"]) == (first["pid"], 3)


def test_timed_out_invocation_discards_the_worker(clean_aws: LocalAWS) -> None:
    _create_warm(clean_aws, timeout=1)
    _, warm, _ = _call(clean_aws)
    response, error, tail = _call(clean_aws, {"sleep": 30})
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in tail
    assert _gone(warm["pid"])
    response, after, _ = _call(clean_aws)
    assert "FunctionError" not in response
    assert after["pid"] != warm["pid"] and after["count"] == 1


def test_a_timed_out_invocation_ends_within_about_a_second_of_its_timeout(clean_aws: LocalAWS) -> None:
    """The environment is ended at the timeout, not seconds later. Read from the runtime's own REPORT
    Duration (a warm environment: no init phase, no HTTP or start-up in the measure) with 2 s of slack
    for a loaded machine; the process is gone by the time the invoke returns."""
    _create_warm(clean_aws, timeout=1)
    _, warm, _ = _call(clean_aws)
    _, error, tail = _call(clean_aws, {"sleep": 30})
    assert error["errorType"] == "Sandbox.Timedout"
    (duration,) = re.findall(r"^REPORT RequestId: \S+\tDuration: ([0-9.]+) ms", tail, re.MULTILINE)
    assert 1000 <= float(duration) < 3000, f"a 1 s timeout ended after {duration} ms"
    assert _gone(warm["pid"])


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        pytest.param({"exit": 3}, "exit status 3", id="os-exit"),
        pytest.param({"kill": True}, "signal: killed", id="sigkill"),
    ],
)
def test_crashing_handler_is_an_exit_error_and_its_worker_replaced(
    clean_aws: LocalAWS, event: dict[str, Any], reason: str
) -> None:
    _create_warm(clean_aws)
    _, warm, _ = _call(clean_aws)
    response, error, tail = _call(clean_aws, event)
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ExitError"
    assert (
        error["errorMessage"]
        == f"RequestId: {error_request_id(tail)} Error: Runtime exited with error: {reason}"
    )
    assert "END RequestId:" in tail and "REPORT RequestId:" in tail
    assert _gone(warm["pid"])
    response, after, _ = _call(clean_aws)
    assert "FunctionError" not in response
    assert after["pid"] != warm["pid"] and after["count"] == 1


HOG = """
import os
import subprocess
import sys
import time


def handler(event, context):
    size = event["mb"] << 20
    if event.get("in_child"):  # a sandbox's limit counts the handler's subprocesses too
        code = f"hog = b'1' * {size}; import time; time.sleep(10)"
        subprocess.run([sys.executable, "-c", code], check=True)
    else:
        hog = b"1" * size  # written, so resident (a zero-filled buffer would not be)
        time.sleep(1)
    return {"pid": os.getpid()}
"""


def _call_hog(runtime: LocalAWS, mb: int, in_child: bool = False) -> tuple[Any, str]:
    response = runtime.client("lambda").invoke(
        FunctionName="hog", Payload=json.dumps({"mb": mb, "in_child": in_child}), LogType="Tail"
    )
    return json.loads(response["Payload"].read()), base64.b64decode(response["LogResult"]).decode()


@pytest.mark.parametrize(
    "in_child",
    [pytest.param(False, id="handler-itself"), pytest.param(True, id="handler-subprocess")],
)
def test_memory_size_is_enforced_like_aws(clean_aws: LocalAWS, in_child: bool) -> None:
    """Beyond ``MemorySize`` the environment is killed: ``signal: killed``, Max Memory Used at the limit;
    the next invocation gets a new environment."""
    create_function(clean_aws, "hog", HOG, Timeout=20, MemorySize=128)
    error, tail = _call_hog(clean_aws, 400, in_child)
    assert error == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {error_request_id(tail)} Error: Runtime exited with error: "
        "signal: killed",
    }
    assert "Error: Runtime exited with error: signal: killed\nRuntime.ExitError\nEND RequestId:" in tail
    assert "\tMemory Size: 128 MB\tMax Memory Used: 128 MB" in tail
    assert worker_pids("hog") == []  # the environment and the subprocess are gone
    after, tail = _call_hog(clean_aws, 10)
    assert "pid" in after and "Init Duration" in tail


def test_memory_within_size_runs_and_reports_its_peak(clean_aws: LocalAWS) -> None:
    create_function(clean_aws, "hog", HOG, Timeout=20, MemorySize=512)
    result, tail = _call_hog(clean_aws, 150)
    assert "pid" in result
    (used,) = re.findall(r"Max Memory Used: (\d+) MB", tail)
    assert 150 <= int(used) < 512


LOCAL_PYTHON = f"python{sys.version_info.major}.{sys.version_info.minor}"
OTHER_PYTHON = "python3.12" if LOCAL_PYTHON != "python3.12" else "python3.11"


@pytest.mark.parametrize(
    ("runtime", "reported"),
    [pytest.param(LOCAL_PYTHON, False, id="same-python"), pytest.param(OTHER_PYTHON, True, id="other")],
)
def test_a_declared_runtime_other_than_the_local_python_is_in_the_log(
    clean_aws: LocalAWS, runtime: str, reported: bool
) -> None:
    create_function(clean_aws, "hog", HOG, Runtime=runtime, MemorySize=256)
    _, cold = _call_hog(clean_aws, 1)
    _, warm = _call_hog(clean_aws, 1)
    warning = f"the function declares runtime {runtime} but runs on the local {LOCAL_PYTHON}"
    assert (warning in cold) is reported
    assert warning not in warm  # once per environment, in its init phase
    if reported:
        assert re.search(r"^\[WARNING\]\t\S+Z\t\tthe function declares", cold, re.MULTILINE)


def test_failed_init_is_retried_by_a_new_worker(clean_aws: LocalAWS) -> None:
    _create_warm(clean_aws, source="raise RuntimeError('no config yet')\n" + WARM)
    response, error, _ = _call(clean_aws)
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "no config yet" in error["errorMessage"]
    assert worker_pids("warm") == []
    clean_aws.client("lambda").update_function_code(FunctionName="warm", ZipFile=_zip(WARM))
    response, fixed, _ = _call(clean_aws)
    assert "FunctionError" not in response and fixed["count"] == 1


def together(tmp_path: Path, n: int) -> dict[str, Any]:
    """An event making ``n`` invocations wait for each other (in a fresh folder)."""
    folder = tmp_path / uuid.uuid4().hex
    folder.mkdir()
    return {"rendezvous": str(folder), "n": n}


def test_concurrent_invocations_get_separate_workers(clean_aws: LocalAWS, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    _create_warm(clean_aws)
    event = together(tmp_path, 3)
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: _call(clean_aws, event)[1], range(3)))
    assert all(r["met"] for r in results)  # all three ran at the same time
    assert len({r["pid"] for r in results}) == 3
    assert [r["count"] for r in results] == [1, 1, 1]  # no worker ever ran two of them
    _, after, _ = _call(clean_aws)
    assert after["pid"] in {r["pid"] for r in results} and after["count"] == 2


def test_idle_workers_are_reaped(clean_aws: LocalAWS, start_private: Callable[..., LocalAWS]) -> None:
    import psutil

    start_private(lambda_idle_timeout=0.2)
    _create_warm(clean_aws)
    _, first, _ = _call(clean_aws)
    (gone,), alive = psutil.wait_procs([psutil.Process(first["pid"])], timeout=30)
    assert gone.pid == first["pid"] and not alive
    assert worker_pids() == []
    _, second, _ = _call(clean_aws)
    assert second["pid"] != first["pid"] and second["count"] == 1


def test_stopping_the_runtime_kills_every_worker_and_its_children(
    clean_aws: LocalAWS, start_private: Callable[..., LocalAWS], tmp_path: Path
) -> None:
    private = start_private()
    from concurrent.futures import ThreadPoolExecutor

    _create_warm(clean_aws)
    event = together(tmp_path, 2)
    with ThreadPoolExecutor(2) as pool:
        started = list(pool.map(lambda _: _call(clean_aws, event)[1], range(2)))
    _, spawner, _ = _call(clean_aws, {"child": True})  # leaves a grandchild process behind
    pids = {r["pid"] for r in started} | {spawner["child"]}
    assert len(pids) == 3 and not any(_gone(pid) for pid in pids)
    assert worker_pids() == sorted(r["pid"] for r in started)

    private.stop()
    assert all(_gone(pid) for pid in pids)
    assert worker_pids() == []


def test_workers_beyond_the_cap_are_one_off(
    clean_aws: LocalAWS, start_private: Callable[..., LocalAWS], tmp_path: Path
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    start_private(lambda_max_workers=1)
    _create_warm(clean_aws)
    event = together(tmp_path, 2)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: _call(clean_aws, event)[1], range(2)))
    assert all(r["met"] for r in results)  # still concurrent: neither waited for the other's worker
    assert len({r["pid"] for r in results}) == 2
    (kept,) = worker_pids()
    (one_off,) = {r["pid"] for r in results} - {kept}
    assert _gone(one_off)
    _, after, _ = _call(clean_aws)
    assert (after["pid"], after["count"]) == (kept, 2)


def test_reset_discards_warm_workers(clean_aws: LocalAWS) -> None:
    _create_warm(clean_aws)
    _, warm, _ = _call(clean_aws)
    clean_aws.reset()
    assert _gone(warm["pid"])
    _create_warm(clean_aws)
    _, after, _ = _call(clean_aws)
    assert after["pid"] != warm["pid"] and after["count"] == 1
