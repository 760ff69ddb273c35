"""Cost of one Spark Python task: the local runtime's lean worker daemon vs PySpark's own, side by side.

Spark puts ``pyspark.zip``, py4j's zip and the spark-core jar first on its Python workers' path, and before
each task the worker re-reads every zip archive on it (``importlib.invalidate_caches``); the runtime's daemon
(``localaws._glue_jobs.daemon``) drops them where PySpark is installed. ``clean_statistics`` runs Python
tasks (``createDataFrame`` of the API pages' rows), so does any job with a Python UDF.

Each variant runs in its own process and JVM (``local[2]``, the venv's Python as the workers'): one warm-up
job, then ``ROUNDS`` jobs of ``TASKS`` one-element Python tasks; the median job time per task is printed with
the ratio and the load average.
"""

from __future__ import annotations

import os
import statistics
import sys

from bench import child_json

TASKS = 200
ROUNDS = 3

RUNNER = """
import json, sys, time
from pyspark.sql import SparkSession
from localaws import python_worker_conf

builder = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
           .config("spark.ui.showConsoleProgress", "false"))
if sys.argv[1] == "lean":
    for key, value in python_worker_conf().items():
        builder = builder.config(key, value)
sc = builder.getOrCreate().sparkContext
tasks, rounds = int(sys.argv[2]), int(sys.argv[3])
sc.parallelize(range(4), 2).map(lambda x: x).count()
times = []
for _ in range(rounds):
    started = time.perf_counter()
    assert sc.parallelize(range(tasks), tasks).map(lambda x: x + 1).sum() == tasks * (tasks + 1) // 2
    times.append(time.perf_counter() - started)
print(json.dumps(times))
"""


def run(variant: str) -> list[float]:
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    argv = [sys.executable, "-c", RUNNER, variant, str(TASKS), str(ROUNDS)]
    times: list[float] = child_json(variant, argv, env=env, timeout=900)
    return times


def main() -> None:
    load = os.getloadavg()[0]
    spark_default = run("default")
    lean = run("lean")
    per_task = {
        name: statistics.median(t) / TASKS * 1000 for name, t in (("default", spark_default), ("lean", lean))
    }
    end = os.getloadavg()[0]
    print(f"load average (1 min): {load:.1f} at the start, {end:.1f} at the end, {os.cpu_count()} CPUs")
    print(f"{TASKS} one-element Python tasks per job, median of {ROUNDS} jobs")
    print(f"{'daemon':<36}{'ms per task':>12}{'ratio':>8}")
    print(f"{'PySpark default (archives on path)':<36}{per_task['default']:>12.1f}{1.0:>8.2f}")
    print(
        f"{'localaws lean daemon':<36}{per_task['lean']:>12.1f}{per_task['lean'] / per_task['default']:>8.2f}"
    )
    jobs = {
        name: ", ".join(f"{t:.2f}" for t in times)
        for name, times in (("default", spark_default), ("lean", lean))
    }
    print(f"jobs (s): default {jobs['default']}; lean {jobs['lean']}")


if __name__ == "__main__":
    main()
