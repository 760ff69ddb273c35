"""Results computed once per test run and shared by pytest-xdist's workers through files.

The controlling process makes a folder for the run (``tests/conftest.py``) and names it in
:data:`SHARED_ENV`, which the workers inherit; it is removed when the run ends, so nothing outlives the run
that computed it. Without the folder (a module imported outside pytest), every call computes.
"""

from __future__ import annotations

import fcntl
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

SHARED_ENV = "YOUTUBE_ETL_TEST_SHARED"
T = TypeVar("T")


def shared_folder() -> Path | None:
    """This run's folder (removed when the run ends), or None outside a pytest run."""
    folder = os.environ.get(SHARED_ENV)
    return Path(folder) if folder and Path(folder).is_dir() else None


def computed_once(name: str, compute: Callable[[], T]) -> T:
    """``compute()``'s result, from the first worker of this run to need it; the others wait for it."""
    folder = shared_folder()
    if folder is None:
        return compute()
    path = folder / f"{name}.pickle"
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if path.exists():
                return pickle.loads(path.read_bytes())  # type: ignore[no-any-return]
            value = compute()
            partial = path.with_suffix(".partial")
            partial.write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
            partial.replace(path)
            return value
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
