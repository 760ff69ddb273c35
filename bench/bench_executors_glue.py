"""Overhead of the local Glue job executor: a trivial job through StartJobRun vs the same script in-process.

The trivial job reads one real statistics CSV (CA, 786 rows) from the runtime's S3 through S3A, counts rows
per category and writes region-partitioned Parquet back. Compared, in one run:

* ``executor``: ``start_job_run`` → poll ``get_job_run`` (0.1 s) until SUCCEEDED — a fresh process and JVM
  per run, as Glue starts a fresh driver; ``pre-started`` when the executor's spare driver (JVM and
  SparkSession already up, started while the previous run ran) serves it, ``cold`` when it starts one;
  ``without class archive`` when its JVM parses Spark's classes anew instead of mapping the archive
  ``python -m localaws spark-classes`` built (the bench builds it if missing);
* ``in-process cold``: create a SparkSession with the same S3A configuration, then run the script
  (``runpy``) in this process — what a developer pays once per Python session;
* ``in-process warm``: the script again on the already running session — the floor.

The ratio executor / in-process cold is the cost of process isolation; executor / warm is the total
overhead (mostly JVM and SparkContext start-up, ~7 s on 2 cores per FACTS.md).
"""

from __future__ import annotations

import os
import runpy
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from local.runtime import REPO_ROOT, LocalRuntime, patched_environ
from localaws import spark_conf

DATA = Path(os.environ.get("YOUTUBE_ETL_DATA", REPO_ROOT.parent / "shared" / "data" / "youtube"))
REPEAT = 3
#: The executor starts drivers with C1-only JIT + serial GC; this job argument restores the JVM defaults.
JVM_DEFAULTS = "-XX:+UseG1GC"

SCRIPT = """\
import sys

from awsglue.utils import getResolvedOptions
from pyspark.sql import SparkSession, functions as F

args = getResolvedOptions(sys.argv, ["JOB_NAME", "source_path", "target_path"])
spark = SparkSession.builder.getOrCreate()
reader = spark.read.option("header", True).option("multiLine", True).option("escape", '"')
frame = reader.csv(args["source_path"])
frame.groupBy("region", "category_id").count().write.mode("overwrite").partitionBy("region").parquet(
    args["target_path"]
)
"""


def _run_job(glue: Any, job: str, arguments: dict[str, str]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    run_id = glue.start_job_run(JobName=job, Arguments=arguments)["JobRunId"]
    while True:
        run = glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]
        if run["JobRunState"] not in ("STARTING", "RUNNING"):
            break
        time.sleep(0.1)
    elapsed = time.perf_counter() - started
    if run["JobRunState"] != "SUCCEEDED":
        raise RuntimeError(f"job run {run['JobRunState']}: {run.get('ErrorMessage', '')[:500]}")
    return elapsed, run


def main() -> None:
    from pyspark.sql import SparkSession

    (csv_path,) = sorted((DATA / "raw_statistics" / "region=ca").glob("*.csv"))
    with LocalRuntime() as runtime, patched_environ(runtime.client_env()):
        s = runtime.settings
        s3 = runtime.client("s3")
        s3.upload_file(str(csv_path), s.raw_bucket, f"bench-glue/in/region=ca/{csv_path.name}")
        key = f"{s.prefixes.glue_scripts}bench/trivial.py"
        s3.put_object(Bucket=s.assets_bucket, Key=key, Body=SCRIPT.encode())
        glue = runtime.client("glue")
        glue.create_job(
            Name="bench-trivial",
            Role=runtime.role_arn("glue"),
            Command={"Name": "glueetl", "ScriptLocation": f"s3://{s.assets_bucket}/{key}"},
            GlueVersion="5.1",
        )
        source = f"s3://{s.raw_bucket}/bench-glue/in/"
        target = f"s3://{s.processed_bucket}/bench-glue/out/"
        arguments = {"--source_path": source, "--target_path": target}

        # Alternate the executor variants so a change in machine load hits them alike.
        default_jvm = arguments | {"--conf": f"spark.driver.extraJavaOptions={JVM_DEFAULTS}"}
        from localaws._glue_jobs import classes
        from localaws._glue_jobs.executor import DRIVER_JAVA_OPTIONS, GlueJobExecutor

        classes.build()
        # A job's own driver options replace the executor's, the archive's among them.
        no_archive = arguments | {"--conf": f"spark.driver.extraJavaOptions={DRIVER_JAVA_OPTIONS}"}
        jobs = GlueJobExecutor.serving()
        executor, untuned, prestarted, unarchived = [], [], [], []
        for _ in range(REPEAT):
            jobs.prestart = False
            executor.append(_run_job(glue, "bench-trivial", arguments)[0])
            unarchived.append(_run_job(glue, "bench-trivial", no_archive)[0])
            untuned.append(_run_job(glue, "bench-trivial", default_jvm)[0])
            jobs.prestart = True
            _run_job(glue, "bench-trivial", arguments)  # cold, leaves a spare starting
            deadline = time.monotonic() + 120
            while not (jobs.spare and jobs.spare.ready) and time.monotonic() < deadline:
                time.sleep(0.2)  # in make run the spare starts while other tasks run
            prestarted.append(_run_job(glue, "bench-trivial", arguments)[0])

        # The same script in this process.
        with tempfile.TemporaryDirectory() as folder:
            script = Path(folder) / "trivial.py"
            script.write_text(SCRIPT, encoding="utf-8")
            argv = [
                str(script),
                "--JOB_NAME",
                "bench-trivial",
                "--source_path",
                source,
                "--target_path",
                target,
            ]
            saved = sys.argv
            sys.argv = argv
            try:
                started = time.perf_counter()
                conf = spark_conf(runtime.endpoint, master="local[*]")
                SparkSession.builder.config(map=conf).getOrCreate()
                session_start = time.perf_counter() - started
                runpy.run_path(str(script), run_name="__main__")
                cold = time.perf_counter() - started
                warm = []
                for _ in range(REPEAT):
                    started = time.perf_counter()
                    runpy.run_path(str(script), run_name="__main__")
                    warm.append(time.perf_counter() - started)
            finally:
                sys.argv = saved
                SparkSession.builder.getOrCreate().stop()

    through = statistics.median(executor)
    direct = statistics.median(warm)
    print(f"load average (1 min): {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'variant':<44}{'seconds':>10}{'ratio':>8}")
    print(f"{'in-process warm (script only, median)':<44}{direct:>10.2f}{1.0:>8.2f}")
    print(f"{'in-process cold (SparkSession + script)':<44}{cold:>10.2f}{cold / direct:>8.2f}")
    print(f"{'  of which SparkSession start':<44}{session_start:>10.2f}")
    print(f"{'executor StartJobRun->SUCCEEDED (median)':<44}{through:>10.2f}{through / direct:>8.2f}")
    warm_driver = statistics.median(prestarted)
    print(f"{'executor, pre-started driver (median)':<44}{warm_driver:>10.2f}{warm_driver / direct:>8.2f}")
    print(
        f"{'executor, without class archive (median)':<44}{statistics.median(unarchived):>10.2f}"
        f"{statistics.median(unarchived) / direct:>8.2f}"
    )
    print(
        f"{'executor, JVM default JIT/GC (before tuning)':<44}{statistics.median(untuned):>10.2f}"
        f"{statistics.median(untuned) / direct:>8.2f}"
    )
    print(f"executor / in-process cold: {through / cold:.2f}x (process isolation + polling)")
    print(
        f"executor runs: cold {', '.join(f'{t:.2f}' for t in executor)} s; pre-started "
        f"{', '.join(f'{t:.2f}' for t in prestarted)} s ({through / warm_driver:.1f}x faster)"
    )


if __name__ == "__main__":
    main()
