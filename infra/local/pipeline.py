"""``make run``: the whole pipeline end to end on the local AWS runtime, with a summary at the end.

Starts the runtime on a free 127.0.0.1 port (provisioned from settings), loads a dataset folder laid out like
``../shared/data/youtube/`` into the raw bucket (its S3 events fire the Lambda, like ad-hoc drops on AWS),
runs ``youtube_ingest`` and then ``youtube_reporting`` for real with ``dag.test()`` against a project-local
SQLite metadata DB, prints progress per task and a summary, and exports every report (CSV with header) and
the dashboard into ``out/``. The runtime starts from an empty lake in ``.lake/`` and leaves it there (objects,
catalog, query history) for ``make query`` and ``make cat``. Everything it starts is stopped before it
returns, also on failure; the exit code is non-zero when any task failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from infra.local.export import (
    PipelineError,
    PipelineResult,
    StageTiming,
    export_reports,
    format_summary,
    fresh_exports,
)
from infra.local.runtime import LAKE_DIR, REPO_ROOT, LocalRuntime, patched_environ
from infra.local.supervise import run_supervised

DAGS_DIR = REPO_ROOT / "dags"
DAG_IDS = ("youtube_ingest", "youtube_reporting")


def airflow_environment(
    home: Path, runtime: LocalRuntime, poll_interval: float = 0.2, lineage_dir: Path | None = None
) -> dict[str, str]:
    """Airflow configuration for running the project's DAGs in this process against the runtime.

    With ``lineage_dir``, every task's OpenLineage events are written there, one JSON file per event.
    """
    from youtube_etl.lineage import lineage_environment

    return {
        **lineage_environment(lineage_dir),
        **runtime.client_env(),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW__YOUTUBE_ETL__POLL_INTERVAL": str(poll_interval),
    }


class _TaskProgress(logging.Handler):
    """Turns dag.test()'s '[DAG TEST] starting task_id=…' records into one progress line per task."""

    def __init__(self, dag_id: str, started: float) -> None:
        super().__init__(logging.INFO)
        self.dag_id = dag_id
        self.started = started

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("[DAG TEST] starting task_id="):
            task = message.removeprefix("[DAG TEST] starting ").replace(" map_index=-1", "")
            print(f"  [{time.perf_counter() - self.started:6.1f} s] {self.dag_id}: {task}", flush=True)


@contextmanager
def _progress(dag_id: str, started: float) -> Iterator[None]:
    logger = logging.getLogger("airflow.sdk.definitions.dag")
    handler = _TaskProgress(dag_id, started)
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def run_dag(dag_id: str, started: float, logical_date: datetime | None = None) -> str:
    """Run one DAG of ``dags/`` with ``dag.test()``; raise :class:`PipelineError` naming failed tasks.

    ``logical_date`` chooses the data interval of ``youtube_ingest`` (a manual run covers the last whole
    day before it); by default the run is for now.
    """
    from airflow.dag_processing.dagbag import DagBag

    from youtube_etl._warnings import silence_third_party_deprecations

    # Airflow puts its own warning filters first when it is imported: ours must come after that.
    silence_third_party_deprecations()
    from airflow.utils.state import TaskInstanceState

    bag = DagBag(dag_folder=str(DAGS_DIR / f"{dag_id}.py"))
    if bag.import_errors:
        raise PipelineError(f"{dag_id}: import errors: {bag.import_errors}")
    dag = bag.get_dag(dag_id)
    if dag is None:
        raise PipelineError(f"{dag_id}: DAG not found in {DAGS_DIR}")
    # Airflow 3.3.1's dag.test() cannot finish a successful run of a DAG with deadline alerts (it looks
    # them up by id, its in-memory DAG holds them serialized); its manual runs never get one anyway.
    dag.deadline = None
    with _progress(dag_id, started):
        run = dag.test() if logical_date is None else dag.test(logical_date=logical_date)
    instances = run.get_task_instances()
    for ti in instances:
        if ti.state == TaskInstanceState.SKIPPED:
            print(f"  {dag_id}: {ti.task_id} skipped (see its log for why)", flush=True)
    done = (TaskInstanceState.SUCCESS, TaskInstanceState.SKIPPED)
    failed = [ti for ti in instances if ti.state not in done]
    if failed or run.state != "success":
        details = "; ".join(f"{ti.task_id}[{ti.map_index}]={ti.state}" for ti in failed)
        raise PipelineError(f"{dag_id} run {run.run_id} ended {run.state}: {details} (see the log above)")
    return str(run.run_id)


def migrate_metadata_db() -> None:
    """``airflow db migrate`` in a child process: it runs beside the data load (in a thread here), and
    in-process it would warn on every run that its timeout needs the main thread (SIGALRM)."""
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()[-2000:]
        raise PipelineError(f"airflow db migrate failed (exit {done.returncode}): {output}")


def wait_for_event_invocations(runtime: LocalRuntime, timeout: float = 300) -> None:
    """Let the S3-event Lambda invocations of the upload finish before the scheduled path starts."""
    if not runtime.wait_idle(timeout=timeout):
        raise PipelineError(f"the S3-event Lambda invocations were still running after {timeout:.0f} s")


def read_metrics(runtime: LocalRuntime, job: str, run_id: str) -> dict[str, Any]:
    """The counts a Glue job run wrote to ``<metrics_path>run_id=<run id>/metrics.json``."""
    from youtube_etl.settings import safe_run_id

    path = runtime.settings.glue_job_arguments(job)["--metrics_path"]
    bucket, _, prefix = path.removeprefix("s3://").partition("/")
    s3 = runtime.client("s3")
    for candidate in (run_id, safe_run_id(run_id)):
        try:
            body = s3.get_object(Bucket=bucket, Key=f"{prefix}run_id={candidate}/metrics.json")["Body"].read()
        except s3.exceptions.NoSuchKey:
            continue
        return dict(json.loads(body))
    return {}


def run_pipeline(
    runtime: LocalRuntime, data: Path, out_dir: Path, prepare_airflow: Callable[[], None] | None = None
) -> PipelineResult:
    """Load ``data``, run both DAGs, export the reports and the dashboard. Airflow must be configured.

    ``prepare_airflow`` (e.g. migrating the metadata DB) runs in a thread while the data loads and its S3
    events run the Lambda, to keep Airflow's start-up off the critical path.
    """
    from youtube_etl.dag_support import sql_dir
    from youtube_etl.reports import discover_reports

    result = PipelineResult()
    started = time.perf_counter()
    s = runtime.settings

    def stage(name: str, since: float) -> float:
        now = time.perf_counter()
        result.timings.append(StageTiming(name, now - since))
        return now

    mark = started
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prepare-airflow") as pool:
        prepared = pool.submit(prepare_airflow) if prepare_airflow else None
        keys = runtime.load_sample_data(data)
        print(f"loaded {len(keys)} files from {data} into s3://{s.raw_bucket}/", flush=True)
        wait_for_event_invocations(runtime)
        if prepared is not None:
            prepared.result()
    mark = stage("load + S3-event Lambda", mark)
    # An undated drop arrives now (LastModified): the ingest run is for the day that holds now.
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    for dag_id in DAG_IDS:
        logical_date = today + timedelta(days=1) if dag_id == "youtube_ingest" else None
        result.run_ids[dag_id] = run_dag(dag_id, started, logical_date)
        mark = stage(dag_id, mark)
    result.metrics = {
        "clean_statistics": read_metrics(runtime, s.clean_statistics_job, result.run_ids["youtube_ingest"]),
        "build_analytics": read_metrics(runtime, s.build_analytics_job, result.run_ids["youtube_reporting"]),
    }
    result.quarantined = [o["Key"] for o in runtime.list_objects(s.raw_bucket, s.prefixes.quarantine)]
    reports = discover_reports(sql_dir(s))
    out_dir.mkdir(parents=True, exist_ok=True)
    result.dashboard = export_reports(runtime, reports, out_dir, result)
    stage("export", mark)
    return result


def summarize_lake(runtime: LocalRuntime) -> list[str]:
    """One line per bucket and top-level data folder: object count and bytes."""
    lines = []
    for bucket in runtime.settings.buckets:
        counts: Counter[str] = Counter()
        sizes: Counter[str] = Counter()
        for obj in runtime.list_objects(bucket):
            folder = "/".join(obj["Key"].split("/")[:2])
            counts[folder] += 1
            sizes[folder] += obj["Size"]
        for folder in sorted(counts):
            lines.append(
                f"  s3://{bucket}/{folder}/  {counts[folder]:>5} objects  {sizes[folder]:>12,} bytes"
            )
    return lines


def format_alerts(alerts: list[tuple[str, str]]) -> str:
    """What the alerts topic received during the run (its local inbox), as the operator would read it."""
    if not alerts:
        return "alerts published to the alerts topic: none"
    lines = [f"alerts published to the alerts topic: {len(alerts)}"]
    for subject, message in alerts:
        body = message.split("\n\n", 1)[1] if "\n\n" in message else message
        lines += [f"  {subject}", *(f"    {line}" for line in body.rstrip().splitlines())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="dataset folder (raw_statistics/, ...)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "out", help="where reports are exported")
    parser.add_argument("--airflow-home", type=Path, default=REPO_ROOT / ".airflow" / "run")
    parser.add_argument("--lake", type=Path, default=LAKE_DIR, help="state left for make query")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    data = args.data.resolve()
    if not (data / "raw_statistics").is_dir() and not (data / "raw_statistics_reference_data").is_dir():
        print(
            f"error: {args.data} has no raw_statistics/ or raw_statistics_reference_data/ folder",
            file=sys.stderr,
        )
        return 2
    started = time.perf_counter()
    args.airflow_home.mkdir(parents=True, exist_ok=True)
    # A fresh metadata DB each run, like the runtime's state: an old one keeps earlier serialized versions of
    # the DAGs, and Airflow warns about them on every run after the DAG files changed.
    (args.airflow_home / "airflow.db").unlink(missing_ok=True)
    lineage_dir = args.out.resolve() / "lineage"
    lake = args.lake.resolve()
    shutil.rmtree(lake, ignore_errors=True)  # a fresh lake each run, left for make query afterwards
    kept = f"the lake is kept in {lake}: make query SQL=..., make cat URI=s3://..., make clean"
    try:
        with (
            fresh_exports(args.out.resolve()),
            LocalRuntime(state_dir=lake) as runtime,
            patched_environ(
                airflow_environment(args.airflow_home.resolve(), runtime, lineage_dir=lineage_dir)
            ),
        ):
            print(f"local AWS runtime: {runtime.endpoint} (provisioned from settings)", flush=True)
            try:
                result = run_pipeline(runtime, data, args.out.resolve(), prepare_airflow=migrate_metadata_db)
            except PipelineError as error:
                print(f"\nFAILED: {error}", file=sys.stderr)
                print("objects in the lake:\n" + "\n".join(summarize_lake(runtime)), file=sys.stderr)
                print(format_alerts(runtime.read_alerts()), file=sys.stderr)
                raise
            print(format_alerts(runtime.read_alerts()))
    except PipelineError:
        print(kept, file=sys.stderr)
        return 1  # fresh_exports removed the previous run's exports and left out/RUN_FAILED.txt
    print(format_summary(result, time.perf_counter() - started))
    print(kept)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(run_supervised("infra.local.pipeline", main))  # SIGINT/SIGTERM stop every process it starts
