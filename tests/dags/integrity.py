"""DAG integrity rules, shared by the tests on ``dags/`` and the tests that prove the rules catch bad DAGs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from airflow.dag_processing.dagbag import DagBag

MIN_RETRIES = 2


@dataclass
class Report:
    dagbag: DagBag
    parse_seconds: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def check_folder(folder: Path) -> Report:
    """Parse every DAG file of ``folder`` on its own (timed) and list every rule it breaks."""
    report = Report(dagbag=DagBag(dag_folder=str(folder), collect_dags=False))
    for path in sorted(folder.glob("*.py")):
        start = time.perf_counter()
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
