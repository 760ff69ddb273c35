"""DAG integrity rules, shared by the tests on ``dags/`` and the tests that prove the rules catch bad DAGs."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from airflow.dag_processing.dagbag import DagBag

MIN_RETRIES = 2


@dataclass
class Report:
    dagbag: DagBag
    parse_seconds: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


class NetworkAtParseTime(RuntimeError):
    """A DAG file opened a network connection while it was parsed."""


@contextmanager
def no_network() -> Iterator[None]:
    """Any connection attempt raises; AWS endpoints point nowhere and Variables have no backend."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise NetworkAtParseTime(f"network access while parsing DAGs: connect{args[1:]!r}")

    env = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "none",
        "AWS_SECRET_ACCESS_KEY": "none",
    }
    with mock.patch.object(socket.socket, "connect", refuse), mock.patch.dict(os.environ, env):
        yield


def check_folder(folder: Path) -> Report:
    """Parse every DAG file of ``folder`` on its own (timed, no network) and list every rule it breaks."""
    report = Report(dagbag=DagBag(dag_folder=str(folder), collect_dags=False))
    for path in sorted(folder.glob("*.py")):
        start = time.perf_counter()
        with no_network():
            bag = DagBag(dag_folder=str(path))
        report.parse_seconds[path.name] = time.perf_counter() - start
        for file, error in bag.import_errors.items():
            report.problems.append(f"{Path(file).name}: import error: {error.strip().splitlines()[-1]}")
        for dag_id, dag in bag.dags.items():
            report.dagbag.bag_dag(dag)
            if dag_id != path.stem:
                report.problems.append(f"{path.name}: DAG id {dag_id!r} differs from the file name")
            if not dag.tags:
                report.problems.append(f"{dag_id}: no tags")
            if not dag.doc_md:
                report.problems.append(f"{dag_id}: no doc_md")
            for task in dag.tasks:
                if (task.retries or 0) < MIN_RETRIES:
                    report.problems.append(f"{dag_id}.{task.task_id}: retries={task.retries} < {MIN_RETRIES}")
                if task.execution_timeout is None:
                    report.problems.append(f"{dag_id}.{task.task_id}: no execution_timeout")
    return report
