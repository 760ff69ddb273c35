"""The runtime's public API: life cycle, the provisioning hook, moto's patches, ``serve``, the boundary."""

from __future__ import annotations

import ast
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest

import localaws
from localaws import LOCAL_CREDENTIALS, LocalAWS

PACKAGE = Path(localaws.__file__).resolve().parent
SOURCE_TREE = PACKAGE.parent


def _listening(port: int) -> set[str]:
    """Addresses this process listens on at ``port``."""
    connections = psutil.Process().net_connections("inet")
    return {c.laddr.ip for c in connections if c.status == psutil.CONN_LISTEN and c.laddr.port == port}


def test_start_binds_loopback_on_a_free_port_and_client_env_points_there() -> None:
    with LocalAWS(region="eu-west-1") as aws:
        assert aws.endpoint == f"http://127.0.0.1:{aws.port}" and aws.port > 0
        assert _listening(aws.port) == {"127.0.0.1"}
        env = aws.client_env()
        assert env == {
            **LOCAL_CREDENTIALS,
            "AWS_ENDPOINT_URL": aws.endpoint,
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_REGION": "eu-west-1",
        }
        aws.client("s3").create_bucket(
            Bucket="localaws-runtime-start", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        assert aws.client("s3").get_bucket_location(Bucket="localaws-runtime-start")[
            "LocationConstraint"
        ] == ("eu-west-1")
        port = aws.port
    assert _listening(port) == set()
    with pytest.raises(RuntimeError, match="not started"):
        _ = aws.endpoint


def test_provision_hook_runs_at_start_and_after_reset() -> None:
    calls: list[str] = []

    def provision(aws: LocalAWS) -> None:
        calls.append(aws.endpoint)
        aws.client("s3").create_bucket(Bucket="localaws-provisioned")

    with LocalAWS(provision=provision) as aws:
        s3 = aws.client("s3")
        s3.put_object(Bucket="localaws-provisioned", Key="left-over", Body=b"x")
        aws.reset()
        assert calls == [aws.endpoint, aws.endpoint]
        assert s3.list_objects_v2(Bucket="localaws-provisioned")["KeyCount"] == 0  # objects forgotten
        aws.client("s3").create_bucket(Bucket="localaws-not-provisioned")
        aws.reset()
        names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
        assert "localaws-provisioned" in names and "localaws-not-provisioned" not in names


def test_reset_provisions_every_runtime_of_the_process_again() -> None:
    """moto's state is per process: a reset through one runtime must not leave another unprovisioned."""

    def bucket(name: str) -> Any:
        return lambda aws: aws.client("s3").create_bucket(Bucket=name)

    with (
        LocalAWS(provision=bucket("localaws-first")) as first,
        LocalAWS(provision=bucket("localaws-second")) as second,
    ):
        second.reset()
        names = {b["Name"] for b in first.client("s3").list_buckets()["Buckets"]}
        assert {"localaws-first", "localaws-second"} <= names


def _run_python(script: str, timeout: float = 180) -> str:
    """Run ``script`` in a fresh interpreter (moto's state and patches are per process); its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=SOURCE_TREE,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


MOTO_METHODS = """
from moto.athena.responses import AthenaResponse
from moto.awslambda.models import LambdaFunction
from moto.glue.models import FakeCrawler, FakeJob
from moto.glue.responses import GlueResponse
from moto.s3 import notifications

def moto_methods():
    owners = [(AthenaResponse, "start_query_execution"), (LambdaFunction, "invoke"),
              (FakeCrawler, "start_crawler"), (FakeJob, "start_job_run"), (GlueResponse, "update_crawler"),
              (GlueResponse, "batch_stop_job_run"), (notifications, "_invoke_awslambda")]
    return [owner.__dict__.get(name) for owner, name in owners]

def select_one(aws, bucket):
    athena = aws.client("athena")
    qid = athena.start_query_execution(QueryString="SELECT 1 AS one",
        ResultConfiguration={"OutputLocation": f"s3://{bucket}/r/"})["QueryExecutionId"]
    assert aws.wait_idle(timeout=60)
    return athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]["State"]
"""


def test_moto_is_patched_while_a_runtime_runs_and_restored_exactly_after_the_last() -> None:
    """Patches are shared by the runtimes of a process; stopping them in any order restores moto."""
    script = (
        MOTO_METHODS
        + """
from localaws import LocalAWS
before = moto_methods()
assert before[4] is None, "moto has no UpdateCrawler: the runtime adds it while running"
first = LocalAWS(provision=lambda aws: aws.client("s3").create_bucket(Bucket="patches")).start()
second = LocalAWS().start()
during = moto_methods()
assert all(d is not b for d, b in zip(during, before)), "every replaced method is patched"
first.stop()  # not in start order: the second keeps serving, with its own executors
assert moto_methods() == during
print(select_one(second, "patches"))
second.stop()
print(moto_methods() == before)
"""
    )
    assert _run_python(script).split() == ["SUCCEEDED", "True"]


def test_a_failing_provision_hook_stops_the_runtime() -> None:
    script = (
        MOTO_METHODS
        + """
from localaws import LocalAWS
before = moto_methods()
def provision(aws):
    raise ValueError("no such resource")
aws = LocalAWS(provision=provision)
try:
    aws.start()
except ValueError as error:
    print(error.args[0].replace(" ", "_"))
print(aws.running, moto_methods() == before)
"""
    )
    assert _run_python(script).split() == ["no_such_resource", "False", "True"]


@contextmanager
def _serving(argv: list[str]) -> Iterator[tuple[subprocess.Popen[str], str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen(
        argv, cwd=SOURCE_TREE, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert proc.stdout is not None
        yield proc, proc.stdout.readline()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_prints_one_ready_line_binds_loopback_and_stops_on_sigterm() -> None:
    with _serving([sys.executable, "-m", "localaws", "serve"]) as (proc, line):
        assert line.startswith("ready: http://127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        listening = [
            c
            for c in psutil.Process(proc.pid).net_connections("inet")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port
        ]
        assert {c.laddr.ip for c in listening} == {"127.0.0.1"}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert proc.stdout is not None and proc.stdout.read() == "", "exactly one line on stdout"


def test_a_busy_port_is_refused_naming_the_address() -> None:
    """moto's server thread dies on a busy port and its start() would wait forever: refuse up front."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        aws = LocalAWS(port=port)
        with pytest.raises(OSError, match=f"cannot serve on 127.0.0.1:{port}: Address already in use"):
            aws.start()
        assert not aws.running
        with _serving([sys.executable, "-m", "localaws", "serve", "--port", str(port)]) as (proc, line):
            assert line == ""  # no ready line
            assert proc.wait(timeout=60) == 1


# ---- the boundary ----------------------------------------------------------------------------------------
#: What the package must never import: the project embedding it (its settings and contract packages, its
#: side of the runtime, its dashboard, its CDK app, its tests).
FORBIDDEN = ("youtube_etl", "youtube_lake", "local", "dashboard", "infra", "tests", "plugins")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_no_module_of_the_package_imports_the_project() -> None:
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) > 30
    offending = {
        f"{path.relative_to(PACKAGE)}: {module}"
        for path in sources
        for module in _imported_modules(path)
        if any(module == name or module.startswith(name + ".") for name in FORBIDDEN)
    }
    assert offending == set()


def test_the_package_runs_where_the_project_cannot_be_imported() -> None:
    """Every module imports, and a runtime runs a Lambda, a query and serves, with ``youtube_etl`` and the
    project's side (``local``) made unimportable."""
    script = f"""
import importlib, pkgutil, sys
for name in {FORBIDDEN!r}:
    sys.modules[name] = None  # any import of it now raises ImportError
import localaws
names = [m.name for m in pkgutil.walk_packages(localaws.__path__, "localaws.")
         if ".tests" not in m.name]
for name in names:
    importlib.import_module(name)
from localaws import LocalAWS
with LocalAWS() as aws:
    aws.client("s3").create_bucket(Bucket="boundary")
    athena = aws.client("athena")
    qid = athena.start_query_execution(QueryString="SELECT 41 + 1 AS answer",
        ResultConfiguration={{"OutputLocation": "s3://boundary/r/"}})["QueryExecutionId"]
    assert aws.wait_idle(timeout=60)
    rows = athena.get_query_results(QueryExecutionId=qid)["ResultSet"]["Rows"]
    print(len(names), rows[1]["Data"][0]["VarCharValue"])
"""
    modules, answer = _run_python(script).split()
    assert int(modules) > 30 and answer == "42"


def test_wait_idle_reports_a_timeout() -> None:
    """``wait_idle`` returns False when background work outlives the timeout, True once it is done."""
    source = "import time\ndef handler(event, context):\n    time.sleep(event['s'])\n    return 1\n"
    import io
    import json
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("slow.py", source)

    def provision(aws: LocalAWS) -> None:
        role = aws.client("iam").create_role(RoleName="localaws-slow", AssumeRolePolicyDocument="{}")
        aws.client("lambda").create_function(
            FunctionName="localaws-slow",
            Runtime="python3.12",
            Role=role["Role"]["Arn"],
            Handler="slow.handler",
            Code={"ZipFile": buffer.getvalue()},
            Timeout=30,
        )

    with LocalAWS(provision=provision) as aws:
        lam = aws.client("lambda")
        lam.invoke(FunctionName="localaws-slow", InvocationType="Event", Payload=json.dumps({"s": 3}))
        started = time.monotonic()
        assert aws.wait_idle(timeout=0.5) is False
        assert time.monotonic() - started < 2
        assert aws.wait_idle(timeout=60) is True


def test_the_servers_list_of_moto_services_is_read_once_and_stays_the_same() -> None:
    """moto's router lists its service folders on every request; the runtime reads them once."""
    from moto import backends

    folder = Path(backends.__file__).parent
    on_disk = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("__"))
    original = backends.list_of_moto_modules
    with LocalAWS(executors=False) as aws:
        listed = backends.list_of_moto_modules()
        assert list(listed) == on_disk
        assert backends.list_of_moto_modules() is listed  # read once, not again per request
        assert "Buckets" in aws.client("s3").list_buckets()  # requests are still routed
    assert backends.list_of_moto_modules is original  # moto's own again after the last runtime


def test_a_thread_reuses_its_session_and_never_shares_it_with_another() -> None:
    """Clients come fast from a session that built clients before, but a boto3 session must not be shared
    between threads: each thread has its own, per region."""
    from localaws._aws import session

    here = session("us-east-1")
    assert session("us-east-1") is here
    assert session("eu-west-1") is not here and session("eu-west-1").region_name == "eu-west-1"
    elsewhere: list[object] = []
    thread = threading.Thread(target=lambda: elsewhere.append(session("us-east-1")))
    thread.start()
    thread.join()
    assert elsewhere and elsewhere[0] is not here
