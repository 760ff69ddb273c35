"""Job bookmarks as Glue keeps them: per job, what each ``transformation_ctx`` has read, advanced only by a
run that succeeds, reset by ``ResetJobBookmark``.

The job's process gets the current state in a file and writes its new state to another one on
``Job.commit()`` (the local ``awsglue`` library, :mod:`localaws._glue_etl`); the executor keeps that
new state when the run SUCCEEDED and the run's ``--job-bookmark-option`` is ``job-bookmark-enable``. A failed,
stopped or timed-out run records nothing.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: object URI -> ETag, per transformation_ctx
Contexts = dict[str, dict[str, str]]
ENABLE = "job-bookmark-enable"


@dataclass
class Bookmark:
    """One job's bookmark and its history (the state after each run that advanced it)."""

    job_name: str
    version: int = 0
    run: int = 0
    attempt: int = 0
    run_id: str | None = None
    previous_run_id: str | None = None
    contexts: Contexts = field(default_factory=dict)
    history: list[tuple[str, Contexts]] = field(default_factory=list)

    def entry(self) -> dict[str, Any]:
        """``JobBookmarkEntry`` as GetJobBookmark / ResetJobBookmark return it."""
        entry: dict[str, Any] = {
            "JobName": self.job_name,
            "Version": self.version,
            "Run": self.run,
            "Attempt": self.attempt,
            "JobBookmark": json.dumps(self.contexts, sort_keys=True),
        }
        if self.run_id:
            entry["RunId"] = self.run_id
        if self.previous_run_id:
            entry["PreviousRunId"] = self.previous_run_id
        return entry


class BookmarkStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bookmarks: dict[str, Bookmark] = {}

    def get(self, job_name: str) -> Bookmark | None:
        with self._lock:
            return self._bookmarks.get(job_name)

    def write_input(self, job_name: str, path: Path) -> Path:
        """The job's current state, for a run to read (``{"contexts": {}}`` when it has none)."""
        bookmark = self.get(job_name)
        path.write_text(json.dumps({"contexts": bookmark.contexts if bookmark else {}}), encoding="utf-8")
        return path

    def record(self, job_name: str, run_id: str, option: str | None, output: Path) -> bool:
        """Keep the state a succeeded run committed (if bookmarks are enabled for it); True if kept."""
        if option != ENABLE or not output.is_file():
            return False
        contexts = json.loads(output.read_text(encoding="utf-8")).get("contexts", {})
        with self._lock:
            bookmark = self._bookmarks.setdefault(job_name, Bookmark(job_name))
            bookmark.previous_run_id, bookmark.run_id = bookmark.run_id, run_id
            bookmark.version += 1
            bookmark.run += 1
            bookmark.contexts = contexts
            bookmark.history.append((run_id, contexts))
        return True

    def reset(self, job_name: str, run_id: str | None = None) -> Bookmark:
        """Forget what the job read (``run_id``: only from that run on, keeping the state before it)."""
        with self._lock:
            bookmark = self._bookmarks.setdefault(job_name, Bookmark(job_name))
            if run_id is None:
                bookmark.contexts, bookmark.history = {}, []
            else:
                runs = [r for r, _ in bookmark.history]
                if run_id not in runs:
                    raise KeyError(run_id)
                kept = bookmark.history[: runs.index(run_id)]
                bookmark.history = kept
                bookmark.contexts = kept[-1][1] if kept else {}
            bookmark.version += 1
            return bookmark

    def snapshot(self) -> dict[str, Bookmark]:
        with self._lock:
            return dict(self._bookmarks)

    def restore(self, bookmarks: dict[str, Bookmark]) -> None:
        with self._lock:
            self._bookmarks.update(bookmarks)

    def clear(self) -> None:
        with self._lock:
            self._bookmarks.clear()
