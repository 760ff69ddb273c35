"""MWAA packaging: plugins.zip from plugins/, requirements.txt against uv.lock and MWAA's rules, and the
imports of dags/ and plugins/ against what MWAA will have installed."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from infra.mwaa.package import (
    CONSTRAINTS_URL,
    Lock,
    check_all,
    check_requirements,
    imported_modules,
    missing_on_mwaa,
    mwaa_distributions,
    parse_requirements,
    stage_bundle,
)
from infra.stacks.common import REPO_ROOT


@pytest.fixture(scope="module")
def lock() -> Lock:
    return Lock.read(REPO_ROOT / "uv.lock")


def _plugin_files() -> set[str]:
    root = REPO_ROOT / "plugins"
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def test_bundle_has_plugins_zip_dags_sql_requirements_and_startup(tmp_path: Path) -> None:
    bundle = stage_bundle(tmp_path / "bundle")
    with zipfile.ZipFile(bundle / "plugins.zip") as archive:
        lake = {f"youtube_lake/{p.name}" for p in (REPO_ROOT / "include/youtube_lake").glob("*.py")}
        assert set(archive.namelist()) == _plugin_files() | lake
        assert "youtube_etl/settings/options.py" in archive.namelist()
        assert (
            archive.read("youtube_etl/settings/options.py")
            == (REPO_ROOT / "plugins/youtube_etl/settings/options.py").read_bytes()
        )
    dags = {p.name for p in (REPO_ROOT / "dags").glob("*.py")}
    assert dags and dags <= {p.name for p in (bundle / "dags").glob("*.py")}
    sql = {p.relative_to(REPO_ROOT / "include/sql") for p in (REPO_ROOT / "include/sql").rglob("*.sql")}
    assert sql and sql == {p.relative_to(bundle / "dags/sql") for p in (bundle / "dags/sql").rglob("*.sql")}
    assert (bundle / "requirements.txt").read_text() == (REPO_ROOT / "requirements.txt").read_text()
    assert (bundle / "startup.sh").read_text().startswith("#!/usr/bin/env bash")


def test_plugins_zip_is_byte_for_byte_reproducible(tmp_path: Path) -> None:
    first = stage_bundle(tmp_path / "a") / "plugins.zip"
    second = stage_bundle(tmp_path / "b") / "plugins.zip"
    assert first.read_bytes() == second.read_bytes(), "same sources must give the same asset hash"


def test_the_lake_contracts_import_from_plugins_zip_alone(tmp_path: Path) -> None:
    """MWAA puts its plugins folder on sys.path: youtube_lake must come from the zip, not from a checkout
    (no site-packages, so the venv's editable install of include/ cannot stand in)."""
    plugins_zip = stage_bundle(tmp_path / "bundle") / "plugins.zip"
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import youtube_lake.invocation, youtube_lake.ledger, youtube_lake.plan\n"
        "print(youtube_lake.__file__)\n"
    )
    child = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(plugins_zip)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == str(plugins_zip / "youtube_lake" / "__init__.py")


def test_project_requirements_pass_every_check() -> None:
    assert check_all() == []


def test_requirements_pin_the_amazon_provider_uv_lock_resolves(lock: Lock) -> None:
    requirements = parse_requirements((REPO_ROOT / "requirements.txt").read_text())
    assert requirements.constraint == CONSTRAINTS_URL
    pins = {r.name: r.version for r in requirements.packages}
    assert pins["apache-airflow-providers-amazon"] == lock.versions["apache-airflow-providers-amazon"]
    assert lock.versions["apache-airflow"] == "3.3.1"


GOOD = f'--constraint "{CONSTRAINTS_URL}"\napache-airflow-providers-amazon[aiobotocore]==9.34.0\n'


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param(
            GOOD.replace("9.34.0", "9.30.0"), "uv.lock resolves 9.34.0", id="version-differs-from-lock"
        ),
        pytest.param(GOOD + "apache-airflow==3.3.1\n", "does not allow overriding", id="overrides-airflow"),
        pytest.param(GOOD + "celery==5.5.0\n", "does not allow overriding", id="overrides-celery"),
        pytest.param(GOOD.splitlines()[1] + "\n", "first line must be --constraint", id="no-constraints"),
        pytest.param(
            GOOD.replace("3.3.1/constraints-3.12", "3.3.0/constraints-3.12"),
            "--constraint",
            id="old-constraints",
        ),
        pytest.param(GOOD + "duckdb>=2\n", "pin an exact version", id="unpinned"),
        pytest.param(GOOD + "left-pad-for-python==1.0\n", "not in uv.lock", id="untested-package"),
        pytest.param(GOOD.replace("[aiobotocore]", "[nonexistent]"), "no such extra", id="unknown-extra"),
    ],
)
def test_each_broken_requirements_file_is_rejected(lock: Lock, text: str, problem: str) -> None:
    problems = check_requirements(parse_requirements(text), lock)
    assert any(problem in p for p in problems), problems
    assert check_requirements(parse_requirements(GOOD), lock) == []


def test_mwaa_has_the_provider_stack_but_not_the_local_runtime(lock: Lock) -> None:
    allowed = mwaa_distributions(parse_requirements(GOOD), lock)
    assert {"apache-airflow-core", "apache-airflow-task-sdk", "boto3", "aiobotocore", "jinja2"} <= allowed
    assert not {"awswrangler", "duckdb", "pyspark", "moto", "sqlglot"} & allowed


def test_an_import_mwaa_cannot_satisfy_is_reported(tmp_path: Path, lock: Lock) -> None:
    dag = tmp_path / "dags" / "uses_wrangler.py"
    dag.parent.mkdir()
    dag.write_text("import json\nfrom airflow.sdk import dag\n\ndef task():\n    import awswrangler as wr\n")
    assert imported_modules(dag) == {"json", "airflow", "awswrangler"}
    allowed = mwaa_distributions(parse_requirements(GOOD), lock)
    problems = missing_on_mwaa([tmp_path / "dags"], allowed, local_modules=set())
    assert len(problems) == 1 and "awswrangler" in problems[0]
