"""The runtime: a moto server on 127.0.0.1 plus the executors that make Lambda, Glue and Athena run."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Self

from localaws._aws import DEFAULT_REGION, HOST, LOCAL_ACCOUNT, LOCAL_CREDENTIALS
from localaws._aws import client as aws_client
from localaws._aws import session as aws_session
from localaws._executor import Executor
from localaws._holds import HoldRoutes, Holds
from localaws._state import StateStore
from localaws._youtube.standin import YouTubeStandIn
from localaws._youtube.wsgi import YouTubeRoutes

log = logging.getLogger(__name__)

#: Called with the started runtime, and again after each :meth:`LocalAWS.reset`.
Provision = Callable[["LocalAWS"], None]


class LocalAWS:
    """AWS on this machine: moto's API on ``host:port``, with Lambda, Glue jobs, crawlers and Athena
    really running behind it.

    ``provision`` creates the caller's resources (buckets, functions, jobs, ...) through the API once the
    server is up, and again after :meth:`reset`. The other options tune the executors; their defaults
    follow AWS where it matters and keep a laptop responsive where it does not.

    moto keeps its state per process: runtimes started in one process share it (the newest one's
    executors serve), and a :meth:`reset` of one resets all of them and provisions each again.
    """

    #: Runtimes running in this process, oldest first.
    _running: ClassVar[list[LocalAWS]] = []

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = HOST,
        region: str = DEFAULT_REGION,
        provision: Provision | None = None,
        executors: bool = True,
        glue_temp_dir: str | None = None,
        glue_minute_seconds: float = 60.0,
        glue_spark_master: str | None = None,
        glue_prestart: bool | None = None,
        glue_warmup: bool | None = None,
        lambda_idle_timeout: float | None = None,
        lambda_max_workers: int | None = None,
        crawler_stopping_seconds: float = 1.0,
        state_dir: str | os.PathLike[str] | None = None,
        youtube_data: str | os.PathLike[str] | None = None,
        youtube_api_keys: tuple[str, ...] = ("local-key",),
        youtube_quota: int = 10_000,
    ) -> None:
        #: Port to bind (0: a free one, known once started).
        self.port = port
        #: Bind address: 127.0.0.1 on a workstation; only a container needs 0.0.0.0.
        self.host = host
        self.region = region
        self.provision = provision
        #: False: moto alone (nothing runs), e.g. to test provisioning.
        self.executors = executors
        self._glue_temp_dir = glue_temp_dir
        #: Seconds in one minute of a job's ``Timeout`` (shrink it to see TIMEOUT without waiting).
        self.glue_minute_seconds = glue_minute_seconds
        #: The Spark master job runs submit to: an existing cluster (``spark://host:7077``) instead of
        #: ``local[*]`` (default; ``LOCAL_GLUE_SPARK_MASTER``).
        self.glue_spark_master = glue_spark_master
        #: Keep a pre-started Glue driver (JVM + SparkSession) for the next job run (default True;
        #: ``LOCAL_GLUE_PRESTART=0``); never with a cluster master, where it would hold the cluster's cores.
        self.glue_prestart = glue_prestart
        #: Whether that driver runs its warm-up before it waits (default True; ``LOCAL_GLUE_WARMUP=0``). It
        #: buys a lone run a few seconds for ~12 CPU-s; runs that follow one another at once (tests) wait
        #: for it.
        self.glue_warmup = glue_warmup
        #: Seconds an idle Lambda execution environment lives (default 60, ``LOCAL_LAMBDA_IDLE_TIMEOUT``).
        self.lambda_idle_timeout = lambda_idle_timeout
        #: Lambda worker processes kept at most (default 8, ``LOCAL_LAMBDA_MAX_WORKERS``).
        self.lambda_max_workers = lambda_max_workers
        #: Seconds a finished crawl stays STOPPING before READY (AWS: about a minute).
        self.crawler_stopping_seconds = crawler_stopping_seconds
        #: Where the state is kept (object bodies as files, the rest saved at stop) and resumed from; None:
        #: in memory, gone at stop.
        self.state_dir = Path(state_dir) if state_dir is not None else None
        #: True when :meth:`start` resumed a saved state (and did not provision).
        self.resumed = False
        #: The YouTube Data API stand-in serves the recorded charts of this folder (None: off); it accepts
        #: these keys and this many units per key and day.
        self.youtube_data = Path(youtube_data) if youtube_data is not None else None
        self.youtube_api_keys = tuple(youtube_api_keys)
        self.youtube_quota = youtube_quota
        self._youtube: YouTubeStandIn | None = None
        self._state: StateStore | None = None
        self._server: Any = None
        self._executors: list[Executor] = []
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        #: Queries and crawls to slow on demand (``POST /_localaws/holds``; see ``localaws._holds``).
        self.holds = Holds()

    # ---- life cycle -----------------------------------------------------------------------------------
    def start(self) -> Self:
        """Bind the server, install the executors, provision. Idempotent."""
        from moto.server import ThreadedMotoServer

        if self._server is not None:
            return self
        _check_bindable(self.host, self.port)  # moto's server thread would die silently and start() hang
        if self.youtube_data is not None and self._youtube is None:
            self._youtube = YouTubeStandIn(
                self.youtube_data, api_keys=self.youtube_api_keys, quota=self.youtube_quota
            )
        # moto builds ARNs and validates against this account; keep it explicit and stable.
        os.environ.setdefault("MOTO_ACCOUNT_ID", LOCAL_ACCOUNT)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        snapshots: dict[str, Any] = {}
        if self.state_dir is not None:
            state = StateStore(self.state_dir)
            state.open()
            try:
                self.resumed = state.saved
                snapshots = state.load() if self.resumed else {}
            except BaseException:
                state.close()
                raise
            self._state = state
        _list_moto_modules_once()
        server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        server.start()
        if self._youtube is not None and server._server is not None:
            # its routes in front of moto's WSGI app: one port, one endpoint, one ready line
            server._server.app = YouTubeRoutes(server._server.app, self._youtube)
        if server._server is not None:
            server._server.app = HoldRoutes(server._server.app, self.holds)
        self._server = server
        self.port = server.get_host_and_port()[1]
        LocalAWS._running.append(self)
        try:
            if self.executors:
                for executor_class in _executor_classes():
                    executor = executor_class(self)
                    executor.install()
                    self._executors.append(executor)
                    executor.restore(snapshots.get(executor.service))
            if self.provision is not None and not self.resumed:
                self.provision(self)
        except BaseException:
            self.stop()
            raise
        log.info("local AWS runtime ready at %s", self.endpoint)
        return self

    def stop(self) -> None:
        """Stop what the executors run, restore moto, stop the server. Idempotent."""
        if self._server is None:
            return
        LocalAWS._running[:] = [r for r in LocalAWS._running if r is not self]
        snapshots: dict[str, Any] = {}
        while self._executors:
            executor = self._executors.pop()
            try:
                executor.close()
                snapshots[executor.service] = executor.snapshot()
            except Exception:  # the others and the server must stop anyway
                log.exception("stopping the %s executor failed", executor.service)
        self._server.stop()
        self._server = None
        if not LocalAWS._running:
            _restore_moto_module_listing()
        self._clients.clear()
        if self._state is not None:
            try:
                self._state.save(snapshots)
            finally:
                self._state.close()
                self._state = None

    def reset(self) -> None:
        """Forget every resource and object (moto's reset) and what the executors run, then provision
        again — for every runtime of this process, since they share moto's state."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass
        running = list(LocalAWS._running)
        for runtime in running:
            for executor in runtime._executors:
                executor.reset()
            if runtime._youtube is not None:
                runtime._youtube.reset()
        for runtime in running:
            if runtime.provision is not None:
                runtime.provision(runtime)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing runs in the background (asynchronous Lambda invocations and their retries,
        job runs, crawls, queries); False if ``timeout`` seconds passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for executor in self._executors:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not executor.wait_idle(remaining):
                return False
        return True

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- talking to it -----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:<port>``: clients on this machine always connect through the loopback."""
        if self._server is None:
            raise RuntimeError("the local AWS runtime is not started")
        return f"http://{HOST}:{self.port}"

    @property
    def account_id(self) -> str:
        return os.environ.get("MOTO_ACCOUNT_ID", LOCAL_ACCOUNT)

    @property
    def glue_temp_dir(self) -> str:
        """The ``--TempDir`` a job run gets when its arguments have none (Glue's default bucket)."""
        return self._glue_temp_dir or f"s3://aws-glue-assets-{self.account_id}-{self.region}/temporary/"

    @property
    def youtube(self) -> YouTubeStandIn:
        """The YouTube Data API stand-in: its clock, faults, call log and quota (``youtube_data=`` turns it
        on)."""
        if self._youtube is None:
            raise RuntimeError("the YouTube stand-in is off: start the runtime with youtube_data=<folder>")
        return self._youtube

    @property
    def youtube_endpoint(self) -> str:
        """The stand-in's root URL (``http://127.0.0.1:<port>/``), for a client's ``api_endpoint``."""
        _ = self.youtube
        return f"{self.endpoint}/"

    def client_env(self) -> dict[str, str]:
        """Environment that points boto3, awswrangler, pyarrow and Spark's S3A (via Glue jobs) here."""
        return {
            **LOCAL_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def session(self) -> Any:
        """This thread's boto3 session with the local credentials (pass ``endpoint_url=`` to its clients)."""
        return aws_session(self.region)

    def client(self, service: str) -> Any:
        """A boto3 client for the runtime, cached: building one costs a large part of a second."""
        key = f"{service}@{self.endpoint}"
        with self._lock:
            if key not in self._clients:
                self._clients[key] = aws_client(service, self.endpoint, self.region)
            return self._clients[key]

    def list_objects(self, bucket: str, prefix: str = "") -> Iterator[dict[str, Any]]:
        paginator = self.client("s3").get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            yield from page.get("Contents", [])

    def prestart_glue_driver(self) -> bool:
        """Start the pre-started Glue driver now (JVM, SparkSession, warm-up: ~10 s of two cores) so that
        even the first job run finds it ready; by default it starts with the first run. False when
        pre-starting is off (``glue_prestart``) or executors are off."""
        from localaws._glue_jobs.executor import GlueJobExecutor

        return any(x.start_spare() for x in self._executors if isinstance(x, GlueJobExecutor))

    def no_more_glue_spares(self) -> None:
        """The next job run still takes the pre-started driver, but no new one starts after it: for a caller
        that knows no other run will follow (``make run`` before its reporting's one job run). A driver never
        used costs its JVM start and warm-up, ~20 s of CPU, beside the work that is left."""
        from localaws._glue_jobs.executor import GlueJobExecutor

        for executor in self._executors:
            if isinstance(executor, GlueJobExecutor):
                executor.more_spares = False

    def undelivered_events(self) -> list[dict[str, Any]]:
        """Asynchronous Lambda events that failed every attempt and had no reachable on-failure
        destination (function, request id, reason, attempts, event): kept here, never silently lost."""
        from localaws._lambda.executor import LambdaExecutor

        return [dict(e) for x in self._executors if isinstance(x, LambdaExecutor) for e in x.undelivered]


#: moto's own ``list_of_moto_modules`` while the runtimes of the process use the one read once.
_MOTO_LISTING: list[Callable[[], Any]] = []


def _list_moto_modules_once() -> None:
    """moto's server lists its installed service folders (``os.listdir`` and an ``isdir`` per entry, ~150)
    on every request it routes, to match the request's host: 12% of the server's time per S3 call in a
    profile. The folders do not change while the process runs: while a runtime runs, they are read once
    (moto's function is put back when the last runtime stops, like its other patches)."""
    from moto import backends

    if _MOTO_LISTING:
        return
    modules = tuple(backends.list_of_moto_modules())
    _MOTO_LISTING.append(backends.list_of_moto_modules)
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment,return-value]


def _restore_moto_module_listing() -> None:
    from moto import backends

    if _MOTO_LISTING:
        backends.list_of_moto_modules = _MOTO_LISTING.pop()  # type: ignore[assignment]


def _check_bindable(host: str, port: int) -> None:
    """Raise OSError naming ``host:port`` if the server could not listen there (as werkzeug binds it)."""
    if not port:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise OSError(error.errno, f"cannot serve on {host}:{port}: {error.strerror}") from None


def _executor_classes() -> list[type[Executor]]:
    from localaws._athena.executor import AthenaExecutor
    from localaws._crawlers.executor import CrawlerExecutor
    from localaws._glue_dq.executor import DataQualityExecutor
    from localaws._glue_jobs.executor import GlueJobExecutor
    from localaws._lambda.executor import LambdaExecutor
    from localaws._s3.executor import S3Executor

    return [S3Executor, AthenaExecutor, LambdaExecutor, CrawlerExecutor, GlueJobExecutor, DataQualityExecutor]
