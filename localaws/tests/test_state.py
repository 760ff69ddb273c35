"""A state folder: object bodies on disk while the runtime runs, everything saved at stop and resumed.

moto's state is per process, so each runtime with a state folder runs in a process of its own
(:mod:`localaws.tests.state_probe`), as ``make run`` and ``make query`` do.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import moto
import pytest

from localaws._state import STATE_FILE, StateError, StateStore
from localaws.tests.state_probe import BIG


def _probe(folder: Path, data_dir: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "localaws.tests.state_probe",
            str(folder),
            *args[:1],
            str(data_dir),
            *args[1:],
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _bodies(folder: Path) -> list[Path]:
    return [p for p in (folder / "objects").rglob("*") if p.is_file()]


def test_a_runtime_resumes_objects_catalog_functions_and_query_history(
    tmp_path: Path, data_dir: Path
) -> None:
    lake = tmp_path / "lake"
    written = _probe(lake, data_dir, "write")
    assert (written["state"], written["resumed"], written["provisioned"]) == ("SUCCEEDED", False, 1)
    # Bodies are files from the moment they are written; the overwritten key's first body was swept.
    bodies = _bodies(lake)
    assert len(bodies) == 6  # categories, big, overwritten, provisioned, the query's CSV and metadata
    assert BIG in {p.read_bytes() for p in bodies}
    assert b"first" not in {p.read_bytes() for p in bodies}

    failed = written["failing_status"]
    assert failed["State"] == "FAILED" and failed["StateChangeReason"].startswith("COLUMN_NOT_FOUND")
    seen = _probe(lake, data_dir, "read", written["query_id"], written["failing_id"])
    assert seen["resumed"] is True and seen["provisioned"] == 0  # resumed, not provisioned again
    assert seen["keys"] == sorted(
        [
            f"athena/{written['query_id']}.csv",
            f"athena/{written['query_id']}.csv.metadata",
            "big.bin",
            "overwritten",
            "provisioned",
            "raw/US_category_id.json",
        ]
    )
    assert seen["categories_equal"] and seen["big_equal"] and seen["overwritten"] == "second"
    assert seen["table_location"] == "s3://state-probe/table/"
    assert seen["lambda"] == {"doubled": 42}
    assert (seen["query_state"], seen["query_rows"]) == ("SUCCEEDED", [["answer"], ["42"]])
    assert seen["failing_status"] == failed  # a failed query (its error) is history too
    # The read phase deleted big.bin: its body is gone once the state is saved.
    assert BIG not in {p.read_bytes() for p in _bodies(lake)} and len(_bodies(lake)) == 5


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(pickle.dumps({"format": 0, "moto": "0.0"}), id="other-format"),
        pytest.param(b"not a pickle", id="damaged"),
        pytest.param(b"", id="empty"),
        pytest.param(
            pickle.dumps({"format": 1, "moto": moto.__version__}) + pickle.dumps(ValueError),
            id="wrong-content",
        ),
    ],
)
def test_a_state_that_cannot_be_resumed_is_refused_naming_the_file(tmp_path: Path, content: bytes) -> None:
    (tmp_path / STATE_FILE).write_bytes(content)
    with pytest.raises(StateError, match=f"{tmp_path / STATE_FILE}.*remove the folder"):
        StateStore(tmp_path).load()


def test_a_job_run_served_by_a_pre_started_driver_can_be_saved(tmp_path: Path) -> None:
    """A pre-started driver gets its run through a stdin pipe: the run's process handle holds that pipe,
    which pickle refuses (make run's lake failed to save at stop once a run had used the spare driver)."""
    from types import SimpleNamespace

    from localaws._glue_jobs.patches import LocalJobRun
    from localaws._state import _Pickler

    process = subprocess.Popen([sys.executable, "-c", "input()"], stdin=subprocess.PIPE)
    try:
        run = LocalJobRun.__new__(LocalJobRun)  # the state a finished run of a spare driver has
        run.__dict__.update({"_state": "SUCCEEDED", "job": SimpleNamespace(name="j"), "process": process})
        with open(tmp_path / STATE_FILE, "wb") as out:
            _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(run)
        restored = pickle.loads((tmp_path / STATE_FILE).read_bytes())
        assert restored.process is None and restored.status == "SUCCEEDED" and restored.job.name == "j"
    finally:
        process.communicate(b"\n", timeout=30)
