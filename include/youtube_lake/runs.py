"""Run ids as paths and names: Airflow run ids made safe for S3 prefixes, Spark paths and Athena tables."""

from __future__ import annotations

import re


def safe_run_id(run_id: str) -> str:
    """An Airflow run id made safe for S3 prefixes and Athena table names (``[a-z0-9_]``, ≤ 100)."""
    cleaned = re.sub(r"[^a-z0-9]+", "_", run_id.lower()).strip("_")
    if not cleaned:
        raise ValueError(f"run id {run_id!r} has no usable characters")
    return cleaned[:100]


def run_folder(base: str, run_id: str) -> str:
    """``<base>run_id=<run id>/``: where one run of a job writes its files (metrics, quarantined rows)."""
    return f"{base.rstrip('/')}/run_id={run_id}/"
