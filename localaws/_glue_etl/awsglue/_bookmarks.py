"""Job bookmarks: which S3 objects each ``transformation_ctx`` of a job has already read.

The executor gives a run its job's state in the file named by ``LOCALAWS_GLUE_BOOKMARK_IN``; reads with a
``transformation_ctx`` skip the objects recorded there (same key and ETag) and remember the new ones;
``Job.commit()`` writes the state with them to ``LOCALAWS_GLUE_BOOKMARK_OUT``, which the executor keeps only
if the run succeeds. ``job-bookmark-pause`` skips what is recorded but records nothing;
``job-bookmark-disable`` (Glue's default) reads everything.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

BOOKMARK_IN_ENV = "LOCALAWS_GLUE_BOOKMARK_IN"
BOOKMARK_OUT_ENV = "LOCALAWS_GLUE_BOOKMARK_OUT"
ENABLE, DISABLE, PAUSE = "job-bookmark-enable", "job-bookmark-disable", "job-bookmark-pause"

#: object URI -> ETag, per transformation_ctx
State = dict[str, dict[str, str]]


class Bookmarks:
    def __init__(self, option: str = DISABLE, state: State | None = None) -> None:
        if option not in (ENABLE, DISABLE, PAUSE):
            raise ValueError(
                f"--job-bookmark-option {option!r}: expected one of {ENABLE}, {DISABLE}, {PAUSE}"
            )
        self.option = option
        self.state: State = state or {}
        self.pending: State = {}

    @classmethod
    def load(cls, option: str) -> Bookmarks:
        """The job's state as the executor handed it to this run (none outside the local executor)."""
        path = os.environ.get(BOOKMARK_IN_ENV)
        state: State = {}
        if path and Path(path).is_file():
            state = json.loads(Path(path).read_text(encoding="utf-8")).get("contexts", {})
        return cls(option, state)

    def unread(self, transformation_ctx: str, objects: dict[str, str]) -> dict[str, str]:
        """The objects (URI -> ETag) this context has not read in a committed run; remembered for commit."""
        if self.option == DISABLE or not transformation_ctx:
            return objects
        seen = self.state.get(transformation_ctx, {})
        new = {uri: etag for uri, etag in objects.items() if seen.get(uri) != etag}
        if self.option == ENABLE:
            self.pending.setdefault(transformation_ctx, {}).update(new)
        return new

    def committed(self) -> State:
        """The state after this run: the recorded objects plus the ones this run read."""
        merged = {ctx: dict(objects) for ctx, objects in self.state.items()}
        for ctx, objects in self.pending.items():
            merged.setdefault(ctx, {}).update(objects)
        return merged

    def commit(self) -> None:
        """Write the new state for the executor (kept only if the run succeeds); nothing unless enabled."""
        path = os.environ.get(BOOKMARK_OUT_ENV)
        if self.option != ENABLE or not path:
            return
        Path(path).write_text(json.dumps({"contexts": self.committed()}, sort_keys=True), encoding="utf-8")


#: The bookmarks of the running job; ``Job.init`` replaces them (disabled until then, as in Glue).
current = Bookmarks()
