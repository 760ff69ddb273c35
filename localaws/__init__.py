"""localaws: AWS on this machine — moto's API, with Lambda, Glue jobs, crawlers and Athena really running.

The public API is what this module exports (``__all__``); everything under a ``_`` name is private and may
change. See ``localaws/README.md`` for what is emulated and how faithfully.

    from localaws import LocalAWS

    def provision(aws: LocalAWS) -> None:
        aws.client("s3").create_bucket(Bucket="lake")

    with LocalAWS(provision=provision) as aws:
        env = aws.client_env()        # AWS_ENDPOINT_URL, region, dummy credentials: for anything boto3-based
        ...                           # S3 events run Lambdas, StartJobRun runs Spark, Athena runs DuckDB
        aws.wait_idle(timeout=60)     # asynchronous work (S3 events, job runs, crawls, queries) done

``LocalAWS(youtube_data=<folder>)`` also serves a stand-in of the YouTube Data API v3 at
``aws.youtube_endpoint`` (recorded charts; clock, faults and quota through ``aws.youtube``).

This package imports nothing of the project that embeds it: the project provisions it through the hook.
"""

from __future__ import annotations

from localaws._aws import DEFAULT_REGION, HOST, LOCAL_ACCOUNT, LOCAL_CREDENTIALS
from localaws._glue_jobs.spark import (
    SparkSetupError,
    class_archive_options,
    in_process_conf,
    python_worker_conf,
    spark_conf,
)
from localaws._holds import Hold
from localaws._runtime import LocalAWS, Provision
from localaws._serve import serve
from localaws._youtube.standin import YouTubeCall, YouTubeFault, YouTubeStandIn

__all__ = [
    "DEFAULT_REGION",
    "HOST",
    "Hold",
    "LOCAL_ACCOUNT",
    "LOCAL_CREDENTIALS",
    "LocalAWS",
    "Provision",
    "SparkSetupError",
    "YouTubeCall",
    "YouTubeFault",
    "YouTubeStandIn",
    "class_archive_options",
    "in_process_conf",
    "python_worker_conf",
    "serve",
    "spark_conf",
]
