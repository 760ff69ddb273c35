"""MWAA packaging: ``plugins.zip``, the source-bucket bundle, and the checks that MWAA will accept them.

``python -m infra.mwaa.package [--out DIR]`` builds the bundle the orchestration stack uploads and fails
(exit 1, one line per problem) when ``requirements.txt`` would not install on MWAA's Airflow 3.3.1 image
the way this project is locked, or when ``dags/``/``plugins/`` import a package MWAA will not have.

MWAA installs ``requirements.txt`` with Airflow's constraints file; a package pinned there differently, or
one of the packages MWAA itself runs on, cannot be overridden (the install fails or breaks the image).
"""

from __future__ import annotations

import argparse
import ast
import importlib.metadata
import re
import shutil
import sys
import tomllib
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from infra import packaging

REPO_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_VERSION = "3.3.1"
#: MWAA's newest image runs Python 3.12.
MWAA_PYTHON = "3.12"
CONSTRAINTS_URL = f"https://raw.githubusercontent.com/apache/airflow/constraints-{AIRFLOW_VERSION}/constraints-{MWAA_PYTHON}.txt"
#: What the MWAA image ships before requirements.txt: Airflow and its Amazon provider (MWAA's pin).
MWAA_BASE = ("apache-airflow", "apache-airflow-providers-amazon")
#: Packages MWAA runs itself on: requirements.txt must not name them (an override fails or breaks workers).
MWAA_FORBIDDEN = frozenset(
    {
        "apache-airflow",
        "apache-airflow-core",
        "apache-airflow-task-sdk",
        "celery",
        "kombu",
        "sqlalchemy",
        "alembic",
        "psycopg2",
        "psycopg2-binary",
        "watchtower",
    }
)
_SKIP_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache"}

#: Where the SQL templates land inside the dags folder (``dag_support.sql_dir`` looks there on MWAA).
MWAA_SQL_SUBDIR = "sql"
MWAA_DAGS_PATH = "/usr/local/airflow/dags"

STARTUP_SCRIPT = Path(__file__).with_name("startup.sh")


def normalize(name: str) -> str:
    """PEP 503 name: what uv.lock and the registry compare on."""
    return re.sub(r"[-_.]+", "-", name).lower()


# ---- plugins.zip and the bundle -----------------------------------------------------------------
def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if (
            path.is_file()
            and not _SKIP_PARTS.intersection(path.parts)
            and path.suffix not in {".pyc", ".pyo"}
        ):
            yield path


def build_plugins_zip(plugins_dir: Path, destination: Path) -> Path:
    """Zip ``plugins/`` with its packages at the archive root (MWAA extracts it into its plugins folder and
    puts that on ``sys.path``), and the lake's contracts beside them as ``youtube_lake/``."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    entries = [(path.relative_to(plugins_dir).as_posix(), path) for path in _files(plugins_dir)]
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as archive:
        packaging.write_zip(archive, [*entries, *packaging.lake_entries()])
    return destination


def stage_bundle(destination: Path, repo: Path = REPO_ROOT) -> Path:
    """Lay out the MWAA source bucket in ``destination`` (replaced): ``dags/`` with ``include/sql`` as
    ``dags/sql`` (MWAA syncs only the dags folder to its containers), ``plugins.zip``, ``requirements.txt``
    and ``startup.sh``.
    """
    if destination.exists():
        shutil.rmtree(destination)
    dags = destination / "dags"
    dags.mkdir(parents=True)
    if (repo / "dags").is_dir():
        for path in _files(repo / "dags"):
            target = dags / path.relative_to(repo / "dags")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    sql = repo / "include" / "sql"
    if sql.is_dir():
        for path in _files(sql):
            target = dags / MWAA_SQL_SUBDIR / path.relative_to(sql)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    build_plugins_zip(repo / "plugins", destination / "plugins.zip")
    shutil.copy2(repo / "requirements.txt", destination / "requirements.txt")
    shutil.copy2(STARTUP_SCRIPT, destination / "startup.sh")
    return destination


# ---- requirements.txt -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Requirement:
    name: str
    extras: tuple[str, ...]
    version: str | None
    line: str


@dataclass(frozen=True)
class Requirements:
    constraint: str | None
    packages: tuple[Requirement, ...]


_REQ_RE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[(?P<extras>[^\]]+)\])?\s*(?P<spec>.*)$")


def parse_requirements(text: str) -> Requirements:
    constraint: str | None = None
    packages: list[Requirement] = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("--constraint", "-c ")):
            constraint = line.split(None, 1)[1].strip().strip("\"'")
            continue
        match = _REQ_RE.match(line)
        if not match:
            raise ValueError(f"requirements.txt: cannot parse {raw!r}")
        spec = match["spec"].strip()
        version = (
            spec[2:].strip() if spec.startswith("==") and not any(c in spec[2:] for c in ",<>=!~*") else None
        )
        extras = tuple(sorted(e.strip() for e in (match["extras"] or "").split(",") if e.strip()))
        packages.append(Requirement(normalize(match["name"]), extras, version, line))
    return Requirements(constraint, tuple(packages))


@dataclass(frozen=True)
class Lock:
    """The resolved versions and dependency edges of uv.lock (markers ignored: a superset is safer)."""

    versions: dict[str, str]
    dependencies: dict[str, tuple[str, ...]]
    extras: dict[tuple[str, str], tuple[str, ...]]

    @classmethod
    def read(cls, path: Path = REPO_ROOT / "uv.lock") -> Lock:
        data = tomllib.loads(path.read_text())
        versions: dict[str, str] = {}
        dependencies: dict[str, tuple[str, ...]] = {}
        extras: dict[tuple[str, str], tuple[str, ...]] = {}
        for package in data["package"]:
            name = normalize(package["name"])
            if "version" in package:
                versions[name] = package["version"]
            dependencies[name] = tuple(normalize(d["name"]) for d in package.get("dependencies", []))
            for extra, deps in package.get("optional-dependencies", {}).items():
                extras[(name, extra)] = tuple(normalize(d["name"]) for d in deps)
        return cls(versions, dependencies, extras)

    def closure(self, roots: Iterable[tuple[str, tuple[str, ...]]]) -> set[str]:
        """Every distribution installed with ``roots`` (name, extras)."""
        seen: set[str] = set()
        stack: list[str] = []
        for name, extras in roots:
            stack.append(normalize(name))
            for extra in extras:
                stack.extend(self.extras.get((normalize(name), extra), ()))
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            stack.extend(self.dependencies.get(name, ()))
        return seen


def check_requirements(requirements: Requirements, lock: Lock) -> list[str]:
    """Problems that would make MWAA's install differ from what this project tested (empty = fine)."""
    problems: list[str] = []
    airflow = lock.versions.get("apache-airflow")
    if airflow != AIRFLOW_VERSION:
        problems.append(f"uv.lock has apache-airflow {airflow}, MWAA runs {AIRFLOW_VERSION}")
    if requirements.constraint != CONSTRAINTS_URL:
        problems.append(
            f'the first line must be --constraint "{CONSTRAINTS_URL}" (found {requirements.constraint!r})'
        )
    for req in requirements.packages:
        if req.name in MWAA_FORBIDDEN:
            problems.append(f"{req.name}: MWAA provides it and does not allow overriding it")
            continue
        if req.version is None:
            problems.append(f"{req.line!r}: pin an exact version (==) so MWAA installs what was tested")
            continue
        locked = lock.versions.get(req.name)
        if locked is None:
            problems.append(f"{req.name}: not in uv.lock, so never tested with this project")
        elif locked != req.version:
            problems.append(f"{req.name}=={req.version}: uv.lock resolves {locked} (the tested version)")
        for extra in req.extras:
            if (req.name, extra) not in lock.extras:
                problems.append(f"{req.name}[{extra}]: uv.lock knows no such extra")
    return problems


def mwaa_distributions(requirements: Requirements, lock: Lock) -> set[str]:
    """Distributions importable on MWAA: its base image (Airflow, Amazon provider) plus requirements.txt."""
    roots: list[tuple[str, tuple[str, ...]]] = [(name, ()) for name in MWAA_BASE]
    roots += [(req.name, req.extras) for req in requirements.packages]
    return lock.closure(roots)


# ---- what dags/ and plugins/ import ----------------------------------------------------------------
def imported_modules(path: Path) -> set[str]:
    """Top-level module names a Python file imports anywhere (module level and inside functions)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def missing_on_mwaa(folders: Iterable[Path], allowed: set[str], local_modules: set[str]) -> list[str]:
    """``file: module (distribution)`` for each import MWAA could not satisfy."""
    distributions = importlib.metadata.packages_distributions()
    problems: list[str] = []
    for folder in folders:
        for path in sorted(folder.rglob("*.py")) if folder.is_dir() else []:
            if _SKIP_PARTS.intersection(path.parts):
                continue
            shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
            for module in sorted(imported_modules(path)):
                if module in sys.stdlib_module_names or module in local_modules or module == "__future__":
                    continue
                owners = {normalize(d) for d in distributions.get(module, [])}
                if not owners:
                    problems.append(f"{shown}: {module} (not installed here either)")
                elif not owners & allowed:
                    problems.append(f"{shown}: {module} ({', '.join(sorted(owners))})")
    return problems


def local_modules(repo: Path = REPO_ROOT) -> set[str]:
    """Modules MWAA gets from the bundle itself: the plugins' packages, the lake's contracts (shipped in
    plugins.zip) and the DAG files."""
    names = {p.name for p in (repo / "plugins").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    names.add(packaging.LAKE_PACKAGE.name)
    names |= {p.stem for p in (repo / "plugins").glob("*.py")}
    names |= {p.stem for p in (repo / "dags").glob("*.py")} if (repo / "dags").is_dir() else set()
    return names


def check_all(repo: Path = REPO_ROOT) -> list[str]:
    requirements = parse_requirements((repo / "requirements.txt").read_text())
    lock = Lock.read(repo / "uv.lock")
    problems = check_requirements(requirements, lock)
    allowed = mwaa_distributions(requirements, lock)
    problems += missing_on_mwaa([repo / "dags", repo / "plugins"], allowed, local_modules(repo))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.mwaa.package", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "out" / "mwaa", help="bundle folder (replaced)"
    )
    args = parser.parse_args(argv)
    problems = check_all()
    for problem in problems:
        print(f"mwaa-package: {problem}", file=sys.stderr)
    if problems:
        return 1
    bundle = stage_bundle(args.out)
    size = (bundle / "plugins.zip").stat().st_size
    count = len(zipfile.ZipFile(bundle / "plugins.zip").namelist())
    print(f"mwaa-package: {bundle} ready (plugins.zip: {count} files, {size} bytes); requirements.txt OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
