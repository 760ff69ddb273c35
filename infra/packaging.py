"""What each deployed piece ships: its own code plus the lake's contracts (``youtube_lake/``).

One place builds every artifact, so the CDK stacks, the local runtime's provisioning and MWAA's packaging
ship the same bytes:

- the Lambda: its handler modules and ``youtube_lake/`` at the archive root (:func:`lambda_zip` for the
  local runtime, :func:`stage_lambda` for the CDK asset, a folder CDK zips the same way);
- Glue: the scripts' shared modules next to the scripts, plus ``youtube_lake.zip`` (:data:`LAKE_ZIP`,
  ``youtube_lake/`` at its root) in ``--extra-py-files`` (:func:`glue_library`, :func:`stage_glue_libraries`);
- MWAA: ``youtube_lake/`` at the root of ``plugins.zip`` (:func:`lake_entries`).

Archives are deterministic (fixed times, sorted entries): same sources, same bytes, same CDK asset hash.
Standard library only: CDK, the local runtime and the MWAA packaging all import it.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
INCLUDE = REPO_ROOT / "include"
LAKE_PACKAGE = INCLUDE / "youtube_lake"
LAMBDA_SOURCE = INCLUDE / "lambda" / "json_to_parquet"
GLUE_SOURCE = INCLUDE / "glue"
#: The contracts as one ``--extra-py-files`` archive, uploaded next to the Glue scripts.
LAKE_ZIP = "youtube_lake.zip"
#: Where staged folders for CDK assets go (git-ignored); one folder per content hash.
BUILD_DIR = REPO_ROOT / "out" / "build"

_ZIP_TIME = (2020, 1, 1, 0, 0, 0)
_SKIP_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache", "tests"}


def python_files(folder: Path, prefix: str = "") -> Iterator[tuple[str, Path]]:
    """(archive name, file) of every ``.py`` file below ``folder``, sorted; caches and tests left out."""
    for path in sorted(folder.rglob("*.py")):
        relative = path.relative_to(folder)
        if _SKIP_PARTS.intersection(relative.parts) or path.name.startswith("test_"):
            continue
        yield prefix + relative.as_posix(), path


def lake_entries() -> list[tuple[str, Path]]:
    """``youtube_lake/…`` entries: the package as an archive root holds it."""
    return list(python_files(LAKE_PACKAGE, f"{LAKE_PACKAGE.name}/"))


def lambda_entries(source: Path = LAMBDA_SOURCE) -> list[tuple[str, Path]]:
    """The function's modules at the root, then ``youtube_lake/``."""
    return [*python_files(source), *lake_entries()]


def write_zip(archive: zipfile.ZipFile, entries: Iterable[tuple[str, Path]]) -> None:
    """Add ``entries`` with fixed times and modes (reproducible bytes)."""
    for name, path in entries:
        info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, path.read_bytes())


def zip_bytes(entries: Iterable[tuple[str, Path]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        write_zip(archive, entries)
    return buffer.getvalue()


def lambda_zip(source: Path = LAMBDA_SOURCE) -> bytes:
    """The Lambda's deployment package (the local runtime's ``ZipFile``)."""
    return zip_bytes(lambda_entries(source))


def lake_zip() -> bytes:
    """``youtube_lake.zip``: what Glue puts on the job's path from ``--extra-py-files``."""
    return zip_bytes(lake_entries())


def glue_library(name: str) -> bytes:
    """The bytes of one ``Settings.glue_libraries`` entry: a module of ``include/glue`` or the lake zip."""
    if name == LAKE_ZIP:
        return lake_zip()
    path = GLUE_SOURCE / name
    if not path.is_file():
        raise FileNotFoundError(f"Glue library {name!r} is neither {LAKE_ZIP} nor a file of {GLUE_SOURCE}")
    return path.read_bytes()


def stage(name: str, files: Iterable[tuple[str, bytes]], build_dir: Path = BUILD_DIR) -> Path:
    """A folder ``<build_dir>/<name>-<content hash>/`` holding ``files`` (relative name, bytes).

    Content-addressed and created by one rename, so concurrent synths and reruns share it safely and an
    asset pointing at it changes only when its content does.
    """
    contents = sorted(files)
    digest = hashlib.sha256()
    for relative, data in contents:
        digest.update(relative.encode() + b"\0" + hashlib.sha256(data).digest())
    target = build_dir / f"{name}-{digest.hexdigest()[:16]}"
    if target.is_dir():
        return target
    build_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=build_dir))
    try:
        for relative, data in contents:
            path = scratch / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        os.replace(scratch, target)
    except OSError:
        if not target.is_dir():  # another process staged the same content first: theirs is as good
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def stage_lambda(source: Path = LAMBDA_SOURCE, build_dir: Path = BUILD_DIR) -> Path:
    """The Lambda's code as a folder (handler modules + ``youtube_lake/``) for ``Code.from_asset``."""
    return stage("json_to_parquet", ((n, p.read_bytes()) for n, p in lambda_entries(source)), build_dir)


def stage_glue_libraries(build_dir: Path = BUILD_DIR) -> Path:
    """A folder holding ``youtube_lake.zip``, deployed beside the Glue scripts (a BucketDeployment source:
    it unzips the folder's asset, so the zip itself lands in the bucket)."""
    return stage("glue-libraries", [(LAKE_ZIP, lake_zip())], build_dir)
