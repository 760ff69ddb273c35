"""``make run``: the daily pipeline end to end on the local AWS runtime, with a summary at the end.

Starts the runtime on a free 127.0.0.1 port (provisioned from settings, the YouTube Data API stand-in serving
the recorded rsrishav days). By default it is the whole E → T → L (:mod:`local.replay`): day by day over the
first recorded days, ``youtube_extract`` fetches every region's chart from the stand-in, then
``youtube_ingest`` takes that day's extract. With ``--data DATA`` (``make run DATA=folder``) it lands a data
folder in the raw bucket one drop at a time instead: ``<DATA>/drops/YYYY-MM-DD/`` folders (each laid out
like ``../shared/data/youtube``) under ``landing_date=YYYY-MM-DD/`` keys, in date order; a folder without
``drops/`` is one undated drop (arrival = now). Each drop's S3 events fire the Lambda (the ad-hoc path),
then ``youtube_ingest`` runs for that drop's data interval with ``dag.test(logical_date=D+1)`` (a manual
run covers the last whole day before its date) against a project-local SQLite metadata DB — one progress
line per day — and finally ``youtube_reporting`` once. It prints a summary, writes ``out/runs.jsonl`` (one
JSON object per ingest run) and exports every report (CSV with header) and the dashboard into ``out/``.
The runtime starts from an empty lake in ``.lake/`` and leaves it there (objects, catalog, query history)
for ``make query`` and ``make cat``. Everything it starts is stopped before it returns, also on failure.
A run that only failed on a verdict (a quarantined file: ``record_verdicts``) does not stop the later days;
the exit code is non-zero when any task failed.
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
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

from local.boto_models import process_service_models, shared_service_models
from local.export import (
    PipelineError,
    PipelineResult,
    StageTiming,
    export_reports,
    format_alerts,
    format_summary,
    fresh_exports,
    summarize_lake,
)
from local.runtime import LAKE_DIR, REPO_ROOT, LocalRuntime, patched_environ
from local.supervise import run_supervised
from youtube_lake.extract import EXTRACT_MANIFEST

DAGS_DIR = REPO_ROOT / "dags"
#: A finished crawl's STOPPING phase (about a minute on AWS, 1 s by default locally): the crawl tasks wait
#: for READY, so in make run it is kept to one poll interval.
CRAWLER_STOPPING_SECONDS = 0.2
DAG_IDS = ("youtube_extract", "youtube_ingest", "youtube_reporting")


def airflow_environment(
    home: Path, runtime: LocalRuntime, poll_interval: float = 0.2, lineage_dir: Path | None = None
) -> dict[str, str]:
    """Airflow configuration for running the project's DAGs in this process against the runtime.

    With ``lineage_dir``, every task's OpenLineage events are written there, one JSON file per event.
    The listener emits them from a thread of this process: its default forks the whole process (the
    runtime, Spark's gateway, DuckDB) twice per task and waits for the child, a third of a second each on a
    busy laptop; writing a file from a thread is what the fork was protecting the task from anyway.
    """
    from youtube_etl.lineage import lineage_environment

    return {
        **lineage_environment(lineage_dir),
        **runtime.client_env(),
        **metadata_db_environment(home),
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


#: Tasks whose failure is a verdict on the input (a quarantined file), not an error of the pipeline.
VERDICT_TASKS = frozenset({"record_verdicts"})


@dataclass
class DagRunResult:
    """What one ``dag.test()`` run did: its state, each task's state, the verdicts it recorded."""

    dag_id: str
    run_id: str
    state: str
    tasks: dict[str, str] = field(default_factory=dict)
    #: ``record_verdicts``' XCom ``verdicts`` (youtube_ingest): processed / ignored / quarantined files.
    verdicts: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return sorted(t for t, state in self.tasks.items() if state not in ("success", "skipped"))

    @property
    def verdict_failure(self) -> bool:
        """Only a verdict failed (e.g. a quarantined file): the other files of the run were published."""
        return bool(self.failed) and {t.split("[")[0] for t in self.failed} <= VERDICT_TASKS

    def check(self, allow_verdicts: bool = False) -> None:
        """Raise :class:`PipelineError` naming the failed tasks (unless only a verdict failed and allowed)."""
        if self.state == "success" and not self.failed:
            return
        if allow_verdicts and self.verdict_failure:
            return
        details = "; ".join(f"{t}={self.tasks[t]}" for t in self.failed)
        raise PipelineError(
            f"{self.dag_id} run {self.run_id} ended {self.state}: {details} (see the log above)"
        )


def run_dag(
    dag_id: str, started: float, logical_date: datetime | None = None, progress: bool = True
) -> DagRunResult:
    """Run one DAG of ``dags/`` with ``dag.test()`` (``progress``: one line per task).

    ``logical_date`` chooses the data interval of ``youtube_ingest`` (a manual run covers the last whole
    day before it); by default the run is for now.
    """
    from airflow.dag_processing.dagbag import DagBag

    from youtube_etl._warnings import silence_third_party_deprecations

    # Airflow puts its own warning filters first when it is imported: ours must come after that.
    silence_third_party_deprecations()
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
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
    with process_service_models(), _progress(dag_id, started) if progress else nullcontext():
        run = dag.test() if logical_date is None else dag.test(logical_date=logical_date)
    result = DagRunResult(dag_id, str(run.run_id), str(run.state))
    for ti in run.get_task_instances():
        name = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
        result.tasks[name] = str(ti.state)
        if progress and ti.state == TaskInstanceState.SKIPPED:
            print(f"  {dag_id}: {ti.task_id} skipped (see its log for why)", flush=True)
    with create_session() as session:
        query = XComModel.get_many(
            run_id=result.run_id, dag_ids=dag_id, task_ids="record_verdicts", key="verdicts"
        )
        row = session.scalars(query).first()
        if row is not None:
            result.verdicts = dict(XComModel.deserialize_value(row) or {})
    return result


def metadata_db_environment(home: Path) -> dict[str, str]:
    """Airflow's home and its metadata DB: all ``airflow db migrate`` needs (no runtime yet)."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
    }


def migrate_metadata_db(env: Mapping[str, str] | None = None) -> None:
    """``airflow db migrate`` in a child process (``env`` added to this process's): it runs beside the
    runtime's start (in a thread here), and in-process it would warn on every run that its timeout needs the
    main thread (SIGALRM)."""
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        capture_output=True,
        text=True,
        check=False,
        env=None if env is None else {**os.environ, **env},
    )
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()[-2000:]
        raise PipelineError(f"airflow db migrate failed (exit {done.returncode}): {output}")


def wait_for_event_invocations(runtime: LocalRuntime, timeout: float = 300) -> None:
    """Let the S3-event Lambda invocations of the upload finish before the scheduled path starts."""
    if not runtime.wait_idle(timeout=timeout):
        raise PipelineError(f"the S3-event Lambda invocations were still running after {timeout:.0f} s")


def read_metrics(runtime: LocalRuntime, job: str, run_id: str) -> dict[str, Any]:
    """The counts a Glue job run wrote (``youtube_etl.ingest.glue_metrics``); empty when it wrote none."""
    from youtube_etl.ingest import glue_metrics

    return glue_metrics(runtime.client("s3"), runtime.settings, job, run_id) or {}


@dataclass(frozen=True)
class Drop:
    """One landing of ``make run``: a folder laid out like a data folder, and its landing date."""

    folder: Path
    #: None: an undated drop (arrival = upload time, the ingest run is for the day holding now).
    day: date | None

    @property
    def logical_date(self) -> datetime:
        """The ``dag.test`` date whose data interval is this drop's day (the last whole day before it)."""
        day = self.day or datetime.now(UTC).date()
        return datetime.combine(day + timedelta(days=1), clock.min, tzinfo=UTC)


def find_drops(data: Path) -> list[Drop]:
    """``data/drops/YYYY-MM-DD/`` in date order, or ``data`` itself as one undated drop."""
    folder = data / "drops"
    if not folder.is_dir():
        return [Drop(data, None)]
    drops = []
    for child in sorted(folder.iterdir()):
        try:
            drops.append(Drop(child, date.fromisoformat(child.name)))
        except ValueError:
            raise PipelineError(f"{child}: a drop folder is named YYYY-MM-DD") from None
    if not drops:
        raise PipelineError(f"{folder} holds no YYYY-MM-DD drop folder")
    return drops


def ingest_summary(runtime: LocalRuntime, drop: Drop, run: DagRunResult, seconds: float) -> dict[str, Any]:
    """One line of ``out/runs.jsonl``: what one ingest run took and did."""
    from youtube_etl.ingest import read_json

    s = runtime.settings
    plan = read_json(runtime.client("s3"), s.plan_uri(run.run_id)) or {}
    ran = run.tasks.get("run_clean_statistics") == "success"
    clean = read_metrics(runtime, s.clean_statistics_job, run.run_id) if ran else {}
    quarantined = run.verdicts.get("quarantined", [])
    return {
        "date": (drop.logical_date - timedelta(days=1)).date().isoformat(),
        "drop": drop.day.isoformat() if drop.day else None,
        "run_id": run.run_id,
        "state": run.state,
        "interval_start": plan.get("interval_start"),
        "interval_end": plan.get("interval_end"),
        "files": len(plan.get("statistics", [])) + len(plan.get("reference", [])),
        "statistics_files": len(plan.get("statistics", [])),
        "reference_files": len(plan.get("reference", [])),
        **{f"rows_{k}": int(clean.get(k, 0)) for k in ("read", "written")},
        "duplicates": int(clean.get("duplicates", 0)),
        "rejected": int(clean.get("rejected", 0)),
        "quarantined_files": len(quarantined),
        "quarantined": quarantined,
        "ignored_files": int(run.verdicts.get("ignored", len(plan.get("ignored", [])))),
        "ignored": [{"key": i.get("key"), "reason": i.get("reason")} for i in plan.get("ignored", [])],
        "partitions_written": int(clean.get("partitions_written", 0)),
        "seconds": round(seconds, 2),
    }


def report_verdicts(run: DagRunResult, summary: Mapping[str, Any]) -> None:
    """After a day's line: fail on anything but a verdict, then name each quarantined and ignored object
    (an extract manifest's ``ignored`` is expected, one per region-day, and not printed)."""
    run.check(allow_verdicts=True)
    for item in run.verdicts.get("quarantined", []):
        print(f"    quarantined {item.get('key')}: {item.get('reason')}", flush=True)
    for item in summary["ignored"]:
        if not str(item["reason"]).startswith(EXTRACT_MANIFEST):
            print(f"    ignored {item['key']}: {item['reason']}", flush=True)


def ingest_counts(summary: Mapping[str, Any]) -> str:
    """An ingest run's files, row counts and quarantined files, as the progress lines show them."""
    return (
        f"{summary['files']} files, read {summary['rows_read']}, written {summary['rows_written']}, "
        f"duplicates {summary['duplicates']}, rejected {summary['rejected']}, "
        f"quarantined {summary['quarantined_files']}"
    )


def progress_line(summary: Mapping[str, Any], elapsed: float) -> str:
    failed = "" if summary["state"] == "success" else f", run {summary['state']}"
    counts = ingest_counts(summary)
    return f"  [{elapsed:6.1f} s] {summary['date']}: {counts} ({summary['seconds']:.1f} s){failed}"


def ingest_drops(
    runtime: LocalRuntime,
    data: Path,
    result: PipelineResult,
    started: float,
    prepare_airflow: Callable[[], None] | None = None,
) -> None:
    """Land the drops of ``data`` one day at a time, an ingest run each; the timings go into ``result``."""
    drops = find_drops(data)
    mark = started
    loading = ingesting = 0.0
    for index, drop in enumerate(drops):
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prepare-airflow") as pool:
            prepared = pool.submit(prepare_airflow) if prepare_airflow and index == 0 else None
            keys = runtime.load_sample_data(drop.folder, landing_date=drop.day)
            wait_for_event_invocations(runtime)
            if prepared is not None:
                prepared.result()
        now = time.perf_counter()
        loading += now - mark
        mark = now
        run = run_dag("youtube_ingest", started, drop.logical_date, progress=False)
        now = time.perf_counter()
        ingesting += now - mark
        summary = ingest_summary(runtime, drop, run, now - mark) | {"uploaded": len(keys)}
        mark = now
        result.runs.append(summary)
        print(progress_line(summary, now - started), flush=True)
        report_verdicts(run, summary)
        result.run_ids["youtube_ingest"] = run.run_id
    result.timings += [
        StageTiming(f"load + S3-event Lambda ({len(drops)} drop{'s' * (len(drops) > 1)})", loading),
        StageTiming(f"youtube_ingest ({len(drops)} run{'s' * (len(drops) > 1)})", ingesting),
    ]


def run_pipeline(
    runtime: LocalRuntime,
    data: Path | None,
    out_dir: Path,
    prepare_airflow: Callable[[], None] | None = None,
    days: int | None = None,
) -> PipelineResult:
    """E → T over the recorded days (``data`` None, ``days`` of them), or T over the drops of ``data``; then
    the reporting, the exports and the dashboard. Airflow must be configured.

    ``prepare_airflow`` (make run: waiting for the metadata DB's migration) runs first; with drops, in a
    thread while the first drop loads and its S3 events run the Lambda, to keep Airflow's start-up off the
    critical path.
    """
    from local.replay import DEFAULT_DAYS, extract_and_ingest
    from youtube_etl.dag_support import sql_dir
    from youtube_etl.reports import discover_reports

    result = PipelineResult()
    started = time.perf_counter()
    s = runtime.settings
    if data is None:
        if prepare_airflow is not None:
            prepare_airflow()
        extract_and_ingest(runtime, result, started, days or DEFAULT_DAYS)
    else:
        ingest_drops(runtime, data, result, started, prepare_airflow)
    mark = time.perf_counter()
    runtime.no_more_glue_spares()  # build_analytics takes the waiting driver; no job run comes after it
    reporting = run_dag("youtube_reporting", started)
    reporting.check()
    result.run_ids["youtube_reporting"] = reporting.run_id
    now = time.perf_counter()
    result.timings.append(StageTiming("youtube_reporting", now - mark))
    mark = now
    result.metrics = {
        "clean_statistics": totals(result.runs),
        "build_analytics": read_metrics(runtime, s.build_analytics_job, reporting.run_id),
    }
    result.quarantined = [o["Key"] for o in runtime.list_objects(s.raw_bucket, s.prefixes.quarantine)]
    reports = discover_reports(sql_dir(s))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / RUNS_FILE).write_text("".join(json.dumps(r) + "\n" for r in result.runs), encoding="utf-8")
    result.exported.append(out_dir / RUNS_FILE)
    result.dashboard = export_reports(runtime, reports, out_dir, result)
    result.timings.append(StageTiming("export", time.perf_counter() - mark))
    return result


#: One JSON object per ingest run of ``make run``.
RUNS_FILE = "runs.jsonl"


def totals(runs: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """The statistics counts over every ingest run (what one full run would report)."""
    return {
        "read": sum(r["rows_read"] for r in runs),
        "written": sum(r["rows_written"] for r in runs),
        "duplicates": sum(r["duplicates"] for r in runs),
        "rejected": sum(r["rejected"] for r in runs),
        "files": sum(r["files"] for r in runs),
        "quarantined_files": sum(r["quarantined_files"] for r in runs),
    }


def _positive(text: str) -> int:
    """``--days``: a whole number of days, at least one (``DAYS=0`` must not silently mean the default)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} days: make run replays at least one recorded day")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line; exits with status 2 (argparse's) on a bad one."""
    parser = argparse.ArgumentParser(prog="make run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        help="land this folder's drops (drops/YYYY-MM-DD/, raw_statistics/, ...) instead of the extract",
    )
    parser.add_argument(
        "--days", type=_positive, default=None, help="recorded days the extract replays (default 3)"
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "out", help="where reports are exported")
    parser.add_argument("--airflow-home", type=Path, default=REPO_ROOT / ".airflow" / "run")
    parser.add_argument("--lake", type=Path, default=LAKE_DIR, help="state left for make query")
    return parser.parse_args(argv)


def run_in_runtime(args: argparse.Namespace, data: Path | None) -> PipelineResult:
    """Start the runtime on a fresh lake and metadata DB, run the pipeline in it, stop it; on a failure,
    print what the lake holds and the alerts, then raise."""
    args.airflow_home.mkdir(parents=True, exist_ok=True)
    # A fresh metadata DB each run, like the runtime's state: an old one keeps earlier serialized versions of
    # the DAGs, and Airflow warns about them on every run after the DAG files changed.
    (args.airflow_home / "airflow.db").unlink(missing_ok=True)
    lineage_dir = args.out.resolve() / "lineage"
    lake = args.lake.resolve()
    shutil.rmtree(lake, ignore_errors=True)  # a fresh lake each run, left for make query afterwards
    home = args.airflow_home.resolve()
    # The metadata DB needs no runtime: it is migrated while the runtime starts (2-3 s each).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="migrate-airflow") as pool:
        migrated = pool.submit(migrate_metadata_db, metadata_db_environment(home))
        with (
            fresh_exports(args.out.resolve()),
            LocalRuntime(state_dir=lake, crawler_stopping_seconds=CRAWLER_STOPPING_SECONDS) as runtime,
            shared_service_models(),
            patched_environ(airflow_environment(home, runtime, lineage_dir=lineage_dir)),
        ):
            print(f"local AWS runtime: {runtime.endpoint} (provisioned from settings)", flush=True)
            runtime.prestart_glue_driver()  # warm while the first drop loads: no cold first job run
            try:
                result = run_pipeline(
                    runtime, data, args.out.resolve(), prepare_airflow=migrated.result, days=args.days
                )
            except PipelineError as error:
                print(f"\nFAILED: {error}", file=sys.stderr)
                print("objects in the lake:\n" + "\n".join(summarize_lake(runtime)), file=sys.stderr)
                print(format_alerts(runtime.read_alerts()), file=sys.stderr)
                raise
            print(format_alerts(runtime.read_alerts()))
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    data = args.data.resolve() if args.data is not None else None
    layout = ("drops", "raw_statistics", "raw_statistics_reference_data")
    if data is not None and not any((data / folder).is_dir() for folder in layout):
        print(
            f"error: {args.data} has no drops/, raw_statistics/ or raw_statistics_reference_data/ folder",
            file=sys.stderr,
        )
        return 2
    started = time.perf_counter()
    kept = f"the lake is kept in {args.lake.resolve()}: make query SQL=..., make cat URI=s3://..., make clean"
    try:
        result = run_in_runtime(args, data)
    except PipelineError:
        print(kept, file=sys.stderr)
        return 1  # fresh_exports removed the previous run's exports and left out/RUN_FAILED.txt
    print(format_summary(result, time.perf_counter() - started))
    print(kept)
    failed = [r for r in result.runs if r["state"] != "success"]
    if failed:
        print(
            f"\n{len(failed)} ingest run(s) failed on their verdicts: "
            + "; ".join(f"{r['date']}: {len(r['quarantined'])} file(s) quarantined" for r in failed),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(run_supervised("local.pipeline", main))  # SIGINT/SIGTERM stop every process it starts
