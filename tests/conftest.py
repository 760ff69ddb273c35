"""Fixtures shared by every test layer: the real data, the local AWS runtime, a local SparkSession."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.runtime import REPO_ROOT, LocalRuntime, patched_environ
from tests.shared_results import SHARED_ENV, computed_once
from youtube_etl.lineage import lineage_environment
from youtube_etl.settings import Settings, get_settings

# Airflow reads its configuration once, at first import: fix it here, before any test module imports airflow,
# so every test in this process shares one SQLite metadata DB in a throw-away AIRFLOW_HOME (the developer's
# ~/airflow is never touched). The connection string is an env var, so subprocesses use the same DB.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="youtube-etl-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}"
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO_ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO_ROOT / "plugins")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
# OpenLineage as make run has it: the provider decides once per process, when its plugin is first loaded,
# whether to listen, so it is on for the whole session; every dag.test() run writes its events here.
LINEAGE_DIR = _AIRFLOW_HOME / "lineage"
os.environ.update(lineage_environment(LINEAGE_DIR))

DATA_DIR = Path(os.environ.get("YOUTUBE_ETL_DATA", REPO_ROOT.parent / "shared" / "data" / "youtube"))

# The run's folder of results the workers share (tests/shared_results.py): made by the controlling process,
# which imports this file before it starts the workers, and removed when the run ends (pytest_unconfigure).
_SHARED_FOLDER: Path | None = None
if SHARED_ENV not in os.environ:
    _SHARED_FOLDER = Path(tempfile.mkdtemp(prefix="youtube-etl-shared-"))
    os.environ[SHARED_ENV] = str(_SHARED_FOLDER)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SHARED_FOLDER is not None:
        shutil.rmtree(_SHARED_FOLDER, ignore_errors=True)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real Kaggle files (``../shared/data/youtube``). Missing data is an error, never a skip."""
    if not (DATA_DIR / "SOURCES.md").exists():
        pytest.fail(f"real data not found at {DATA_DIR}: clone the repository with ../shared beside it")
    return DATA_DIR


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Default settings, independent of the developer's environment."""
    return get_settings({})


@pytest.fixture(scope="session")
def local_aws(settings: Settings) -> Iterator[LocalRuntime]:
    """The local AWS runtime on a free 127.0.0.1 port, provisioned; the test process points at it.

    Its pre-started Glue drivers skip their warm-up: the tests' job runs follow one another at once, so each
    would wait for the warm-up of the driver started beside the run before it (``LocalAWS.glue_warmup``)."""
    runtime = LocalRuntime(settings=settings, glue_warmup=False)
    runtime.start()
    try:
        with patched_environ(runtime.client_env()):
            yield runtime
    finally:
        runtime.stop()


@pytest.fixture
def clean_aws(local_aws: LocalRuntime) -> LocalRuntime:
    """The runtime wiped and provisioned again, for tests that assert on the whole state."""
    local_aws.reset()
    return local_aws


@pytest.fixture(scope="session")
def spark():  # type: ignore[no-untyped-def]
    """A local SparkSession like Glue 5.1's (Spark 3.5, UTC, dynamic partition overwrite)."""
    from pyspark.sql import SparkSession

    from localaws import in_process_conf

    builder = (
        SparkSession.builder.master("local[2]")
        .appName("youtube-etl-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
    )
    for key, value in in_process_conf().items():
        builder = builder.config(key, value)
    # Python workers of this interpreter (PySpark reads the variable as the context starts), as on Glue.
    with patched_environ({"PYSPARK_PYTHON": sys.executable}):
        session = builder.getOrCreate()
    yield session
    session.stop()
    # py4j logs from __del__ at interpreter exit, after pytest closed its streams ("Logging error").
    logging.getLogger("py4j").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated Airflow metadata DB (SQLite, shared by the session) for ``dag.test()``.

    ``airflow db migrate`` runs once per test run (5-6 s of CPU), in a home of its own; each worker gets a
    copy of the DB, which holds no path, and of the ``airflow.cfg`` it wrote, with the home replaced."""
    db, cfg, home = computed_once("airflow-db", _migrated_airflow_db)
    (_AIRFLOW_HOME / "airflow.db").write_bytes(db)
    (_AIRFLOW_HOME / "airflow.cfg").write_text(cfg.replace(home, str(_AIRFLOW_HOME)), encoding="utf-8")
    return _AIRFLOW_HOME


def _migrated_airflow_db() -> tuple[bytes, str, str]:
    """``airflow db migrate`` in a new home: the DB's bytes, its ``airflow.cfg`` and the home's path."""
    home = Path(tempfile.mkdtemp(prefix="youtube-etl-airflow-template-"))
    try:
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        }
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            check=True,
            capture_output=True,
            env=env,
            timeout=300,
        )
        db = (home / "airflow.db").read_bytes()
        cfg = (home / "airflow.cfg").read_text(encoding="utf-8")
        return db, cfg, str(home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: without it, plain pytest still runs
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``make test``'s pytest-xdist workers (``-n 2``; ``make test-fast``'s ``-n 3``) take units of work
    (xdist's loadscope): the end-to-end modules together are the first unit, one after the other on one worker
    (each starts Airflow or a whole pipeline; two at once overload a 2-core machine and its SQLite metadata
    DBs); every other module is a unit of its own, handed out to whichever worker is free, so the workers
    share them and the worker that ran the end-to-end modules takes the last ones. Each worker has its own
    local runtime and SparkSession (session fixtures).
    """
    from xdist.scheduler import LoadScopeScheduling

    # Units in collection order (sorted by pytest_collection_modifyitems), not xdist's default of the
    # largest first: the local runtime's own test modules start in-process runtimes whose executors serve
    # the process's moto, so they come after the tests of the session's runtime, as in one process.
    config.option.loadscopereorder = False

    class EndToEndFirst(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]  # xdist's default would split classes apart
            return E2E if module.startswith(E2E) else module

    return EndToEndFirst(config, log)


E2E = "tests/e2e/"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In make test's workers, the end-to-end modules come first (a stable sort: every module keeps its own
    order): see pytest_xdist_make_scheduler. A single process keeps collection order."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: not item.nodeid.startswith(E2E))


#: Where a run records the machine's load while it runs (``LOAD_LOG`` names it; ``make test`` sets it beside
#: its junit report): ``python -m bench suite`` prints the per-module durations with it.
LOAD_SAMPLE_SECONDS = 15.0


def pytest_sessionstart(session: pytest.Session) -> None:
    """In the controlling process only (not in xdist's workers): sample the 1-minute load average every
    ``LOAD_SAMPLE_SECONDS`` into ``$LOAD_LOG`` (one JSON line each), when it is set."""
    target = os.environ.get("LOAD_LOG")
    if not target or hasattr(session.config, "workerinput"):
        return
    import json
    import threading
    import time

    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()

    def sample() -> None:
        with path.open("w") as out:
            while True:
                out.write(json.dumps({"t": round(time.time(), 1), "load1": os.getloadavg()[0]}) + "\n")
                out.flush()
                if stop.wait(LOAD_SAMPLE_SECONDS):
                    return

    thread = threading.Thread(target=sample, name="load-sampler", daemon=True)
    thread.start()
    session.config.stash[_LOAD_SAMPLER] = (stop, thread)


_LOAD_SAMPLER = pytest.StashKey[tuple[Any, Any]]()


def pytest_sessionfinish(session: pytest.Session) -> None:
    sampler = session.config.stash.get(_LOAD_SAMPLER, None)
    if sampler is not None:
        stop, thread = sampler
        stop.set()
        thread.join(timeout=5)
