"""S3 executor: a conditional write (``If-Match`` / ``If-None-Match``) checks and writes as one step.

moto checks a PutObject's or DeleteObject's condition and then writes, without a lock: two concurrent
``If-None-Match: *`` PUTs of a new key can both see it missing and both succeed, where S3 lets exactly one
win (the other gets 412 PreconditionFailed). Code that relies on that, e.g. a Lambda claiming a key as its
lock, needs the guarantee. Here a conditional request holds the lock of its key (one of
:data:`LOCK_STRIPES`, by hash of bucket and key) around moto's check and write; unconditional requests take
no lock (on S3 they do not wait for anyone either).
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from localaws._executor import Executor, Patch

if TYPE_CHECKING:
    from localaws._runtime import LocalAWS

#: Locks shared by all keys (a key always maps to the same one): bounded memory, rare contention.
LOCK_STRIPES = 64


class S3Executor(Executor):
    service = "S3"

    def __init__(self, aws: LocalAWS) -> None:
        super().__init__(aws)
        self._locks = [threading.Lock() for _ in range(LOCK_STRIPES)]

    def patches(self) -> Iterable[Patch]:
        from localaws._s3.patches import HANDLERS

        return [Patch(owner, name, handler) for (owner, name), handler in HANDLERS.items()]

    def key_lock(self, bucket: str, key: str) -> threading.Lock:
        """The lock conditional writes of ``bucket``/``key`` hold."""
        return self._locks[zlib.crc32(f"{bucket}/{key}".encode()) % LOCK_STRIPES]
