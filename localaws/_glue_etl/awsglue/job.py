"""``Job``: ``init`` loads the job's bookmark, ``commit`` records what the run read."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from . import _bookmarks


class Job:
    @classmethod
    def job_bookmark_options(cls) -> list[str]:
        return ["--job-bookmark-option", _bookmarks.ENABLE, _bookmarks.DISABLE, _bookmarks.PAUSE]

    def __init__(self, glue_context: Any) -> None:
        self._glue_context = glue_context
        self._job_name: str | None = None

    def init(self, job_name: str, args: Mapping[str, Any] | None = None) -> None:
        """Start the job: its bookmark option comes from ``args`` (``getResolvedOptions``) or ``sys.argv``."""
        self._job_name = job_name
        option = (
            (args or {}).get("job_bookmark_option")
            or _argument("--job-bookmark-option")
            or _bookmarks.DISABLE
        )
        _bookmarks.current = _bookmarks.Bookmarks.load(option)

    def isInitialized(self) -> bool:  # noqa: N802
        return self._job_name is not None

    def commit(self) -> None:
        """Record the objects this run read (kept by the runtime only if the run succeeds)."""
        if self._job_name is None:
            raise RuntimeError("Job.commit() before Job.init(job_name, args)")
        _bookmarks.current.commit()


def _argument(name: str) -> str | None:
    argv = sys.argv
    return argv[argv.index(name) + 1] if name in argv[:-1] else None
