"""Per-task cost of ``make run``'s runtime: an Athena task and a trivial task in ``dag.test()``, and a Glue
job run on the pre-started driver (warm) and on a fresh one (cold), each beside the figures of issue 24.

Tasks: a DAG of ``TASKS`` trivial ``@task`` s and ``TASKS`` ``AthenaOperator`` ``SELECT 1`` queries runs in
``dag.test()`` against the runtime, configured as ``make run`` configures Airflow (OpenLineage file
transport, poll interval), once as before the speed-up (lineage emitted from a forked process, one model
parse per boto3 session, StartQueryExecution answering at once) and once as now; each variant in a child
process (Airflow reads its configuration once). Reported per task: median duration of the task instances,
forks, boto3 clients created, sleeps and seconds slept (counts do not depend on the machine's load).

Glue: the trivial job of ``bench_executors_glue`` through StartJobRun, on a cold driver, then on the
pre-started driver with and without its warm-up; the script's own Spark time is printed beside the run's.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import child_json

REPO = Path(__file__).resolve().parents[1]
TASKS = 6
#: Issue 24, idle machine (load 0.2).
REFERENCE = {"athena": 2.0, "trivial": 1.0, "glue_warm_above_spark": 3.0, "glue_trivial_target": 2.0}

DAG_FILE = """
from datetime import datetime
from airflow.sdk import dag, task, chain
from airflow.providers.amazon.aws.operators.athena import AthenaOperator

@dag(dag_id="bench_task_overhead", schedule=None, start_date=datetime(2024, 1, 1), catchup=False)
def bench_task_overhead():
    steps = []
    for i in range({tasks}):
        @task(task_id=f"trivial_{{i}}")
        def trivial() -> int:
            return 1
        steps.append(trivial())
        steps.append(AthenaOperator(
            task_id=f"athena_{{i}}", query="SELECT 1", database="default", workgroup="{workgroup}",
            output_location="{output}", sleep_time=0.2, aws_conn_id="aws_default",
        ))
    chain(*steps)

bench_task_overhead()
"""


def _child(variant: str) -> dict[str, Any]:
    """One variant in this process: start the runtime, configure Airflow, run the DAG, return figures."""
    import cProfile
    import pstats
    from contextlib import ExitStack, nullcontext

    from local.boto_models import shared_service_models
    from local.pipeline import airflow_environment, migrate_metadata_db
    from local.runtime import LocalRuntime, patched_environ

    before = variant == "before"
    os.environ["LOCAL_ATHENA_START_WAIT"] = (
        "0" if before else os.environ.get("LOCAL_ATHENA_START_WAIT", "0.5")
    )
    import localaws._athena.patches as athena_patches

    athena_patches.START_WAIT_SECONDS = float(os.environ["LOCAL_ATHENA_START_WAIT"])
    with tempfile.TemporaryDirectory(prefix="bench-task-") as tmp, ExitStack() as stack:
        home, dags = Path(tmp) / "airflow", Path(tmp) / "dags"
        home.mkdir()
        dags.mkdir()
        runtime = stack.enter_context(LocalRuntime())
        s = runtime.settings
        env = airflow_environment(home, runtime, lineage_dir=Path(tmp) / "lineage")
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
        if before:
            env["AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD"] = "False"
        stack.enter_context(patched_environ(env))
        stack.enter_context(nullcontext() if before else shared_service_models())
        (dags / "bench_task_overhead.py").write_text(
            DAG_FILE.format(tasks=TASKS, workgroup=s.athena_workgroup, output=f"{s.athena_results_uri}bench/")
        )
        migrate_metadata_db()
        from airflow.dag_processing.dagbag import DagBag

        dag = DagBag(dag_folder=str(dags)).get_dag("bench_task_overhead")
        profile = cProfile.Profile()
        profile.enable()
        run = dag.test()
        profile.disable()
        durations: dict[str, list[float]] = {"athena": [], "trivial": []}
        for ti in run.get_task_instances():
            assert str(ti.state) == "success", (ti.task_id, ti.state)
            durations[ti.task_id.split("_")[0]].append((ti.end_date - ti.start_date).total_seconds())
        counts = {"fork": 0, "create_client": 0, "sleep": 0, "slept": 0.0}
        for (path, _, name), (_, calls, _, cumulative, _) in pstats.Stats(profile).stats.items():  # type: ignore[attr-defined]
            if name == "<built-in method posix.fork>":
                counts["fork"] += calls
            elif name == "create_client" and path.endswith("botocore/session.py"):
                counts["create_client"] += calls
            elif name == "<built-in method time.sleep>":
                counts["sleep"] += calls
                counts["slept"] += cumulative
    return {k: statistics.median(v) for k, v in durations.items()} | counts


def _tasks() -> None:
    figures = {}
    for variant in ("before", "after"):
        argv = [sys.executable, "-m", "bench.bench_task_overhead", "--child", variant]
        figures[variant] = child_json(variant, argv, cwd=REPO)
    tasks = 2 * TASKS
    print(
        f"load average (1 min): {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {tasks} tasks per variant"
    )
    print(f"{'per task':<34}{'issue 24':>10}{'before':>10}{'after':>10}{'ratio':>8}")
    b, a = figures["before"], figures["after"]
    for key, label in (
        ("athena", "Athena SELECT 1 task (median s)"),
        ("trivial", "trivial @task (median s)"),
    ):
        print(f"{label:<34}{REFERENCE[key]:>10.2f}{b[key]:>10.2f}{a[key]:>10.2f}{b[key] / a[key]:>8.1f}")
    for key, label in (("fork", "forks"), ("create_client", "boto3 clients"), ("sleep", "sleeps")):
        print(f"{label + ' per task':<34}{'':>10}{b[key] / tasks:>10.2f}{a[key] / tasks:>10.2f}")
    print(f"{'seconds slept per task':<34}{'':>10}{b['slept'] / tasks:>10.2f}{a['slept'] / tasks:>10.2f}")


def _glue() -> None:
    from bench.bench_executors_glue import DATA
    from local.runtime import LocalRuntime, patched_environ
    from localaws._glue_jobs.executor import GlueJobExecutor

    script = (
        "import sys, time\nprint('T_START', time.time(), flush=True)\n"
        + __import__("bench.bench_executors_glue", fromlist=["SCRIPT"]).SCRIPT
        + "print('T_END', time.time(), flush=True)\n"
    )
    (csv_path,) = sorted((DATA / "raw_statistics" / "region=ca").glob("*.csv"))
    rows = []
    with LocalRuntime() as runtime, patched_environ(runtime.client_env()):
        s, glue = runtime.settings, runtime.client("glue")
        runtime.client("s3").upload_file(
            str(csv_path), s.raw_bucket, f"bench-task/in/region=ca/{csv_path.name}"
        )
        key = f"{s.prefixes.glue_scripts}bench/trivial_timed.py"
        runtime.client("s3").put_object(Bucket=s.assets_bucket, Key=key, Body=script.encode())
        glue.create_job(
            Name="bench-trivial-timed",
            Role=runtime.role_arn("glue"),
            Command={"Name": "glueetl", "ScriptLocation": f"s3://{s.assets_bucket}/{key}"},
        )
        arguments = {
            "--source_path": f"s3://{s.raw_bucket}/bench-task/in/",
            "--target_path": f"s3://{s.processed_bucket}/bench-task/out/",
        }
        jobs = GlueJobExecutor.serving()
        for label, warmup in (
            ("cold driver", None),
            ("pre-started, no warm-up", "0"),
            ("pre-started + warm-up", "1"),
        ):
            jobs.prestart = warmup is not None
            if warmup is not None:
                os.environ["LOCAL_GLUE_WARMUP"] = warmup
                jobs._drop_spare()
                runtime.prestart_glue_driver()
                while not (jobs.spare and jobs.spare.ready):
                    time.sleep(0.1)
            started = time.time()
            run_id = glue.start_job_run(JobName="bench-trivial-timed", Arguments=arguments)["JobRunId"]
            while (run := glue.get_job_run(JobName="bench-trivial-timed", RunId=run_id)["JobRun"])[
                "JobRunState"
            ] in ("STARTING", "RUNNING"):
                time.sleep(0.05)
            wall = time.time() - started
            assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
            out = (jobs.root / "bench-trivial-timed" / run_id / "stdout.log").read_text()
            marks = {
                line.split()[0]: float(line.split()[1]) for line in out.splitlines() if line.startswith("T_")
            }
            rows.append((label, wall, marks["T_END"] - marks["T_START"]))
        os.environ.pop("LOCAL_GLUE_WARMUP", None)
    print(f"\nload average (1 min): {os.getloadavg()[0]:.1f}")
    print(f"{'Glue trivial job run':<28}{'run s':>8}{'script s':>10}{'above script':>14}")
    for label, wall, own in rows:
        print(f"{label:<28}{wall:>8.2f}{own:>10.2f}{wall - own:>14.2f}")
    print(
        f"targets (issue 24): warm run ≤ {REFERENCE['glue_warm_above_spark']:.0f} s above its Spark work, a "
        f"trivial run ≤ {REFERENCE['glue_trivial_target']:.0f} s end to end"
    )


def main() -> None:
    _tasks()
    _glue()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(_child(sys.argv[2])))
    else:
        main()
