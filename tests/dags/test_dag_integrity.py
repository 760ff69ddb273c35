"""Integrity of the DAGs in ``dags/``: they import, follow the house rules, and parse fast without I/O."""

from __future__ import annotations

import pytest

from local.runtime import REPO_ROOT
from tests.dags.integrity import check_folder

DAGS = REPO_ROOT / "dags"


@pytest.fixture(scope="module")
def report():  # type: ignore[no-untyped-def]
    result = check_folder(DAGS)
    for name, seconds in sorted(result.parse_seconds.items()):
        print(f"parse {name}: {seconds:.3f} s")
    return result


def test_dags_follow_the_rules(report) -> None:  # type: ignore[no-untyped-def]
    assert report.problems == []


def test_every_dag_file_defines_its_dag(report) -> None:  # type: ignore[no-untyped-def]
    assert sorted(report.dagbag.dags) == sorted(p.stem for p in DAGS.glob("*.py"))
