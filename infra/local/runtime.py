"""The local AWS runtime: a moto server on 127.0.0.1, provisioned from settings, plus executors.

moto serves the AWS APIs in this process (``ThreadedMotoServer``); the executors in
``infra/local/executors/`` patch moto's in-process backends so Lambda invokes, Glue job runs, crawlers and
Athena queries really run behind the unchanged API. Everything that talks to it only needs
``AWS_ENDPOINT_URL`` (see :meth:`LocalRuntime.client_env`).
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from youtube_etl.settings import REFERENCE_SUFFIXES, Settings, get_settings

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
LAMBDA_SOURCE = REPO_ROOT / "include" / "lambda" / "json_to_parquet"
GLUE_SOURCE = REPO_ROOT / "include" / "glue"
HOST = "127.0.0.1"

#: Credentials moto accepts; never real ones. Account 123456789012 is moto's default.
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
LOCAL_ACCOUNT = "123456789012"

_TRUST = {
    "lambda": "lambda.amazonaws.com",
    "glue": "glue.amazonaws.com",
}


def package_lambda(source: Path = LAMBDA_SOURCE) -> bytes:
    """Zip the Lambda's code the way the CDK asset does: every ``.py`` file at the archive root."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.rglob("*.py")):
            if "__pycache__" in path.parts or path.name.startswith("test_"):
                continue
            info = zipfile.ZipInfo(str(path.relative_to(source)), date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


@dataclass
class LocalRuntime:
    """A moto server bound to 127.0.0.1 with the pipeline's resources and executors."""

    settings: Settings = field(default_factory=get_settings)
    port: int = 0
    executors: bool = True
    #: Bind address. 127.0.0.1 everywhere on a workstation; only a container (docker-compose) needs 0.0.0.0.
    host: str = HOST
    _server: Any = field(default=None, init=False, repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    # ---- lifecycle ------------------------------------------------------------------------------
    def start(self) -> LocalRuntime:
        """Bind the server (a free port when ``port`` is 0), install executors, provision."""
        from moto.server import ThreadedMotoServer

        if self._server is not None:
            return self
        # moto builds ARNs and validates against this account; keep it explicit and stable.
        os.environ.setdefault("MOTO_ACCOUNT_ID", LOCAL_ACCOUNT)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        server.start()
        self._server = server
        self.port = server.get_host_and_port()[1]
        if self.executors:
            from infra.local import executors

            executors.install(self)
        self.provision()
        log.info("local AWS runtime ready at %s", self.endpoint)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        if self.executors:
            from infra.local import executors

            executors.shutdown(self)
        self._server.stop()
        self._server = None
        self._clients.clear()

    def reset(self) -> None:
        """Forget every resource and object (moto's reset), then provision again."""
        import urllib.request

        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass
        if self.executors:
            from infra.local import executors

            executors.reset(self)
        self.provision()

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- clients --------------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        if self._server is None:
            raise RuntimeError("the local AWS runtime is not started")
        # Clients on this machine always connect through the loopback address.
        return f"http://{HOST}:{self.port}"

    def client_env(self) -> dict[str, str]:
        """Environment that points boto3, awswrangler, pyarrow and Airflow's ``aws_default`` here."""
        connection = {
            "conn_type": "aws",
            "extra": {"endpoint_url": self.endpoint, "region_name": self.settings.region},
        }
        return {
            **LOCAL_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": self.settings.region,
            "AWS_REGION": self.settings.region,
            f"AIRFLOW_CONN_{self.settings.aws_conn_id.upper()}": json.dumps(connection),
        }

    def session(self) -> boto3.Session:
        return boto3.Session(
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=self.settings.region,
        )

    def client(self, service: str) -> Any:
        """A boto3 client for the runtime, cached: building one costs a large part of a second."""
        key = f"{service}@{self.endpoint}"
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self.session().client(  # type: ignore[call-overload]
                    service, endpoint_url=self.endpoint, config=Config(retries={"max_attempts": 2})
                )
            return self._clients[key]

    # ---- provisioning ---------------------------------------------------------------------------
    def role_arn(self, service: str) -> str:
        return f"arn:aws:iam::{LOCAL_ACCOUNT}:role/{self.settings.project}-{self.settings.stage}-{service}"

    @property
    def dlq_name(self) -> str:
        return f"{self.settings.lambda_function}-dlq"

    def provision(self) -> None:
        """Create every resource the pipeline uses, named by settings, as the CDK stacks do on AWS."""
        s = self.settings
        iam = self.client("iam")
        for service, principal in _TRUST.items():
            trust = {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}
                ],
            }
            name = self.role_arn(service).rsplit("/", 1)[1]
            try:
                iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
            except iam.exceptions.EntityAlreadyExistsException:
                pass

        s3 = self.client("s3")
        for bucket in s.buckets:
            if s.region == "us-east-1":
                s3.create_bucket(Bucket=bucket)
            else:
                s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": s.region})
        s3.put_bucket_versioning(Bucket=s.raw_bucket, VersioningConfiguration={"Status": "Enabled"})

        glue = self.client("glue")
        for database in (s.processed_database, s.analytics_database):
            try:
                glue.create_database(DatabaseInput={"Name": database})
            except glue.exceptions.AlreadyExistsException:
                pass
        self._provision_lambda()
        self._provision_glue_jobs()
        self._provision_crawlers()
        athena = self.client("athena")
        names = [w["Name"] for w in athena.list_work_groups()["WorkGroups"]]
        # The pipeline's CTAS needs external_location, which an enforcing workgroup rejects; readers get
        # an enforced one, as the lake stack deploys them.
        for workgroup, enforce in ((s.athena_workgroup, False), (s.readers_workgroup, True)):
            if workgroup not in names:
                athena.create_work_group(
                    Name=workgroup,
                    Configuration={
                        "ResultConfiguration": {"OutputLocation": s.athena_results_uri},
                        "EnforceWorkGroupConfiguration": enforce,
                        "BytesScannedCutoffPerQuery": 10 * 1024**3,
                    },
                )

    def _provision_lambda(self) -> None:
        s = self.settings
        lam = self.client("lambda")
        sqs = self.client("sqs")
        dlq_url = sqs.create_queue(QueueName=self.dlq_name)["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        code = package_lambda()
        try:
            lam.get_function(FunctionName=s.lambda_function)
            lam.update_function_code(FunctionName=s.lambda_function, ZipFile=code)
        except lam.exceptions.ResourceNotFoundException:
            lam.create_function(
                FunctionName=s.lambda_function,
                Runtime="python3.12",
                Role=self.role_arn("lambda"),
                Handler="handler.handler",
                Code={"ZipFile": code},
                Timeout=300,
                MemorySize=1024,
                Environment={"Variables": s.lambda_environment()},
            )
        function_arn = lam.get_function(FunctionName=s.lambda_function)["Configuration"]["FunctionArn"]
        lam.put_function_event_invoke_config(
            FunctionName=s.lambda_function,
            MaximumRetryAttempts=2,
            DestinationConfig={"OnFailure": {"Destination": dlq_arn}},
        )
        self.client("s3").put_bucket_notification_configuration(
            Bucket=s.raw_bucket,
            NotificationConfiguration={
                "LambdaFunctionConfigurations": [
                    {
                        "Id": f"json-to-parquet{suffix.replace('.', '-')}",
                        "LambdaFunctionArn": function_arn,
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {
                            "Key": {
                                "FilterRules": [
                                    {"Name": "prefix", "Value": s.prefixes.raw_reference},
                                    {"Name": "suffix", "Value": suffix},
                                ]
                            }
                        },
                    }
                    for suffix in REFERENCE_SUFFIXES
                ]
            },
        )

    def _provision_glue_jobs(self) -> None:
        s = self.settings
        glue = self.client("glue")
        s3 = self.client("s3")
        for job, script in s.glue_jobs.items():
            path = GLUE_SOURCE / script
            if path.exists():
                key = s.glue_script_uri(script).split("/", 3)[3]
                s3.put_object(Bucket=s.assets_bucket, Key=key, Body=path.read_bytes())
            spec: dict[str, Any] = {
                "Role": self.role_arn("glue"),
                "Command": {
                    "Name": "glueetl",
                    "ScriptLocation": s.glue_script_uri(script),
                    "PythonVersion": "3",
                },
                "DefaultArguments": s.glue_job_arguments(job),
                "GlueVersion": "5.1",
                "WorkerType": "G.1X",
                "NumberOfWorkers": 2,
                "ExecutionProperty": {"MaxConcurrentRuns": 1},
                "Timeout": 60,
            }
            # moto has no UpdateJob; its backends are per process, so a second runtime finds the job.
            try:
                glue.get_job(JobName=job)
                glue.delete_job(JobName=job)
            except glue.exceptions.EntityNotFoundException:
                pass
            glue.create_job(Name=job, **spec)

    def _provision_crawlers(self) -> None:
        glue = self.client("glue")
        configuration = json.dumps(
            {
                "Version": 1.0,
                "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"},
                "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}},
            }
        )
        for crawler, (database, paths) in self.settings.crawler_targets.items():
            spec = {
                "Role": self.role_arn("glue"),
                "DatabaseName": database,
                "Targets": {"S3Targets": [{"Path": p} for p in paths]},
                "SchemaChangePolicy": {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"},
                "RecrawlPolicy": {"RecrawlBehavior": "CRAWL_EVERYTHING"},
                "Configuration": configuration,
            }
            try:
                glue.get_crawler(Name=crawler)
                glue.update_crawler(Name=crawler, **spec)
            except glue.exceptions.EntityNotFoundException:
                glue.create_crawler(Name=crawler, **spec)

    # ---- data -----------------------------------------------------------------------------------
    def load_sample_data(self, data_dir: Path, landing_date: date | None = None) -> list[str]:
        """Upload a dataset laid out like ``../shared/data/youtube/`` into the raw bucket's landing prefixes.

        ``raw_statistics/region=xx/*.csv`` and ``raw_statistics_reference_data/*.json`` keep their
        relative paths under the settings' prefixes, below ``landing_date=YYYY-MM-DD/`` when a landing
        date is given (a dated drop: it belongs to that day's interval). Returns the keys written, in upload
        order (CSVs first, so the reference files' S3 events fire once the statistics are there).
        """
        layout = {
            "raw_statistics": (self.settings.prefixes.raw_statistics, "*.csv"),
            "raw_statistics_reference_data": (self.settings.prefixes.raw_reference, "*.json"),
        }
        found = {
            folder: sorted((data_dir / folder).rglob(pattern)) for folder, (_, pattern) in layout.items()
        }
        if not any(found.values()):
            raise FileNotFoundError(
                f"{data_dir}: no raw_statistics/region=xx/*.csv or raw_statistics_reference_data/*.json found"
            )
        s3 = self.client("s3")
        keys = []
        for folder, (prefix, _) in layout.items():
            dated = f"{prefix}landing_date={landing_date.isoformat()}/" if landing_date else prefix
            for path in found[folder]:
                key = dated + path.relative_to(data_dir / folder).as_posix()
                s3.upload_file(str(path), self.settings.raw_bucket, key)
                keys.append(key)
        return keys

    def list_objects(self, bucket: str, prefix: str = "") -> Iterator[dict[str, Any]]:
        paginator = self.client("s3").get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            yield from page.get("Contents", [])


@contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the block, restoring the previous values afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
