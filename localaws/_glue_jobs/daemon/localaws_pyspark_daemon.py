"""PySpark's worker daemon without Spark's own archives on ``sys.path``: a Python task costs ~3× less.

Spark puts ``pyspark.zip``, the py4j source zip and the ``spark-core`` jar ahead of everything on its Python
workers' path (``PythonUtils.sparkPythonPath``), even for a pip-installed PySpark whose package is in
site-packages. Before every task, ``pyspark.worker`` calls ``importlib.invalidate_caches()``, and on Python
3.11 a zip importer then reads its whole archive directory again: ~800 entries for ``pyspark.zip``,
thousands for the jar. Measured on 2 cores (``python -m bench python_tasks``), a task of PySpark's default
daemon took ~87 ms, ~30 ms with this one; workers also imported PySpark by compiling the zip's sources
instead of the installed, byte-compiled package.

This module is the daemon the local runtime's Spark starts (``spark.python.daemon.module``, with this folder
on the workers' ``PYTHONPATH``: see ``localaws._glue_jobs.spark``). It drops those archives from the path,
then runs PySpark's own daemon, which forks every worker: the same PySpark, imported from site-packages.
When this interpreter has PySpark only in Spark's archive, the path stays as Spark made it. Nothing of a
job changes: its ``--extra-py-files`` reach the workers as before (ahead of site-packages). It imports
nothing of localaws (it runs in a bare worker interpreter) and stays valid on Python 3.11 and 3.12.
"""

from __future__ import annotations

import os
import sys


def is_spark_archive(path: str) -> bool:
    """``pyspark.zip``, ``py4j-<version>-src.zip`` or a ``spark-core`` jar, wherever Spark's home is."""
    name = os.path.basename(path)
    return (
        name == "pyspark.zip"
        or (name.startswith("py4j-") and name.endswith("-src.zip"))
        or (name.startswith("spark-core") and name.endswith(".jar"))
    )


def lean_path() -> bool:
    """Drop Spark's archives from ``sys.path`` if PySpark is importable without them; True if dropped."""
    spark_path = list(sys.path)
    sys.path[:] = [p for p in spark_path if not is_spark_archive(p)]
    try:
        import pyspark.daemon  # noqa: F401  (from site-packages now, byte-compiled)
    except ImportError:
        sys.path[:] = spark_path
        return False
    for entry in [key for key in sys.path_importer_cache if is_spark_archive(key)]:
        del sys.path_importer_cache[entry]
    return True


if __name__ == "__main__":
    lean_path()
    from pyspark import daemon

    daemon.manager()
