"""One copy of botocore's service models for every boto3 session of the ``make run`` process.

``make run`` runs every task in this one process (``dag.test()``), and each task builds its own hooks, each
hook its own ``boto3.Session``, and each session its own botocore loader, which reads and parses the
service's JSON model again (Glue's and S3's are large): about a quarter of a second per client on a busy
laptop, a few times per task. On MWAA every task is a process of its own and pays this too; here the
models can be parsed once. The loader already caches them per session and hands the same objects to every
client of that session; sharing them between sessions is the same contract, kept for the whole process.
The key includes the loader's search paths and extras at call time, so a session with other data paths
gets its own copy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

#: The loader methods that read and parse model files (the others only list folders). ``load_data_with_path``
#: is what a new session's endpoint resolver reads ``endpoints.json`` (~1 MB) with, once per session.
CACHED_METHODS = ("load_service_model", "load_data", "load_data_with_path")


def _shared(
    name: str, original: Callable[..., Any], cache: dict[tuple[Any, ...], Any], lock: threading.Lock
) -> Any:
    def cached(self: Any, *args: Any, **kwargs: Any) -> Any:
        key = (
            name,
            tuple(self.search_paths),
            tuple(self.extras_types),
            args,
            tuple(sorted(kwargs.items())),
        )
        with lock:
            if key in cache:
                return cache[key]
        value = original(self, *args, **kwargs)  # errors (an unknown service) are not cached
        with lock:
            return cache.setdefault(key, value)

    cached.__name__ = name
    return cached


@contextmanager
def shared_service_models() -> Iterator[dict[tuple[Any, ...], Any]]:
    """Within the block, every botocore loader of the process shares one cache of parsed models.

    Yields the cache (what was parsed); botocore is restored when the block ends.
    """
    from botocore.loaders import Loader

    cache: dict[tuple[Any, ...], Any] = {}
    lock = threading.Lock()
    with ExitStack() as stack:
        for name in CACHED_METHODS:
            original = getattr(Loader, name)
            stack.enter_context(mock.patch.object(Loader, name, _shared(name, original, cache, lock)))
        yield cache
