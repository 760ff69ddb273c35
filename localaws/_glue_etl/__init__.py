"""The Glue ETL library on the local runtime: ``awsglue`` implemented over PySpark DataFrames.

The ``awsglue`` package on the registry is only the Python face of Glue's library: its ``GlueContext`` and
``DynamicFrame`` call JVM classes that exist only on AWS. This folder holds a package of the same name
that the Glue job executor puts on a job's ``PYTHONPATH`` ahead of that face, so scripts written for Glue
(``GlueContext(SparkContext())``, ``create_dynamic_frame.from_catalog``, ``ApplyMapping``,
``write_dynamic_frame``, ``getSink``, ``Job`` with bookmarks) run unchanged. It needs only PySpark and
boto3 (it runs in the job's process, which knows nothing of the runtime but ``AWS_ENDPOINT_URL`` and the
two bookmark files named in :data:`BOOKMARK_IN_ENV` / :data:`BOOKMARK_OUT_ENV`).
"""

from __future__ import annotations

from pathlib import Path

#: The folder to put first on a job's ``PYTHONPATH``: it holds the ``awsglue`` package.
LIBRARY_PATH = Path(__file__).resolve().parent
#: Environment variable naming the JSON file with the job's bookmark state when the run starts.
BOOKMARK_IN_ENV = "LOCALAWS_GLUE_BOOKMARK_IN"
#: Environment variable naming the JSON file ``Job.commit()`` writes the run's new bookmark state to.
BOOKMARK_OUT_ENV = "LOCALAWS_GLUE_BOOKMARK_OUT"
