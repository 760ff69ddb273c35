"""The local AWS runtime with this project's resources: :class:`localaws.LocalAWS` provisioned from
settings.

The runtime itself (moto + executors) is the ``localaws`` package and knows nothing of this project;
here it gets the project's names (region, Glue's temporary folder), its resources
(:mod:`local.provisioning`, run at start and after each reset), the YouTube Data API stand-in serving the
recorded rsrishav days with a local key, the Airflow connections in :meth:`LocalRuntime.client_env`, and the
sample data loader.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from local.provisioning import (
    GLUE_SOURCE,
    LAMBDA_SOURCE,
    REPO_ROOT,
    alerts_topic_arn,
    package_lambda,
    provision,
    role_arn,
)
from localaws import HOST, LOCAL_ACCOUNT, LOCAL_CREDENTIALS, LocalAWS
from youtube_etl.settings import Settings, get_settings

#: Where ``make run`` keeps the lake it leaves for ``make query`` / ``make cat`` (git-ignored).
LAKE_DIR = REPO_ROOT / ".lake"
#: The real data beside the repository (the Makefile's ``SAMPLE``), and the rsrishav feed in it: days recorded
#: from the API's ``mostPopular`` chart, which the YouTube stand-in serves.
SAMPLE_DIR = REPO_ROOT.parent / "shared" / "data" / "youtube"
YOUTUBE_RECORDING = SAMPLE_DIR / "rsrishav_trending"
#: The API key the stand-in accepts locally (the password of the ``youtube_api_conn_id`` connection). Not a
#: secret: it opens nothing but the stand-in.
LOCAL_YOUTUBE_KEY = "local-youtube-api-key"

__all__ = [
    "GLUE_SOURCE",
    "HOST",
    "LAKE_DIR",
    "LAMBDA_SOURCE",
    "LOCAL_ACCOUNT",
    "LOCAL_CREDENTIALS",
    "LOCAL_YOUTUBE_KEY",
    "REPO_ROOT",
    "SAMPLE_DIR",
    "YOUTUBE_RECORDING",
    "LocalRuntime",
    "package_lambda",
    "patched_environ",
]


class LocalRuntime(LocalAWS):
    """The local AWS runtime on 127.0.0.1 with every resource of the pipeline, named by ``settings``.

    ``youtube_data``: the recorded folder the YouTube Data API stand-in serves, by default the rsrishav days
    beside the repository when they are there (a container without them runs with the stand-in off; a folder
    given explicitly must exist). ``youtube_api_key``: the one key it accepts, handed to Airflow as the
    password of the ``youtube_api_conn_id`` connection by :meth:`client_env`.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        port: int = 0,
        executors: bool = True,
        host: str = HOST,
        state_dir: Path | None = None,
        crawler_stopping_seconds: float = 1.0,
        youtube_data: Path | None = YOUTUBE_RECORDING,
        youtube_api_key: str = LOCAL_YOUTUBE_KEY,
        youtube_quota: int = 10_000,
        glue_warmup: bool | None = None,
    ) -> None:
        self.settings = settings if settings is not None else get_settings()
        s = self.settings
        if youtube_data == YOUTUBE_RECORDING and not YOUTUBE_RECORDING.is_dir():
            youtube_data = None
        self.youtube_api_key = youtube_api_key
        super().__init__(
            port=port,
            host=host,
            region=s.region,
            executors=executors,
            provision=lambda aws: provision(aws, s),
            glue_temp_dir=f"s3://{s.assets_bucket}/{s.prefixes.glue_temp}",
            state_dir=state_dir,
            crawler_stopping_seconds=crawler_stopping_seconds,
            youtube_data=youtube_data,
            youtube_api_keys=(youtube_api_key,),
            youtube_quota=youtube_quota,
            glue_warmup=glue_warmup,
        )

    def client_env(self) -> dict[str, str]:
        """The AWS environment, plus Airflow's ``aws_default`` connection and alerts topic pointing here, and
        with the stand-in on, the API key's connection and the API root (``youtube_api_root``) on it."""
        connection = {
            "conn_type": "aws",
            "extra": {"endpoint_url": self.endpoint, "region_name": self.settings.region},
        }
        env = {
            **super().client_env(),
            f"AIRFLOW_CONN_{self.settings.aws_conn_id.upper()}": json.dumps(connection),
            "AIRFLOW__YOUTUBE_ETL__ALERTS_TOPIC_ARN": alerts_topic_arn(self.settings),
        }
        if self.youtube_data is not None:
            env.update(youtube_api_env(self.settings, self.youtube_endpoint, self.youtube_api_key))
        return env

    def role_arn(self, service: str) -> str:
        return role_arn(self.settings, service)

    @property
    def dlq_name(self) -> str:
        return self.settings.lambda_failure_queue

    def read_alerts(self, wait_seconds: int = 1) -> list[tuple[str, str]]:
        """(subject, message) of every alert published to the alerts topic since the last read, oldest
        first, taken from the local inbox queue (each alert is read once)."""
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=self.settings.alerts_inbox_queue)["QueueUrl"]
        alerts: list[tuple[str, str, str]] = []
        while batch := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
        ).get("Messages", []):
            for message in batch:
                envelope = json.loads(message["Body"])  # the SNS notification, as SQS receives it
                alerts.append((envelope["Timestamp"], envelope.get("Subject") or "", envelope["Message"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return [(subject, text) for _, subject, text in sorted(alerts)]

    def load_sample_data(self, data_dir: Path, landing_date: date | None = None) -> list[str]:
        """Upload a dataset laid out like ``../shared/data/youtube/`` into the raw bucket's landing prefixes.

        Every file below ``raw_statistics/`` and ``raw_statistics_reference_data/`` keeps its relative path
        under the settings' prefixes (``.csv.gz``, a misnamed or stray file too: the pipeline gives each a
        verdict, nothing in a drop is left out unseen), below ``landing_date=YYYY-MM-DD/`` when a landing
        date is given (a dated drop: it belongs to that day's interval). Returns the keys written, in upload
        order (statistics first, so the reference files' S3 events fire once the statistics are there).
        """
        layout = {
            "raw_statistics": self.settings.prefixes.raw_statistics,
            "raw_statistics_reference_data": self.settings.prefixes.raw_reference,
        }
        found = {
            folder: sorted(p for p in (data_dir / folder).rglob("*") if p.is_file()) for folder in layout
        }
        if not any(found.values()):
            raise FileNotFoundError(
                f"{data_dir}: no file below raw_statistics/ or raw_statistics_reference_data/"
            )
        s3 = self.client("s3")
        keys = []
        for folder, prefix in layout.items():
            dated = f"{prefix}landing_date={landing_date.isoformat()}/" if landing_date else prefix
            for path in found[folder]:
                key = dated + path.relative_to(data_dir / folder).as_posix()
                s3.upload_file(str(path), self.settings.raw_bucket, key)
                keys.append(key)
        return keys


def youtube_api_env(settings: Settings, api_root: str, key: str) -> dict[str, str]:
    """Airflow's view of an API: the ``youtube_api_conn_id`` connection with the key as its password, and
    ``youtube_api_root`` (the same variables docker-compose.yaml sets for its services)."""
    connection = {"conn_type": "generic", "password": key}
    return {
        f"AIRFLOW_CONN_{settings.youtube_api_conn_id.upper()}": json.dumps(connection),
        "AIRFLOW__YOUTUBE_ETL__YOUTUBE_API_ROOT": api_root,
    }


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
