"""A pre-started Glue driver: Python, the JVM and a SparkSession already up, waiting for one job run.

The Glue job executor (:mod:`.executor`) starts this file as a script with the runtime's standard Spark
configuration (``SPARK_CONF_DIR``) and keeps it as its spare. On ``StartJobRun`` it hands the spare one run
as a JSON line on stdin — the script's ``argv``, the run's environment, extra ``sys.path`` entries and the
working folder — and starts the next spare. The script then runs as ``__main__`` exactly as ``python
script.py …`` would run it (its ``SparkSession.builder.getOrCreate()`` gets the session already started), and
the process exits with the script's status: a driver serves one run only, as on Glue.

This file imports nothing from the repository (the script must see only what a job process sees).
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import traceback


def main() -> int:
    from pyspark.sql import SparkSession

    SparkSession.builder.getOrCreate()  # the JVM and the session: what a cold run spends ~7 s on
    open("ready", "w").close()  # in its start folder: the executor and the benchmark can tell
    line = sys.stdin.readline()
    if not line:  # the executor let it go without a run
        return 0
    request = json.loads(line)
    os.environ.clear()
    os.environ.update(request["env"])
    sys.path[:0] = request["pythonpath"]
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
