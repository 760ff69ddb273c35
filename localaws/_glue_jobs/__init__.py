"""Glue jobs: StartJobRun runs the job's script with local PySpark.

``spec`` (arguments, errors) · ``spark`` (S3A configuration) · ``executor`` (runs, logs) · ``patches``
(moto's API).
"""
