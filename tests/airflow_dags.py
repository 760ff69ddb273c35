"""Run a one-off DAG file with ``dag.test()`` in tests (operators against the local runtime)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from local.boto_models import process_service_models


def run_dag_file(
    source: str, dag_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **conf: Any
) -> Any:
    """Write ``source`` as ``<dag_id>.py`` and run its ``dag`` with ``dag.test()`` (``conf`` as the run's
    conf); returns the DagRun.

    ``dag.test()`` only runs DAGs found in a configured DAG bundle, so the file's folder is added as one
    (next to the default ``dags-folder``) for the duration of the test. Needs the ``airflow_db`` fixture.
    """
    folder = tmp_path / "dags"
    folder.mkdir(exist_ok=True)
    path = folder / f"{dag_id}.py"
    path.write_text(source, encoding="utf-8")
    bundles = [
        {
            "name": f"test-{dag_id}",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(folder), "refresh_interval": 0},
        },
        {
            "name": "dags-folder",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {},
        },
    ]
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
    spec = importlib.util.spec_from_file_location(f"test_dag_{dag_id}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # As make run does (local/pipeline.py): dag.test() of Airflow 3.3.1 cannot finish a successful
    # run of a DAG with deadline alerts, and its manual runs never get one.
    module.dag.deadline = None
    with process_service_models():  # as local.pipeline.run_dag runs every dag.test()
        return module.dag.test(run_conf=conf or None)
