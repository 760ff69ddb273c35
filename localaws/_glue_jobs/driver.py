"""A pre-started Glue driver: Python, the JVM and a SparkSession already up, waiting for one job run.

The Glue job executor (:mod:`.executor`) starts this file as a script with the runtime's standard Spark
configuration (``SPARK_CONF_DIR``) and keeps it as its spare. On ``StartJobRun`` it hands the spare one run
as a JSON line on stdin — the script's ``argv``, the run's environment, extra ``sys.path`` entries and the
working folder — and starts the next spare. The script then runs as ``__main__`` exactly as ``python
script.py …`` would run it (its ``SparkSession.builder.getOrCreate()`` gets the session already started), and
the process exits with the script's status: a driver serves one run only, as on Glue.

Before it says it is ready, the spare also runs a small warm-up on local files only (never the runtime's S3:
the lake must not change): what a typical job does — CSV and JSON in, a window, a join, partitioned Parquet
out and read back — plus the S3A file system's start (no request: the runtime disables the bucket probe).
A fresh JVM spends most of a small job's first seconds loading these classes and compiling them; paid
while the spare waits, the run then starts on a JVM as warm as a second job in one session.

This file imports nothing from the repository (the script must see only what a job process sees).
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import sys
import traceback
from typing import Any

#: A bucket name no run uses: the warm-up's S3A file system is created for it, never asked anything.
WARMUP_BUCKET = "localaws-glue-driver-warmup"


def warm_up(spark: Any, folder: str) -> None:
    """Load and compile what jobs use (see the module docstring), on files under ``folder``."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    root = os.path.abspath(folder)
    rows = [
        (f"v{i % 7}", f"r{i % 3}", i, f"2017-11-{14 + i % 3:02d}", f'a "quoted"\ntitle {i}')
        for i in range(64)
    ]
    frame = spark.createDataFrame(rows, "video_id string, region string, views long, dt string, title string")
    frame.write.mode("overwrite").option("header", True).option("escape", '"').csv(f"{root}/csv")
    frame.write.mode("overwrite").json(f"{root}/json")
    reader = spark.read.option("header", True).option("multiLine", True).option("escape", '"')
    read = reader.csv(f"{root}/csv").withColumn("views", F.col("views").cast("long"))
    read = read.unionByName(spark.read.json(f"{root}/json").select(*read.columns))
    rank = Window.partitionBy("region", "dt", "video_id").orderBy(F.col("views").desc())
    best = read.withColumn("_rank", F.row_number().over(rank)).where(F.col("_rank") == 1).drop("_rank")
    names = spark.createDataFrame([(f"r{i}", f"name {i}") for i in range(3)], "region string, name string")
    joined = best.join(F.broadcast(names), ["region"], "left").withColumn("file", F.input_file_name())
    joined.write.mode("overwrite").partitionBy("region", "dt").parquet(f"{root}/parquet")
    spark.read.option("basePath", f"{root}/parquet").parquet(f"{root}/parquet").groupBy(
        "region"
    ).count().collect()
    jvm = spark.sparkContext._jvm
    uri = jvm.java.net.URI(f"s3a://{WARMUP_BUCKET}/")
    jvm.org.apache.hadoop.fs.FileSystem.get(uri, spark.sparkContext._jsc.hadoopConfiguration())


def ship_py_files(spark: Any, pythonpath: list[str]) -> None:
    """The run's ``--extra-py-files`` for its Python workers too, as Glue ships them (``pyFiles``).

    A cold driver's workers find them on the ``PYTHONPATH`` it starts with; this driver's JVM started
    before the run, and so may its worker daemon (the warm-up), so their path lacks the run's files: a
    worker would import a module of the job from wherever else it finds one, or not at all. ``addPyFile``
    puts each archive, and each ``.py`` file of a folder, first on every worker's path.
    """
    for entry in pythonpath:
        if os.path.isdir(entry):
            for name in sorted(os.listdir(entry)):
                if name.endswith(".py"):
                    spark.sparkContext.addPyFile(os.path.join(entry, name))
        elif os.path.isfile(entry):
            spark.sparkContext.addPyFile(entry)


def archive_classes(folder: str) -> int:
    """The class archive's training run (:mod:`.classes`): the warm-up in a JVM started with
    ``-XX:ArchiveClassesAtExit``, which writes the archive as it exits; so close the JVM and wait for it."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()
    warm_up(spark, folder)
    gateway = SparkContext._gateway
    spark.stop()
    assert gateway is not None
    jvm = gateway.proc  # type: ignore[attr-defined]  # PySpark keeps the JVM's Popen there
    jvm.stdin.close()  # PySpark's gateway server exits on the end of its stdin
    return int(jvm.wait())


def main() -> int:
    from pyspark.sql import SparkSession

    if sys.argv[1:2] == ["--archive-classes"]:
        return archive_classes(sys.argv[2])

    spark = SparkSession.builder.getOrCreate()  # the JVM and the session: what a cold run spends ~7 s on
    if os.environ.get("LOCAL_GLUE_WARMUP", "1") != "0":  # the executor's WARMUP_ENV
        try:
            warm_up(spark, "warmup")
        except Exception:  # a spare that could not warm up still serves, only slower
            traceback.print_exc()
        finally:
            shutil.rmtree("warmup", ignore_errors=True)
    open("ready", "w").close()  # in its start folder: the executor and the benchmark can tell
    line = sys.stdin.readline()
    if not line:  # the executor let it go without a run
        return 0
    request = json.loads(line)
    os.environ.clear()
    os.environ.update(request["env"])
    sys.path[:0] = request["pythonpath"]
    ship_py_files(spark, request["pythonpath"])
    os.chdir(request["cwd"])
    sys.argv = list(request["argv"])
    try:
        runpy.run_path(sys.argv[0], run_name="__main__")
    except SystemExit:
        raise
    except BaseException:  # reported as Python reports an uncaught exception: the executor reads it
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
